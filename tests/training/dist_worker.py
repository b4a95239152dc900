"""Run under ``accelerate launch --num_processes N`` (or plain python for N=1) by tests/training/test_distributed.py.

    python dist_worker.py MODEL_DIR DATA_CSV OUT_DIR JOB[,JOB...]

Jobs: ``loop`` (our loop, in-flight), ``loop_epoch_end``, ``trainer`` (DynamicsTrainer, in-flight),
``trainer_epoch_end_lr0`` (DynamicsTrainer, epoch_end, learning rate 0, no dropout: the weights never
change), ``predict`` (``predict_logits`` of the saved model over the data; main process writes
``predict.npy``), ``gather_main`` (each process records rows of its own, then ``EpochRecorder.collect(...,
main_only=True)``; every process writes what it received to ``gather_<rank>.json``), ``loop_accum`` (our loop
with ``--grad-accum 2``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(model_dir: str, csv: str, out: str, jobs: str) -> None:
    out_dir = Path(out)
    frame = pd.read_csv(csv)
    for job in jobs.split(","):
        if job in ("loop", "loop_epoch_end", "loop_accum"):
            from datamap.training.config import TrainConfig
            from datamap.training.loop import train

            train(TrainConfig(dataset=csv, model=model_dir, out=str(out_dir / job), epochs=2, batch_size=4, lr=5e-4,
                              eval_split=None, seed=3, max_length=32, save_model=False,
                              grad_accum=2 if job == "loop_accum" else 1,
                              record="epoch_end" if job == "loop_epoch_end" else "inflight"), progress=False)
        elif job == "gather_main":
            import torch
            from accelerate import Accelerator

            from datamap.training.recorder import EpochRecorder

            acc = Accelerator(cpu=True)
            rec = EpochRecorder()
            rank = acc.process_index
            rows = torch.arange(rank, 9, acc.num_processes)  # rank 0: 0, 2, 4, 6, 8; rank 1: 1, 3, 5, 7
            rec.add(rows, torch.stack([rows.float(), -rows.float()], dim=1))
            index, logits = rec.collect(acc, n_examples=9, main_only=True)
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / f"gather_{rank}.json").write_text(json.dumps({"index": index.tolist(), "logits": logits.tolist()}))
            acc.wait_for_everyone()
        elif job == "trainer":
            from hf_script import trainer_script

            trainer = trainer_script(model_dir, frame, out_dir / job, batch_size=4, record="inflight")
            if trainer.is_world_process_zero():  # the Trainer's own mean training loss
                (out_dir / job / "train_loss.json").write_text(json.dumps(trainer.state.log_history[-1]["train_loss"]))
        elif job == "trainer_plain":  # the same script without datamap (for comparison by hand)
            from hf_script import trainer_script

            trainer_script(model_dir, frame, out_dir / job, batch_size=4, use_datamap=False)
        elif job == "trainer_epoch_end_lr0":
            from hf_script import trainer_script

            trainer_script(model_dir, frame, out_dir / job, batch_size=4, record="epoch_end", lr=0.0, no_dropout=True,
                           epochs=1)
        elif job == "predict":
            from accelerate import Accelerator

            from datamap.io.data import load_dataset
            from datamap.training.batching import Collator, encode_frame
            from datamap.training.predict import predict_logits
            from datamap.training.models import load_model, load_tokenizer

            acc = Accelerator(cpu=True)
            df, _, _ = load_dataset(csv, "train")
            tok = load_tokenizer(model_dir)
            model = acc.prepare(load_model(model_dir))
            logits = predict_logits(model, encode_frame(df, tok, 32), Collator(tok), 4, acc)
            if acc.is_main_process:
                out_dir.mkdir(parents=True, exist_ok=True)
                np.save(out_dir / "predict.npy", logits)
            acc.wait_for_everyone()
        else:
            raise SystemExit(f"unknown job {job}")
    from accelerate import PartialState

    state = PartialState()
    if state.is_main_process:  # how many processes really took part
        (out_dir / "world.json").write_text(json.dumps({"num_processes": state.num_processes}))
    import torch.distributed as dist

    if dist.is_initialized():  # leave the process group before exit (gloo's threads, see trl_worker.py)
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:5])
