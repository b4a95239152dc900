"""Names that become parts of paths (selection names, evaluation set names, CSV prefixes).

A name given on the command line is joined to a folder of the run (``RUN/selections/NAME.json``,
``RUN/eval/NAME.json``...). :func:`check_name` is the one check that keeps such a name inside its
folder: no separator, no ``..``, not empty.
"""

from __future__ import annotations

import re

from datamap.errors import DatamapError

__all__ = ["check_name"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_name(name: str, what: str = "name", *, suffix: str | None = None) -> str:
    """Return ``name`` if it is safe as one path component, else raise :class:`DatamapError`.

    Parameters
    ----------
    name : str
        The name to check: letters, digits, ``.``, ``_`` and ``-``, starting with a letter or a digit
        (so never empty, never ``.`` or ``..``, no ``/`` or ``\\``, no hidden file).
    what : str, default "name"
        How the message calls it: the option (``"--name"``) or the thing (``"selection name"``).
    suffix : str or None, default None
        A suffix the name must not end with (e.g. ``".json"``, which the file name adds itself).

    Returns
    -------
    str
        ``name`` unchanged.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise DatamapError(
            f"{what} {name!r}: use letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(no '/', no '..', not empty)"
        )
    if suffix and name.endswith(suffix):
        raise DatamapError(f"{what} {name!r}: leave out the {suffix} suffix")
    return name
