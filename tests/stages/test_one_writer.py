"""One writer, nothing lost: a lock per run, --overwrite removes only what the command writes, outputs
are never the command's inputs, symlinks in a run are refused, --resume checks the checkpoint.

Bad input in the table style of test_bad_inputs.py: exit 2, one line, the fixture tree unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import cli_env, make_sentiment_frame
from stages.refusals import check_refusal
from stages.test_bad_inputs import ok

TRAIN = ["--epochs", "2", "--batch-size", "16", "--lr", "5e-4", "--max-length", "24", "--eval-split", "none"]


def _lock(folder, pid):
    (folder / ".datamap.lock").write_text(json.dumps({"pid": pid, "host": os.uname().nodename, "command": "train",
                                                      "started": 0}))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture(scope="module")
def tw(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("one_writer")
    base = root / "w"
    base.mkdir()
    data = base / "train.csv"
    make_sentiment_frame(48).to_csv(data, index=False)
    run = base / "run"
    ok("train", "--dataset", data, "--model", tiny_model_dir, "--out", run, *TRAIN)
    ok("metrics", run)
    ok("export-dynamics", run)
    w = {"root": root, "base": base, "run": run, "model": tiny_model_dir, "data": data}
    # an interrupted run (killed after epoch 1's checkpoint), its stale lock removed by hand
    part = base / "part"
    r = subprocess.run([sys.executable, "-m", "datamap", "train", "--dataset", str(data), "--model", str(tiny_model_dir),
                        "--out", str(part), *TRAIN], capture_output=True, text=True, timeout=600,
                       env=cli_env(DATAMAP_TEST_KILL_AT="0:done", OMP_NUM_THREADS="1"))
    assert r.returncode != 0 and (part / "checkpoint" / "state.json").is_file(), r.stderr[-2000:]
    (part / ".datamap.lock").unlink(missing_ok=True)
    for name in ("edited", "epoch7", "epochlie", "nofile", "truncmodel", "truncepoch"):
        w[name] = shutil.copytree(part, base / name)
    cfg = w["edited"] / "config.yaml"
    cfg.write_text(cfg.read_text().replace("lr: 0.0005", "lr: 0.1"))
    state = w["epoch7"] / "checkpoint" / "state.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), "epoch": 7}))
    # a manifest two epochs ahead of the checkpoint (one behind is the kill window between the two: resumable)
    man = w["epochlie"] / "manifest.json"
    man.write_text(json.dumps({**json.loads(man.read_text()), "epochs_written": 3}))
    (w["nofile"] / "dynamics" / "epoch_0.parquet").unlink()
    for name, f in (("truncmodel", "checkpoint/model.safetensors"), ("truncepoch", "dynamics/epoch_0.parquet")):
        data = (w[name] / f).read_bytes()
        (w[name] / f).write_bytes(data[: len(data) // 2])
    # a live writer's lock; a user's folder with a model of its own; a run with a symlinked folder
    w["locked"] = shutil.copytree(run, base / "locked")
    _lock(w["locked"], os.getpid())
    w["user"] = base / "user"
    (w["user"] / "model").mkdir(parents=True)
    (w["user"] / "model" / "w.bin").write_text("weights")
    (w["user"] / "checkpoint").mkdir()
    w["linked"] = shutil.copytree(run, base / "linked", ignore=shutil.ignore_patterns("training_dynamics"))
    (base / "elsewhere").mkdir()
    (base / "elsewhere" / "keep.txt").write_text("keep")
    os.symlink(base / "elsewhere", w["linked"] / "selections")
    w["stray"] = base / "stray"
    shutil.copytree(run / "training_dynamics", w["stray"])
    (w["stray"] / "notes.txt").write_text("mine")
    w["afile"] = base / "train.csv"
    return w


CASES = [
    ("train-second-writer", ["train", "--dataset", "{data}", "--model", "{model}", "--out", "{locked}", "--overwrite"],
     ["another datamap process", f"pid {os.getpid()}"]),
    ("train-foreign-model", ["train", "--dataset", "{data}", "--model", "{model}", "--out", "{user}"], ["user/model", "did not write"]),
    ("train-foreign-model-overwrite", ["train", "--dataset", "{data}", "--model", "{model}", "--out", "{user}", "--overwrite"],
     ["user/model", "never removes"]),
    ("train-overwrite-own-input", ["train", "--dataset", "{run}/data.parquet", "--model", "{model}", "--out", "{run}", "--overwrite"],
     ["--dataset", "inside --out"]),
    ("train-overwrite-model-inside", ["train", "--dataset", "{data}", "--model", "{run}/training_dynamics", "--out", "{run}",
                                      "--overwrite"], ["--model", "inside --out"]),
    ("train-symlink", ["train", "--dataset", "{data}", "--model", "{model}", "--out", "{linked}", "--overwrite"],
     ["linked/selections", "symbolic link"]),
    ("resume-edited-config", ["train", "--resume", "--out", "{edited}"], ["config.yaml", "changed since training started"]),
    ("resume-epoch-out-of-range", ["train", "--resume", "--out", "{epoch7}"], ["state.json", "epoch 7"]),
    ("resume-epoch-disagrees", ["train", "--resume", "--out", "{epochlie}"], ["state.json", "manifest.json says 3"]),
    ("resume-epoch-file-missing", ["train", "--resume", "--out", "{nofile}"], ["epoch_0.parquet", "missing"]),
    ("resume-truncated-model", ["train", "--resume", "--out", "{truncmodel}"], ["model.safetensors", "truncated or corrupt"]),
    ("resume-truncated-epoch", ["train", "--resume", "--out", "{truncepoch}"], ["epoch_0.parquet", "truncated or corrupt"]),
    ("export-out-is-run", ["export-dynamics", "{run}", "--out", "{run}", "--overwrite"], ["holds the run"]),
    ("export-out-above-run", ["export-dynamics", "{run}", "--out", "{base}", "--overwrite"], ["holds the run"]),
    ("export-overwrite-foreign", ["export-dynamics", "{run}", "--out", "{stray}", "--overwrite"], ["notes.txt", "did not write"]),
    ("plot-out-data", ["plot", "{run}", "--out", "{run}/data.parquet", "--overwrite"], ["data.parquet", "another output name"]),
    ("plot-out-config", ["plot", "{run}", "--html", "--out", "{run}/config.yaml", "--overwrite"], ["config.yaml"]),
    ("noise-out-same-file", ["noise", "{data}", "--rate", "0.1", "--out", "{data}", "--overwrite"], ["input"]),
    ("plot-out-under-file", ["plot", "{run}", "--out", "{afile}/x.png"], ["train.csv is a file"]),
    ("noise-out-under-file", ["noise", "{data}", "--rate", "0.1", "--out", "{afile}/x/y.csv"], ["train.csv is a file"]),
]


@pytest.mark.parametrize("case,argv,expected", CASES, ids=[c[0] for c in CASES])
def test_refused_in_one_line_and_nothing_changes(tw, case, argv, expected, capsys, monkeypatch):
    check_refusal(tw, argv, expected, capsys, monkeypatch)


def test_stale_lock_is_cleared_and_overwrite_keeps_what_it_did_not_write(tw, tmp_path, caplog):
    run = shutil.copytree(tw["run"], tmp_path / "r")
    (run / "notes.txt").write_text("mine")
    (run / "mine").mkdir()
    _lock(run, _dead_pid())
    ok("train", "--dataset", tw["data"], "--model", tw["model"], "--out", run, *TRAIN, "--overwrite", "--no-save-model")
    assert "stale lock" in caplog.text
    assert not (run / ".datamap.lock").exists() and (run / "notes.txt").read_text() == "mine" and (run / "mine").is_dir()
    assert not (run / "metrics.parquet").exists()  # the old run's derived files went


def test_resume_clears_a_killed_writers_lock(tw, tmp_path):
    part = shutil.copytree(tw["nofile"].with_name("part"), tmp_path / "p")
    _lock(part, _dead_pid())
    ok("train", "--resume", "--out", part)
    assert json.loads((part / "manifest.json").read_text())["status"] == "complete"
    assert not (part / ".datamap.lock").exists()


def test_export_overwrite_replaces_an_earlier_export_only(tw, tmp_path):
    out = tmp_path / "td"
    ok("export-dynamics", tw["run"], "--out", out)
    ok("export-dynamics", tw["run"], "--out", out, "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == ["dynamics_epoch_0.jsonl", "dynamics_epoch_1.jsonl"]
