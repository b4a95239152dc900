"""datamap noise: a copy of a dataset with a known fraction of its labels flipped, and the flipped ids.

The noisy copy has the source's columns and rows in the source's order, labels in the source's form
(integers stay integers, names stay names; a ``label_name`` column follows its label), and an ``id``
column holding the ids ``datamap train --dataset`` gives the source's rows, so a run on the noisy copy
has the same ids as a run on the source. ``<out stem>.flipped.parquet`` beside it lists the flipped
examples: ``id``, ``true_label``, ``noisy_label`` (class names) and ``true_label_id``,
``noisy_label_id``: the ground truth of label-error benchmarks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.core.noise import KINDS, flip_labels, flip_rates, transition_counts
from datamap.errors import DatamapError, user_errors
from datamap.io import atomic
from datamap.io.rundir import refuse_sft
from datamap.io.data import load_table, prepare, resolve_columns

OUT_SUFFIXES = (".parquet", ".csv", ".tsv", ".jsonl")


@dataclass
class NoiseResult:
    """What :func:`make_noisy` wrote: the files, the label names, the counts."""

    out: Path
    flipped_path: Path
    label_names: list[str]
    n: int
    n_flipped: int
    per_class: pd.DataFrame  # one row per true class: n, flipped, rate


def flipped_path(out: "str | os.PathLike") -> Path:
    """``<out stem>.flipped.parquet`` beside ``out``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.flipped.parquet")


def read_matrix(path: "str | os.PathLike") -> np.ndarray:
    """A transition matrix from a JSON file (a list of rows) or a CSV/TSV/whitespace text file of numbers."""
    path = Path(path)
    if not path.is_file():
        raise DatamapError(f"--matrix {path}: file not found")
    try:
        if path.suffix.lower() == ".json":
            return np.asarray(json.loads(path.read_text(encoding="utf-8")), dtype=np.float64)
        delimiter = "," if path.suffix.lower() == ".csv" else None
        return np.atleast_2d(np.loadtxt(path, delimiter=delimiter, dtype=np.float64))
    except (ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatamapError(f"--matrix {path}: not a matrix of numbers ({first})") from None


def parse_mapping(text: str | None) -> dict[int, int] | None:
    """``"0:1,1:0"`` -> ``{0: 1, 1: 0}`` (the partners of ``--kind pairs``)."""
    if text is None:
        return None
    out = {}
    for part in text.split(","):
        src, sep, dst = part.partition(":")
        try:
            if not sep:
                raise ValueError
            out[int(src)] = int(dst)
        except ValueError:
            raise DatamapError(f"--mapping: {part.strip()!r} is not SOURCE:PARTNER (class ids), e.g. 0:1,1:0") from None
    return out


def write_dataset(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` atomically in the format of ``path``'s suffix (one of :data:`OUT_SUFFIXES`)."""
    suffix = path.suffix.lower()
    with atomic.atomic_path(path) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False, compression="zstd")
        elif suffix in (".csv", ".tsv"):
            frame.to_csv(tmp, index=False, sep="," if suffix == ".csv" else "\t")
        else:
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)


def make_noisy(
    dataset: str,
    out: "str | os.PathLike",
    *,
    kind: str = "uniform",
    rate: float | None = None,
    matrix: "str | os.PathLike | np.ndarray | None" = None,
    mapping: dict[int, int] | None = None,
    seed: int = 0,
    split: str = "train",
    text_column: str | None = None,
    text_pair_column: str | None = None,
    label_column: str = "label",
    id_column: str | None = None,
    overwrite: bool = False,
) -> NoiseResult:
    """Flip labels of ``dataset`` (anything ``datamap train --dataset`` accepts) and write the noisy copy.

    Parameters
    ----------
    dataset : str
        Hub name, local mirror name, file or folder.
    out : path
        The noisy dataset to write (``.parquet``, ``.csv``, ``.tsv`` or ``.jsonl``);
        ``<out stem>.flipped.parquet`` is written beside it.
    kind : {"uniform", "pairs", "matrix"}, default "uniform"
        How labels are flipped (see :mod:`datamap.core.noise`).
    rate : float or None
        Fraction of the examples flipped (``uniform``, ``pairs``); not with ``matrix``.
    matrix : path, array or None
        Row-stochastic ``C x C`` transition matrix (``matrix`` only): a JSON list of rows or a
        CSV/TSV/whitespace-separated text file.
    mapping : dict or None
        Partner of each class for ``pairs`` (default ``c -> (c + 1) mod C``).
    seed : int, default 0
        Seed of the draws.
    split, text_column, text_pair_column, label_column, id_column
        As for ``datamap train``.
    overwrite : bool, default False
        Replace existing output files.
    """
    out = Path(out)
    source = Path(dataset)
    run_dir = source if source.is_dir() else source.parent if source.name == "data.parquet" else None
    if run_dir is not None:  # a run folder (or its data.parquet) of an sft run: no labels to flip
        refuse_sft(run_dir, "datamap noise (label flips)")
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise DatamapError(f"--out {out}: give a file ending in {', '.join(OUT_SUFFIXES)}")
    if kind not in KINDS:
        raise DatamapError(f"--kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "matrix" and matrix is None:
        raise DatamapError("--kind matrix: needs --matrix FILE")
    if kind != "matrix" and rate is None:
        raise DatamapError(f"--kind {kind}: needs --rate")
    flips = flipped_path(out)
    atomic.refuse_existing(out, overwrite, "--out", inputs=[dataset])
    atomic.refuse_existing(flips, overwrite, inputs=[dataset])
    if isinstance(matrix, (str, os.PathLike)):
        matrix = read_matrix(matrix)

    raw, source = load_table(dataset, split)
    columns = dict(text_column=text_column, text_pair_column=text_pair_column, label_column=label_column,
                   id_column=id_column)
    frame, names = prepare(raw, source, **columns)  # stops on empty texts: rows must stay those of the source
    cols = resolve_columns(raw, source, **columns)
    true = frame["label"].to_numpy(dtype=np.int64)
    with user_errors(f"--kind {kind}"):
        noisy, flipped = flip_labels(true, len(names), kind=kind, rate=rate, matrix=matrix, mapping=mapping, seed=seed)

    result = raw.reset_index(drop=True).copy()
    labels = result[cols.label]
    if pd.api.types.is_integer_dtype(labels) or pd.api.types.is_bool_dtype(labels):
        result[cols.label] = pd.Series(noisy, dtype="int64").astype(labels.dtype)
    else:
        result[cols.label] = np.asarray(names, dtype=object)[noisy]
    if "label_name" in result.columns and cols.label != "label_name":
        result["label_name"] = np.asarray(names, dtype=object)[noisy]
    if "id" not in result.columns:
        result.insert(0, "id", frame["id"].to_numpy(dtype=object))
    elif cols.id == "id":
        result["id"] = frame["id"].to_numpy(dtype=object)  # as strings, the form train reads them in

    name_arr = np.asarray(names, dtype=object)
    rows = np.flatnonzero(flipped)
    table = pd.DataFrame({
        "id": frame["id"].to_numpy(dtype=object)[rows],
        "true_label": name_arr[true[rows]],
        "noisy_label": name_arr[noisy[rows]],
        "true_label_id": true[rows],
        "noisy_label_id": noisy[rows],
    })
    counts = transition_counts(true, noisy, len(names))
    per_class = pd.DataFrame({
        "class": names,
        "n": counts.sum(axis=1),
        "flipped": counts.sum(axis=1) - np.diag(counts),
        "rate": flip_rates(true, noisy, len(names)),
    })
    write_dataset(out, result)
    atomic.write_table(flips, table)
    return NoiseResult(out=out, flipped_path=flips, label_names=list(names), n=len(true),
                       n_flipped=int(flipped.sum()), per_class=per_class)
