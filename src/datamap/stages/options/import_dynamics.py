"""``datamap import-dynamics``: its options (no YAML section)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from datamap.stages.options.base import Options, option
from datamap.stages.options.columns import data_option


class ImportDynamicsOptions(Options):
    """Read allenai-format training dynamics into a run directory."""

    command = "import-dynamics"

    out: Path = option(..., "Run directory to create.")
    label_names: Optional[str] = option(None, "Comma-separated class names in id order.")
    dataset: Optional[str] = option(None, "Attach the records (texts) of this dataset, matched by id.")
    split: str = data_option("split")
    text_column: Optional[str] = data_option("text_column")
    text_pair_column: Optional[str] = data_option("text_pair_column")
    label_column: str = data_option("label_column")
    id_column: Optional[str] = data_option("id_column")
    probabilities: bool = option(False, "The files hold probabilities, not logits: convert them with log (without it "
                                        "such files are refused).")

    def columns(self) -> dict:
        """The dataset's columns as the stage's ``columns``."""
        return self.kwargs("text_column", "text_pair_column", "label_column", "id_column")
