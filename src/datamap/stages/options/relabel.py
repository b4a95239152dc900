"""``datamap relabel``: its option (the YAML runner's ``errors`` section writes RELABELED itself)."""

from __future__ import annotations

from pathlib import Path

from datamap.stages.options.base import Options, option


class RelabelOptions(Options):
    """A run's training rows with each flagged example's label replaced by the model's prediction."""

    command = "relabel"

    out: Path = option(..., "Dataset file to write (.parquet, .csv, .tsv or .jsonl).")
