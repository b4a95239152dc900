"""``datamap train --task sft``: fine-tune a causal LM on prompt -> completion rows and record, per example and
epoch, [summed token NLL, target tokens, argmax-correct tokens] (see :mod:`datamap.training.sft`).

    rows -> data.parquet (id, prompt, completion) [+ heldout.parquet] -> for each epoch:
        for each length-grouped batch: forward, token-mean loss, records (in flight), backward, step
        [epoch_end: one no_grad pass over the training set]
        write dynamics/epoch_{e}.parquet; token loss and accuracy on the evaluation set
    -> model/, eval/<set>.json (+ greedy exact match), history.json; dynamics.parquet; manifest: complete

Called by :func:`datamap.training.loop.train` after its checks (one writer, --overwrite, foreign folders).
``--resume`` continues from ``RUN/checkpoint/`` (written after every epoch, as for classifiers): the epochs already
recorded stay, the trajectory goes on. ``--lora``: peft adapters on the causal LM (``RUN/adapter/``; ``RUN/model/`` is
the merged model). Not yet: several evaluation datasets (refused by the config).
"""

from __future__ import annotations

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
from datamap.io.rundir import RunDir
from datamap.io.store import write_sft_epoch_file
from datamap.training.loop_parts import complete_run, consolidate_dynamics, prepare, restore
from datamap.training.sft import (SFTCollator, SFTColumns, SFTStep, encode_sft, exact_matches, generate,
                                  load_causal_lm, predict_records, record_summary, sft_frame, target_counts,
                                  unigram_loss)


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
    if cfg.subset:  # after the hold-out, so that every subset of one file is scored on the same held-out rows
        from datamap.io.selection import check_ids_in, load_selection_ids

        ids = load_selection_ids(cfg.subset)
        held_ids = set(evals[HELDOUT]["id"]) if HELDOUT in evals else set()
        if leaked := [i for i in ids if i in held_ids]:
            raise DatamapError(f"{cfg.subset}: id {leaked[0]!r} ({len(leaked)} in all) is held out for evaluation "
                               f"(seed {cfg.seed}); select from the run trained with the same --seed")
        check_ids_in(ids, frame["id"], f"{cfg.subset} (against {source})")
        frame = frame[frame["id"].isin(set(ids))].reset_index(drop=True)
    return frame, evals, source


def train_sft(cfg, run: RunDir, accelerator, progress: bool, resume: bool, budget) -> RunDir:
    """The sft branch of :func:`datamap.training.loop.train` (same run directory contract)."""
    from datamap.training.checkpoint import kill_point
    from datamap.training.lora import apply_lora, trainable_summary
    from datamap.training.models import check_max_length, enable_gradient_checkpointing, load_tokenizer, save_model

    main = accelerator.is_main_process
    tokenizer = load_tokenizer(cfg.model, cfg.trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    train_df, evals, source = _load(cfg, tokenizer)
    model = load_causal_lm(cfg.model, cfg.trust_remote_code, dtype=str(cfg.model_dtype))
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    if cfg.lora is not None:
        model = apply_lora(model, cfg.lora, causal=True)
    check_max_length(model, tokenizer, cfg.max_length, cfg.model)
    train_enc = encode_sft(train_df, tokenizer, cfg.max_length, cfg.train_on_prompt, source)
    eval_enc = {k: encode_sft(v, tokenizer, cfg.max_length, cfg.train_on_prompt, k) for k, v in evals.items()}
    collate = SFTCollator(tokenizer)
    # the health check's reference: every target token predicted by its frequency among the training targets
    counts = target_counts(train_enc, max(len(tokenizer), int(getattr(model.config, "vocab_size", 0) or 0)))
    targets = int(counts.sum())
    unigram = {"train": unigram_loss(train_enc, counts), **{k: unigram_loss(v, counts) for k, v in eval_enc.items()}}
    from datamap.training.loop import open_run

    open_run(run, cfg, train_df, [], resume=resume, main=main,
             tables=[(run.heldout, evals[HELDOUT])] if HELDOUT in evals else [])
    if main:
        say(f"sft: {len(train_df)} examples ({targets} target tokens), {', '.join(evals) or 'no evaluation'}, "
            f"{accelerator.device}, {accelerator.mixed_precision}"
            + (f"; {trainable_summary(model)}" if cfg.lora is not None else ""))
    accelerator.wait_for_everyone()

    opt = prepare(cfg, run, accelerator, model, train_enc, collate, budget)
    model, loader, total_steps, epochs = opt.model, opt.loader, opt.total_steps, opt.epochs
    if cfg.record_every and total_steps < cfg.record_every:
        raise DatamapError(f"--record-every {cfg.record_every}: the run takes {total_steps} optimizer steps, "
                           "so nothing would be recorded; pass a smaller N")
    step_fn = SFTStep()
    from datamap.training.recorder import EpochRecorder

    recorder = EpochRecorder()
    ids = train_df["id"].to_numpy(dtype=object)
    history, start_epoch, point = [], 0, 0
    if (state := restore(run, opt, resume)) is not None:  # weights, moments, LR, RNG
        history, start_epoch, point = state["history"], int(state["epoch"]) + 1, int(state.get("point", 0))
    steps_done = start_epoch * opt.accum.steps_per_epoch
    eval_records: dict[str, np.ndarray] = {}  # the last epoch's: the final weights
    every = cfg.record_every
    sample = None  # --record-sample: the rows every --record-every pass covers
    rec_rows = np.arange(len(train_enc))
    if every and cfg.record_sample is not None and cfg.record_sample < len(train_enc):
        sample = cfg.record_sample
        rec_rows = np.sort(np.random.default_rng([cfg.seed, 25]).choice(len(train_enc), sample, replace=False))
        if main:
            say(f"--record-sample {sample}: each pass records the same seeded {sample} of {len(train_enc)} "
                f"training examples (seed {cfg.seed})")
    rec_enc = [train_enc[i] for i in rec_rows]
    for epoch in range(start_epoch, epochs):
        opt.start_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=accelerator.device)
        token_sum = torch.zeros((), device=accelerator.device)  # the tokens behind loss_sum (a cut-short epoch: fewer)
        passes: list[np.ndarray] = []  # --record-every: this epoch's points
        pass_seconds = 0.0  # time in the --record-every passes (inside the epoch's seconds)
        pass_steps: list[int] = []
        bar = Progress(len(loader), f"epoch {epoch + 1}/{epochs}", unit="batches",
                       enabled=progress and accelerator.is_local_main_process)
        record = recorder.add if cfg.record == "inflight" and not every else None  # before the optimizer step
        for step, batch in enumerate(loader):
            _, records, stepped = opt.step(step_fn, model, batch, step, epoch, _tokens, record)
            steps_done += stepped
            loss_sum += records[:, 0].sum()
            token_sum += records[:, 1].sum()
            if stepped and every and steps_done % every == 0:  # a point of the trajectory: every example, these weights
                t_pass = time.perf_counter()
                passes.append(predict_records(model, rec_enc, collate, cfg.eval_batch_size, accelerator, main_only=True))
                pass_steps.append(steps_done)
                model.train()
                pass_seconds += time.perf_counter() - t_pass
            bar.update(1)
            if steps_done >= total_steps:
                break
        bar.close()
        seconds = time.perf_counter() - t0 - pass_seconds
        t_rec = time.perf_counter()
        partial = opt.partial(epoch, steps_done)
        if every:
            if main:  # every point of this epoch (possibly none) in its epoch file
                k = len(passes)
                recs = np.stack(passes) if k else np.zeros((0, len(rec_rows), 3), dtype=np.float32)
                write_sft_epoch_file(run.dynamics_dir, epoch, ids[rec_rows], recs, np.arange(point, point + k),
                                     np.asarray(pass_steps, dtype=np.int64), record="every", record_every=every,
                                     sample=sample)
            point += len(passes)
        elif cfg.record == "inflight" and not partial:
            index, recs = recorder.collect(accelerator, n_examples=len(train_df), main_only=True)  # to the main process
        elif cfg.record != "none":
            recorder.collect(accelerator, main_only=True)  # drop a cut-short epoch's partial records
            recs = predict_records(model, train_enc, collate, cfg.eval_batch_size, accelerator, desc="recording",
                                   main_only=True)
            index = np.arange(len(train_df))
        if cfg.record != "none" and main and not every:
            mode = "inflight" if cfg.record == "inflight" and not partial else "epoch_end"
            write_sft_epoch_file(run.dynamics_dir, epoch, ids[index], recs, epoch, steps_done, record=mode)
        record_seconds = pass_seconds + time.perf_counter() - t_rec
        kill_point(f"{epoch}:recorded")
        entry = {"epoch": epoch, "steps": steps_done, "train_loss": accelerator.reduce(loss_sum, "sum").item()
                 / max(accelerator.reduce(token_sum, "sum").item(), 1.0),
                 "seconds": seconds, "record_seconds": record_seconds, "examples_per_s": len(train_df) / max(seconds, 1e-9), "eval": {}}
        for name, enc in eval_enc.items():
            eval_records[name] = predict_records(model, enc, collate, cfg.eval_batch_size, accelerator)
            scores = record_summary(eval_records[name])
            entry["eval"][name] = {"loss": scores["loss"], "token_accuracy": scores["token_accuracy"],
                                   "accuracy": scores["token_accuracy"]}
        history.append(entry)
        if main:
            evs = " ".join(f"{k} loss {v['loss']:.4f} token acc {v['token_accuracy']:.4f}" for k, v in entry["eval"].items())
            say(f"epoch {epoch + 1}: train loss {entry['train_loss']:.4f}, {entry['examples_per_s']:.1f} ex/s {evs}".rstrip())
            atomic.write_json(run.history, {"epochs": history, "unigram_loss": unigram})
        opt.save_epoch(run, cfg.checkpoint, epoch, {"epoch": epoch, "history": history, "point": point})

    if not eval_records and eval_enc:  # resumed after the last epoch: evaluate the restored weights again
        for name, enc in eval_enc.items():
            eval_records[name] = predict_records(model, enc, collate, cfg.eval_batch_size, accelerator)
    unwrapped = opt.final_model(run, tokenizer, cfg.save_model)
    for name, recs in eval_records.items():
        if main:
            frame = evals[name]
            generated = generate(unwrapped, tokenizer, frame["prompt"].tolist(), cfg.max_new_tokens,
                                 cfg.eval_batch_size, cfg.max_length, accelerator.device)
            exact = exact_matches(generated, frame["completion"].tolist())
            scores = {**record_summary(recs), "exact_match": float(exact.mean()) if len(exact) else 0.0,
                      "unigram_loss": unigram[name]}
            (run.root / "eval").mkdir(exist_ok=True)
            atomic.write_json(run.root / "eval" / f"{name}.json", scores)
            atomic.write_table(run.root / "eval" / f"{name}.parquet", pd.DataFrame({
                "id": frame["id"], "loss_sum": recs[:, 0].astype(np.float64), "n_tokens": recs[:, 1].astype(np.int64),
                "n_correct": recs[:, 2].astype(np.int64), "generated": generated, "exact": exact}))
            say(f"{name}: exact match {scores['exact_match']:.4f} ({len(exact)} examples), token loss {scores['loss']:.4f}")
    if main and cfg.save_model:
        save_model(unwrapped, tokenizer, run.model)
    consolidate_dynamics(run, cfg.record, resume, main)
    complete_run(run, epochs, accelerator)
    return run


def _tokens(batch: dict, records):
    """An sft batch's loss is a token mean: --grad-accum weighs it by its target tokens."""
    return records[:, 1].sum()
