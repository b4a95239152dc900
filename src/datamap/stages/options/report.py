"""``datamap report``: its option (no YAML section)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from datamap.stages.options.base import Options, option


class ReportOptions(Options):
    """A run's HTML report (RUN/report.html)."""

    command = "report"

    out: Optional[Path] = option(None, "Output file (default RUN/report.html).")
