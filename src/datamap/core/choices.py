"""The base of every option with a fixed set of string values (a record mode, a mixup pairing, ...)."""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """A string option with fixed values, e.g. ``RecordMode.EPOCH_END``.

    A member compares equal to its value (``RecordMode.NONE == "none"``), prints as its value
    (``f"{member}"``, ``str(member)``) and is built from it (``RecordMode("none")``), so code that
    compares with plain strings keeps working and messages show what the user typed. The command
    line lists the values in its help; pydantic validates them and ``model_dump(mode="json")``
    writes the values.
    """

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every value, in definition order."""
        return tuple(str(member.value) for member in cls)
