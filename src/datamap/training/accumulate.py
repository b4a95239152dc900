"""``--grad-accum N``: one optimizer step every N batches, the same update as one batch N times as large.

Each batch's loss is a mean over its units (examples for a classifier, target tokens for ``--task sft``).
Accumulating ``loss * units`` and dividing the summed gradients by the group's total units before the step
gives the mean over the group's units, exactly what one batch of the N batches' rows would give (the token
mean of sft: the N batches' summed token losses over their total tokens). The last group of an epoch may
hold fewer batches: it still steps, divided by its own units. With N = 1 nothing is scaled (the run is that
of a build without accumulation, bit for bit).

Both training loops use it through :meth:`datamap.training.loop_parts.Optimization.step`, as::

    accum = GradAccumulation(cfg.grad_accum, len(loader))     # plan(..., accum.steps_per_epoch, ...)
    for step, batch in enumerate(loader):
        with accum.sync(accelerator, model, step):          # no gradient all-reduce inside a group
            loss, out = step_fn(...)
            accum.backward(accelerator, loss, units)
        if accum.step(step, accelerator, model, optimizer, scheduler, max_grad_norm):
            steps_done += 1                                  # optimizer steps: schedule, budget, history
"""

from __future__ import annotations

import contextlib
import math

import torch


class GradAccumulation:
    """Gradient accumulation over ``every`` consecutive batches of an epoch of ``batches`` batches.

    Parameters
    ----------
    every : int
        ``--grad-accum``: batches per optimizer step (>= 1).
    batches : int
        Batches per epoch (on this process).
    """

    def __init__(self, every: int, batches: int):
        if every < 1:
            raise ValueError(f"--grad-accum {every}: must be >= 1")
        self.every = int(every)
        self.batches = int(batches)
        self._units: "torch.Tensor | float" = 0.0

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch: ``ceil(batches / every)`` (a short last group still steps)."""
        return max(1, math.ceil(self.batches / self.every)) if self.batches else 0

    def boundary(self, step: int) -> bool:
        """Whether batch ``step`` (0-based, within the epoch) closes a group: the optimizer steps after it."""
        return (step + 1) % self.every == 0 or step + 1 >= self.batches

    def sync(self, accelerator, model, step: int):
        """A context for batch ``step``'s forward and backward: no gradient synchronisation across processes
        inside a group (``accelerator.no_sync``), the usual one on the group's last batch."""
        if self.every == 1 or self.boundary(step):
            return contextlib.nullcontext()
        return accelerator.no_sync(model)

    def backward(self, accelerator, loss: torch.Tensor, units) -> None:
        """Backward of one batch's mean ``loss`` over ``units`` (a count or a 0-d tensor) items."""
        if self.every == 1:
            accelerator.backward(loss)
            return
        accelerator.backward(loss * units)
        self._units = self._units + units

    def step(self, step: int, accelerator, model, optimizer, scheduler, max_grad_norm: float = 0.0) -> bool:
        """After batch ``step``: at a group's end, divide the summed gradients by the group's units, clip,
        step the optimizer and the schedule and clear the gradients; returns whether it stepped."""
        if not self.boundary(step):
            return False
        if self.every > 1:
            total = self._units
            if isinstance(total, torch.Tensor):
                total = total.clamp_min(1.0)
            else:
                total = max(float(total), 1.0)
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.div_(total)
            self._units = 0.0
        if max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return True
