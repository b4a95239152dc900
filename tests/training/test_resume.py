"""Durable epochs, resume and the manifest: a run killed with SIGKILL anywhere and resumed equals an
uninterrupted one byte for byte (CPU, the tiny model).

The kills use the test-only hook ``DATAMAP_TEST_KILL_AT`` (see
:func:`datamap.training.checkpoint.kill_point`): the process SIGKILLs itself at a named place of the
loop. One test kills from outside instead, as soon as epoch 0's dynamics file appears.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import cli_env, make_sentiment_frame

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model_dir):
    """Training and evaluation CSVs, the common arguments and an uninterrupted reference run."""
    root = tmp_path_factory.mktemp("resume")
    make_sentiment_frame(60).to_csv(root / "train.csv", index=False)
    make_sentiment_frame(20, seed=5).to_csv(root / "eval.csv", index=False)
    args = ["--dataset", str(root / "train.csv"), "--model", str(tiny_model_dir), "--epochs", "3", "--batch-size", "8",
            "--lr", "5e-4", "--max-length", "32", "--seed", "3", "--eval-split", "none",
            "--eval-dataset", str(root / "eval.csv")]
    ref = root / "ref"
    r = datamap("train", *args, "--out", str(ref))
    assert r.returncode == 0, r.stderr[-3000:]
    return root, args, ref


def datamap(*argv, **env):
    return subprocess.run([sys.executable, "-m", "datamap", *argv], capture_output=True, text=True, timeout=600,
                          env=cli_env(OMP_NUM_THREADS=1, **env))


def assert_same_run(run: Path, ref: Path):
    """Dynamics and model bytes, evaluation files, history scores and metrics of two runs agree."""
    from datamap.stages.measure import measure_run

    assert (run / "dynamics.parquet").read_bytes() == (ref / "dynamics.parquet").read_bytes()
    assert (run / "model" / "model.safetensors").read_bytes() == (ref / "model" / "model.safetensors").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(run / "eval" / "eval.parquet"), pd.read_parquet(ref / "eval" / "eval.parquet"))
    hist, hist_ref = (json.loads((r / "history.json").read_text())["epochs"] for r in (run, ref))
    assert [h["epoch"] for h in hist] == [0, 1, 2]
    assert [(h["train_loss"], h["eval"]) for h in hist] == [(h["train_loss"], h["eval"]) for h in hist_ref]
    a, b = measure_run(run), measure_run(ref)
    for col in a.columns:
        assert np.array_equal(a[col].to_numpy(), b[col].to_numpy()), col
    man = json.loads((run / "manifest.json").read_text())
    assert man["status"] == "complete" and man["epochs_written"] == 3
    assert not (run / "checkpoint").exists() and not (run / "dynamics").exists()
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]


# kill points: before any checkpoint (epoch 0's file written), mid-epoch 1, while the checkpoint of
# epoch 1 is being swapped in, after it is in place but before the manifest counts the epoch (a CI run's kill
# from outside landed there and --resume refused the run), after epoch 2 (all trained), and after the dynamics
# were joined
@pytest.mark.parametrize("point", ["0:recorded", "1:2", "1:checkpoint", "1:checkpointed", "2:done", "final"])
def test_killed_and_resumed_equals_uninterrupted(setup, point):
    root, args, ref = setup
    run = root / f"killed-{point.replace(':', '_')}"
    r = datamap("train", *args, "--out", str(run), DATAMAP_TEST_KILL_AT=point)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    man = json.loads((run / "manifest.json").read_text())
    assert man["status"] == "incomplete"
    if point == "1:2":
        assert sorted(p.name for p in (run / "dynamics").iterdir()) == ["epoch_0.parquet"]  # epoch 0 survived
        assert (run / "checkpoint" / "model.safetensors").exists()
    # the incomplete run is refused by the next stages, in one line naming it
    m = datamap("metrics", str(run))
    assert m.returncode == 2 and m.stderr.strip().count("\n") == 0
    assert m.stderr.startswith(f"error: {run}: training incomplete (") and "datamap train --resume --out" in m.stderr
    r = datamap("train", "--resume", "--out", str(run))
    assert r.returncode == 0, r.stderr[-3000:]
    assert_same_run(run, ref)


def test_sigkill_from_outside_after_the_first_epoch(setup):
    root, args, ref = setup
    run = root / "polled"
    proc = subprocess.Popen([sys.executable, "-m", "datamap", "train", *args, "--out", str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env(OMP_NUM_THREADS=1))
    deadline = time.monotonic() + 300
    while not (run / "dynamics" / "epoch_0.parquet").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert datamap("train", "--resume", "--out", str(run)).returncode == 0
    assert_same_run(run, ref)


def test_resume_refusals(setup):
    root, args, ref = setup
    r = datamap("train", "--resume", "--out", str(ref))
    assert r.returncode == 2 and "already complete" in r.stderr
    r = datamap("train", "--resume", "--out", str(ref), "--epochs", "4")
    assert r.returncode == 2 and r.stderr.strip() == (
        "error: --epochs: not with --resume, which continues the run with its own config.yaml")
    run = root / "nockpt"
    r = datamap("train", *args, "--out", str(run), "--no-checkpoint", DATAMAP_TEST_KILL_AT="1:0")
    assert r.returncode == -signal.SIGKILL
    r = datamap("train", *args, "--out", str(run))
    assert r.returncode == 2 and "pass --resume" in r.stderr
    r = datamap("train", "--resume", "--out", str(run))
    assert r.returncode == 2 and "checkpoint: missing" in r.stderr


def test_changed_or_half_written_inputs_are_refused(setup, tmp_path):
    import shutil

    _, _, ref = setup
    run = tmp_path / "run"
    shutil.copytree(ref, run)
    (run / ".metrics.parquet.x1.parquet.tmp").write_bytes(b"orphan")  # from a killed metrics
    assert datamap("metrics", str(run)).returncode == 0
    assert not (run / ".metrics.parquet.x1.parquet.tmp").exists()
    assert set(json.loads((run / "manifest.json").read_text())["metrics"]) == {
        "metrics.parquet", "metrics.json", "three_regions_data_indices.json"}
    assert datamap("select", str(run), "--out", "a", "--ambiguous", "0.3").returncode == 0
    # a metrics run killed between its renames: a new metrics.json beside the old regions file
    (run / "metrics.json").write_text("{}\n")
    r = datamap("select", str(run), "--out", "b", "--ambiguous", "0.3")
    assert r.returncode == 2 and r.stderr.strip() == (
        f"error: {run / 'metrics.json'}: not the file the last `datamap metrics` wrote (interrupted?); "
        f"run datamap metrics {run}")
    assert datamap("plot", str(run)).returncode == 2
    assert datamap("metrics", str(run)).returncode == 0 and datamap("plot", str(run)).returncode == 0
    # the training data changed after training
    data = pd.read_parquet(run / "data.parquet")
    data.loc[0, "label"] = 1 - data.loc[0, "label"]
    data.to_parquet(run / "data.parquet")
    r = datamap("metrics", str(run))
    assert r.returncode == 2 and r.stderr.strip() == (
        f"error: {run / 'data.parquet'}: changed since training (sha256 differs from manifest.json)")


def test_runs_without_a_manifest_stay_readable(setup, tmp_path):
    import shutil

    _, _, ref = setup
    run = tmp_path / "old"
    shutil.copytree(ref, run)
    (run / "manifest.json").unlink()
    assert datamap("metrics", str(run)).returncode == 0 and datamap("plot", str(run)).returncode == 0


def test_joined_epochs_equal_the_single_writer(tmp_path):
    """consolidate_epochs writes the bytes DynamicsWriter writes; read_dynamics reads both forms."""
    from datamap.io.store import (Dynamics, consolidate_epochs, read_dynamics, write_dynamics,
                                  write_epoch_file)

    rng = np.random.default_rng(0)
    dyn = Dynamics(np.array([f"x{i}" for i in range(50)], dtype=object), rng.normal(size=(50, 12, 3)).astype(np.float32),
                   rng.integers(0, 3, 50), np.arange(12))
    write_dynamics(tmp_path / "one.parquet", dyn)
    for e in range(12):
        write_epoch_file(tmp_path / "dyn", e, dyn.ids, dyn.logits[:, e], dyn.gold)
    consolidate_epochs(tmp_path / "dyn", tmp_path / "joined.parquet")
    assert (tmp_path / "joined.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()
    back = read_dynamics(tmp_path / "dyn")  # epoch_10 after epoch_9, not after epoch_1
    assert np.array_equal(back.logits, dyn.logits) and list(back.ids) == list(dyn.ids)


TRAINER_JOB = """
import os, signal, sys
import pandas as pd
from transformers import TrainerCallback
sys.path.insert(0, {tests!r})
from hf_script import trainer_script

class Kill(TrainerCallback):
    def on_step_begin(self, args, state, control, **kw):
        if state.global_step == {kill_step}:
            os.kill(os.getpid(), signal.SIGKILL)

trainer_script({model!r}, pd.read_csv({csv!r}), {out!r}, epochs=3, save_strategy="epoch",
               callbacks=[Kill()], train_kwargs={train_kwargs})
"""


def trainer_job(model, csv, out, kill_step=-1, train_kwargs=None):
    code = TRAINER_JOB.format(tests=str(Path(__file__).resolve().parent), kill_step=kill_step, model=str(model),
                              csv=str(csv), out=str(out), train_kwargs=train_kwargs)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env=cli_env(OMP_NUM_THREADS=1))


def test_dynamics_trainer_resumed_from_a_checkpoint_keeps_earlier_epochs(setup, tiny_model_dir):
    """Killed in epoch 1 (8 steps per epoch), resumed from checkpoint-8: the same three epochs as one call."""
    from datamap.io.store import read_dynamics

    root, _, _ = setup
    ref = trainer_job(tiny_model_dir, root / "train.csv", root / "hf_ref")
    assert ref.returncode == 0, ref.stderr[-3000:]
    r = trainer_job(tiny_model_dir, root / "train.csv", root / "hf_run", kill_step=10)
    assert r.returncode == -signal.SIGKILL, r.stderr[-3000:]
    run = root / "hf_run" / "datamap"
    assert json.loads((run / "manifest.json").read_text())["status"] == "incomplete"
    assert sorted(p.name for p in (run / "dynamics").iterdir()) == ["epoch_0.parquet"]
    assert datamap("metrics", str(run)).returncode == 2
    r = trainer_job(tiny_model_dir, root / "train.csv", root / "hf_run",
                    train_kwargs={"resume_from_checkpoint": str(root / "hf_run" / "checkpoint-8")})
    assert r.returncode == 0, r.stderr[-3000:]
    assert read_dynamics(run / "dynamics.parquet").epochs.tolist() == [0, 1, 2]
    assert (run / "dynamics.parquet").read_bytes() == (root / "hf_ref" / "datamap" / "dynamics.parquet").read_bytes()
    assert json.loads((run / "manifest.json").read_text())["status"] == "complete"
    assert datamap("metrics", str(run)).returncode == 0


def test_two_processes_killed_and_resumed(setup, tmp_path):
    """Under ``accelerate launch`` with 2 CPU processes: killed in epoch 1, resumed, the same dynamics."""
    import socket

    root, args, _ = setup

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def launch(*argv, **env):
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "-m", "datamap", *argv]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=cli_env(OMP_NUM_THREADS=1, **env))

    ref, run = tmp_path / "ref2", tmp_path / "run2"
    assert launch("train", *args, "--out", str(ref)).returncode == 0
    assert launch("train", *args, "--out", str(run), DATAMAP_TEST_KILL_AT="1:1").returncode != 0
    assert json.loads((run / "manifest.json").read_text())["epochs_written"] == 1
    r = launch("train", "--resume", "--out", str(run))
    assert r.returncode == 0, r.stderr[-3000:]
    assert (run / "dynamics.parquet").read_bytes() == (ref / "dynamics.parquet").read_bytes()


def test_a_manifest_that_disagrees_with_the_checkpoint_is_refused(setup):
    """One behind is the kill window between the checkpoint and the manifest (resumable); any other count is not."""
    root, args, _ = setup
    run = root / "disagree"
    assert datamap("train", *args, "--out", str(run), DATAMAP_TEST_KILL_AT="1:2").returncode == -signal.SIGKILL
    man = json.loads((run / "manifest.json").read_text())
    assert man["epochs_written"] == 1  # the checkpoint holds epoch 0
    (run / "manifest.json").write_text(json.dumps({**man, "epochs_written": 3}))
    r = datamap("train", "--resume", "--out", str(run))
    assert r.returncode == 2 and "says epoch 1 finished, manifest.json says 3" in r.stderr, r.stderr
