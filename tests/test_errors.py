"""The error boundary: only bad input becomes a one-line message; DATAMAP_DEBUG=1 shows tracebacks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from datamap.core.checks import InputError, check_fraction
from datamap.core.regions import region_indices
from datamap.errors import DatamapError, user_errors


def test_core_input_errors_become_user_errors():
    with pytest.raises(DatamapError, match=r"^--fraction: fraction must be"):
        with user_errors("--fraction"):
            region_indices(np.zeros(3), np.zeros(3), fraction=1.5)
    with pytest.raises(InputError):  # still a ValueError for Python callers
        check_fraction(2.0, "x")
    assert issubclass(InputError, ValueError)


def test_other_value_errors_keep_their_traceback():
    """A NumPy/pandas ValueError inside the boundary is a bug, not a user error: it passes unchanged."""
    with pytest.raises(ValueError) as info:
        with user_errors("ctx"):
            np.zeros(3).reshape(2, 2)
    assert not isinstance(info.value, DatamapError)


def _cli(*args, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "datamap", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_debug_variable_reraises_user_errors(tmp_path):
    missing = str(tmp_path / "no-run")
    plain = _cli("metrics", missing)
    assert plain.returncode == 2 and plain.stderr.startswith("error: ") and "Traceback" not in plain.stderr
    debug = _cli("metrics", missing, env={"DATAMAP_DEBUG": "1"})
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "DatamapError" in debug.stderr
