"""Validation of numeric parameters, in one place (scikit-learn style).

Each checker takes the value and the name to show, returns the value converted (``float`` or
``int``) and raises ``ValueError("{name} must be ..., got {value!r}")`` otherwise, so the message
always names the offending thing and the range it must lie in. ``bool`` and strings are never
numbers here (``True`` is not 1, ``"0.5"`` is not 0.5): convert text before checking it.

The core calls them with its own parameter names (``"fraction"``, ``"burn_out"``); a caller that
speaks to command-line users may pass the name of the option instead.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


class InputError(ValueError):
    """Bad input to a core function (a parameter out of range, arrays that do not fit together).

    The core raises this and no plain ``ValueError`` for bad input, so that the boundary
    (:func:`datamap.errors.user_errors`, which knows it by ``user_input``) turns it into a one-line
    user error while any other ``ValueError`` (a NumPy, pandas or scikit-learn bug) keeps its traceback.
    """

    user_input = True

__all__ = ["InputError", "check_fraction", "check_int", "check_number", "fraction_count"]


#: Slack added before rounding down, so that ``0.29 * 100`` (28.999999999999996 in floats) counts 29.
COUNT_TOL = 1e-9


def _interval(low: float | None, high: float | None, low_inclusive: bool, high_inclusive: bool) -> str:
    """``"in [0, 1)"``, ``">= 1"``, ``"<= 5"`` or ``""`` (no bound)."""
    if low is not None and high is not None:
        return f"in {'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"
    if low is not None:
        return f"{'>=' if low_inclusive else '>'} {low:g}"
    if high is not None:
        return f"{'<=' if high_inclusive else '<'} {high:g}"
    return ""


def _in_bounds(v: float, low: float | None, high: float | None, low_inclusive: bool, high_inclusive: bool) -> bool:
    if low is not None and not (v >= low if low_inclusive else v > low):
        return False
    if high is not None and not (v <= high if high_inclusive else v < high):
        return False
    return True


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` within the given bounds, else raise ``ValueError``.

    Parameters
    ----------
    value : any
        The value to check: a real number (Python or NumPy; not ``bool``, not ``str``), finite
        (``nan`` and ``inf`` are refused).
    name : str
        What to call the value in the message (a parameter or option name).
    low, high : float or None, default None
        Lower and upper bound; ``None`` leaves that side open.
    low_inclusive, high_inclusive : bool, default True
        Whether ``value == low`` (``value == high``) is allowed.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``"{name} must be a finite number in [low, high], got {value!r}"`` (the interval written
        with the bounds and inclusiveness given; no interval without bounds).
    """
    where = _interval(low, high, low_inclusive, high_inclusive)
    if not _is_real(value) or not math.isfinite(float(value)) or not _in_bounds(
        float(value), low, high, low_inclusive, high_inclusive
    ):
        raise InputError(f"{name} must be a finite number{' ' + where if where else ''}, got {value!r}")
    return float(value)


def check_fraction(
    value: Any,
    name: str,
    *,
    low: float = 0.0,
    high: float = 1.0,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a ``float`` fraction within ``[low, high]``, else raise ``ValueError``.

    Parameters
    ----------
    value : any
        The value to check: a real number (Python or NumPy; not ``bool``, not ``str``).
        ``nan`` is refused.
    name : str
        What to call the value in the message (a parameter or option name).
    low, high : float, default 0.0 and 1.0
        The bounds of the interval.
    low_inclusive, high_inclusive : bool, default True
        Whether the bound itself is allowed: ``low_inclusive=False`` gives ``(0, 1]``, the range
        of a fraction of data that must keep at least something.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``"{name} must be a fraction in [0, 1], got {value!r}"`` (with the interval asked for).
    """
    if not _is_real(value) or not _in_bounds(float(value), low, high, low_inclusive, high_inclusive):
        raise InputError(
            f"{name} must be a fraction {_interval(low, high, low_inclusive, high_inclusive)}, got {value!r}"
        )
    return float(value)


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an ``int`` within ``[low, high]`` (both inclusive), else raise ``ValueError``.

    Parameters
    ----------
    value : any
        The value to check: a Python or NumPy integer, or a float with an integral value (``3.0``);
        not ``bool``, not ``str``.
    name : str
        What to call the value in the message (a parameter or option name).
    low, high : int or None, default None
        Smallest and largest value allowed; ``None`` leaves that side open.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        ``"{name} must be an integer in [low, high], got {value!r}"`` (``>= low`` or ``<= high``
        with one bound, nothing with none).
    """
    integral = isinstance(value, numbers.Integral) or (
        _is_real(value) and math.isfinite(float(value)) and float(value).is_integer()
    )
    if isinstance(value, bool) or not integral or not _in_bounds(int(value), low, high, True, True):
        where = _interval(low, high, True, True)
        raise InputError(f"{name} must be an integer{' ' + where if where else ''}, got {value!r}")
    return int(value)


def fraction_count(fraction: float, n: int) -> int:
    """How many of ``n`` items a fraction means: ``floor(fraction * n)``, with a 1e-9 slack.

    The one fraction -> count rule of the project (regions, selections, noise rates, cluster
    budgets, mixup ratios): ``fraction_count(0.29, 100) == 29`` although ``0.29 * 100`` is
    28.999999999999996 in floats, ``fraction_count(0.25, 10) == 2``. ``fraction`` is not range-checked
    here (a mixup ratio may exceed 1); check it with :func:`check_fraction` where it must be one.
    """
    return int(math.floor(float(fraction) * int(n) + COUNT_TOL))
