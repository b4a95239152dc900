"""``datamap crossval``: its options (no YAML section)."""

from __future__ import annotations

from pathlib import Path

from datamap.stages.options.base import Options, option

#: ``--folds``' default
FOLDS = 5


class CrossvalOptions(Options):
    """Out-of-sample probabilities for every training example (K fold runs)."""

    command = "crossval"

    out: Path = option(..., "Folder for the fold runs (fold_0 ...), folds/ and oof_probs.parquet.")
    folds: int = option(FOLDS, "Number of folds K (K trainings, each on K-1 folds).", ge=2)
    seed: int = option(0, "Seed of the (label-stratified) fold split.", ge=0)
