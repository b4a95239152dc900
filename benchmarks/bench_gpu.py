"""Training speed side by side: datamap (each record mode, eager and --compile) vs the Hugging Face Trainer.

    DATAMAP_DATA_DIR=../shared/data python benchmarks/bench_gpu.py            # GPU workloads (one H100/H200)
    DATAMAP_DATA_DIR=../shared/data python benchmarks/bench_gpu.py --small    # CPU-sized check (CI)

Each workload trains randomly initialised models of one shape on the same real texts, every method
in turn in one process, from the same initial weights:

* ``datamap inflight|epoch_end|none`` -- ``datamap.training.loop.train`` (``--record``), and each with
  ``--compile`` (``+compile``);
* ``Trainer`` -- a plain ``transformers.Trainer`` with dynamic padding (``DataCollatorWithPadding``);
* ``Trainer+pass`` -- the same plus a prediction pass over the training set after every epoch (the
  way the cartography seeds record dynamics);
* ``DynamicsTrainer`` -- ``datamap.hf.DynamicsTrainer`` (in flight).

Printed per method: examples/s of the first epoch (compilation, warm-up) and of the later epochs
(the steady state, recording included; medians over ``--repeats`` interleaved repeats), the model FLOPs utilisation of the steady state against the
measured bf16 matmul peak (CUDA only; 6 x parameters x tokens, real tokens only), the in-flight
overhead against ``datamap none`` (a difference of two runs, noisy on a shared machine), recording's own
share of a datamap run's time (per-step appends and each epoch's gather and write, timed inside the run)
and the speed-up over ``Trainer+pass``.

Workloads: without ``--small``, bert-base shape on IMDB (max 128 tokens) with batches of 64 and 256,
and the MiniLM-L6 shape on rotten_tomatoes (batch 32); ``--small``: a 2-layer, 64-wide BERT on 256
rotten_tomatoes examples (batch 32, max 32 tokens), 3 epochs. ``--methods`` picks methods,
``--workloads`` workloads by name.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

METHODS = ["datamap inflight", "datamap epoch_end", "datamap none", "datamap inflight+compile",
           "datamap epoch_end+compile", "datamap none+compile", "Trainer", "Trainer+pass", "DynamicsTrainer"]


@dataclass
class Workload:
    name: str
    dataset: str
    shape: dict  # BertConfig keywords
    n: int
    batch_size: int
    max_length: int
    epochs: int


BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
MINILM = dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)
TINY = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
GPU_WORKLOADS = [
    Workload("bert-base imdb b64", "imdb", BERT_BASE, 8192, 64, 128, 3),
    Workload("bert-base imdb b256", "imdb", BERT_BASE, 16384, 256, 128, 3),
    Workload("minilm rotten_tomatoes b32", "rotten_tomatoes", MINILM, 8530, 32, 64, 3),
]
SMALL_WORKLOADS = [Workload("tiny rotten_tomatoes b32", "rotten_tomatoes", TINY, 256, 32, 32, 3)]


def matmul_peak() -> float | None:
    """Measured bf16 matmul FLOP/s of the GPU (None on CPU)."""
    import torch

    if not torch.cuda.is_available():
        return None
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t, reps = time.perf_counter(), 20
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * 8192**3 * reps / (time.perf_counter() - t)


class Bench:
    def __init__(self, wl: Workload, root: Path):
        import torch
        from transformers import BertConfig, BertForSequenceClassification

        from datamap.io.data import load_dataset
        from datamap.training.models import load_tokenizer, resolve_model

        self.wl, self.root = wl, root
        self.record_share: dict[str, list[float]] = {}  # method -> recording's share of each run's time
        frame, names, _ = load_dataset(wl.dataset, "train")
        frame = frame.sample(n=min(wl.n, len(frame)), random_state=0).reset_index(drop=True)
        self.frame, self.names = frame[["id", "text", "label"]], names
        self.data = root / "train.parquet"
        self.frame.to_parquet(self.data)
        self.tok = load_tokenizer(resolve_model("minilm"))  # a real WordPiece vocabulary for every shape
        config = BertConfig(vocab_size=self.tok.vocab_size, max_position_embeddings=512, num_labels=len(names),
                            id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)}, **wl.shape)
        torch.manual_seed(0)
        self.model_dir = root / "model"
        model = BertForSequenceClassification(config)
        model.save_pretrained(self.model_dir)
        self.tok.save_pretrained(self.model_dir)
        self.params = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
        lengths = [len(x) for x in self.tok(self.frame["text"].tolist(), truncation=True, max_length=wl.max_length)["input_ids"]]
        self.tokens_per_example = statistics.mean(lengths)

    # -- datamap's loop
    def datamap(self, record: str, compile: bool) -> list[float]:
        from datamap.training.config import TrainConfig
        from datamap.training.loop import train

        wl = self.wl
        cfg = TrainConfig(dataset=str(self.data), model=str(self.model_dir), out=str(self.root / "runs" / f"{record}{compile}"),
                          epochs=wl.epochs, batch_size=wl.batch_size, max_length=wl.max_length, lr=5e-5, seed=0,
                          record=record, compile=compile, eval_split=None, save_model=False, checkpoint=False,
                          overwrite=True)
        from datamap.training.recorder import DynamicsRecorder

        add, spent = DynamicsRecorder.add, [0.0]

        def timed_add(recorder, index, logits):  # the per-step share of in-flight recording, timed in the run
            t = time.perf_counter()
            add(recorder, index, logits)
            spent[0] += time.perf_counter() - t

        DynamicsRecorder.add = timed_add
        try:
            run = train(cfg, progress=False)
        finally:
            DynamicsRecorder.add = add
        hist = json.loads(run.history.read_text())["epochs"]
        epochs = [h["seconds"] + h["record_seconds"] for h in hist]
        # recording's own time (per-step appends + each epoch's gather and write) as a share of the epochs' time
        self.record_share.setdefault(f"datamap {record}" + ("+compile" if compile else ""), []).append(
            (spent[0] + sum(h["record_seconds"] for h in hist)) / sum(epochs))
        return epochs

    # -- the Hugging Face Trainer
    def trainer(self, kind: str) -> list[float]:
        import datasets
        import torch
        from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer,
                                  TrainerCallback, TrainingArguments)

        from datamap.hf import DynamicsTrainer

        wl = self.wl
        ds = datasets.Dataset.from_pandas(self.frame, preserve_index=False)
        ds = ds.map(lambda b: self.tok(b["text"], truncation=True, max_length=wl.max_length), batched=True,
                    remove_columns=["text"])
        times: list[float] = []
        holder = {}

        class Timer(TrainerCallback):
            def on_epoch_begin(self, args, state, control, **kw):
                holder["t"] = time.perf_counter()

            def on_epoch_end(self, args, state, control, **kw):
                if kind == "Trainer+pass":
                    holder["trainer"].predict(ds)
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - holder["t"])

        cuda = torch.cuda.is_available()
        args = TrainingArguments(
            output_dir=str(self.root / "hf" / kind), num_train_epochs=wl.epochs, per_device_train_batch_size=wl.batch_size,
            per_device_eval_batch_size=max(128, wl.batch_size), learning_rate=5e-5, weight_decay=0.01, seed=0,
            report_to="none", save_strategy="no", logging_strategy="no", disable_tqdm=True, use_cpu=not cuda,
            bf16=cuda and torch.cuda.is_bf16_supported(), dataloader_pin_memory=cuda,
        )
        model = AutoModelForSequenceClassification.from_pretrained(self.model_dir)
        cls = DynamicsTrainer if kind == "DynamicsTrainer" else Trainer
        extra = {"dynamics_dir": self.root / "hf" / "datamap"} if cls is DynamicsTrainer else {}
        trainer = cls(model=model, args=args, train_dataset=ds, processing_class=self.tok,
                      data_collator=DataCollatorWithPadding(self.tok), callbacks=[Timer()], **extra)
        holder["trainer"] = trainer
        with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its summary
            trainer.train()
        return times

    def run(self, method: str) -> list[float]:
        if method.startswith("datamap "):
            mode = method.split()[1]
            return self.datamap(mode.replace("+compile", ""), mode.endswith("+compile"))
        return self.trainer(method)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="the CPU-sized workload (CI)")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma list of: " + ", ".join(METHODS))
    ap.add_argument("--workloads", default="", help="comma list of workload names (default: all of the size)")
    ap.add_argument("--epochs", type=int, default=0, help="override the workloads' epochs (>= 2)")
    ap.add_argument("--n", type=int, default=0, help="override the workloads' example counts")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repeats; medians are printed (default 1)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = ap.parse_args()

    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    import datasets

    datasets.disable_progress_bars()
    from datamap.console import set_quiet

    set_quiet(True)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        sys.exit(f"unknown method(s): {unknown}")
    workloads = SMALL_WORKLOADS if args.small else GPU_WORKLOADS
    if args.workloads:
        workloads = [w for w in workloads if w.name in args.workloads.split(",")]
    peak = matmul_peak()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    print(f"device: {device}; {platform.machine()}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"transformers {transformers.__version__}" + (f"; bf16 matmul peak {peak / 1e12:.0f} TFLOP/s" if peak else ""))
    results = []
    t_all = time.perf_counter()
    for wl in workloads:
        if args.epochs:
            wl.epochs = max(2, args.epochs)
        if args.n:
            wl.n = args.n
        with tempfile.TemporaryDirectory() as tmp:
            bench = Bench(wl, Path(tmp))
            n = len(bench.frame)
            print(f"\n{wl.name}: {n} examples, batch {wl.batch_size}, max {wl.max_length} tokens "
                  f"(mean {bench.tokens_per_example:.1f}), {wl.epochs} epochs, {bench.params / 1e6:.1f} M non-embedding "
                  "parameters, random weights")
            runs: dict[str, list[list[float]]] = {m: [] for m in methods}
            for r in range(args.repeats):  # interleaved, the order reversed every other repeat: load hits all alike
                for method in (methods if r % 2 == 0 else methods[::-1]):
                    epochs = bench.run(method)
                    runs[method].append(epochs)
                    print(f"  ... {method}: epochs {', '.join(f'{e:.2f}' for e in epochs)} s", file=sys.stderr, flush=True)
            rows = {}
            for method in methods:
                steady = statistics.median(n / statistics.mean(e[1:]) for e in runs[method])
                rows[method] = {"first_ex_s": statistics.median(n / e[0] for e in runs[method]), "steady_ex_s": steady,
                                "epoch_seconds": runs[method]}
                if bench.record_share.get(method):
                    rows[method]["record_share"] = statistics.median(bench.record_share[method])
                if peak:
                    rows[method]["mfu"] = 6 * bench.params * bench.tokens_per_example * steady / peak
            base = rows.get("datamap none", {}).get("steady_ex_s")
            base_c = rows.get("datamap none+compile", {}).get("steady_ex_s")
            seeds = rows.get("Trainer+pass", {}).get("steady_ex_s")
            print(f"  {'method':28s} {'epoch 1 ex/s':>12s} {'later ex/s':>11s} {'MFU':>6s} {'vs none':>8s} {'vs seeds':>9s} "
                  f"{'recording':>9s}")
            for method, r in rows.items():
                ref = base_c if method.endswith("+compile") else base
                over = f"{(ref / r['steady_ex_s'] - 1) * 100:+.1f}%" if ref and method.startswith("datamap") else ""
                sp = f"{r['steady_ex_s'] / seeds:.2f}x" if seeds else ""
                mfu = f"{r['mfu'] * 100:.0f}%" if "mfu" in r else "-"
                rec = f"{r['record_share'] * 100:.2f}%" if r.get("record_share") else ""
                print(f"  {method:28s} {r['first_ex_s']:12.1f} {r['steady_ex_s']:11.1f} {mfu:>6s} {over:>8s} {sp:>9s} {rec:>9s}")
            results.append({"workload": wl.name, "examples": n, "device": device, "rows": rows})
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s. 'vs none': in-flight overhead, time per example against datamap "
          "none (same compile setting), a difference of two runs; 'recording': the run's own recording time (per-step "
          "appends, each epoch's gather and write) as a share of its epochs' time, timed inside the run; 'vs seeds': "
          "speed over Trainer+pass")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
