"""The training budget in optimizer steps: ``--max-steps N`` and ``--steps-like RUN``.

Without either, a run takes ``epochs`` full passes (``epochs * batches per epoch`` steps). With a
budget of ``N`` steps it runs ``ceil(N / batches per epoch)`` epochs, the last one cut short after
step ``N``; the learning-rate schedule (warm-up, linear decay) spans the ``N`` steps. ``--steps-like
RUN`` takes ``N`` from another run's history (``steps`` of its last epoch), so a subset trains for as
many optimizer steps as the full set did. Every epoch of ``history.json`` records ``steps``, the
optimizer steps taken so far.
"""

from __future__ import annotations

import json
import math
import os

from datamap.errors import DatamapError
from datamap.io.rundir import RunDir


def steps_of(run: "str | os.PathLike") -> int:
    """The optimizer steps a finished run took: ``steps`` of the last epoch of its ``history.json``."""
    rd = RunDir(run)
    if not rd.history.exists():
        raise DatamapError(f"--steps-like {run}: {rd.history} not found (a run of datamap train)")
    try:
        epochs = json.loads(rd.history.read_text(encoding="utf-8"))["epochs"]
        steps = int(epochs[-1]["steps"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise DatamapError(f"--steps-like {run}: {rd.history} records no step count "
                           "(a run trained before step counts were recorded)") from None
    if steps < 1:
        raise DatamapError(f"--steps-like {run}: {rd.history} records {steps} steps")
    return steps


def budget_of(max_steps: int | None, steps_like: "str | os.PathLike | None") -> int | None:
    """The step budget a config asks for: ``max_steps``, the steps of ``steps_like``, or None (epochs)."""
    return steps_of(steps_like) if steps_like is not None else max_steps


def plan(epochs: int, batches_per_epoch: int, budget: int | None = None) -> tuple[int, int]:
    """``(total optimizer steps, epochs to run)`` for ``batches_per_epoch`` batches per epoch and a step budget."""
    if budget is None:
        return epochs * batches_per_epoch, epochs
    return int(budget), max(1, math.ceil(int(budget) / max(batches_per_epoch, 1)))
