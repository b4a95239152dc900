"""``datamap evaluate``: its options (the YAML runner's ``evaluation`` entries differ on purpose: a set
named once, scored with each run's own max_length and eval_batch_size)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from datamap.stages.options.base import Options, option
from datamap.stages.options.columns import data_option

#: the split scored by default (``--split`` of evaluate and ensemble, ``evaluation[i].split``)
SPLIT = "validation"
#: forward-pass batch size and token limit of evaluate and ensemble
BATCH_SIZE = 128
MAX_LENGTH = 128


def split_option():
    return option(SPLIT, "")


def batch_size_option():
    return option(BATCH_SIZE, "", ge=1)


def max_length_option():
    return option(MAX_LENGTH, "", ge=1)


class EvaluateOptions(Options):
    """Score a model on a labelled set (RUN/eval/NAME.json)."""

    command = "evaluate"

    dataset: str = option(..., "Evaluation dataset: hub name, mirror name or file.")
    split: str = split_option()
    name: Optional[str] = option(None, "Set name for RUN/eval/NAME.json (default DATASET_SPLIT).")
    out: Optional[Path] = option(None, "Run directory for the scores (default: MODEL_OR_RUN when it is a run).")
    batch_size: int = batch_size_option()
    max_length: int = max_length_option()
    text_column: Optional[str] = data_option("text_column")
    text_pair_column: Optional[str] = data_option("text_pair_column")
    label_column: str = data_option("label_column")
    dataset_config: Optional[str] = option(None, "Hub dataset configuration, or the mirror folder NAME/CONFIG/.")
    revision: Optional[str] = option(None, "Branch, tag or commit of a hub dataset.")

    def columns(self) -> dict:
        """The dataset's columns, configuration and revision as the stage's ``columns``."""
        return dict(text_column=self.text_column, text_pair_column=self.text_pair_column,
                    label_column=self.label_column, config=self.dataset_config, revision=self.revision)
