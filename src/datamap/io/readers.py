"""Readers of run files that stop with one line naming the file when it is broken.

``read_parquet`` turns pyarrow's many exception types for a truncated or foreign file into a
:class:`DatamapError`; ``read_scores`` checks the types of an ``eval/<set>.json`` (written by
``datamap evaluate``) before anyone formats them; ``check_same_ids`` tells when a run's
dynamics and its ``data.parquet`` describe different examples.
"""

from __future__ import annotations

import json
import numbers
import os
from pathlib import Path
from typing import Any, Sequence

from datamap.errors import DatamapError

__all__ = ["SCORE_KEYS", "check_same_ids", "read_parquet", "read_scores"]

#: keys of an evaluation file that must hold a number (or null) when present
SCORE_KEYS = ("n", "accuracy", "precision_macro", "recall_macro", "f1_macro", "ece")


def read_parquet(path: str | os.PathLike, columns: Sequence[str] | None = None):
    """Read a Parquet file (or some of its columns) into a pandas DataFrame.

    Parameters
    ----------
    path : path
        The file; missing, truncated or not Parquet raises :class:`DatamapError` naming it.
    columns : sequence of str or None, default None
        Columns to read; ``None`` reads all. A missing column raises :class:`DatamapError`
        naming the file and the column.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DatamapError(f"{path}: not found")
    try:
        schema = pq.read_schema(path)
        if columns is not None:
            missing = [c for c in columns if c not in schema.names]
            if missing:
                raise DatamapError(f"{path}: missing column '{missing[0]}'")
        return pq.read_table(path, columns=list(columns) if columns is not None else None).to_pandas()
    except DatamapError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a broken file
        raise DatamapError(f"{path}: cannot read as Parquet ({str(exc).splitlines()[0]})") from exc


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _check_numbers(path: Path, key: str, obj: Any) -> None:
    """Every leaf of ``obj`` (dicts and lists) is a number or null."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_numbers(path, f"{key}.{k}", v)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_numbers(path, f"{key}[{i}]", v)
    elif obj is not None and not _is_number(obj):
        raise DatamapError(f"{path}: '{key}' must be a number, got {obj!r}")


def read_scores(path: str | os.PathLike) -> dict:
    """Read and type-check an evaluation file (``RUN/eval/<set>.json``).

    Parameters
    ----------
    path : path
        The JSON file. It must be an object; when present, ``n``, ``accuracy``,
        ``precision_macro``, ``recall_macro``, ``f1_macro`` and ``ece`` are numbers (or null),
        ``label_names`` is a list of strings, ``per_class`` an object of objects of numbers,
        ``confusion`` a list of lists of numbers and ``heuristics`` an object. Anything else
        raises :class:`DatamapError` naming the file and the key.

    Returns
    -------
    dict
        The parsed object.
    """
    path = Path(path)
    try:
        scores = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatamapError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(scores, dict):
        raise DatamapError(f"{path}: expected a JSON object of scores, got {type(scores).__name__}")
    for key in SCORE_KEYS:
        v = scores.get(key)
        if v is not None and not _is_number(v):
            raise DatamapError(f"{path}: '{key}' must be a number, got {v!r}")
    names = scores.get("label_names")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise DatamapError(f"{path}: 'label_names' must be a list of strings, got {names!r}")
    per = scores.get("per_class")
    if per is not None:
        if not isinstance(per, dict) or not all(isinstance(v, dict) for v in per.values()):
            raise DatamapError(f"{path}: 'per_class' must be an object of objects, got {per!r}")
        _check_numbers(path, "per_class", per)
    conf = scores.get("confusion")
    if conf is not None:
        if not isinstance(conf, list) or not all(isinstance(r, list) for r in conf):
            raise DatamapError(f"{path}: 'confusion' must be a list of lists of numbers, got {conf!r}")
        _check_numbers(path, "confusion", conf)
    heur = scores.get("heuristics")
    if heur is not None and not isinstance(heur, dict):
        raise DatamapError(f"{path}: 'heuristics' must be an object, got {heur!r}")
    return scores


def check_same_ids(ids: Sequence[str], data_path: str | os.PathLike, source: str, subset: bool = False) -> None:
    """Stop when the examples of ``source`` (e.g. the dynamics) are not those of ``data_path``.

    Parameters
    ----------
    ids : sequence of str
        The example ids of ``source``.
    data_path : path
        A run's ``data.parquet`` (its ``id`` column is read); nothing is checked when it is absent.
    source : str
        What ``ids`` come from, named in the message (``RUN/dynamics.parquet``).
    subset : bool, default False
        ``source`` covers a sample of the rows on purpose (an sft run's ``--record-sample``): rows of
        ``data_path`` without dynamics are allowed, ids missing from it are not.
    """
    data_path = Path(data_path)
    if not data_path.exists():
        return
    have = set(read_parquet(data_path, columns=["id"])["id"].astype(str))
    want = [str(i) for i in ids]
    missing = [i for i in want if i not in have]
    if missing:
        raise DatamapError(
            f"{data_path}: {len(missing)} of the {len(want)} ids of {source} are not in it (first: {missing[0]!r});"
            " were they written for another dataset?"
        )
    if not subset and len(have) != len(set(want)):
        extra = sorted(have - set(want))
        raise DatamapError(
            f"{data_path}: {len(extra)} ids have no dynamics in {source} (first: {extra[0]!r});"
            " were they written for another dataset?"
        )
