"""The metrics stage: RUN/dynamics.parquet -> RUN/metrics.parquet (+ regions, summary)."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from datamap.core.checks import check_fraction, check_int
from datamap.core.health import check_epochs
from datamap.core.metrics import METRIC_COLUMNS, compute_metrics
from datamap.core.regions import REGION_FRACTION, REGIONS, assign_regions, region_indices
from datamap.errors import DatamapError, user_errors
from datamap.io import atomic
from datamap.io.readers import check_same_ids
from datamap.io.rundir import RunDir, file_sha256
from datamap.io.store import dynamics_kind, read_dynamics

log = logging.getLogger(__name__)


def metrics_table(dyn, burn_out: int | None = None, entropy_epoch: int | None = None,
                  fraction: float = REGION_FRACTION) -> pd.DataFrame:
    """The ``metrics.parquet`` table of read dynamics (:func:`datamap.io.store.read_dynamics`): ``id``,
    ``gold``, ``pred``, every metric and ``region``; nothing is written."""
    m = compute_metrics(dyn.logits, dyn.gold, burn_out=burn_out, entropy_epoch=entropy_epoch)
    table = pd.DataFrame({"id": dyn.ids, "gold": dyn.gold, "pred": m["pred"]})
    for col in METRIC_COLUMNS:
        table[col] = m[col]
    table["region"] = assign_regions(m["confidence"], m["variability"], fraction=fraction)
    return table


def measure_run(
    run_dir: str | os.PathLike,
    burn_out: int | None = None,
    fraction: float = REGION_FRACTION,
    entropy_epoch: int | None = None,
) -> pd.DataFrame:
    """Compute every metric and region for a run and write its metrics files; returns the table.

    Parameters
    ----------
    run_dir : path
        Run directory holding ``dynamics.parquet`` (and ``labels.json``).
    burn_out : int or None, default None
        Use only the first ``burn_out`` epochs recorded (1 to the number recorded); ``None``: all.
    fraction : float, default REGION_FRACTION (0.33)
        Size of each region ranking as a fraction of the examples, in (0, 1].
    entropy_epoch : int or None, default None
        Epoch (0-based within those used, negative from the end) whose softmax gives
        ``entropy`` and ``pred``; ``None``: the last one used.

    Raises :class:`DatamapError` (naming the command-line option) for an option out of range or
    inputs that do not fit.
    """
    run = RunDir(run_dir)
    run.require(run.dynamics, hint="run `datamap train` or `datamap import-dynamics` first")
    with user_errors():
        fraction = check_fraction(fraction, "--fraction", low_inclusive=False)
    if dynamics_kind(run.dynamics) == "sft":
        from datamap.stages.measure_sft import measure_sft_run

        return measure_sft_run(run, burn_out=burn_out, fraction=fraction, entropy_epoch=entropy_epoch)
    dyn = read_dynamics(run.dynamics)
    check_same_ids(dyn.ids, run.data, str(run.dynamics))  # dynamics of another dataset than data.parquet
    epochs_used = dyn.n_epochs
    with user_errors(f"{run.dynamics} holds {dyn.n_epochs} epochs"):
        if burn_out is not None:
            burn_out = epochs_used = check_int(burn_out, "--burn-out", low=1, high=dyn.n_epochs)
        if entropy_epoch is not None:
            check_int(entropy_epoch, "--entropy-epoch", low=-epochs_used, high=epochs_used - 1)
    with user_errors(str(run.dynamics)):
        table = metrics_table(dyn, burn_out=burn_out, entropy_epoch=entropy_epoch, fraction=fraction)
    few = check_epochs(epochs_used)
    if not few.ok:
        log.warning("%s: %s", run.dynamics, few.message)
    idx = region_indices(table["confidence"].to_numpy(), table["variability"].to_numpy(), fraction=fraction)

    names = run.label_names() if run.labels.exists() else [str(i) for i in range(dyn.n_classes)]
    if len(names) != dyn.n_classes:
        raise DatamapError(f"{run.labels}: {len(names)} label names but the dynamics have {dyn.n_classes} classes")
    write_metrics_files(run, table, {name: [str(dyn.ids[i]) for i in idx[name]] for name in ("easy", "ambiguous", "hard")},
                        {
                            "n_examples": int(dyn.n_examples),
                            "n_epochs_recorded": int(dyn.n_epochs),
                            "epochs_used": epochs_used,
                            "burn_out": burn_out,
                            "fraction": fraction,
                            "entropy_epoch": (entropy_epoch if entropy_epoch is not None else epochs_used - 1),
                            "label_names": names,
                            "region_counts": summary_counts(table, names).to_dict(orient="index"),
                        })
    return table


def write_metrics_files(run: RunDir, table: pd.DataFrame, regions: dict, meta: dict) -> None:
    """Write ``metrics.parquet``, ``regions.json`` and ``metrics.json`` of ``run`` (classifier or sft) together.

    The manifest names the three new hashes first, then the files are renamed into place; an interruption in
    between leaves files the manifest disowns (readers refuse them), never a mix of old and new.
    """
    run.remove_temporaries([run.metrics.name, run.regions_json.name, run.metrics_json.name])
    with atomic.FileSet(run.metrics, run.regions_json, run.metrics_json) as files:
        files.write_table(run.metrics, table)
        files.write_json(run.regions_json, regions)
        files.write_json(run.metrics_json, meta)
        run.write_manifest(metrics={p.name: file_sha256(files.temp(p)) for p in files.paths})
        files.commit()


def summary_counts(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Counts per region (rows, those present) and gold class (columns), with totals."""
    regions = table["region"].to_numpy(dtype=object)
    gold = table["gold"].to_numpy(dtype=np.int64)
    order = [r for r in (*REGIONS, "none")]
    code = {r: i for i, r in enumerate(order)}
    rcode = np.fromiter((code.get(r, len(order)) for r in regions), dtype=np.int64, count=len(regions))
    counts = np.bincount(rcode * len(names) + gold, minlength=(len(order) + 1) * len(names))
    counts = counts.reshape(len(order) + 1, len(names))[: len(order)]
    frame = pd.DataFrame(counts, index=pd.Index(order, name="region"), columns=names)
    frame = frame[frame.sum(axis=1) > 0]
    frame["total"] = frame.sum(axis=1)
    return frame
