"""The one exception type users see, and the boundary where library errors become it.

Every problem with user input (a file, a column, a row, an option) is raised as a
:class:`DatamapError` whose message is a single line naming the offending thing. The CLI
prints it as ``error: <message>`` and exits with status 2.

The pure-NumPy core (:mod:`datamap.core`) raises :class:`datamap.core.checks.InputError` (a
``ValueError`` marked ``user_input = True``; this base module imports no layer, so it knows the class by
that mark) with messages that speak of its own parameters; the stages call it inside
:func:`user_errors`, which turns those, and only those, into :class:`DatamapError`. Any other
exception (a NumPy, pandas or scikit-learn bug) keeps its traceback, and with ``DATAMAP_DEBUG=1``
the command line re-raises even a :class:`DatamapError` with its traceback.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

#: Set to 1 to get the traceback of every error, user errors included (``DATAMAP_DEBUG=1 datamap ...``).
DEBUG_VARIABLE = "DATAMAP_DEBUG"


def debugging() -> bool:
    """Whether ``DATAMAP_DEBUG`` asks for tracebacks of user errors too."""
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


class DatamapError(ValueError):
    """Bad input or an inconsistent run directory; the message is one line for the user.

    A ``ValueError``, so Python callers can catch bad input of every layer the same way.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


@contextlib.contextmanager
def user_errors(context: str = "") -> Iterator[None]:
    """Re-raise the core's ``InputError`` from the block as :class:`DatamapError` (``context: message``).

    Only bad input becomes a one-line message: any other exception, a plain ``ValueError`` of
    NumPy or pandas included, goes through unchanged with its traceback.
    """
    try:
        yield
    except DatamapError:
        raise
    except ValueError as exc:
        if not getattr(exc, "user_input", False):
            raise
        raise DatamapError(f"{context}: {exc}" if context else str(exc)) from exc
