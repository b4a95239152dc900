"""The dataset options several commands share with ``datamap train`` (``--split``, ``--text-column`` ...):
their defaults are :class:`~datamap.training.config.TrainConfig`'s, written there once."""

from __future__ import annotations

from typing import Any

from datamap.stages.options.base import option


def train_default(name: str) -> Any:
    """``TrainConfig``'s default of field ``name``."""
    from datamap.training.config import TrainConfig

    return TrainConfig.model_fields[name].get_default(call_default_factory=True)


def data_option(name: str, help: str = "", **extra: Any) -> Any:
    """An option with ``datamap train``'s default of the same name (``split``, ``label_column`` ...)."""
    return option(train_default(name), help, **extra)
