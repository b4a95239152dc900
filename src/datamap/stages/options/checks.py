"""Checks the options models share (a value from a fixed set of strings)."""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import field_validator


def one_of(value: Any, values: Iterable[str]) -> Any:
    """``value`` when it is None or one of ``values``; else a ValueError listing them (the model names the option)."""
    values = tuple(str(v) for v in values)
    if value is not None and value not in values:
        raise ValueError(f"must be one of {', '.join(values)}, got {value!r}")
    return value


def choice(values: Iterable[str], *fields: str) -> Any:
    """A field validator of an options model: each of ``fields`` is None or one of ``values``.

    ``_xy = choice(XY_CHOICES, "xy")`` in the class body; a bad value reads ``--xy: must be one of map,
    embedding, got 'tsne'`` on the command line (:meth:`~datamap.stages.options.Options.from_cli`).
    """
    values = tuple(str(v) for v in values)

    def check(cls: type, value: Any) -> Any:
        return one_of(value, values)

    return field_validator(*fields)(classmethod(check))
