"""``datamap weights``: its option, also ``errors.flagged_weight`` of the YAML runner."""

from __future__ import annotations

from pathlib import Path

from datamap.core.cuts import FLAGGED_WEIGHT
from datamap.stages.options.base import Options, option


class WeightsOptions(Options):
    """Per-example loss weights from a run's label issues (for datamap train --weights FILE)."""

    command = "weights"
    section_path = "errors"

    out: Path = option(..., "Weights file to write (.parquet, .csv, .tsv or .jsonl): id, weight, flag.", yaml=False)
    flagged_weight: float = option(FLAGGED_WEIGHT, "Loss weight of a flagged example (every other example weighs 1).",
                                   ge=0, allow_inf_nan=False)
