"""``datamap export-dynamics``: its option (no YAML section)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from datamap.stages.options.base import Options, option


class ExportDynamicsOptions(Options):
    """Write a run's dynamics as allenai-format dynamics_epoch_{e}.jsonl files."""

    command = "export-dynamics"

    out: Optional[Path] = option(None, "Folder (default RUN/training_dynamics); written whole or not at all.")
