"""`datamap metrics` on an sft run, and the stages that need classes refusing one."""

import json

import numpy as np
import pandas as pd
import pytest

from datamap.cli import main
from datamap.core.sft_metrics import SFT_TABLE_COLUMNS, sft_metrics
from datamap.io.rundir import RunDir, file_sha256, run_task
from datamap.io.store import read_sft_dynamics
from sft_run import make_sft_run


def cli(*args) -> int:
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code or 0
    return 0


@pytest.fixture
def run(tmp_path):
    return make_sft_run(tmp_path / "run")


def test_metrics_files_of_an_sft_run(run, capsys):
    assert cli("metrics", run) == 0
    out = capsys.readouterr().out
    assert "regions by token loss" in out and "easy" in out
    table = pd.read_parquet(run / "metrics.parquet")
    assert tuple(table.columns) == SFT_TABLE_COLUMNS
    dyn = read_sft_dynamics(run / "dynamics.parquet")
    m = sft_metrics(dyn.loss_sum, dyn.n_tokens, dyn.n_correct)
    assert table["id"].tolist() == dyn.ids.tolist()
    assert np.allclose(table["confidence"], m["confidence"]) and np.allclose(table["mean_loss"], m["mean_loss"])
    # the learned family (rows 0..29) is easy or none, never hard; the stuck one never easy
    assert "hard" not in set(table["region"][:30]) and "easy" not in set(table["region"][30:])
    info = json.loads((run / "metrics.json").read_text())
    assert info["kind"] == "sft" and info["n_points_recorded"] == 6 and info["record"] == "every"
    assert len(info["mean_token_loss_per_point"]) == 6
    assert info["mean_token_loss_per_point"][0] > info["mean_token_loss_per_point"][-1]
    assert sum(info["region_counts"].values()) == 50
    man = RunDir(run).read_manifest()
    assert man["metrics"]["metrics.parquet"] == file_sha256(run / "metrics.parquet")
    regions = json.loads((run / "three_regions_data_indices.json").read_text())
    assert len(regions["easy"]) == 16  # floor(0.33 * 50)


def test_burn_out_counts_points_and_json(run, capsys):
    assert cli("metrics", run, "--burn-out", "2", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "sft" and summary["n_examples"] == 50
    assert json.loads((run / "metrics.json").read_text())["points_used"] == 2
    assert cli("metrics", run, "--burn-out", "7") == 2
    assert "holds 6 record points: --burn-out must be an integer in [1, 6]" in capsys.readouterr().err
    assert cli("metrics", run, "--entropy-epoch", "1") == 2
    assert "--entropy-epoch" in capsys.readouterr().err


def test_run_task(run, tmp_path):
    assert run_task(run) == "sft"
    (run / "config.yaml").unlink()
    assert run_task(run) == "sft"  # from the dynamics' metadata
    assert run_task(tmp_path / "nothing") == "classify"


@pytest.mark.parametrize("argv,what", [
    (["errors", "{run}"], "datamap errors"),
    (["relabel", "{run}", "--out", "{root}/relabelled.parquet"], "datamap relabel"),
    (["weights", "{run}", "--out", "{root}/w.parquet"], "datamap weights"),
    (["evaluate", "{run}", "--dataset", "{root}/x.csv"], "datamap evaluate"),
    (["ensemble", "{run}", "{run}", "--dataset", "{root}/x.csv", "--out", "{root}/ens"], "datamap ensemble"),
    (["crossval", "{run}", "--out", "{root}/cv"], "crossval"),
    (["select", "{run}", "--out", "clean", "--drop-errors"], "--drop-errors"),
    (["select", "{run}", "--out", "strat", "--ambiguous", "0.3", "--stratify"], "--stratify"),
    (["noise", "{run}", "--out", "{root}/noisy.parquet", "--rate", "0.1"], "datamap noise"),
    (["noise", "{run}/data.parquet", "--out", "{root}/noisy.parquet", "--rate", "0.1"], "datamap noise"),
])
def test_stages_that_need_classes_refuse_an_sft_run(tmp_path, capsys, monkeypatch, argv, what):
    from stages.refusals import check_refusal

    run = make_sft_run(tmp_path / "run")
    assert cli("metrics", run) == 0
    check_refusal({"root": tmp_path, "run": run}, argv, [what, "sft"], capsys, monkeypatch)


def test_load_run_of_an_sft_run(run):
    import datamap

    r = datamap.load_run(run)
    assert r.dynamics_arrays().loss_sum.shape == (50, 6)
    assert tuple(r.metrics.columns) == SFT_TABLE_COLUMNS  # computed, not written
    assert not (run / "metrics.parquet").exists()
