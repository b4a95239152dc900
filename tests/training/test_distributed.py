"""Two processes on CPU (gloo) through ``accelerate launch``: every id recorded exactly once per epoch,
and epoch_end logits equal to one process's for the same weights.

The dataset has 27 rows, per-process batch 4: 27 does not divide by 2 x 4, so even batching repeats
examples on one process and the recorder must drop the repeats.
"""

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import cli_env, make_sentiment_frame
from datamap.io.store import read_dynamics

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
N = 27
JOBS = "loop,loop_epoch_end,trainer,trainer_epoch_end_lr0,predict,gather_main,loop_accum"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_procs(tmp_path_factory, tiny_model_dir):
    """One ``accelerate launch --num_processes 2`` running every job; returns (out dir, csv, frame)."""
    root = tmp_path_factory.mktemp("dist")
    frame = make_sentiment_frame(N, seed=7)
    frame.insert(0, "id", [f"r{(i * 11) % N:02d}" for i in range(N)])  # ids not in row order
    csv = root / "train.csv"
    frame.to_csv(csv, index=False)
    out = root / "out"
    # `--multi_gpu` is accelerate's torchrun launcher; on a machine without a GPU the processes join
    # over gloo (MULTI_CPU). (`--cpu --num_processes 2` would need MPI and start one process.)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(free_port()), str(HERE / "dist_worker.py"),
           str(tiny_model_dir), str(csv), str(out), JOBS]
    r = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(OMP_NUM_THREADS=1), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    assert json.loads((out / "world.json").read_text())["num_processes"] == 2
    return out, csv, frame


def assert_every_id_once_per_epoch(path: Path, frame: pd.DataFrame, epochs: int):
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pandas()
    assert len(table) == N * epochs
    for e in range(epochs):
        ids = table.loc[table["epoch"] == e, "id"]
        assert sorted(ids) == sorted(frame["id"]), f"epoch {e}"
    dyn = read_dynamics(path)  # also validates: each example exactly once in every epoch
    gold = frame.set_index("id").loc[list(dyn.ids), "label"].to_numpy()
    assert np.array_equal(dyn.gold, gold) and np.isfinite(dyn.logits).all()
    return dyn


@pytest.mark.parametrize("job", ["loop", "loop_epoch_end", "loop_accum"])
def test_our_loop_two_processes_records_every_id_once(two_procs, job):
    out, _, frame = two_procs
    assert_every_id_once_per_epoch(out / job / "dynamics.parquet", frame, epochs=2)
    assert sorted(pd.read_parquet(out / job / "data.parquet")["id"]) == sorted(frame["id"])
    hist = json.loads((out / job / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in hist] == [0, 1]
    # near ln 2 for this barely trained model: a mean per processed example, not the sum over
    # 32 processed rows (with even batching's repeats) divided by 27
    assert all(abs(h["train_loss"] - np.log(2)) < 0.05 for h in hist)


def test_loop_accum_two_processes_counts_optimizer_steps(two_procs):
    """--grad-accum 2 under 2 processes: 4 batches of 4 per process and epoch (27 rows, even batching), so
    2 optimizer steps per epoch (no gradient all-reduce inside a group)."""
    out, _, _ = two_procs
    assert [h["steps"] for h in json.loads((out / "loop_accum" / "history.json").read_text())["epochs"]] == [2, 4]
    assert [h["steps"] for h in json.loads((out / "loop" / "history.json").read_text())["epochs"]] == [4, 8]


def test_records_are_gathered_to_the_main_process_only(two_procs):
    """EpochRecorder.collect(main_only=True): rank 0 receives both processes' rows, rank 1 none."""
    out, _, _ = two_procs
    main, other = (json.loads((out / f"gather_{r}.json").read_text()) for r in (0, 1))
    assert main["index"] == list(range(9)) and [row[0] for row in main["logits"]] == list(range(9))
    assert other["index"] == [] and other["logits"] == []


def test_trainer_two_processes_records_every_id_once(two_procs):
    out, _, frame = two_procs
    run = out / "trainer" / "datamap"
    dyn = assert_every_id_once_per_epoch(run / "dynamics.parquet", frame, epochs=2)
    assert not np.allclose(dyn.logits[:, 0], dyn.logits[:, 1])  # in flight, while the weights moved
    assert yaml.safe_load((run / "config.yaml").read_text())["num_processes"] == 2
    # the Trainer's logged loss is a mean per example, as with one process (not ln 4 = 2 x ln 2: the plain
    # Trainer multiplies a classifier's batch mean by the number of processes)
    assert abs(json.loads((out / "trainer" / "train_loss.json").read_text()) - np.log(2)) < 0.1


def one_process_logits(model_dir, frame):
    """Eval-mode logits of the saved model over ``frame``, one process, no Accelerate."""
    import torch

    from datamap.training.batching import Collator, encode_frame
    from datamap.training.models import load_model, load_tokenizer

    tok = load_tokenizer(str(model_dir))
    model = load_model(str(model_dir)).eval()
    enc = encode_frame(frame, tok, 32)
    with torch.no_grad():
        return np.concatenate([
            model(**{k: v for k, v in Collator(tok)(enc[i:i + 5]).items() if k not in ("labels", "index")}).logits.numpy()
            for i in range(0, len(enc), 5)
        ])


def test_predict_logits_two_processes_equal_one_process(two_procs, tiny_model_dir):
    """``predict_logits`` (the loop's epoch_end pass) sharded over 2 processes = 1 process, same weights."""
    from accelerate import Accelerator

    from datamap.io.data import load_dataset
    from datamap.training.batching import Collator, encode_frame
    from datamap.training.predict import predict_logits
    from datamap.training.models import load_model, load_tokenizer

    out, csv, frame = two_procs
    two = np.load(out / "predict.npy")
    df, _, _ = load_dataset(str(csv), "train")
    tok = load_tokenizer(str(tiny_model_dir))
    acc = Accelerator(cpu=True)
    one = predict_logits(load_model(str(tiny_model_dir)), encode_frame(df, tok, 32), Collator(tok), 4, acc)
    assert two.shape == one.shape == (N, 2)
    np.testing.assert_allclose(two, one, atol=1e-5)
    np.testing.assert_allclose(one, one_process_logits(tiny_model_dir, df), atol=1e-5)


def test_trainer_epoch_end_two_processes_equal_one_process(two_procs, tiny_model_dir):
    """Learning rate 0: the weights stay those of the saved model, so the epoch_end pass of the
    DynamicsTrainer under 2 processes must give the 1-process logits of that model."""
    out, _, frame = two_procs
    dyn = assert_every_id_once_per_epoch(out / "trainer_epoch_end_lr0" / "datamap" / "dynamics.parquet", frame, epochs=1)
    ordered = frame.set_index("id").loc[list(dyn.ids)].reset_index()
    np.testing.assert_allclose(dyn.logits[:, 0], one_process_logits(tiny_model_dir, ordered), atol=1e-5)
