"""Real (tiny) training runs: a config-built BERT with a tokenizer trained in the test."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from conftest import cli_env
from datamap.errors import DatamapError
from datamap.io.rundir import RunDir
from datamap.io.store import read_dynamics
from datamap.training.config import TrainConfig
from datamap.training.loop import train

pytestmark = pytest.mark.slow


def config(tmp_path, model_dir, csv, **kw):
    base = dict(dataset=str(csv), model=str(model_dir), out=str(tmp_path / "run"), epochs=2, batch_size=8,
                lr=5e-4, eval_split=None, seed=3, max_length=32)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("mode", ["inflight", "epoch_end"])
def test_every_example_recorded_every_epoch(tmp_path, tiny_model_dir, sentiment_csv, mode):
    run = train(config(tmp_path, tiny_model_dir, sentiment_csv, record=mode, epochs=3), progress=False)
    data = pd.read_parquet(run.data)
    dyn = read_dynamics(run.dynamics)
    assert dyn.n_epochs == 3 and dyn.n_classes == 2
    assert sorted(dyn.ids.tolist()) == sorted(data["id"].tolist()) and len(data) == 60
    gold = data.set_index("id").loc[list(dyn.ids), "label"].to_numpy()
    assert np.array_equal(dyn.gold, gold)
    assert np.isfinite(dyn.logits).all()
    assert not np.allclose(dyn.logits[:, 0], dyn.logits[:, -1])  # the model changed
    hist = __import__("json").loads(run.history.read_text())["epochs"]
    assert [h["epoch"] for h in hist] == [0, 1, 2] and all(h["train_loss"] > 0 for h in hist)
    assert (run.model / "config.json").exists() and RunDir(run.root).label_names() == ["neg", "pos"]
    assert yaml.safe_load(run.config.read_text())["record"] == mode


def test_epoch_end_logits_equal_the_saved_model(tmp_path, tiny_model_dir, sentiment_csv):
    """The last epoch_end pass is an eval-mode pass of the final weights: reload and compare."""
    import torch

    from datamap.training.batching import Collator, encode_frame
    from datamap.training.models import load_model, load_tokenizer

    run = train(config(tmp_path, tiny_model_dir, sentiment_csv, record="epoch_end"), progress=False)
    dyn = read_dynamics(run.dynamics)
    data = pd.read_parquet(run.data).set_index("id").loc[list(dyn.ids)].reset_index()
    tok = load_tokenizer(str(run.model))
    model = load_model(str(run.model)).eval()
    enc = encode_frame(data, tok, 32)
    with torch.no_grad():
        logits = np.concatenate([
            model(**{k: v for k, v in Collator(tok)(enc[i:i + 16]).items() if k not in ("labels", "index")}).logits.numpy()
            for i in range(0, len(enc), 16)
        ])
    np.testing.assert_allclose(dyn.logits[:, -1], logits, atol=1e-5)


def test_record_none_and_limit(tmp_path, tiny_model_dir, sentiment_csv):
    run = train(config(tmp_path, tiny_model_dir, sentiment_csv, record="none", epochs=1, limit=10, limit_mode="random"), progress=False)
    assert not run.dynamics.exists()
    assert len(pd.read_parquet(run.data)) == 10


def test_existing_run_needs_overwrite(tmp_path, tiny_model_dir, sentiment_csv):
    from datamap.stages.measure import measure_run

    run = train(config(tmp_path, tiny_model_dir, sentiment_csv, epochs=1, save_model=False), progress=False)
    measure_run(run.root)
    with pytest.raises(DatamapError, match="already holds a run; pass --overwrite"):
        train(config(tmp_path, tiny_model_dir, sentiment_csv, epochs=1), progress=False)
    train(config(tmp_path, tiny_model_dir, sentiment_csv, epochs=2, overwrite=True, save_model=False), progress=False)
    assert not run.metrics.exists()  # stale metrics of the replaced run are gone
    assert read_dynamics(run.dynamics).n_epochs == 2


def test_bad_options(tmp_path, tiny_model_dir, sentiment_csv):
    with pytest.raises(ValidationError, match="record"):  # options are checked when the config is built
        config(tmp_path, tiny_model_dir, sentiment_csv, record="sometimes")
    with pytest.raises(DatamapError, match="no label column 'gold'"):
        train(config(tmp_path, tiny_model_dir, sentiment_csv, label_column="gold"))
    assert not (tmp_path / "run").exists()  # nothing written before the input is valid


def run_cli(*args, **env):
    return subprocess.run([sys.executable, "-m", "datamap", *map(str, args)], capture_output=True, text=True, env=cli_env(**env))


def test_cli_pipeline(tmp_path, tiny_model_dir, data_dir):
    run = tmp_path / "cli-run"
    r = run_cli("train", "--dataset", "toy", "--model", tiny_model_dir, "--out", run, "--epochs", "2",
                "--batch-size", "8", "--lr", "5e-4", "--eval-split", "none", "--export-jsonl", "--json",
                DATAMAP_DATA_DIR=data_dir)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)  # --json: stdout is the summary alone (no progress, no "run written")
    assert summary["run"] == str(run) and summary["epochs"] == 2 and str(run / "dynamics.parquet") in summary["files"]
    assert sorted(p.name for p in (run / "training_dynamics").iterdir()) == ["dynamics_epoch_0.jsonl", "dynamics_epoch_1.jsonl"]
    r = run_cli("metrics", run, "--fraction", "0.25")
    assert r.returncode == 0, r.stderr
    assert "ambiguous" in r.stdout and "total" in r.stdout
    m = pd.read_parquet(run / "metrics.parquet")
    assert len(m) == 60 and set(m["region"]) <= {"easy", "ambiguous", "hard", "none"}
    assert (m["region"] == "ambiguous").sum() == 15
    r = run_cli("plot", run, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"] == [str(run / "map.png")]
    assert (run / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run_cli("plot", run, "--html", "--color-by", "region")
    assert r.returncode == 0, r.stderr
    page = (run / "map.html").read_text()
    assert "<script src=" not in page and "All 60 points" in page
    r = run_cli("report", run)
    assert r.returncode == 0, r.stderr
    assert (run / "report.html").exists()
    r = run_cli("plot", run, "--html", "--color-by", "nonsense")
    assert r.returncode == 2 and "nonsense" in r.stderr
    # allenai export -> import into a new run -> identical dynamics and metrics
    r = run_cli("import-dynamics", run / "training_dynamics", "--out", tmp_path / "imp", "--label-names", "neg,pos",
                "--dataset", "toy", DATAMAP_DATA_DIR=data_dir)
    assert r.returncode == 0, r.stderr
    a, b = read_dynamics(run / "dynamics.parquet"), read_dynamics(tmp_path / "imp" / "dynamics.parquet")
    assert a.ids.tolist() == b.ids.tolist() and np.array_equal(a.logits, b.logits)
    assert run_cli("metrics", tmp_path / "imp", "--fraction", "0.25").returncode == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "imp" / "metrics.parquet"), m)


def test_cli_errors_exit_2(tmp_path, data_dir):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,0\n,1\n")
    r = run_cli("train", "--dataset", bad, "--out", tmp_path / "r")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "empty text" in r.stderr or "null text" in r.stderr
    assert "row 1" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("metrics", tmp_path / "r")
    assert r.returncode == 2 and "run directory not found" in r.stderr
    (tmp_path / "r2").mkdir()
    r = run_cli("metrics", tmp_path / "r2", "--burn-out", "3")
    assert r.returncode == 2 and "dynamics.parquet: missing" in r.stderr
    r = run_cli("import-dynamics", tmp_path / "nothing", "--out", tmp_path / "r3")
    assert r.returncode == 2 and "folder not found" in r.stderr and not (tmp_path / "r3").exists()


def test_same_seed_same_dynamics_with_or_without_evaluation(tmp_path, tiny_model_dir, sentiment_csv, data_dir):
    """Evaluation passes must not consume the training's random state (dropout, shuffles)."""
    a = train(config(tmp_path, tiny_model_dir, sentiment_csv, out=str(tmp_path / "a"), save_model=False), progress=False)
    b = train(config(tmp_path, tiny_model_dir, sentiment_csv, out=str(tmp_path / "b"), save_model=False,
                     eval_datasets=[str(data_dir / "toy" / "validation.parquet")]), progress=False)
    da, db = read_dynamics(a.dynamics), read_dynamics(b.dynamics)
    assert da.ids.tolist() == db.ids.tolist() and np.array_equal(da.logits, db.logits)
    assert (b.root / "eval" / "validation.json").exists()
