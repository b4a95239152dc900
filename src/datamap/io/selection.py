"""Selections on disk: ``RUN/selections/<name>.json`` (+ the subset rows as Parquet / CSV).

The JSON is the contract (``docs/run-directory.md``)::

    {"name": "...", "ids": ["...", ...], "recipe": {...}, "sizes": {...}}

``train --subset`` accepts it, or a plain JSON list of ids, or a text file with one id per line
(see :func:`load_selection_ids`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from datamap.errors import DatamapError
from datamap.io.atomic import atomic_path, write_json, write_table
from datamap.io.names import check_name as check_path_name
from datamap.io.rundir import RunDir

FORMATS = ("parquet", "csv")


def check_name(name: str) -> str:
    """Return ``name`` if it is a usable selection name (see :func:`datamap.io.names.check_name`), else raise.

    Parameters
    ----------
    name : str
        The selection name: letters, digits, ``. _ -``; no ``/``, no ``..``, no ``.json`` suffix.
    """
    return check_path_name(name, "selection name", suffix=".json")


def check_ids_in(ids: Iterable[str], available_ids: Iterable[str], source: str) -> None:
    """Raise :class:`DatamapError` if some of ``ids`` are not in ``available_ids``.

    Parameters
    ----------
    ids : iterable of str
        The ids asked for (e.g. a selection).
    available_ids : iterable of str
        The ids that exist (e.g. the ``id`` column of ``data.parquet``).
    source : str
        Named in the message (a file or dataset), e.g. ``"runs/a/data.parquet"``.

    The message names the first missing id (in the order of ``ids``) and how many are missing.
    """
    have = set(map(str, available_ids))
    missing = [i for i in map(str, ids) if i not in have]
    if missing:
        raise DatamapError(
            f"{source}: {len(missing)} selected id(s) not in the dataset, first missing: {missing[0]!r}"
        )


def selection_payload(name: str, result: Any) -> dict[str, Any]:
    """The JSON object of a :class:`datamap.core.selection.SelectionResult` (or a dict with ``ids``)."""
    if isinstance(result, dict):
        ids = [str(i) for i in result["ids"]]
        recipe = result.get("recipe", {})
        sizes = result.get("sizes", {"total": len(ids)})
    else:
        ids = [str(i) for i in result.ids]
        recipe = result.recipe
        sizes = result.sizes_dict()
    return {"name": name, "ids": ids, "recipe": recipe, "sizes": sizes}


def csv_columns(subset, source_columns: dict[str, str]):
    """``subset`` with ``text``, ``text_pair`` and ``id`` named as in the source dataset (``premise``,
    ``hypothesis``, ``guid``...), from ``labels.json``'s ``source_columns``; ``label`` (the class id)
    and ``label_name`` keep their names. A name that would clash with another column is not used."""
    rename = {}
    for canon in ("text", "text_pair", "id"):
        orig = source_columns.get(canon)
        if orig and orig != canon and canon in subset.columns and orig not in subset.columns:
            rename[canon] = orig
    return subset.rename(columns=rename)


def save_selection(
    run_dir: str | os.PathLike,
    name: str,
    result: Any,
    data_df: Any = None,
    formats: Sequence[str] = ("parquet",),
    dataset: str | None = None,
) -> dict[str, Path]:
    """Write a selection into a run directory, atomically.

    Parameters
    ----------
    run_dir : path
        The run directory (``RUN``).
    name : str
        Selection name: letters, digits, ``. _ -``; files are ``RUN/selections/<name>.*``.
    result : SelectionResult or dict
        What :func:`datamap.core.selection.select` returned, or a dict with ``ids`` (and
        optionally ``recipe`` and ``sizes``), e.g. from the HTML map's export.
    data_df : pandas.DataFrame or None, default None
        The training rows (``id``, ``text``, ...); ``None`` reads ``RUN/data.parquet``. Only
        read when ``formats`` is not empty.
    formats : sequence of str, default ("parquet",)
        Subset files to write besides the JSON: ``"parquet"`` and/or ``"csv"``; ``()`` writes
        only the JSON. The subset rows are in selection order.
    dataset : str or None, default None
        When given, the CSV is named allenai-style ``<dataset>_<name>.csv``
        (e.g. ``snli_ambiguous.csv``) instead of ``<name>.csv``.

    Returns
    -------
    dict of str -> Path
        ``{"json": ..., "parquet": ..., "csv": ...}`` for the files written.
    """
    check_name(name)
    rd = RunDir(run_dir)
    if not rd.root.is_dir():
        raise DatamapError(f"{rd.root}: run directory not found")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise DatamapError(f"unknown selection format {unknown[0]!r} (known: {', '.join(FORMATS)})")
    payload = selection_payload(name, result)
    written: dict[str, Path] = {}

    subset = None
    if formats:
        source = "data_df"
        if data_df is None:
            import pandas as pd

            rd.require(rd.data, hint="needed to write the subset rows; pass formats=() to write only the JSON")
            data_df = pd.read_parquet(rd.data)
            source = str(rd.data)
        if "id" not in data_df.columns:
            raise DatamapError(f"{source}: no 'id' column")
        data_ids = data_df["id"].astype(str)
        check_ids_in(payload["ids"], data_ids, source)
        if data_ids.duplicated().any():
            raise DatamapError(f"{source}: duplicate id {data_ids[data_ids.duplicated()].iloc[0]!r}")
        pos = {i: p for p, i in enumerate(data_ids)}
        subset = data_df.iloc[[pos[i] for i in payload["ids"]]].reset_index(drop=True)

    # subset files first, the JSON (the contract) last
    if "parquet" in formats:
        written["parquet"] = write_table(rd.selections / f"{name}.parquet", subset)
    if "csv" in formats:
        csv_path = rd.selections / (f"{dataset}_{name}.csv" if dataset else f"{name}.csv")
        with atomic_path(csv_path) as tmp:
            csv_columns(subset, rd.source_columns()).to_csv(tmp, index=False)
        written["csv"] = csv_path
    written["json"] = write_json(rd.selection(name), payload)
    return {k: written[k] for k in ("json", "parquet", "csv") if k in written}


def load_selection_ids(path: str | os.PathLike) -> list[str]:
    """Read the ids of a selection file.

    Accepted: a selection JSON (``{"ids": [...], ...}``), a plain JSON list of ids, or a text file
    with one id per line (blank lines skipped, surrounding whitespace stripped). Ids are returned
    as strings, in file order. A missing, empty or malformed file, non-string/int ids, or a
    duplicated id raise :class:`DatamapError` naming the file.
    """
    p = Path(path)
    if not p.is_file():
        raise DatamapError(f"{p}: selection file not found")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatamapError(f"{p}: cannot read selection file ({exc})") from exc
    stripped = text.lstrip()
    if p.suffix.lower() == ".json" or stripped.startswith(("{", "[")):
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise DatamapError(f"{p}: not valid JSON ({exc})") from exc
        if isinstance(obj, dict):
            if "ids" not in obj:
                raise DatamapError(f"{p}: selection JSON has no 'ids' key")
            obj = obj["ids"]
        if not isinstance(obj, list):
            raise DatamapError(f"{p}: 'ids' must be a list of ids")
        ids = []
        for i, x in enumerate(obj):
            if isinstance(x, bool) or not isinstance(x, (str, int)):
                raise DatamapError(f"{p}: id #{i} is {x!r}, expected a string or an integer")
            ids.append(str(x))
    else:
        ids = [line.strip() for line in text.splitlines() if line.strip()]
    if not ids:
        raise DatamapError(f"{p}: selection holds no ids")
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise DatamapError(f"{p}: duplicate id {i!r}")
        seen.add(i)
    return ids
