"""Run under ``accelerate launch --num_processes 2`` by tests/training/test_trl_trainer.py:

    python trl_worker.py MODEL_DIR DATA_CSV OUT_DIR

A TRL SFTTrainer script with the one-line change (DynamicsSFTTrainer), learning rate 0, one epoch, batches of 4.
"""

from __future__ import annotations

import sys


def main(model_dir: str, csv: str, out: str) -> None:
    import datasets
    import pandas as pd
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    from datamap.training.trl_trainer import DynamicsSFTTrainer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    ds = datasets.Dataset.from_pandas(pd.read_csv(csv, dtype=str, keep_default_na=False))
    args = SFTConfig(output_dir=out, num_train_epochs=1, per_device_train_batch_size=4, learning_rate=0.0,
                     weight_decay=0.0, max_length=32, report_to="none", use_cpu=True, save_strategy="no",
                     logging_strategy="no", disable_tqdm=True, seed=0, bf16=False)
    DynamicsSFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok).train()
    import torch.distributed as dist

    # leave the process group before the interpreter exits: one CI run saw rank 1 abort at exit ("terminate called
    # without an active exception", SIGABRT) after a finished training, with gloo's threads still running
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:4])
