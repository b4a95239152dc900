"""``datamap errors``: its options; ``method``, ``cut``, ``max_class_share`` and ``force_flag`` are also
the YAML runner's ``errors`` section (with ``flagged_weight`` of :mod:`datamap.stages.options.weights`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import field_validator

from datamap.core.cuts import DEFAULT_CUT, MAX_CLASS_SHARE
from datamap.core.label_errors import DEFAULT_METHOD, THRESHOLD_PERCENTILE
from datamap.stages.options.base import Options, option
from datamap.stages.options.checks import one_of

#: ``--top``'s default: the examples printed
TOP = 20


class ErrorsOptions(Options):
    """Rank a run's training examples by how likely their label is wrong (RUN/label_issues.parquet)."""

    command = "errors"
    section_path = "errors"

    method: str = option(DEFAULT_METHOD, "Ranking: aum, confidence, el2n, forgetfulness, rank_mean, class_confidence "
                                         "(confidence over its given class's mean) or cleanlab (needs datamap[cleanlab]).")
    probs: Optional[Path] = option(
        None, "Out-of-sample probabilities for --method cleanlab: DIR/oof_probs.parquet of datamap crossval (default: "
              "the run's in-sample epoch-averaged ones).", yaml=False)
    percentile: float = option(
        THRESHOLD_PERCENTILE, "Cut of a run trained with --threshold-samples: flag AUM below this percentile of the "
                              "threshold samples' AUM.", ge=0, le=100, allow_inf_nan=False)
    top: int = option(TOP, "Print the K most likely mislabeled examples (0: none).", yaml=False, ge=0)
    cut: str = option(DEFAULT_CUT, "Which ranked examples to flag: auto (threshold with threshold samples, else count), "
                                   "aum0 (AUM < 0), threshold, count (as many as confident learning estimates), top:K, "
                                   "fraction:F.")
    max_class_share: float = option(
        MAX_CLASS_SHARE, "Never flag more than this share of the examples given one class (the highest-ranked stay "
                         "flagged); said when it binds.", ge=0, le=1, allow_inf_nan=False)
    force_flag: bool = option(False, "Flag even when the model is at or near chance or the cut would flag most "
                                     "examples (refused otherwise).")

    @field_validator("cut")
    @classmethod
    def _cut(cls, v: str) -> str:
        from datamap.core.cuts import parse_cut

        parse_cut(v)
        return v

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        from datamap.stages.errors import ALL_METHODS

        return one_of(v, ALL_METHODS)
