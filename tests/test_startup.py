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


TRAINING_PROBE = """
import json, sys
from datamap.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    assert not e.code, e.code
print(json.dumps(sorted(m for m in ("peft", "transformers.trainer_utils", "transformers.optimization") if m in sys.modules)))
"""


def test_a_training_without_lora_imports_neither_peft_nor_the_trainer_utilities(tmp_path, tiny_model_dir):
    """About 0.1 s of every training's start: ``transformers.optimization`` (its schedules) imports the Trainer's
    utilities, and those import peft. The loop's own linear schedule keeps them out; ``--lora`` still loads peft."""
    from conftest import make_sentiment_frame

    make_sentiment_frame(40).to_csv(tmp_path / "d.csv", index=False)
    argv = ["train", "--dataset", str(tmp_path / "d.csv"), "--model", str(tiny_model_dir), "--out", str(tmp_path / "r"),
            "--epochs", "1", "--batch-size", "16", "--max-length", "24", "--quiet"]
    out = subprocess.run([sys.executable, "-c", TRAINING_PROBE, *argv], env=cli_env(), check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
