"""``datamap compare``: its options (the YAML runner writes its own summary: no section)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from datamap.stages.options.base import Options, option


class CompareOptions(Options):
    """The evaluation scores of several runs side by side (:func:`datamap.stages.compare.compare_table`;
    an empty ``sets`` or ``metrics`` means its default: every set, :data:`~datamap.stages.compare.DEFAULT_METRICS`)."""

    command = "compare"

    sets: list[str] = option(help="Evaluation set to show (repeatable; default all).", flag="--set",
                             default_factory=list)
    metrics: list[str] = option(
        help="Score to show (repeatable; default accuracy, f1_macro, ece; dotted keys for nested scores).",
        flag="--metric", default_factory=list)
    csv: Optional[Path] = option(None, "Also write the table as CSV here.")
