"""The training checkpoint of a run, ``RUN/checkpoint/``: everything ``datamap train --resume`` needs.

Written after every finished epoch (the last one only is kept), read back by a resumed run:

    checkpoint/
      model.safetensors   the model's weights (safetensors)
      optimizer.pt        torch.save of the optimizer's state_dict (AdamW moments, step counts)
      scheduler.pt        torch.save of the LR scheduler's state_dict (its position)
      rng_{rank}.pt       torch.save of each process's RNG states: python ``random``, numpy's global
                          generator, torch CPU and (if present) CUDA, as plain lists and tensors
      state.json          the last finished epoch, the evaluation history so far, the process count

The ``.pt`` files hold only tensors and plain containers and are read with ``torch.load(...,
weights_only=True)`` (no arbitrary pickled objects). The batch order needs no state (it is seeded by
``[seed, epoch]``), nor does mixup (its generator is reset to ``[seed, epoch]`` at each epoch's start).

Atomic: every process writes into ``RUN/.checkpoint.tmp/``; the main process then renames the old
checkpoint to ``.checkpoint.old``, the new one into place, and removes the old one. A run killed in
between is repaired by :meth:`datamap.io.rundir.RunDir.remove_temporaries`.
"""

from __future__ import annotations

import json
import os
import random
import shutil

import numpy as np
import torch

from datamap.errors import DatamapError
from datamap.io import atomic
from datamap.io.rundir import RunDir

FORMAT = 1


def rng_state() -> dict:
    """This process's RNG states (python ``random``, numpy global, torch CPU, CUDA) as plain values and tensors."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the RNG states :func:`rng_state` returned.

    Parameters
    ----------
    state : dict
        As returned by :func:`rng_state` (possibly after a ``torch.save``/``torch.load`` round trip).
    """
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run: RunDir, accelerator, model, optimizer, scheduler, state: dict) -> None:
    """Write ``RUN/checkpoint/`` (replacing the previous one); call on every process.

    Parameters
    ----------
    run : RunDir
        The run directory.
    accelerator : accelerate.Accelerator
        The run's accelerator (process index, barriers, unwrapping).
    model : torch.nn.Module
        The (prepared) model.
    optimizer : torch.optim.Optimizer
        The (prepared) optimizer.
    scheduler : torch.optim.lr_scheduler.LRScheduler
        The learning-rate scheduler.
    state : dict
        JSON-safe loop state (``epoch``: the last finished epoch, ``history``...); saved as ``state.json``.
    """
    from safetensors.torch import save_model

    main = accelerator.is_main_process
    tmp = run.root / ".checkpoint.tmp"
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)  # permissions from the umask
    accelerator.wait_for_everyone()
    torch.save(rng_state(), tmp / f"rng_{accelerator.process_index}.pt")
    if main:
        save_model(accelerator.unwrap_model(model), str(tmp / "model.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        atomic.write_json(tmp / "state.json", {"format": FORMAT, "num_processes": accelerator.num_processes, **state})
    accelerator.wait_for_everyone()
    if main:
        kill_point(f"{state.get('epoch')}:checkpoint")
        old = run.root / ".checkpoint.old"
        shutil.rmtree(old, ignore_errors=True)
        if run.checkpoint.exists():
            os.replace(run.checkpoint, old)
        os.replace(tmp, run.checkpoint)
        shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def read_checkpoint_state(run: RunDir) -> dict | None:
    """``checkpoint/state.json`` of ``run``, or None when the run has no checkpoint.

    Parameters
    ----------
    run : RunDir
        The run directory.
    """
    path = run.checkpoint / "state.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DatamapError(f"{path}: not valid JSON ({exc})") from None


def load_checkpoint(run: RunDir, accelerator, model, optimizer, scheduler) -> dict:
    """Restore model, optimizer, scheduler and this process's RNG states; returns ``state.json``.

    Parameters
    ----------
    run : RunDir
        The run directory holding ``checkpoint/``.
    accelerator : accelerate.Accelerator
        The run's accelerator (process index and count, unwrapping).
    model, optimizer, scheduler
        The prepared model and optimizer and the scheduler, built as for a new run.
    """
    from safetensors.torch import load_model

    state = read_checkpoint_state(run)
    if state is None:
        raise DatamapError(f"{run.checkpoint}: no checkpoint to resume from")
    if state.get("num_processes") != accelerator.num_processes:
        raise DatamapError(f"{run.checkpoint}: written by {state.get('num_processes')} processes; "
                           f"resume with the same number (this run has {accelerator.num_processes})")
    folder = run.checkpoint
    try:
        load_model(accelerator.unwrap_model(model), str(folder / "model.safetensors"))  # copied onto the parameters
        optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True))
        scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
        set_rng_state(torch.load(folder / f"rng_{accelerator.process_index}.pt", weights_only=True))
    except (OSError, RuntimeError, KeyError) as exc:
        raise DatamapError(f"{folder}: cannot restore the checkpoint ({str(exc).splitlines()[0]})") from None
    return state


def kill_point(point: str) -> None:
    """Test-only hook: SIGKILL this process at ``point`` when the environment variable ``DATAMAP_TEST_KILL_AT`` equals it.

    The points are ``{epoch}:{step}`` (before that training step), ``{epoch}:recorded`` (after the
    epoch's dynamics file), ``{epoch}:checkpoint`` (new checkpoint written, not yet renamed into
    place), ``{epoch}:done`` (after the epoch's checkpoint and manifest) and ``final`` (after the
    dynamics are consolidated, before the manifest says complete). Used by
    tests/training/test_resume.py; never set it otherwise.

    Parameters
    ----------
    point : str
        The name of the place in the loop.
    """
    if os.environ.get("DATAMAP_TEST_KILL_AT") == point:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
