"""The one exception type users see, and the boundary where library errors become it.

Every problem with user input (a file, a column, a row, an option) is raised as a
:class:`DatamapError` whose message is a single line naming the offending thing. The CLI
prints it as ``error: <message>`` and exits with status 2.

The pure-NumPy core (:mod:`datamap.core`) raises plain ``ValueError`` with messages that speak of
its own parameters; the stages call it inside :func:`user_errors`, which turns those into
:class:`DatamapError`.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


class DatamapError(ValueError):
    """Bad input or an inconsistent run directory; the message is one line for the user.

    A ``ValueError``, so Python callers can catch bad input of every layer the same way.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


@contextlib.contextmanager
def user_errors(context: str = "") -> Iterator[None]:
    """Re-raise a ``ValueError`` from the block as :class:`DatamapError` (``context: message``)."""
    try:
        yield
    except DatamapError:
        raise
    except ValueError as exc:
        raise DatamapError(f"{context}: {exc}" if context else str(exc)) from exc
