"""The training loop, readable top to bottom: fine-tune a classifier and record its dynamics.

    config -> data (train + eval sets) -> model -> for each epoch:
        for each length-grouped batch: forward, loss, record logits (in flight), backward, step
        [epoch_end mode: one no_grad pass over the training set]
        write this epoch's dynamics; evaluate on the held-out set(s)
    -> save model, eval files, history

Runs on CPU, one GPU (bf16 autocast) or several processes through Hugging Face Accelerate
(`accelerate launch`): every process trains on its shard of each epoch's batches; recorded
logits are gathered once per epoch and only the main process writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import yaml
from tqdm.auto import tqdm

from datamap.errors import DatamapError
from datamap.eval.sets import load_eval_set, quick_scores, write_eval_set
from datamap.io import atomic
from datamap.io.data import load_dataset, split_exists
from datamap.io.rundir import RunDir
from datamap.io.store import DynamicsWriter
from datamap.training.data import Collator, encode_frame, length_grouped_batches, sorted_batches
from datamap.training.models import load_model, load_tokenizer, model_label_names
from datamap.training.recorder import EpochRecorder

log = logging.getLogger(__name__)

RECORD_MODES = ("inflight", "epoch_end", "none")
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class TrainConfig:
    """Everything a training run needs; saved as RUN/config.yaml."""

    dataset: str
    model: str = "minilm"
    out: str = "runs/run"
    split: str = "train"
    eval_split: str | None = "auto"  # "auto": validation if it exists; None: no in-domain eval
    eval_datasets: list[str] = field(default_factory=list)  # extra eval sets: NAME[:SPLIT] or files
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str = "label"
    id_column: str | None = None
    drop_empty: bool = False
    limit: int | None = None
    limit_mode: str = "first"  # first | random
    limit_seed: int = 0  # seed of --limit-mode random (independent of --seed, so seeds share a subset)
    subset: str | None = None  # selection JSON (ids) to train on
    epochs: int = 3
    batch_size: int = 32
    eval_batch_size: int = 128
    lr: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    max_length: int = 128
    seed: int = 42
    record: str = "inflight"
    export_jsonl: bool = False
    freeze_base: bool = False
    precision: str = "auto"  # auto (bf16 on a GPU that has it) | bf16 | fp32
    save_model: bool = True
    overwrite: bool = False  # replace an existing run in `out` (its derived files are removed)
    trust_remote_code: bool = False
    loss: str = "ce"  # ce | focal:GAMMA[,ALPHA]
    # mixup (see datamap.training.mixup): site embeddings | pooled | hidden, or None
    mixup: str | None = None
    mixup_pairing: str = "reverse"
    mixup_lambda: str = "beta:0.4"
    mixup_lambda_per: str = "example"
    mixup_mode: str = "mixed+original"
    mixup_start_epoch: int = 0
    mixup_ratio: float = 1.0
    dynamics_from: str | None = None  # earlier run whose regions/entropies drive pairing or --drop-hard
    drop_hard: bool = False

    def validate(self) -> None:
        if self.record not in RECORD_MODES:
            raise DatamapError(f"--record must be one of {', '.join(RECORD_MODES)}, got '{self.record}'")
        if self.epochs < 1:
            raise DatamapError(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise DatamapError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise DatamapError(f"--limit must be >= 1, got {self.limit}")
        if self.limit_mode not in ("first", "random"):
            raise DatamapError(f"--limit-mode must be 'first' or 'random', got '{self.limit_mode}'")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise DatamapError(f"--precision must be auto, bf16 or fp32, got '{self.precision}'")
        if not self.lr > 0:
            raise DatamapError(f"--lr must be > 0, got {self.lr}")


# A step strategy computes the loss of one batch and returns the clean (unmixed) logits that
# the recorder keeps: (model, batch, epoch) -> (loss, logits). Mixup plugs in here.
StepFn = Callable[[torch.nn.Module, dict, int], tuple[torch.Tensor, torch.Tensor]]


def model_inputs(batch: dict) -> dict:
    return {k: batch[k] for k in MODEL_INPUTS if k in batch}


def standard_step(model, batch, epoch):
    logits = model(**model_inputs(batch)).logits
    return F.cross_entropy(logits.float(), batch["labels"]), logits


class LengthGroupedSampler:
    """Batch sampler: a new seeded length-grouped shuffle on every pass (epoch)."""

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self._n = math.ceil(len(self.lengths) / batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = length_grouped_batches(self.lengths, self.batch_size, rng)
        # Accelerate's sharding across processes (even_batches) expects only the last batch to be
        # short; a short batch elsewhere makes it skip a round of batches. Stable: order kept otherwise.
        batches.sort(key=lambda b: len(b) < self.batch_size)
        for b in batches:
            yield b.tolist()

    def __len__(self) -> int:
        return self._n


class FixedBatches:
    """Batch sampler over precomputed batches (inference passes)."""

    def __init__(self, batches):
        self.batches = [b.tolist() for b in batches]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def make_loader(encoded, collate, batch_sampler):
    return torch.utils.data.DataLoader(encoded, batch_sampler=batch_sampler, collate_fn=collate)


@contextlib.contextmanager
def preserved_rng():
    """Run a block without changing the random state of training (torch, CUDA, NumPy, random).

    Accelerate's data loaders synchronise/draw random state when iterated; an evaluation pass
    must not change the dropout masks and shuffles that follow it, or adding an evaluation set
    would change the training run.
    """
    import random

    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    np_state = np.random.get_state()
    py_state = random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        np.random.set_state(np_state)
        random.setstate(py_state)


@torch.no_grad()
def predict_logits(model, encoded: list[dict], collate, batch_size: int, accelerator, desc: str | None = None) -> np.ndarray:
    """Eval-mode logits for every item (ordered as ``encoded``), sharded across processes."""
    was_training = model.training
    model.eval()
    lengths = np.array([len(it["input_ids"]) for it in encoded])
    rec = EpochRecorder()
    show = desc is not None and accelerator.is_local_main_process
    with preserved_rng():
        loader = accelerator.prepare_data_loader(
            make_loader(encoded, collate, FixedBatches(sorted_batches(lengths, batch_size))), device_placement=True
        )
        for batch in tqdm(loader, desc=desc, disable=not show, leave=False):
            with accelerator.autocast():
                logits = model(**model_inputs(batch)).logits
            rec.add(batch["index"], logits)
    model.train(was_training)
    index, logits = rec.collect(accelerator, n_examples=len(encoded))
    return logits


def _limit(df: pd.DataFrame, cfg: TrainConfig) -> pd.DataFrame:
    if cfg.limit is None or cfg.limit >= len(df):
        return df
    if cfg.limit_mode == "first":
        return df.iloc[: cfg.limit].reset_index(drop=True)
    rows = np.sort(np.random.default_rng(cfg.limit_seed).choice(len(df), size=cfg.limit, replace=False))
    return df.iloc[rows].reset_index(drop=True)


def _columns(cfg: TrainConfig) -> dict:
    return dict(
        text_column=cfg.text_column,
        text_pair_column=cfg.text_pair_column,
        label_column=cfg.label_column,
        id_column=cfg.id_column,
        drop_empty=cfg.drop_empty,
    )


def load_data(cfg: TrainConfig):
    """Training frame (after subset/limit), label names, and evaluation sets {name: EvalSet}."""
    train_df, names, source = load_dataset(cfg.dataset, cfg.split, **_columns(cfg))
    if cfg.subset:
        from datamap.io.selection import check_ids_in, load_selection_ids

        ids = load_selection_ids(cfg.subset)
        check_ids_in(ids, train_df["id"], f"{cfg.subset} (against {source})")
        train_df = train_df[train_df["id"].isin(set(ids))].reset_index(drop=True)
    train_df = _limit(train_df, cfg)
    present = sorted(set(train_df["label"].tolist()))
    if len(present) < len(names):
        log.warning("training data has %d of %d classes (%s)", len(present), len(names), source)

    evals = {}
    split = cfg.eval_split
    if split == "auto":
        split = "validation" if split_exists(cfg.dataset, "validation") else None
    if split:
        evals[split] = load_eval_set(cfg.dataset, split, names, name=split, **_columns(cfg))
    for spec in cfg.eval_datasets:
        ds, sp = spec, "validation"
        if not Path(spec).exists() and ":" in spec:
            ds, _, sp = spec.partition(":")
        es = load_eval_set(ds, sp, names, **_columns(cfg))
        if es.name in evals:
            raise DatamapError(f"--eval-dataset {spec}: evaluation set '{es.name}' given twice")
        evals[es.name] = es
    return train_df, names, evals


def build_step(cfg: TrainConfig, train_enc: list[dict], collate, train_df: pd.DataFrame) -> StepFn:
    """Plain cross-entropy, or the loss / mixup / drop-hard strategy the config asks for."""
    if not (cfg.mixup or cfg.drop_hard or cfg.loss != "ce" or cfg.dynamics_from):
        return standard_step
    from datamap.training.mixup import build_strategy, load_dynamics

    dynamics = load_dynamics(cfg.dynamics_from, train_df["id"].tolist()) if cfg.dynamics_from else None
    options = {k: getattr(cfg, k) for k in (
        "mixup", "mixup_pairing", "mixup_lambda", "mixup_lambda_per", "mixup_mode", "mixup_start_epoch",
        "mixup_ratio", "drop_hard", "seed", "loss")}
    return build_strategy(options, train_enc, collate, dynamics)


def train(cfg: TrainConfig, progress: bool = True) -> RunDir:
    """Fine-tune ``cfg.model`` on ``cfg.dataset`` and write the run directory ``cfg.out``."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    cfg.validate()
    run = RunDir(cfg.out)
    if run.dynamics.exists() or run.data.exists():
        if not cfg.overwrite:
            raise DatamapError(f"{run.root}: already holds a run; pass --overwrite to replace it or choose another --out")
    use_bf16 = cfg.precision == "bf16" or (
        cfg.precision == "auto" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    )
    accelerator = Accelerator(mixed_precision="bf16" if use_bf16 else "no", cpu=_cpu_processes())
    set_seed(cfg.seed)
    main = accelerator.is_main_process

    train_df, names, evals = load_data(cfg)
    tokenizer = load_tokenizer(cfg.model, cfg.trust_remote_code)
    model = load_model(cfg.model, names, cfg.trust_remote_code)
    if cfg.freeze_base:
        from datamap.training.mixup import freeze_base

        freeze_base(model)
    collate = Collator(tokenizer)
    train_enc = encode_frame(train_df, tokenizer, cfg.max_length)
    step_fn = build_step(cfg, train_enc, collate, train_df)  # validates mixup options before any write
    eval_enc = {k: encode_frame(v.frame, tokenizer, cfg.max_length) for k, v in evals.items()}
    lengths = np.array([len(it["input_ids"]) for it in train_enc])

    if main:
        if cfg.overwrite:
            clear_run(run)
        run.root.mkdir(parents=True, exist_ok=True)
        atomic.write_text(run.config, yaml.safe_dump(asdict(cfg), sort_keys=False))
        atomic.write_table(run.data, train_df)
        atomic.write_json(run.labels, {"names": names})

    sampler = LengthGroupedSampler(lengths, cfg.batch_size, cfg.seed)
    loader = make_loader(train_enc, collate, sampler)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        fused=torch.cuda.is_available() or None,
    )
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    from transformers import get_linear_schedule_with_warmup

    total_steps = len(loader) * cfg.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)

    recorder = EpochRecorder()
    writer = DynamicsWriter(run.dynamics) if (main and cfg.record != "none") else None
    ids = train_df["id"].to_numpy(dtype=object)
    gold = train_df["label"].to_numpy()
    history = []
    last_eval_logits: dict[str, np.ndarray] = {}
    try:
        for epoch in range(cfg.epochs):
            sampler.set_epoch(epoch)
            if hasattr(step_fn, "on_epoch_start"):
                step_fn.on_epoch_start(epoch)
            model.train()
            t0 = time.perf_counter()
            loss_sum = torch.zeros((), device=accelerator.device)
            n_seen = 0
            bar = tqdm(
                loader,
                desc=f"epoch {epoch + 1}/{cfg.epochs}",
                disable=not (progress and accelerator.is_local_main_process),
                unit="batch",
            )
            for step, batch in enumerate(bar):
                with accelerator.autocast():
                    loss, logits = step_fn(model, batch, epoch)
                if cfg.record == "inflight":
                    recorder.add(batch["index"], logits)  # before the optimizer step
                accelerator.backward(loss)
                if cfg.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                loss_sum += loss.detach() * len(batch["labels"])
                n_seen += len(batch["labels"])
                if step % 10 == 0 and bar.disable is False:
                    rate = n_seen * accelerator.num_processes / max(time.perf_counter() - t0, 1e-9)
                    bar.set_postfix(loss=f"{loss_sum.item() / max(n_seen, 1):.4f}", ex_s=f"{rate:.0f}")
            seconds = time.perf_counter() - t0
            # mean over the batches processed (several processes: including even batching's repeats)
            seen = accelerator.reduce(torch.tensor(float(n_seen), device=accelerator.device), "sum").item()
            train_loss = accelerator.reduce(loss_sum, "sum").item() / max(seen, 1)

            t_rec = time.perf_counter()
            if cfg.record == "inflight":
                index, logits = recorder.collect(accelerator, n_examples=len(train_df))
            elif cfg.record == "epoch_end":
                logits = predict_logits(model, train_enc, collate, cfg.eval_batch_size, accelerator, desc="recording")
                index = np.arange(len(train_df))
            if writer is not None:
                writer.write_epoch(epoch, ids[index], logits, gold[index])
            record_seconds = time.perf_counter() - t_rec

            entry = {"epoch": epoch, "train_loss": train_loss, "seconds": seconds, "record_seconds": record_seconds,
                     "examples_per_s": len(train_df) / max(seconds, 1e-9), "eval": {}}
            for name, enc in eval_enc.items():
                ev_logits = predict_logits(model, enc, collate, cfg.eval_batch_size, accelerator)
                entry["eval"][name] = quick_scores(evals[name], ev_logits, names)
                last_eval_logits[name] = ev_logits
            history.append(entry)
            if main:
                evs = " ".join(f"{k} acc {v['accuracy']:.4f}" for k, v in entry["eval"].items())
                tqdm.write(f"epoch {epoch + 1}: train loss {train_loss:.4f}, {entry['examples_per_s']:.1f} ex/s {evs}".rstrip())
                atomic.write_json(run.history, {"epochs": history})
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.abort()

    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    if main and cfg.save_model:
        _save_model(unwrapped, tokenizer, run.model)
    if main:  # the last epoch's evaluation already used the final weights
        for name, ev_logits in last_eval_logits.items():
            write_eval_set(run, evals[name], ev_logits, model_label_names(unwrapped))
    if main and cfg.export_jsonl and cfg.record != "none":
        from datamap.io.jsonl import export_jsonl

        export_jsonl(run.dynamics, run.jsonl_dir)
    accelerator.wait_for_everyone()
    return run


def clear_run(run: RunDir) -> None:
    """Remove the files of an earlier run in the same folder (everything in the contract)."""
    import shutil

    for path in (run.config, run.data, run.labels, run.dynamics, run.history, run.metrics, run.root / "metrics.json",
                 run.regions_json, run.map_png, run.map_html, run.report):
        path.unlink(missing_ok=True)
    for folder in (run.jsonl_dir, run.selections, run.eval_dir, run.model):
        shutil.rmtree(folder, ignore_errors=True)


def _cpu_processes() -> bool:
    """Launched as several processes (``accelerate launch``/``torchrun``) on a machine without a GPU?

    Accelerate then needs ``cpu=True`` to join the processes (gloo, MULTI_CPU); without it every
    process would train alone on all the data and all would write the run directory.
    """
    gpu = torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not gpu


def _save_model(model, tokenizer, folder: Path) -> None:
    """save_pretrained into a temporary folder, then rename it into place."""
    import shutil
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".model.", dir=folder.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
