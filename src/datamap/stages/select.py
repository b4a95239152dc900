"""The select stage: choose subsets of a run's training set from its data map, save them in RUN/selections/."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from datamap.core.selection import SWEEP_FRACTIONS, Recipe, SelectionResult, select as select_rows, sweep as sweep_rows
from datamap.errors import DatamapError, user_errors
from datamap.io.rundir import RunDir
from datamap.io.selection import check_name, save_selection

log = logging.getLogger(__name__)


@dataclass
class SavedSelection:
    """One selection written by :func:`select_run`: its name, what was selected, the files."""

    name: str
    result: SelectionResult
    paths: dict[str, Path]


def select_run(
    run: "str | os.PathLike",
    name: str,
    recipe: Recipe,
    *,
    sweep: bool = False,
    fractions: Sequence[float] | None = None,
    seed: int = 0,
    csv: bool = False,
    dataset: str | None = None,
) -> list[SavedSelection]:
    """Select from ``RUN/metrics.parquet`` and write ``RUN/selections/NAME.json`` (+ the subset rows).

    Parameters
    ----------
    run : path
        Run directory holding ``metrics.parquet`` (and ``data.parquet`` for the subset files).
    name : str
        Selection name (letters, digits, ``. _ -``).
    recipe : datamap.core.selection.Recipe
        What to select (regions, rankings, filters, random parts, ``data_pct``...).
    sweep : bool, default False
        Write one selection per fraction (``NAME_01``, ``NAME_05``...), varying the one part given.
    fractions : sequence of float or None, default None
        Fractions of a sweep (default: allenai's ``SWEEP_FRACTIONS``); only with ``sweep``.
    seed : int, default 0
        Seed of the random draws.
    csv : bool, default False
        Also write the subset rows as CSV (named ``DATASET_NAME.csv`` when ``dataset`` is given).
    dataset : str or None, default None

    Returns the selections written, in order.
    """
    import pandas as pd

    check_name(name)
    rd = RunDir(run)
    rd.require(rd.metrics, hint="run `datamap metrics` first")
    try:
        metrics = pd.read_parquet(rd.metrics)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise DatamapError(f"{rd.metrics}: cannot read ({exc})") from exc
    label_names = rd.label_names() if rd.labels.exists() else None
    with user_errors():
        if sweep:
            results = sweep_rows(metrics, recipe, fractions=tuple(fractions or SWEEP_FRACTIONS), seed=seed,
                                 label_names=label_names)
            named = [(f"{name}_{int(round(f * 100)):02d}", r) for f, r in results.items()]
        else:
            if fractions is not None:
                raise DatamapError("fractions only apply to a sweep")
            named = [(name, select_rows(metrics, recipe, seed=seed, label_names=label_names))]

    formats: tuple[str, ...] = ("parquet", "csv") if csv else ("parquet",)
    data_df = None
    if rd.data.exists():
        data_df = pd.read_parquet(rd.data)
    else:
        if csv:
            raise DatamapError(f"{rd.data}: missing from the run directory (needed for the CSV)")
        log.warning("%s not found: writing only the selection JSON", rd.data)
        formats = ()
    return [
        SavedSelection(n, result, save_selection(rd.root, n, result, data_df=data_df, formats=formats, dataset=dataset))
        for n, result in named
    ]
