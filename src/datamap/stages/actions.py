"""Acting on ``datamap errors``'s flags: relabel the flagged examples, or down-weight them.

(Dropping them is ``datamap select RUN --drop-errors``.)

- :func:`relabel_run` (``datamap relabel RUN --out FILE``): the run's training rows (``data.parquet``)
  as a new dataset file in which every flagged example's label is replaced by the model's prediction
  (the class of highest epoch-averaged probability, ``predicted_label_id`` of ``label_issues.parquet``).
  The column ``relabeled`` is true on the rows whose label changed and ``original_label`` keeps the
  label they had. Threshold samples get back their original label. ``datamap train --dataset FILE``
  trains on it (same ids).
- :func:`weights_run` (``datamap weights RUN --out FILE``): a table of ``id`` and ``weight`` for
  ``datamap train --weights FILE``. The rule: a flagged example weighs ``flagged_weight`` (default
  0.5), every other example 1. The training loss of a batch is then the weighted mean
  ``sum(w_i * loss_i) / sum(w_i)`` of its examples' losses (a flagged example counts
  ``flagged_weight`` times as much as a clean one; weight 0 leaves it out of the loss).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.core.cuts import FLAGGED_WEIGHT
from datamap.errors import DatamapError
from datamap.io import atomic
from datamap.io.readers import read_parquet
from datamap.io.rundir import RunDir, refuse_sft
from datamap.stages.errors import read_label_issues
from datamap.stages.noise import OUT_SUFFIXES, write_dataset



@dataclass
class ActionResult:
    """What :func:`relabel_run` or :func:`weights_run` wrote: the file, rows, flagged and changed counts."""

    out: Path
    n: int
    n_flagged: int
    n_changed: int


def _issues_by_row(rd: RunDir, data: pd.DataFrame) -> pd.DataFrame:
    issues = read_label_issues(rd.root)
    issues.index = pd.Index(issues["id"].astype(str))
    ids = data["id"].astype(str)
    missing = ~ids.isin(issues.index)
    if missing.any():
        raise DatamapError(f"{rd.label_issues}: no row for id '{ids[missing].iloc[0]}' of {rd.data.name} "
                           f"(run `datamap errors {rd.root} --overwrite`)")
    return issues.loc[ids.to_numpy()]


def _check_out(out: Path, overwrite: bool) -> None:
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise DatamapError(f"--out {out}: give a file ending in {', '.join(OUT_SUFFIXES)}")
    atomic.refuse_existing(out, overwrite, "--out")


def relabel_run(run: "str | os.PathLike", out: "str | os.PathLike", *, overwrite: bool = False) -> ActionResult:
    """Write ``out``: the run's training rows with the flagged examples relabelled to the model's prediction."""
    rd = RunDir(run)
    refuse_sft(rd, "datamap relabel")
    out = Path(out)
    _check_out(out, overwrite)
    rd.require(rd.data, rd.label_issues, hint="run `datamap train` and `datamap errors` first")
    data = read_parquet(rd.data)
    issues = _issues_by_row(rd, data)
    names = rd.label_names()
    if rd.threshold_samples.exists():
        names = names[:-1]  # the fake class
    given = issues["given_label_id"].to_numpy(dtype=np.int64)  # threshold samples: their original label
    flagged = issues["flag"].to_numpy(dtype=bool)
    label = np.where(flagged, issues["predicted_label_id"].to_numpy(dtype=np.int64), given)
    frame = data.drop(columns=[c for c in ("label", "label_name") if c in data.columns]).copy()
    frame["label"] = label
    frame["label_name"] = np.asarray(names, dtype=object)[label]
    frame["relabeled"] = label != given
    frame["original_label"] = np.asarray(names, dtype=object)[given]
    write_dataset(out, frame.reset_index(drop=True))
    return ActionResult(out=out, n=len(frame), n_flagged=int(flagged.sum()), n_changed=int(frame["relabeled"].sum()))


def weights_run(run: "str | os.PathLike", out: "str | os.PathLike", *, flagged_weight: float = FLAGGED_WEIGHT,
                overwrite: bool = False) -> ActionResult:
    """Write ``out``: ``id``, ``weight`` (``flagged_weight`` for a flagged example, 1 otherwise), ``flag``."""
    if not (np.isfinite(flagged_weight) and flagged_weight >= 0):
        raise DatamapError(f"--flagged-weight: must be a finite number >= 0, got {flagged_weight!r}")
    rd = RunDir(run)
    refuse_sft(rd, "datamap weights (of flagged label errors)")
    out = Path(out)
    _check_out(out, overwrite)
    rd.require(rd.data, rd.label_issues, hint="run `datamap train` and `datamap errors` first")
    data = read_parquet(rd.data, columns=["id"])
    flagged = _issues_by_row(rd, data)["flag"].to_numpy(dtype=bool)
    frame = pd.DataFrame({"id": data["id"].astype(str).to_numpy(), "weight": np.where(flagged, float(flagged_weight), 1.0),
                          "flag": flagged})
    write_dataset(out, frame)
    return ActionResult(out=out, n=len(frame), n_flagged=int(flagged.sum()), n_changed=int(flagged.sum()))
