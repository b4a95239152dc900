"""``datamap metrics``: its options, also the YAML runner's ``cartography.metrics`` section."""

from __future__ import annotations

from typing import Optional

from datamap.core.regions import REGION_FRACTION
from datamap.stages.options.base import Options, option


class MetricsOptions(Options):
    """Per-example metrics and regions of a run (RUN/metrics.parquet)."""

    command = "metrics"
    section_path = "cartography.metrics"

    burn_out: Optional[int] = option(None, "Use only the first K epochs (an sft run: record points).", ge=1)
    fraction: float = option(REGION_FRACTION, "Region size as a fraction of the data (allenai ranking).", gt=0, le=1)
    entropy_epoch: Optional[int] = option(
        None, "Epoch whose softmax gives entropy, 0-based as in the files (-1: the last; default: the last used).")
