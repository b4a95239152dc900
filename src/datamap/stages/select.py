"""The select stage: choose subsets of a run's training set from its data map, save them in RUN/selections/."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from datamap.core.health import Finding, check_selection
from datamap.core.selection import SWEEP_FRACTIONS, Recipe, SelectionResult, select as select_rows, sweep as sweep_rows
from datamap.errors import DatamapError, user_errors
from datamap.io.atomic import refuse_existing
from datamap.io.names import check_name as check_path_name
from datamap.io.readers import read_parquet
from datamap.io.rundir import RunDir, refuse_sft, run_task
from datamap.io.selection import check_name, save_selection

log = logging.getLogger(__name__)


@dataclass
class SavedSelection:
    """One selection written by :func:`select_run`: its name, what was selected, the files, and its
    class balance (:func:`datamap.core.health.check_selection`; ``balance.ok`` False = it warned)."""

    name: str
    result: SelectionResult
    paths: dict[str, Path]
    balance: Finding | None = None

    def summary(self) -> dict:
        """What ``datamap select --json`` prints for this selection."""
        return {"name": self.name, "n": len(self.result), "n_total": self.result.n_total, "sizes": self.result.sizes,
                "per_class": self.result.class_sizes, "balance": self.balance.to_dict() if self.balance else None,
                "files": {k: str(v) for k, v in self.paths.items()}}


STRATIFY_HINT = ("pass --stratify to keep each class's share of the training set (without it, regions and "
                 "rankings are taken over all classes together, as in allenai/cartography)")


def selection_balance(name: str, result: SelectionResult, stratified: bool, gold) -> Finding | None:
    """The class balance of a selection against the training set's classes ``gold`` (the metrics rows);
    warns (log) past :data:`datamap.core.health.SELECTION_FACTOR` times the training set's imbalance."""
    import numpy as np

    if not result.class_sizes or len(result) == 0 or gold is None:
        return None
    classes, train = np.unique(np.asarray(gold), return_counts=True)  # the keys of class_sizes, in this order
    finding = check_selection(list(result.class_sizes.values()), train.tolist(), list(result.class_sizes),
                              what=f"selection {name}")
    if not finding.ok:
        log.warning("%s%s", finding.message, "" if stratified else f"; {STRATIFY_HINT}")
    return finding


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
    clusters: "str | os.PathLike | None" = None,
    overwrite: bool = False,
    drop_errors: bool = False,
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
        Prefix of the CSV name (``DATASET_NAME.csv``): letters, digits, ``. _ -``.
    clusters : path or None, default None
        A clusters file (``datamap cluster``): its ``cluster`` and ``distance`` columns join the
        metrics by id as ``cluster`` and ``cluster_distance`` (for the recipe's cluster part and
        for ``where`` filters such as ``cluster==3``). Without ``metrics.parquet`` the run's
        ``data.parquet`` gives the rows (cluster-only recipes).
    overwrite : bool, default False
        Replace the files of a selection of the same name; without it they are refused before
        anything is written.
    drop_errors : bool, default False
        Leave out the examples flagged in ``RUN/label_issues.parquet`` (``datamap errors``): adds the
        filter ``label_issue==0``. Whenever that file exists its flag joins the rows as the column
        ``label_issue`` (1 flagged, 0 not) for ``where`` filters. Without ``metrics.parquet`` the
        ranked rows of ``label_issues.parquet`` are the pool.

    Returns the selections written, in order.
    """
    check_name(name)
    if dataset is not None:
        check_path_name(dataset, "--dataset")
    rd = RunDir(run)
    if drop_errors:
        refuse_sft(rd, "--drop-errors (label errors)")
    if recipe.stratify:
        refuse_sft(rd, "--stratify (keeps each class's share)")
    if clusters is not None:
        metrics = with_clusters(rd, clusters)
    elif recipe.cluster is not None:
        raise DatamapError(f"cluster mode {recipe.cluster.mode!r} needs a clusters file (--clusters FILE)")
    elif drop_errors and not rd.metrics.exists():
        from datamap.stages.errors import read_label_issues

        issues = read_label_issues(rd.root)
        metrics = issues.loc[~issues["threshold_sample"], ["id"]].assign(gold=issues["given_label_id"])
    else:
        rd.require(rd.metrics, hint="run `datamap metrics` first")
        metrics = read_metrics(rd)
    if drop_errors or rd.label_issues.exists():
        metrics = with_label_issues(rd, metrics, required=drop_errors)
    if drop_errors:
        import dataclasses

        recipe = dataclasses.replace(recipe, where=(*recipe.where, "label_issue==0"))
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
    if drop_errors:
        for n, result in named:
            check_drop_errors(n, result)
        if rd.threshold_samples.exists():  # never ranked, so never flagged nor cleared: said, not silently dropped
            import pyarrow.parquet as pq

            k = pq.read_metadata(rd.threshold_samples).num_rows
            from datamap.console import say

            say(f"--drop-errors: the {k} threshold samples of {rd.root} (their labels were hidden for AUM, so they "
                "were never judged) are not in the pool; the selection holds judged examples only", err=True)
            for _, result in named:
                result.recipe["threshold_samples_left_out"] = int(k)
    if clusters is not None:
        for _, result in named:
            result.recipe["clusters_file"] = str(clusters)

    formats: tuple[str, ...] = ("parquet", "csv") if csv else ("parquet",)
    data_df = None
    if rd.data.exists():
        data_df = read_parquet(rd.data)
    else:
        if csv:
            raise DatamapError(f"{rd.data}: missing from the run directory (needed for the CSV)")
        log.warning("%s not found: writing only the selection JSON", rd.data)
        formats = ()
    for n, _ in named:  # refuse before writing any of them
        for path in selection_paths(rd, n, formats, dataset):
            refuse_existing(path, overwrite)
    return [
        SavedSelection(n, result, save_selection(rd.root, n, result, data_df=data_df, formats=formats, dataset=dataset),
                       selection_balance(n, result, recipe.stratify, metrics["gold"] if "gold" in metrics else None))
        for n, result in named
    ]


def selection_paths(rd: RunDir, name: str, formats: Sequence[str], dataset: str | None) -> list[Path]:
    """The files :func:`datamap.io.selection.save_selection` writes for selection ``name``."""
    paths = [rd.selection(name)]
    if "parquet" in formats:
        paths.append(rd.selections / f"{name}.parquet")
    if "csv" in formats:
        paths.append(rd.selections / (f"{dataset}_{name}.csv" if dataset else f"{name}.csv"))
    return paths


def read_metrics(rd: RunDir):
    """The run's ``metrics.parquet`` as a DataFrame; an interrupted train or metrics is refused, and an
    unreadable file is a DatamapError naming it."""
    rd.require_complete(metrics=True)
    return read_parquet(rd.metrics)


def with_clusters(rd: RunDir, clusters: "str | os.PathLike"):
    """The run's metrics table (or, without one, its ids and gold labels from ``data.parquet``)
    with the clusters file's ``cluster`` and ``cluster_distance`` joined by id."""
    import pandas as pd

    from datamap.io.embeddings import positions_by_id, read_clusters

    if not rd.root.is_dir():
        raise DatamapError(f"{rd.root}: run directory not found")
    if rd.metrics.exists():
        table = read_metrics(rd)
    else:
        rd.require(rd.data, hint="run `datamap train` first")
        log.warning("%s not found: only the cluster part and filters on id/gold/cluster can be used", rd.metrics)
        if run_task(rd) == "sft":  # no labels
            table = pd.DataFrame({"id": read_parquet(rd.data, columns=["id"])["id"].astype(str)})
        else:
            data = read_parquet(rd.data, columns=["id", "label"])
            table = pd.DataFrame({"id": data["id"].astype(str), "gold": data["label"].to_numpy()})
    frame, _ = read_clusters(clusters)
    pos = positions_by_id(frame["id"], table["id"], clusters, "cluster")
    table = table.copy()
    table["cluster"] = frame["cluster"].to_numpy()[pos]
    table["cluster_distance"] = frame["distance"].to_numpy()[pos]
    return table


def check_drop_errors(name: str, result) -> None:
    """Refuse a ``--drop-errors`` selection that is empty or holds a single class (a model trained on it learns nothing)."""
    present = [k for k, v in result.class_sizes.items() if v > 0]
    if len(result) == 0:
        raise DatamapError(f"--drop-errors: selection {name} would be empty (0 of {result.n_total} examples left); "
                           "check the flags of datamap errors (--cut, --max-class-share)")
    if result.class_sizes and len(present) < 2:
        raise DatamapError(f"--drop-errors: selection {name} would hold a single class ({present[0]!r}, {len(result)} of "
                           f"{result.n_total} examples); check the flags of datamap errors (--cut, --max-class-share)")


def with_label_issues(rd: RunDir, table, required: bool):
    """``table`` with the column ``label_issue`` (1.0 where ``RUN/label_issues.parquet`` flags the id, else 0.0)."""
    from datamap.stages.errors import read_label_issues

    if not rd.label_issues.exists():
        if required:
            raise DatamapError(f"--drop-errors: {rd.label_issues} not found (run `datamap errors {rd.root}` first)")
        return table
    issues = read_label_issues(rd.root)
    flagged = set(issues["id"][issues["flag"]].astype(str))
    table = table.copy()
    table["label_issue"] = table["id"].astype(str).isin(flagged).astype(float)
    return table
