"""Start-up: the command line's help imports none of the heavy libraries (torch takes seconds to import)."""

import json
import subprocess
import sys

import pytest

from conftest import cli_env

HEAVY = ("torch", "transformers", "accelerate", "pandas", "pyarrow", "sklearn", "matplotlib", "datasets")

PROBE = """
import json, sys
from datamap.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = [m for m in {heavy} if m in sys.modules]
print(json.dumps(sorted(loaded)))
"""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["run", "--help"]])
def test_help_imports_no_heavy_library(argv):
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], env=cli_env(), check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
