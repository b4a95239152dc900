"""``datamap ensemble``: its options (the YAML runner's ``ensemble`` entries differ on purpose: members
named by run, weights a list, each run's own max_length and eval_batch_size)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from datamap.stages.options.base import Options, option
from datamap.stages.options.evaluate import batch_size_option, max_length_option, split_option


class EnsembleOptions(Options):
    """Evaluate the weighted mean of several models' logits like a single model."""

    command = "ensemble"

    dataset: str = option(...)
    split: str = split_option()
    weights: Optional[str] = option(None, "Comma-separated weights summing to 1 (default: equal).")
    out: Path = option(..., "Run directory for the ensemble's scores.")
    name: Optional[str] = option(None, "Set name for OUT/eval/NAME.json (default DATASET_SPLIT).")
    batch_size: int = batch_size_option()
    max_length: int = max_length_option()
