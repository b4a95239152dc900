"""In-flight recording overhead inside the Hugging Face Trainer: DynamicsTrainer vs the same Trainer without it.

    DATAMAP_DATA_DIR=../shared/data python benchmarks/bench_trainer_overhead.py \
        [--model minilm] [--dataset rotten_tomatoes] [--n 512] [--repeats 3] [--epochs 1] [--threads N]

Each repeat trains a fresh copy of the same model on the same data three ways, interleaved in one
process (plain Trainer, DynamicsTrainer in-flight, DynamicsTrainer epoch_end; the order reversed on
every other repeat), so background load hits all of them alike. Timed: the whole ``trainer.train()`` call (for DynamicsTrainer this includes
writing data.parquet/labels.json, the per-epoch gather and the Parquet write). Prints every run,
the medians and the overhead relative to the plain Trainer (median of the per-repeat ratios).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm", help="model folder, hub name or alias (default: minilm)")
    ap.add_argument("--dataset", default="rotten_tomatoes", help="dataset name/file for datamap's loader")
    ap.add_argument("--n", type=int, default=512, help="training examples (default 512)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default 0: torch's own choice)")
    ap.add_argument("--modes", default="plain,inflight,epoch_end", help="comma list of plain, inflight, epoch_end")
    args = ap.parse_args()

    import datasets
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments

    from datamap.hf import DynamicsTrainer
    from datamap.io.data import load_dataset
    from datamap.training.models import load_tokenizer, resolve_model

    if args.threads:
        torch.set_num_threads(args.threads)
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    model_path = resolve_model(args.model)
    frame, names, _ = load_dataset(args.dataset, "train")
    frame = frame.iloc[: args.n].reset_index(drop=True)
    tok = load_tokenizer(model_path)
    ds = datasets.Dataset.from_pandas(frame[["id", "text", "label"]], preserve_index=False)
    ds = ds.map(lambda b: tok(b["text"], truncation=True, max_length=args.max_length), batched=True)
    collator = DataCollatorWithPadding(tok)
    modes = args.modes.split(",")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), transformers {transformers.__version__}, "
          f"GPU: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
    print(f"model {args.model}, {args.dataset} train[:{len(frame)}], {args.epochs} epoch(s), batch {args.batch_size}, "
          f"max_length {args.max_length}, {args.repeats} interleaved repeats")

    times: dict[str, list[float]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for mode in (modes if r % 2 == 0 else modes[::-1]):  # ABC, CBA, ...: no mode always first
                torch.manual_seed(0)
                model = AutoModelForSequenceClassification.from_pretrained(
                    model_path, num_labels=len(names), id2label=dict(enumerate(names)),
                    label2id={n: i for i, n in enumerate(names)})
                targs = TrainingArguments(
                    output_dir=str(Path(tmp) / f"{mode}{r}"), num_train_epochs=args.epochs,
                    per_device_train_batch_size=args.batch_size, learning_rate=2e-5, seed=0, report_to="none",
                    save_strategy="no", logging_strategy="no", disable_tqdm=True,
                )
                kw = dict(model=model, args=targs, train_dataset=ds, data_collator=collator)
                trainer = Trainer(**kw) if mode == "plain" else DynamicsTrainer(record=mode, **kw)
                t0 = time.perf_counter()
                trainer.train()
                times[mode].append(time.perf_counter() - t0)
                print(f"repeat {r + 1} {mode:>9}: {times[mode][-1]:7.2f} s  "
                      f"({len(frame) * args.epochs / times[mode][-1]:.1f} ex/s)", flush=True)

    print("\nmode        median s   ex/s    overhead vs plain (median of per-repeat ratios)")
    for mode in modes:
        med = statistics.median(times[mode])
        line = f"{mode:<10} {med:8.2f} {len(frame) * args.epochs / med:7.1f}"
        if mode != "plain" and "plain" in times:
            ratios = [t / p - 1 for t, p in zip(times[mode], times["plain"])]
            line += f"    {100 * statistics.median(ratios):+6.2f}%  (per repeat: {', '.join(f'{100 * x:+.1f}%' for x in ratios)})"
        print(line)


if __name__ == "__main__":
    main()
