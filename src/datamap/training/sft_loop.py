"""``datamap train --task sft``: fine-tune a causal LM on prompt -> completion rows and record, per example and
epoch, [summed token NLL, target tokens, argmax-correct tokens] (see :mod:`datamap.training.sft`).

    rows -> data.parquet (id, prompt, completion) [+ heldout.parquet] -> for each epoch:
        for each length-grouped batch: forward, token-mean loss, records (in flight), backward, step
        [epoch_end: one no_grad pass over the training set]
        write dynamics/epoch_{e}.parquet; token loss and accuracy on the evaluation set
    -> model/, eval/<set>.json (+ greedy exact match), history.json; dynamics.parquet; manifest: complete

Called by :func:`datamap.training.loop.train` after its checks (one writer, --overwrite, foreign folders).
Not yet: --resume, LoRA, several evaluation datasets (refused by the config or here).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from datamap.console import Progress, say
from datamap.core.checks import fraction_count
from datamap.errors import DatamapError
from datamap.eval.sets import HELDOUT
from datamap.io import atomic
from datamap.io.data import load_table, split_exists
from datamap.io.rundir import RunDir, file_sha256
from datamap.io.store import consolidate_epochs, write_sft_epoch_file
from datamap.training.batching import LengthGroupedSampler, make_loader
from datamap.training.sft import (IGNORE, SFTCollator, SFTColumns, SFTStep, encode_sft, exact_matches, generate,
                                  load_causal_lm, predict_records, record_summary, sft_frame)


def _load(cfg, tokenizer):
    columns = SFTColumns(text=cfg.text_column or "text", id=cfg.id_column)
    raw, source = load_table(cfg.dataset, cfg.split, cfg.dataset_config, cfg.revision)
    frame = sft_frame(raw, source, tokenizer, columns, drop_empty=cfg.drop_empty)
    if cfg.limit is not None and cfg.limit < len(frame):
        if cfg.limit_mode == "first":
            frame = frame.iloc[: cfg.limit]
        else:  # random (stratified has no classes to stratify here)
            frame = frame.iloc[np.sort(np.random.default_rng(cfg.limit_seed).choice(len(frame), cfg.limit, replace=False))]
        frame = frame.reset_index(drop=True)
    evals: dict[str, pd.DataFrame] = {}
    split = cfg.eval_split
    if split == "auto" and Path(cfg.dataset).is_file():  # a lone file: hold out a seeded 10 %, never self-evaluate
        from datamap.training.loop import HOLDOUT_FRACTION

        k = max(fraction_count(HOLDOUT_FRACTION, len(frame)), 1)
        if k >= len(frame) - 1:
            raise DatamapError(f"{source}: {len(frame)} rows are too few to hold out {HOLDOUT_FRACTION:.0%} for "
                               "evaluation; pass --eval-split none")
        held = np.zeros(len(frame), dtype=bool)
        held[np.random.default_rng(cfg.seed).choice(len(frame), k, replace=False)] = True
        say(f"evaluation: {source} is a single file; holding out {k} of {len(frame)} rows "
            f"({HOLDOUT_FRACTION:.0%}, seed {cfg.seed}) as '{HELDOUT}'", err=True)
        evals[HELDOUT] = frame[held].reset_index(drop=True)
        frame = frame[~held].reset_index(drop=True)
    else:
        if split == "auto":
            split = "validation" if split_exists(cfg.dataset, "validation", cfg.dataset_config) else None
        if split:
            if split == cfg.split:
                raise DatamapError(f"--eval-split {split}: the split trained on; pass another split or --eval-split none")
            ev_raw, ev_source = load_table(cfg.dataset, split, cfg.dataset_config, cfg.revision)
            evals[split] = sft_frame(ev_raw, ev_source, tokenizer, columns, drop_empty=cfg.drop_empty)
    return frame, evals, source


def train_sft(cfg, run: RunDir, accelerator, progress: bool, resume: bool, budget) -> RunDir:
    """The sft branch of :func:`datamap.training.loop.train` (same run directory contract)."""
    from transformers import get_linear_schedule_with_warmup

    from datamap.training.budget import plan
    from datamap.training.models import check_max_length, enable_gradient_checkpointing, load_tokenizer, save_model

    if resume:
        raise DatamapError(f"{run.root}: --resume is not available for --task sft runs yet; start again with --overwrite")
    main = accelerator.is_main_process
    tokenizer = load_tokenizer(cfg.model, cfg.trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    train_df, evals, source = _load(cfg, tokenizer)
    model = load_causal_lm(cfg.model, cfg.trust_remote_code)
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    check_max_length(model, tokenizer, cfg.max_length, cfg.model)
    train_enc = encode_sft(train_df, tokenizer, cfg.max_length, cfg.train_on_prompt, source)
    eval_enc = {k: encode_sft(v, tokenizer, cfg.max_length, cfg.train_on_prompt, k) for k, v in evals.items()}
    collate = SFTCollator(tokenizer)
    targets = sum(sum(t != IGNORE for t in it["labels"][1:]) for it in train_enc)
    config = cfg.model_dump(mode="json")
    if main:
        if cfg.overwrite:
            run.clear()
        run.start(config, train_df, [])
        if HELDOUT in evals:
            atomic.write_table(run.heldout, evals[HELDOUT])
        run.write_manifest(stage="train", status="incomplete", epochs=cfg.epochs, epochs_written=0,
                           data_sha256=file_sha256(run.data), config_sha256=file_sha256(run.config), metrics=None)
        say(f"sft: {len(train_df)} examples ({targets} target tokens), {', '.join(evals) or 'no evaluation'}, "
            f"{accelerator.device}, {accelerator.mixed_precision}")
    accelerator.wait_for_everyone()

    lengths = np.array([len(it["input_ids"]) for it in train_enc])
    sampler = LengthGroupedSampler(lengths, cfg.batch_size, cfg.seed)
    loader = make_loader(train_enc, collate, sampler)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
         {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}], lr=cfg.lr)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    total_steps, epochs = plan(cfg.epochs, len(loader), budget)
    if main and epochs != cfg.epochs:
        run.write_manifest(epochs=epochs)
    if cfg.record_every and total_steps < cfg.record_every:
        raise DatamapError(f"--record-every {cfg.record_every}: the run takes {total_steps} optimizer steps, "
                           "so nothing would be recorded; pass a smaller N")
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    step_fn = SFTStep()
    from datamap.training.recorder import EpochRecorder

    recorder = EpochRecorder()
    ids = train_df["id"].to_numpy(dtype=object)
    history, steps_done, point = [], 0, 0
    eval_records: dict[str, np.ndarray] = {}  # the last epoch's: the final weights
    every = cfg.record_every
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        sampler.set_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=accelerator.device)
        token_sum = torch.zeros((), device=accelerator.device)  # the tokens behind loss_sum (a cut-short epoch: fewer)
        passes: list[np.ndarray] = []  # --record-every: this epoch's points
        pass_steps: list[int] = []
        bar = Progress(len(loader), f"epoch {epoch + 1}/{epochs}", unit="batches",
                       enabled=progress and accelerator.is_local_main_process)
        for batch in loader:
            with accelerator.autocast():
                loss, records = step_fn(model, batch, epoch)
            if cfg.record == "inflight" and not every:
                recorder.add(batch["index"], records)  # before the optimizer step
            accelerator.backward(loss)
            if cfg.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            steps_done += 1
            loss_sum += records[:, 0].sum()
            token_sum += records[:, 1].sum()
            if every and steps_done % every == 0:  # a point of the trajectory: every example, these weights
                passes.append(predict_records(model, train_enc, collate, cfg.eval_batch_size, accelerator))
                pass_steps.append(steps_done)
                model.train()
            bar.update(1)
            if steps_done >= total_steps:
                break
        bar.close()
        seconds = time.perf_counter() - t0
        partial = steps_done < (epoch + 1) * len(loader)
        if every:
            if main:  # every point of this epoch (possibly none) in its epoch file
                k = len(passes)
                recs = np.stack(passes) if k else np.zeros((0, len(train_df), 3), dtype=np.float32)
                write_sft_epoch_file(run.dynamics_dir, epoch, ids, recs, np.arange(point, point + k),
                                     np.asarray(pass_steps, dtype=np.int64), record="every", record_every=every)
                point += k
        elif cfg.record == "inflight" and not partial:
            index, recs = recorder.collect(accelerator, n_examples=len(train_df))
        elif cfg.record != "none":
            recorder.collect(accelerator)  # drop a cut-short epoch's partial records
            recs = predict_records(model, train_enc, collate, cfg.eval_batch_size, accelerator, desc="recording")
            index = np.arange(len(train_df))
        if cfg.record != "none" and main and not every:
            mode = "inflight" if cfg.record == "inflight" and not partial else "epoch_end"
            write_sft_epoch_file(run.dynamics_dir, epoch, ids[index], recs, epoch, steps_done, record=mode)
        entry = {"epoch": epoch, "steps": steps_done, "train_loss": accelerator.reduce(loss_sum, "sum").item()
                 / max(accelerator.reduce(token_sum, "sum").item(), 1.0),
                 "seconds": seconds, "examples_per_s": len(train_df) / max(seconds, 1e-9), "eval": {}}
        for name, enc in eval_enc.items():
            eval_records[name] = predict_records(model, enc, collate, cfg.eval_batch_size, accelerator)
            scores = record_summary(eval_records[name])
            entry["eval"][name] = {"loss": scores["loss"], "token_accuracy": scores["token_accuracy"],
                                   "accuracy": scores["token_accuracy"]}
        history.append(entry)
        if main:
            evs = " ".join(f"{k} loss {v['loss']:.4f} token acc {v['token_accuracy']:.4f}" for k, v in entry["eval"].items())
            say(f"epoch {epoch + 1}: train loss {entry['train_loss']:.4f}, {entry['examples_per_s']:.1f} ex/s {evs}".rstrip())
            atomic.write_json(run.history, {"epochs": history})
            run.write_manifest(epochs_written=epoch + 1)

    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    for name, recs in eval_records.items():
        if main:
            frame = evals[name]
            generated = generate(unwrapped, tokenizer, frame["prompt"].tolist(), cfg.max_new_tokens,
                                 cfg.eval_batch_size, cfg.max_length, accelerator.device)
            exact = exact_matches(generated, frame["completion"].tolist())
            scores = {**record_summary(recs), "exact_match": float(exact.mean()) if len(exact) else 0.0}
            (run.root / "eval").mkdir(exist_ok=True)
            atomic.write_json(run.root / "eval" / f"{name}.json", scores)
            atomic.write_table(run.root / "eval" / f"{name}.parquet", pd.DataFrame({
                "id": frame["id"], "loss_sum": recs[:, 0].astype(np.float64), "n_tokens": recs[:, 1].astype(np.int64),
                "n_correct": recs[:, 2].astype(np.int64), "generated": generated, "exact": exact}))
            say(f"{name}: exact match {scores['exact_match']:.4f} ({len(exact)} examples), token loss {scores['loss']:.4f}")
    if main and cfg.save_model:
        save_model(unwrapped, tokenizer, run.model)
    if main and cfg.record != "none":
        consolidate_epochs(run.dynamics_dir, run.dynamics)
        shutil.rmtree(run.dynamics_dir, ignore_errors=True)
    if main:
        run.write_manifest(status="complete", epochs_written=epochs)
    accelerator.wait_for_everyone()
    return run
