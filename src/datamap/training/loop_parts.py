"""The pieces both training loops (:mod:`datamap.training.loop`, :mod:`datamap.training.sft_loop`) share, by seam:

    set-up        :func:`prepare` (sampler, loader, AdamW, Accelerate, --grad-accum, step budget, schedule),
                  :func:`restore` (``--resume``: the checkpoint's weights, moments, LR and RNG states)
    one epoch     :meth:`Optimization.start_epoch`, :meth:`Optimization.step` (forward, in-flight record,
                  backward, accumulated optimizer step)
    end of epoch  :meth:`Optimization.save_epoch` (checkpoint, manifest's epoch count)
    finish        :meth:`Optimization.final_model` (the unwrapped model, adapters saved and merged),
                  :func:`consolidate_dynamics`, :func:`complete_run`
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from datamap.errors import DatamapError
from datamap.io.rundir import RunDir
from datamap.training.accumulate import GradAccumulation
from datamap.training.batching import LengthGroupedSampler, make_loader
from datamap.training.checkpoint import kill_point, load_checkpoint, read_checkpoint_state, save_checkpoint

log = logging.getLogger(__name__)


@dataclass
class Optimization:
    """The prepared model and what steps it: made by :func:`prepare`, used by both loops' epochs."""

    accelerator: Any
    model: Any  # wrapped by Accelerate
    optimizer: Any
    scheduler: Any
    loader: Any
    sampler: LengthGroupedSampler
    accum: GradAccumulation
    total_steps: int  # optimizer steps of the whole run (a step budget may cut the last epoch short)
    epochs: int  # cfg.epochs unless a step budget
    max_grad_norm: float

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    def start_epoch(self, epoch: int) -> None:
        """This epoch's batch order (Accelerate's loader passes its pass count on to the sampler)."""
        self.loader.set_epoch(epoch)
        self.sampler.set_epoch(epoch)

    def step(self, step_fn, forward, batch: dict, step: int, epoch: int, units: Callable,
             record: Callable | None = None):
        """Batch ``step``: forward under autocast, ``record(index, out)`` before the optimizer step, backward of the
        loss weighed by ``units(batch, out)`` (--grad-accum), and the optimizer step at a group's end.
        Returns (loss, out, whether the optimizer stepped)."""
        kill_point(f"{epoch}:{step}")
        accelerator = self.accelerator
        with self.accum.sync(accelerator, self.model, step):
            with accelerator.autocast():
                loss, out = step_fn(forward, batch, epoch)
            if record is not None:
                record(batch["index"], out)
            self.accum.backward(accelerator, loss, units(batch, out))
        stepped = self.accum.step(step, accelerator, self.model, self.optimizer, self.scheduler, self.max_grad_norm)
        return loss, out, stepped

    def partial(self, epoch: int, steps_done: int) -> bool:
        """Whether a step budget cut epoch ``epoch`` short (not every example was seen)."""
        return steps_done < (epoch + 1) * self.accum.steps_per_epoch

    def save_epoch(self, run: RunDir, checkpoint: bool, epoch: int, state: dict) -> None:
        """After epoch ``epoch``'s records and history: the checkpoint (``state`` with it), the manifest's count."""
        if checkpoint:
            t_ckpt = time.perf_counter()
            save_checkpoint(run, self.accelerator, self.model, self.optimizer, self.scheduler, state)
            if self.main:
                log.debug("checkpoint of epoch %d: %.2f s", epoch + 1, time.perf_counter() - t_ckpt)
            kill_point(f"{epoch}:checkpointed")  # the checkpoint is in place, the manifest's count not yet
        if self.main:
            run.write_manifest(epochs_written=epoch + 1)
        kill_point(f"{epoch}:done")

    def final_model(self, run: RunDir, tokenizer, save_model: bool):
        """The trained model, unwrapped; ``--lora``: adapters saved to RUN/adapter/ (``save_model``) and merged."""
        from datamap.training.lora import finish_lora

        self.accelerator.wait_for_everyone()
        unwrapped = self.accelerator.unwrap_model(self.model)
        return finish_lora(unwrapped, tokenizer, run.root / "adapter" if self.main and save_model else None)


def adamw(cfg, model, fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; no weight decay on biases and norms (1-d parameters)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        [{"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
         {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}], lr=cfg.lr, fused=fused)


class _LinearWarmup:
    """The learning-rate factor after ``step`` optimizer steps: ``step / warmup`` during the warm-up, then a linear
    decay to 0 at ``total`` (the schedule of ``transformers.get_linear_schedule_with_warmup``, whose module imports
    the Trainer's utilities and peft: about 0.1 s of every training's start)."""

    def __init__(self, warmup: int, total: int):
        self.warmup, self.total = warmup, total

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return float(step) / float(max(1, self.warmup))
        return max(0.0, float(self.total - step) / float(max(1, self.total - self.warmup)))


def linear_warmup(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` over ``optimizer``: linear warm-up for ``warmup`` steps, then linear decay to 0 at ``total``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, _LinearWarmup(warmup, total))


def prepare(cfg, run: RunDir, accelerator, model, encoded: list, collate, budget, *,
            fused: bool | None = None) -> Optimization:
    """Length-grouped batches of ``encoded``, AdamW, everything through ``accelerator.prepare``; --grad-accum, the
    step budget (``budget``: its epoch count goes to the manifest) and the linear warm-up schedule."""
    from datamap.training.budget import plan

    lengths = np.array([len(it["input_ids"]) for it in encoded])
    sampler = LengthGroupedSampler(lengths, cfg.batch_size, cfg.seed)
    loader = make_loader(encoded, collate, sampler)
    optimizer = adamw(cfg, model, fused)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    accum = GradAccumulation(cfg.grad_accum, len(loader))  # --grad-accum: an optimizer step every N batches
    total_steps, epochs = plan(cfg.epochs, accum.steps_per_epoch, budget)  # epochs: cfg.epochs unless a step budget
    if accelerator.is_main_process and epochs != cfg.epochs:
        run.write_manifest(epochs=epochs)
    scheduler = linear_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    return Optimization(accelerator, model, optimizer, scheduler, loader, sampler, accum, total_steps, epochs,
                        cfg.max_grad_norm)


def restore(run: RunDir, opt: Optimization, resume: bool) -> dict | None:
    """``--resume``: the last checkpoint's state (its weights, moments, LR and RNG states restored), or None for a
    run that starts at epoch 0; an interrupted run with epochs written but no checkpoint is refused."""
    if resume and read_checkpoint_state(run) is not None:
        return load_checkpoint(run, opt.accelerator, opt.model, opt.optimizer, opt.scheduler)
    if resume and (run.read_manifest() or {}).get("epochs_written", 0):
        raise DatamapError(f"{run.checkpoint}: missing (trained with --no-checkpoint?); "
                           f"start again with datamap train --overwrite --out {run.root}")
    return None


def consolidate_dynamics(run: RunDir, record: str, resume: bool, main: bool) -> None:
    """The epoch files joined into RUN/dynamics.parquet (already done before an interruption: kept)."""
    from datamap.io.store import consolidate_epochs

    if main and record != "none":
        if not (resume and run.dynamics.exists()):  # else consolidated before an interruption
            consolidate_epochs(run.dynamics_dir, run.dynamics)
        shutil.rmtree(run.dynamics_dir, ignore_errors=True)


def complete_run(run: RunDir, epochs: int, accelerator) -> None:
    """The manifest's ``complete`` and the checkpoint's removal: the run's last writes."""
    if accelerator.is_main_process:
        kill_point("final")
        run.write_manifest(status="complete", epochs_written=epochs)
        shutil.rmtree(run.checkpoint, ignore_errors=True)
    accelerator.wait_for_everyone()
