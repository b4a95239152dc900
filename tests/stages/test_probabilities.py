"""Probabilities where logits are expected: detected and refused with one line naming the file, or
converted with log when asked (--probabilities / probabilities=True); the metrics are then exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datamap.api import compute_metrics
from datamap.cli import main
from datamap.core.probs import logits_from_probabilities, looks_like_probabilities, softmax
from datamap.errors import DatamapError
from datamap.io.jsonl import write_jsonl
from datamap.io.store import Dynamics, read_dynamics


def dynamics(probs: bool) -> Dynamics:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (8, 3, 2))
    values = softmax(logits, axis=-1) if probs else logits
    return Dynamics(np.array([f"x{i}" for i in range(8)], dtype=object), values.astype(np.float32),
                    np.array([0, 1] * 4), np.arange(3))


def test_detection():
    assert looks_like_probabilities(np.array([[0.2, 0.8], [1.0, 0.0]]))
    assert not looks_like_probabilities(np.array([[0.2, 0.7], [1.0, 0.0]]))  # a row sums to 0.9
    assert not looks_like_probabilities(np.array([[1.5, -0.5], [0.3, 0.7]]))  # sums to 1 but out of [0, 1]
    assert not looks_like_probabilities(np.array([[1.0], [1.0]]))  # one class: no evidence
    assert not looks_like_probabilities(dynamics(False).logits)
    assert looks_like_probabilities(dynamics(True).logits)
    p = np.array([[0.25, 0.75, 0.0]])
    np.testing.assert_allclose(softmax(logits_from_probabilities(p)), p, atol=1e-300)
    with pytest.raises(ValueError, match="not probabilities"):
        logits_from_probabilities(np.array([[2.0, -1.0]]))


def cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code, capsys.readouterr()


def test_import_refuses_probabilities_unless_asked(tmp_path, capsys):
    write_jsonl(dynamics(True), tmp_path / "td")
    code, out = cli(capsys, "import-dynamics", tmp_path / "td", "--out", tmp_path / "run")
    assert code == 2 and out.err.count("\n") == 1
    assert out.err == (f"error: {tmp_path / 'td'} (dynamics_epoch_*.jsonl): every row lies in [0, 1] and sums to 1: "
                       "these are probabilities, not logits; pass --probabilities to convert them with log\n")
    assert not (tmp_path / "run").exists()

    code, out = cli(capsys, "import-dynamics", tmp_path / "td", "--out", tmp_path / "run", "--probabilities")
    assert code == 0, out.err
    got = read_dynamics(tmp_path / "run" / "dynamics.parquet")
    np.testing.assert_allclose(softmax(got.logits, axis=-1), dynamics(True).logits, atol=1e-6)

    write_jsonl(dynamics(False), tmp_path / "real")
    code, out = cli(capsys, "import-dynamics", tmp_path / "real", "--out", tmp_path / "r2", "--probabilities")
    assert code == 2 and "--probabilities: values are not probabilities" in out.err
    code, out = cli(capsys, "import-dynamics", tmp_path / "real", "--out", tmp_path / "r2")
    assert code == 0, out.err


def test_api_compute_metrics():
    d = dynamics(False)
    p = dynamics(True)
    with pytest.raises(DatamapError, match="probabilities, not logits; pass probabilities=True"):
        compute_metrics(p.logits, p.gold)
    pd.testing.assert_frame_equal(compute_metrics(p.logits, p.gold, probabilities=True)[["confidence", "variability"]],
                                  compute_metrics(d.logits, d.gold)[["confidence", "variability"]], atol=1e-6)
