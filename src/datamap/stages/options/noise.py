"""``datamap noise``: its options (no YAML section)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import field_validator

from datamap.core.noise import KINDS
from datamap.stages.options.base import Options, option
from datamap.stages.options.checks import one_of
from datamap.stages.options.columns import data_option

AS_TRAIN = "As for datamap train."


class NoiseOptions(Options):
    """Write a copy of a dataset with a known fraction of its labels flipped."""

    command = "noise"

    out: Path = option(..., "Noisy dataset to write (.parquet, .csv, .tsv, .jsonl); OUT_STEM.flipped.parquet goes "
                            "beside it.")
    kind: str = option(KINDS[0], "uniform (to any other class), pairs (class c -> its partner) or matrix (--matrix).")
    rate: Optional[float] = option(None, "Fraction of the examples flipped, exactly floor(rate x N) (uniform, pairs).")
    matrix: Optional[Path] = option(None, "Row-stochastic C x C transition matrix (JSON list of rows, or CSV/TSV): "
                                          "row = true class.")
    mapping: Optional[str] = option(None, "Partners for --kind pairs as SOURCE:PARTNER class ids, e.g. 0:1,1:0 "
                                          "(default c -> c+1 mod C).")
    seed: int = option(0, "Seed of the draws.", ge=0)
    split: str = data_option("split", "Split of DATASET.")
    text_column: Optional[str] = data_option("text_column", AS_TRAIN)
    text_pair_column: Optional[str] = data_option("text_pair_column", AS_TRAIN)
    label_column: str = data_option("label_column", AS_TRAIN)
    id_column: Optional[str] = data_option("id_column", AS_TRAIN)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return one_of(v, KINDS)
