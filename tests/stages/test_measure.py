"""The metrics stage: options out of range are one-line errors with exit status 2 at the CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import cli_error
from datamap.io.store import Dynamics, write_dynamics
from datamap.stages.measure import measure_run


@pytest.fixture
def run(tmp_path):
    rng = np.random.default_rng(0)
    n, e, c = 12, 3, 2
    ids = np.array([f"x{i}" for i in range(n)], dtype=object)
    logits = rng.normal(size=(n, e, c)).astype(np.float32)
    write_dynamics(tmp_path / "dynamics.parquet", Dynamics(ids, logits, rng.integers(0, c, n), np.arange(e)))
    return tmp_path


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--fraction", "0", r"--fraction: must be > 0, got 0.0"),  # the options model's range (MetricsOptions)
        ("--fraction", "1.5", r"--fraction: must be <= 1, got 1.5"),
        ("--burn-out", "4", "dynamics.parquet holds 3 epochs: --burn-out must be an integer in [1, 3], got 4"),
        ("--burn-out", "0", "--burn-out: must be >= 1, got 0"),
        ("--entropy-epoch", "3", "--entropy-epoch must be an integer in [-3, 2], got 3"),
    ],
)
def test_options_out_of_range_exit_2_with_one_line(run, capsys, option, value, message):
    assert message in cli_error(capsys, "metrics", run, option, value)
    assert not (run / "metrics.parquet").exists()


def test_entropy_epoch_is_checked_against_the_epochs_used(run, capsys):
    err = cli_error(capsys, "metrics", run, "--burn-out", "2", "--entropy-epoch", "2")
    assert "--entropy-epoch must be an integer in [-2, 1], got 2" in err


def test_options_in_range(run):
    table = measure_run(run, burn_out=2, fraction=1.0, entropy_epoch=-2)
    assert len(table) == 12 and set(table["region"]) <= {"easy", "ambiguous", "hard"}
    info = json.loads((run / "metrics.json").read_text())
    assert (info["epochs_used"], info["burn_out"], info["fraction"], info["entropy_epoch"]) == (2, 2, 1.0, -2)
    assert pd.read_parquet(run / "metrics.parquet")["id"].tolist() == [f"x{i}" for i in range(12)]

