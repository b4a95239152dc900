"""The training loop, readable top to bottom: fine-tune a classifier and record its dynamics.

    config -> data (train + eval sets) -> model -> for each epoch:
        for each length-grouped batch: forward, loss, record logits (in flight), backward, step
        [epoch_end mode: one no_grad pass over the training set]
        write this epoch's dynamics (RUN/dynamics/epoch_{e}.parquet); evaluate on the held-out set(s);
        save the checkpoint (RUN/checkpoint/) and the manifest's epoch count
    -> save model, eval files, history; join the epochs into dynamics.parquet; manifest: complete

Seams (each a function; what both loops use is in :mod:`datamap.training.loop_parts`): :func:`start` (checks
before any write, accelerator), :func:`set_up` (data, model, step, run directory, optimizer, resume state: a
:class:`Loop`), :func:`run_epoch` (the steps), :func:`end_epoch` (records, evaluation, history, checkpoint),
:func:`finish` (model, eval files, dynamics.parquet, manifest).

``train(cfg, resume=True)`` (``datamap train --resume``) restores the last checkpoint (weights,
optimizer, scheduler, every RNG state) and continues with the next epoch: on the CPU the result is
byte for byte that of an uninterrupted run.

Runs on CPU, one GPU (bf16 autocast) or several processes through Hugging Face Accelerate
(`accelerate launch`): every process trains on its shard of each epoch's batches; recorded
logits are gathered once per epoch and only the main process writes.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from datamap.console import Progress, say
from datamap.core.checks import fraction_count
from datamap.core.sampling import stratified_sample
from datamap.errors import DatamapError
from datamap.eval.sets import HELDOUT, SAME_AS_TRAIN, EvalSet, load_eval_set, quick_scores, write_eval_set
from datamap.io import atomic
from datamap.io.data import load_dataset, same_dataset, split_exists
from datamap.io.rundir import RunDir, file_sha256, read_regions
from datamap.training.embed import check_embed_pooling
from datamap.io.weights import read_weights
from datamap.training.budget import budget_of
from datamap.training.lora import apply_lora, trainable_summary
from datamap.training.batching import Collator
from datamap.training.checkpoint import kill_point
from datamap.training.config import TrainConfig
from datamap.training.loop_parts import Optimization, complete_run, consolidate_dynamics, prepare, restore
from datamap.training.models import (check_head, check_max_length, enable_gradient_checkpointing, freeze_base,
                                     load_model, load_tokenizer, model_label_names, save_model, set_pad_token)
from datamap.training.predict import make_accelerator, predict_logits
from datamap.training.recorder import DynamicsRecorder
from datamap.training.steps import build_step
from datamap.training.guards import check_out
from datamap.training.token_cache import encode_cached
from datamap.training.tracking import RunTracker, check_trackers

log = logging.getLogger(__name__)
#: share of a single-file dataset's training rows that ``--eval-split auto`` holds out for evaluation
HOLDOUT_FRACTION = 0.1

def _limit(df: pd.DataFrame, cfg: TrainConfig) -> pd.DataFrame:
    if cfg.limit is None or cfg.limit >= len(df):
        return df
    if cfg.limit_mode == "first":
        return df.iloc[: cfg.limit].reset_index(drop=True)
    if cfg.limit_mode == "stratified":
        rows = stratified_sample(df["label"].to_numpy(), cfg.limit, seed=cfg.limit_seed)
    else:
        rows = np.sort(np.random.default_rng(cfg.limit_seed).choice(len(df), size=cfg.limit, replace=False))
    return df.iloc[rows].reset_index(drop=True)


def _eval_name(name: str, dataset: str, split: str, cfg: TrainConfig) -> str:
    """``name``, or ``name-same-as-train`` (with a loud warning) when (dataset, split) is the training data."""
    if not (same_dataset(dataset, cfg.dataset) and split == cfg.split):
        return name
    log.warning("EVALUATING ON THE TRAINING DATA: evaluation set '%s' is split '%s' of %s, the split trained on; "
                "its scores (eval/%s%s.json) measure fit, not generalisation", name, split, dataset, name, SAME_AS_TRAIN)
    return name + SAME_AS_TRAIN


def _single_file(cfg: TrainConfig) -> bool:
    """Whether ``--dataset`` is one file (every split of it, ``validation`` too, is the training rows)."""
    return Path(cfg.dataset).is_file()


def _hold_out(train_df: pd.DataFrame, cfg: TrainConfig, source: str):
    """(training rows, EvalSet) with a seeded, class-stratified :data:`HOLDOUT_FRACTION` of the rows held out."""
    n = len(train_df)
    k = max(fraction_count(HOLDOUT_FRACTION, n), len(set(train_df["label"].tolist())))  # every class at least once
    if k >= n - 1:
        raise DatamapError(f"{source}: {n} rows are too few to hold out {HOLDOUT_FRACTION:.0%} for evaluation "
                           "(--eval-split auto on a single file); pass --eval-split none or --eval-dataset FILE")
    rows = stratified_sample(train_df["label"].to_numpy(), k, seed=cfg.seed)
    held = np.zeros(n, dtype=bool)
    held[rows] = True
    say(f"evaluation: {source} is a single file; holding out {k} of {n} rows ({HOLDOUT_FRACTION:.0%}, "
        f"class-stratified, seed {cfg.seed}) as '{HELDOUT}', trained on the other {n - k} "
        f"(ids in {HELDOUT}.parquet; --eval-split none: no evaluation)", err=True)
    frame = train_df[held].reset_index(drop=True)
    return train_df[~held].reset_index(drop=True), EvalSet(HELDOUT, frame, "standard", f"{source} (held out)")


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
    hub = dict(config=cfg.dataset_config, revision=cfg.revision)
    train_df, names, source = load_dataset(cfg.dataset, cfg.split, **hub, **_columns(cfg))
    if cfg.subset:
        from datamap.io.selection import check_ids_in, load_selection_ids

        ids = load_selection_ids(cfg.subset)
        check_ids_in(ids, train_df["id"], f"{cfg.subset} (against {source})")
        train_df = train_df[train_df["id"].isin(set(ids))].reset_index(drop=True)
    train_df = _limit(train_df, cfg)
    present = sorted(set(train_df["label"].tolist()))
    if len(present) < 2 and not cfg.allow_single_class:
        only = names[present[0]] if present else "none"
        raise DatamapError(f"{source}: the training rows{' (after --subset/--limit)' if cfg.subset or cfg.limit else ''} "
                           f"hold a single class ({only!r}); a model trained on them predicts that class only "
                           "(pass --allow-single-class to train anyway)")
    if len(present) < len(names):
        log.warning("training data has %d of %d classes (%s)", len(present), len(names), source)

    evals = {}
    split = cfg.eval_split
    if split == "auto" and _single_file(cfg):  # a lone file is every split: hold out rows, never self-evaluate
        train_df, held = _hold_out(train_df, cfg, source)
        evals[held.name] = held
        split = None
    elif split == "auto":
        split = "validation" if split_exists(cfg.dataset, "validation", cfg.dataset_config) else None
    if split:
        name = _eval_name(split, cfg.dataset, split, cfg)
        evals[name] = load_eval_set(cfg.dataset, split, names, name=name, **hub, **_columns(cfg))
    for spec in cfg.eval_datasets:
        ds, sp = spec, "validation"
        if not Path(spec).exists() and ":" in spec:
            ds, _, sp = spec.partition(":")
        es = load_eval_set(ds, sp, names, **_columns(cfg))
        es.name = _eval_name(es.name, ds, sp, cfg)
        if es.name in evals:
            raise DatamapError(f"--eval-dataset {spec}: evaluation set '{es.name}' given twice")
        evals[es.name] = es
    return train_df, names, evals


def train(cfg: TrainConfig, progress: bool = True, resume: bool = False) -> RunDir:
    """Fine-tune ``cfg.model`` on ``cfg.dataset`` and write the run directory ``cfg.out``.

    Parameters
    ----------
    cfg : TrainConfig
        The run's configuration.
    progress : bool, default True
        Show progress bars.
    resume : bool, default False
        Continue the interrupted run in ``cfg.out`` from its last finished epoch (``cfg`` must be
        that run's configuration: see :func:`resume_config`); the result equals an uninterrupted run's.
    """
    from datamap.io.lock import run_lock

    if os.environ.get("RANK", "0") != "0":  # under accelerate launch the main process holds the lock
        return _train(cfg, progress, resume)
    with run_lock(cfg.out, "train"):  # one writer per run directory
        return _train(cfg, progress, resume)


def _train(cfg: TrainConfig, progress: bool, resume: bool) -> RunDir:
    """The loop along its seams: :func:`start` (checks, accelerator), then for a classifier :func:`set_up`,
    :func:`run_epoch` and :func:`end_epoch` per epoch, :func:`finish`; ``--task sft`` has its own loop."""
    run, accelerator, budget, trackers = start(cfg, resume)
    if cfg.task == "sft":  # a causal LM on prompt -> completion rows: its own loop, the same run contract
        from datamap.training.sft_loop import train_sft

        return train_sft(cfg, run, accelerator, progress, resume, budget)
    s = set_up(cfg, run, accelerator, budget, trackers, progress=progress, resume=resume)
    for epoch in range(s.start_epoch, s.opt.epochs):
        train_loss, seconds = run_epoch(s, epoch)
        end_epoch(s, epoch, train_loss, seconds)
    return finish(s)


def start(cfg: TrainConfig, resume: bool):
    """Before any write, for every model kind: the run directory's state (``--resume``, ``--overwrite``), ``--compile``,
    ``--out``'s contents, trackers and step budget checked; the accelerator made and every seed set.
    Returns (run, accelerator, budget, trackers)."""
    from accelerate.utils import set_seed

    run = RunDir(cfg.out)
    manifest = run.read_manifest() if run.root.is_dir() else None
    if resume:
        if manifest is None or manifest.get("stage") != "train":
            raise DatamapError(f"{run.manifest}: not found; only runs of datamap train (this version) can be resumed")
        if manifest.get("status") == "complete":
            raise DatamapError(f"{run.root}: training is already complete ({manifest.get('epochs_written')} epochs)")
    elif run.dynamics.exists() or run.data.exists() or run.dynamics_dir.exists():
        if not cfg.overwrite:
            if manifest is not None and manifest.get("status") == "incomplete":
                raise DatamapError(f"{run.root}: holds an incomplete run; pass --resume to continue it "
                                   "or --overwrite to replace it")
            raise DatamapError(f"{run.root}: already holds a run; pass --overwrite to replace it or choose another --out")
    if cfg.compile:
        from datamap.training.compile import check_compile

        check_compile(cfg.mixup is not None)
    check_out(run, cfg, manifest, resume)  # links, foreign folders, inputs inside --out, a consistent checkpoint
    trackers = check_trackers(cfg.report_to)
    budget = budget_of(cfg.max_steps, cfg.steps_like)  # --max-steps / --steps-like, checked before any write
    accelerator = make_accelerator(cfg.precision, log_with=trackers or None, project_dir=run.tracking)
    set_seed(cfg.seed)
    return run, accelerator, budget, trackers


@dataclass
class Data:
    """The classifier's training rows, label names and evaluation sets {name: EvalSet}, tokenised."""

    train_df: pd.DataFrame
    names: list
    evals: dict
    tokenizer: Any
    collate: Collator
    train_enc: list
    eval_enc: dict = field(default_factory=dict)


@dataclass
class Loop:
    """What the classifier loop's seams pass on: made by :func:`set_up`, advanced by :func:`run_epoch` and
    :func:`end_epoch`, closed by :func:`finish`."""

    cfg: TrainConfig
    run: RunDir
    data: Data
    opt: Optimization  # model, optimizer, scheduler, loader, --grad-accum, epochs and step budget
    forward: Any  # the model, or its compiled forward (--compile)
    step_fn: Any  # the training step: standard, --drop-hard, --weights or --mixup
    recorder: DynamicsRecorder
    tracker: RunTracker
    progress: bool
    resume: bool
    start_epoch: int = 0
    steps_done: int = 0  # optimizer steps taken (only a run's last epoch can be cut short)
    history: list = field(default_factory=list)
    last_eval_logits: dict = field(default_factory=dict)  # {set: logits} of the last evaluation: the final weights


def set_up(cfg: TrainConfig, run: RunDir, accelerator, budget, trackers, *, progress: bool, resume: bool) -> Loop:
    """Config -> data, model, training step, the run directory opened, optimizer and schedule (prepared), the
    checkpoint restored (``--resume``), tracker and recorder: everything the first epoch needs."""
    main = accelerator.is_main_process
    train_df, names, evals, threshold = _rows(cfg)
    tokenizer, model = _model(cfg, names, main)
    data = Data(train_df, names, evals, tokenizer, Collator(tokenizer),
                encode_cached(train_df, tokenizer, cfg.max_length))  # tokenised once per data, tokenizer, length
    step_fn = _step(cfg, data)  # checks the earlier run's rows before any write
    data.eval_enc = {k: encode_cached(v.frame, tokenizer, cfg.max_length) for k, v in evals.items()}
    _open(cfg, run, data, threshold, accelerator, resume)
    train_collate = data.collate
    if cfg.compile:  # batches padded to a few bucket lengths: few graphs to compile
        from datamap.training.compile import BucketCollator, CompiledForward

        train_collate = BucketCollator.for_length(data.collate, cfg.max_length)
    opt = prepare(cfg, run, accelerator, model, data.train_enc, train_collate, budget,
                  fused=torch.cuda.is_available() or None)
    forward = CompiledForward(opt.model, train_collate.buckets, cfg.model) if cfg.compile else opt.model
    restored = restore(run, opt, resume) or {"history": [], "epoch": -1}  # weights, moments, LR, RNG
    tracker = RunTracker(accelerator, trackers, cfg.model_dump(mode="json"))
    recorder = DynamicsRecorder(run.dynamics_dir if (main and cfg.record != "none") else None,
                                train_df["id"].tolist(), train_df["label"].to_numpy())
    start_epoch = int(restored["epoch"]) + 1
    return Loop(cfg, run, data, opt, forward, step_fn, recorder, tracker, progress, resume, start_epoch,
                start_epoch * opt.accum.steps_per_epoch, restored["history"])


def _rows(cfg: TrainConfig):
    """(training rows, label names, evaluation sets, --threshold-samples table or None); the head needed by
    --freeze-base/--mixup/--lora is checked first, on a meta-device model."""
    needs_head = [flag for flag, on in (("--freeze-base", cfg.freeze_base), ("--mixup", cfg.mixup is not None),
                                        ("--lora", cfg.lora is not None)) if on]
    if needs_head:  # the head must be found: checked on a meta-device model before any data is read
        check_head(cfg.model, needs_head[0], cfg.trust_remote_code)
    train_df, names, evals = load_data(cfg)
    threshold = None
    if cfg.threshold_samples:  # a fake class C for a seeded 1/(C+1) of the examples: datamap errors' AUM cut
        from datamap.training.threshold import assign_threshold_samples

        train_df, names, threshold = assign_threshold_samples(train_df, names, cfg.seed)
    return train_df, names, evals, threshold


def _model(cfg: TrainConfig, names: list, main: bool):
    """(tokenizer, classifier) as the config asks: gradient checkpointing, --freeze-base, --lora, --embed checked."""
    tokenizer = load_tokenizer(cfg.model, cfg.trust_remote_code)
    model = load_model(cfg.model, names, cfg.trust_remote_code, dtype=str(cfg.model_dtype))
    set_pad_token(model, tokenizer)
    if cfg.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    check_max_length(model, tokenizer, cfg.max_length, cfg.model)
    if cfg.freeze_base:
        freeze_base(model)
    if cfg.lora is not None:
        model = apply_lora(model, cfg.lora)
        if main:
            say(trainable_summary(model))
    if cfg.embed is not None:
        check_embed_pooling(str(cfg.embed), model, cfg.model)
    return tokenizer, model


def _step(cfg: TrainConfig, data: Data):
    """The training step (:func:`~datamap.training.steps.build_step`) with --dynamics-from's regions and --weights."""
    ids = data.train_df["id"].tolist()
    dynamics = read_regions(cfg.dynamics_from, ids) if cfg.dynamics_from else None
    weights = read_weights(cfg.weights, ids) if cfg.weights else None  # --weights
    return build_step(cfg, data.train_enc, data.collate, dynamics, weights=weights)


def _open(cfg: TrainConfig, run: RunDir, data: Data, threshold, accelerator, resume: bool) -> None:
    """The run directory opened (:func:`open_run`) with the threshold samples' and held-out rows' tables; the
    start-up line."""
    main = accelerator.is_main_process
    tables = [(run.threshold_samples, threshold)] if threshold is not None else []
    if HELDOUT in data.evals:  # the held-out rows' ids, so that no later stage mistakes them for training rows
        tables.append((run.heldout, data.evals[HELDOUT].frame))
    open_run(run, cfg, data.train_df, data.names, resume=resume, main=main, tables=tables)
    accelerator.wait_for_everyone()
    if main:
        from datamap.training.announce import startup_line

        say(startup_line(cfg, data.train_df, data.names, data.evals, accelerator))


def run_epoch(s: Loop, epoch: int) -> tuple[float, float]:
    """One epoch's batches: the step (forward, --mixup, loss), the in-flight record, backward and the accumulated
    optimizer step (:meth:`Optimization.step`); the progress bar and the tracker's step logs. A step budget stops
    it early. Returns (train loss: the mean over the examples seen, seconds)."""
    opt, accelerator = s.opt, s.opt.accelerator
    opt.start_epoch(epoch)
    s.step_fn.on_epoch_start(epoch)
    opt.model.train()
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=accelerator.device)
    n_seen = 0

    def rate() -> float:  # examples per second since the epoch began, all processes
        return n_seen * accelerator.num_processes / max(time.perf_counter() - t0, 1e-9)
    bar = Progress(len(opt.loader), f"epoch {epoch + 1}/{opt.epochs}", unit="batches",
                   enabled=s.progress and accelerator.is_local_main_process)
    record = s.recorder.add if s.cfg.record == "inflight" else None  # before the optimizer step
    for step, batch in enumerate(opt.loader):
        loss, _, stepped = opt.step(s.step_fn, s.forward, batch, step, epoch, _examples, record)
        s.steps_done += stepped
        loss_sum += loss.detach() * len(batch["labels"])
        n_seen += len(batch["labels"])
        if stepped and s.tracker.due(s.steps_done):
            s.tracker.log_step(s.steps_done, loss.item(), opt.scheduler.get_last_lr()[0], rate())
        if bar.due():  # by time (twice a second on a terminal): the loss costs a device sync
            bar.set_postfix(loss=f"{loss_sum.item() / max(n_seen, 1):.4f}", ex_s=f"{rate():.0f}")
        bar.update(1)
        if s.steps_done >= opt.total_steps:  # a step budget cuts the last epoch short
            break
    if bar.active:  # the closing line shows the epoch's loss and rate, not those of the last refresh
        bar.set_postfix(loss=f"{loss_sum.item() / max(n_seen, 1):.4f}", ex_s=f"{rate():.0f}")
    bar.close()
    seconds = time.perf_counter() - t0
    # mean over the batches processed (several processes: including even batching's repeats)
    seen = accelerator.reduce(torch.tensor(float(n_seen), device=accelerator.device), "sum").item()
    return accelerator.reduce(loss_sum, "sum").item() / max(seen, 1), seconds


def _examples(batch: dict, logits) -> int:
    """A classifier batch's loss is a mean over its examples (--grad-accum's weight)."""
    return len(batch["labels"])


def end_epoch(s: Loop, epoch: int, train_loss: float, seconds: float) -> None:
    """After the epoch's batches: its dynamics on disk (:func:`_record`), the evaluation sets scored, the history
    (tracker, console, history.json), then the checkpoint and the manifest's epoch count."""
    record_seconds = _record(s, epoch)
    kill_point(f"{epoch}:recorded")
    entry = {"epoch": epoch, "steps": s.steps_done,  # optimizer steps so far
             "train_loss": train_loss, "seconds": seconds, "record_seconds": record_seconds,
             "examples_per_s": len(s.data.train_df) / max(seconds, 1e-9), "eval": _evaluate(s)}
    s.history.append(entry)
    s.tracker.log_epoch(entry)
    if s.opt.main:
        evs = " ".join(f"{k} acc {v['accuracy']:.4f}" for k, v in entry["eval"].items())
        say(f"epoch {epoch + 1}: train loss {train_loss:.4f}, {entry['examples_per_s']:.1f} ex/s {evs}".rstrip())
        atomic.write_json(s.run.history, {"epochs": s.history})
    s.opt.save_epoch(s.run, s.cfg.checkpoint, epoch, {"epoch": epoch, "history": s.history})


def _record(s: Loop, epoch: int) -> float:
    """This epoch's dynamics written before the next epoch starts: the in-flight records, or (epoch_end, or an epoch
    a step budget cut short) a no-grad pass over the training set. Returns the seconds it took."""
    cfg, accelerator, n = s.cfg, s.opt.accelerator, len(s.data.train_df)
    t_rec = time.perf_counter()
    if cfg.record == "inflight" and not s.opt.partial(epoch, s.steps_done):
        index, logits = s.recorder.collect(accelerator, n_examples=n)
    elif cfg.record != "none":
        logits = predict_logits(s.opt.model, s.data.train_enc, s.data.collate, cfg.eval_batch_size, accelerator,
                                desc="recording", main_only=True)  # only the main process writes
        index = np.arange(n)
    if cfg.record != "none":
        s.recorder.write(epoch, index, logits)  # on disk before the next epoch starts
    return time.perf_counter() - t_rec


def _evaluate(s: Loop) -> dict:
    """{set: quick scores} of the current weights; their logits kept in ``s.last_eval_logits``."""
    scores = {}
    for name, enc in s.data.eval_enc.items():
        ev_logits = predict_logits(s.opt.model, enc, s.data.collate, s.cfg.eval_batch_size, s.opt.accelerator)
        scores[name] = quick_scores(s.data.evals[name], ev_logits, s.data.names)
        s.last_eval_logits[name] = ev_logits
    return scores


def finish(s: Loop) -> RunDir:
    """After the last epoch: the model saved (``--lora``: its adapter too), the last evaluation's files,
    dynamics.parquet joined from the epoch files, ``--embed``, ``--export-jsonl``, the tracker closed and the
    manifest ``complete``."""
    cfg, run, opt, data = s.cfg, s.run, s.opt, s.data
    main = opt.main
    if cfg.compile and main:
        say(f"--compile: {s.forward.graphs} graph(s) compiled for batch lengths {s.forward.buckets}")
    if not s.last_eval_logits and data.eval_enc:  # resumed after the last epoch: evaluate the restored weights again
        for name, enc in data.eval_enc.items():
            s.last_eval_logits[name] = predict_logits(opt.model, enc, data.collate, cfg.eval_batch_size, opt.accelerator)
    unwrapped = opt.final_model(run, data.tokenizer, cfg.save_model)
    if main and cfg.save_model:
        save_model(unwrapped, data.tokenizer, run.model)
    if main:  # the last epoch's evaluation already used the final weights
        for name, ev_logits in s.last_eval_logits.items():
            write_eval_set(run, data.evals[name], ev_logits, model_label_names(unwrapped))
    consolidate_dynamics(run, cfg.record, s.resume, main)
    if cfg.embed is not None:  # every process takes part: the pass is sharded, then gathered
        _write_embeddings(cfg, run, unwrapped, data.train_enc, data.collate, opt.accelerator,
                          data.train_df["id"].tolist(), s.progress)
    if main and cfg.export_jsonl and cfg.record != "none":
        from datamap.io.jsonl import export_jsonl

        export_jsonl(run.dynamics, run.jsonl_dir)
    s.tracker.end()
    complete_run(run, opt.epochs, opt.accelerator)
    return run


def _write_embeddings(cfg: TrainConfig, run: RunDir, model, train_enc, collate, accelerator, ids, progress: bool) -> None:
    """``--embed``: RUN/embeddings.parquet from the trained encoder, as ``datamap embed RUN`` would write it."""
    from datamap.io.embeddings import write_embeddings
    from datamap.training.embed import embed_encoded

    t0 = time.perf_counter()
    vectors = embed_encoded(model.base_model, train_enc, collate, accelerator, pooling=str(cfg.embed),
                            batch_size=cfg.eval_batch_size, progress=progress, main_only=True)
    if accelerator.is_main_process:
        meta = {"model": str(run.model), "model_type": getattr(model.config, "model_type", "?"), "pooling": str(cfg.embed),
                "max_length": int(cfg.max_length), "processes": int(accelerator.num_processes),
                "precision": "bf16" if accelerator.mixed_precision == "bf16" else "fp32",
                "seconds": round(time.perf_counter() - t0, 3), "source": "data.parquet", "n": len(ids)}
        write_embeddings(run.embeddings, ids, vectors, meta)


def resume_config(out: "str | os.PathLike") -> TrainConfig:
    """The configuration of the interrupted run in ``out``, read from its ``config.yaml``.

    Parameters
    ----------
    out : path
        The run directory (``datamap train --resume --out OUT``); it replaces the saved ``out``.
    """
    from datamap.training.config import config_error, field_path

    run = RunDir(out)
    if not run.config.exists():
        raise DatamapError(f"{run.config}: not found; --resume continues a run started by datamap train")
    data = run.read_config(required=True)
    data["out"] = str(out)
    if data.get("limit") is None:  # runs saved before the default --limit-mode changed hold limit_mode: first
        data.pop("limit_mode", None)
        data.pop("limit_seed", None)
    import pydantic

    try:
        return TrainConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        raise DatamapError(f"{run.config}: {config_error(exc, field_path)}") from None


def open_run(run: RunDir, cfg: TrainConfig, train_df: pd.DataFrame, names: list[str], *, resume: bool, main: bool,
             tables=()) -> None:
    """The run directory before the first step (classifier and sft loops). Resuming: the training rows must be
    the run's own, and temporaries of the interrupted run go. A new run (main process): the folder cleared with
    ``--overwrite``, ``config.yaml``/``data.parquet``/``labels.json``, each ``(path, frame)`` of ``tables``, and an
    ``incomplete`` manifest."""
    if resume:
        _check_same_data(run, train_df)
        if main:
            run.remove_temporaries()
    elif main:
        if cfg.overwrite:
            run.clear()
        run.start(cfg.model_dump(mode="json"), train_df, names)
        for path, frame in tables:
            atomic.write_table(path, frame)
        run.write_manifest(stage="train", status="incomplete", epochs=cfg.epochs, epochs_written=0,
                           data_sha256=file_sha256(run.data), config_sha256=file_sha256(run.config), metrics=None)


def _check_same_data(run: RunDir, train_df: pd.DataFrame) -> None:
    """Stop if the training rows loaded now differ from the run's ``data.parquet`` (the source changed)."""
    saved = pd.read_parquet(run.data)
    same = list(saved.columns) == list(train_df.columns) and len(saved) == len(train_df)
    if same:
        for col in saved.columns:
            if not np.array_equal(saved[col].to_numpy(), train_df[col].to_numpy()):
                same = False
                break
    if not same:
        raise DatamapError(f"{run.data}: the training data loaded now differs from the run's; cannot resume")
