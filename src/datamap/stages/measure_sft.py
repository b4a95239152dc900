"""The metrics stage of an sft run: token-loss trajectories -> RUN/metrics.parquet (+ regions, summary).

Called by :func:`datamap.stages.measure.measure_run` when the run's dynamics are those of a causal-LM
fine-tuning (``dynamics_kind == "sft"``). Formulas: :mod:`datamap.core.sft_metrics`; regions: the
allenai ranking of :mod:`datamap.core.regions` on confidence (mean geometric-mean token probability)
and variability.
"""

from __future__ import annotations

import logging


import pandas as pd

from datamap.core.health import MIN_EPOCHS
from datamap.core.regions import REGION_FRACTION, assign_regions, region_indices
from datamap.core.sft_metrics import SFT_METRIC_COLUMNS, region_summary, sft_metrics
from datamap.errors import DatamapError, user_errors
from datamap.io.readers import check_same_ids
from datamap.io.rundir import RunDir
from datamap.io.store import read_sft_dynamics

log = logging.getLogger(__name__)


def sft_metrics_table(dyn, burn_out: int | None = None, fraction: float = REGION_FRACTION) -> pd.DataFrame:
    """The ``metrics.parquet`` table of read sft dynamics (:func:`datamap.io.store.read_sft_dynamics`):
    ``id``, ``n_tokens``, every metric of :data:`SFT_METRIC_COLUMNS` and ``region``; nothing is written."""
    m = sft_metrics(dyn.loss_sum, dyn.n_tokens, dyn.n_correct, burn_out=burn_out)
    table = pd.DataFrame({"id": dyn.ids, "n_tokens": m["n_tokens"]})
    for col in SFT_METRIC_COLUMNS:
        table[col] = m[col]
    table["region"] = assign_regions(m["confidence"], m["variability"], fraction=fraction)
    return table


def sft_region_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per region (those present, in the order easy, ambiguous, hard, none): ``count``, mean ``mean_loss``,
    mean ``correctness`` (as ``token_accuracy``) and mean ``exact`` (:func:`datamap.core.sft_metrics.region_summary`)."""
    rows = region_summary(table["region"].to_numpy(), table["mean_loss"].to_numpy(), table["correctness"].to_numpy(),
                          table["exact"].to_numpy())
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("region")


def measure_sft_run(run: RunDir, burn_out: int | None = None, fraction: float = REGION_FRACTION,
                    entropy_epoch: int | None = None) -> pd.DataFrame:
    """:func:`datamap.stages.measure.measure_run` for an sft run (options already range-checked but
    ``burn_out``, counted in record points here). Writes ``metrics.parquet``, ``metrics.json``
    (``"kind": "sft"``) and ``three_regions_data_indices.json`` together, hashes in the manifest."""
    from datamap.core.checks import check_int

    if entropy_epoch is not None:
        raise DatamapError(f"--entropy-epoch: {run.root} is an sft run (token losses, no softmax over classes)")
    dyn = read_sft_dynamics(run.dynamics)
    check_same_ids(dyn.ids, run.data, str(run.dynamics), subset=dyn.meta.get("sample") is not None)
    used = dyn.n_points
    with user_errors(f"{run.dynamics} holds {dyn.n_points} record points"):
        if burn_out is not None:
            burn_out = used = check_int(burn_out, "--burn-out", low=1, high=dyn.n_points)
    with user_errors(str(run.dynamics)):
        table = sft_metrics_table(dyn, burn_out=burn_out, fraction=fraction)
    if used < MIN_EPOCHS:  # the health check's limit
        log.warning("%s: only %d record point(s) used; variability needs several (record more: --record-every)",
                    run.dynamics, used)
    idx = region_indices(table["confidence"].to_numpy(), table["variability"].to_numpy(), fraction=fraction)
    summary = sft_region_summary(table)
    from datamap.stages.measure import write_metrics_files

    write_metrics_files(run, table, {name: [str(dyn.ids[i]) for i in idx[name]] for name in ("easy", "ambiguous", "hard")},
                        {
                            "kind": "sft",
                            "n_examples": int(dyn.n_examples),
                            "n_points_recorded": int(dyn.n_points),
                            "points_used": int(used),
                            "burn_out": burn_out,
                            "fraction": fraction,
                            "record": dyn.meta.get("record"),
                            "record_every": dyn.meta.get("record_every"),
                            "point_epochs": [int(e) for e in dyn.epochs[:used]],
                            "point_steps": [int(s) for s in dyn.steps[:used]],
                            "mean_token_loss_per_point": [float(v) for v in
                                                          (dyn.loss_sum[:, :used] / dyn.n_tokens[:, :used]).mean(axis=0)],
                            "token_accuracy_per_point": [float(v) for v in
                                                         (dyn.n_correct[:, :used] / dyn.n_tokens[:, :used]).mean(axis=0)],
                            "region_counts": {str(r): int(c) for r, c in summary["count"].items()},
                        })
    return table


def is_sft_table(table: pd.DataFrame) -> bool:
    """Whether a metrics table is an sft run's (no ``gold`` column, a ``mean_loss`` one)."""
    return "gold" not in table.columns and "mean_loss" in table.columns



