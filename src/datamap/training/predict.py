"""Inference passes: eval-mode, ``no_grad`` logits for a tokenized set, on one process or several.

Used by the training loop (``--record epoch_end`` and the per-epoch evaluation), by evaluation
and ensembles (:mod:`datamap.stages.evaluate`). A pass never changes the training's random state.
"""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

from datamap.console import progress
from datamap.training.batching import FixedBatches, make_loader, sorted_batches
from datamap.training.models import model_inputs
from datamap.training.recorder import EpochRecorder


def make_accelerator(precision: str = "auto", log_with: "list[str] | None" = None, project_dir=None):
    """The Accelerator of a training or inference process, on CPU, one GPU or several processes.

    Parameters
    ----------
    precision : {"auto", "bf16", "fp32"}, default "auto"
        ``auto``: bf16 autocast on a GPU that supports it, else fp32.
    log_with, project_dir : optional
        Accelerate's experiment trackers (``["tensorboard"]``...) and the folder they write to
        (see :mod:`datamap.training.tracking`); None: no trackers.

    Launched as several processes (``accelerate launch``/``torchrun``) on a machine without a GPU,
    Accelerate needs ``cpu=True`` to join them (gloo, MULTI_CPU); without it every process would work
    alone on all the data and all would write the run directory.
    """
    from accelerate import Accelerator

    gpu = torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())
    bf16 = str(precision) == "bf16" or (
        str(precision) == "auto" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    )
    cpu_processes = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not gpu
    trackers = {"log_with": log_with, "project_dir": str(project_dir)} if log_with else {}
    from accelerate.utils import DataLoaderConfiguration

    # batches go to the GPU without a host sync (pinned memory, see batching.make_loader)
    loading = DataLoaderConfiguration(non_blocking=torch.cuda.is_available())
    return Accelerator(mixed_precision="bf16" if bf16 else "no", cpu=cpu_processes, dataloader_config=loading, **trackers)


@contextlib.contextmanager
def preserved_rng():
    """Run a block without changing the random state of training (torch, CUDA, NumPy, random).

    Accelerate's data loaders synchronise/draw random state when iterated; an evaluation pass
    must not change the dropout masks and shuffles that follow it, or adding an evaluation set
    would change the training run.
    """
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


def predict_logits(model, encoded: list[dict], collate, batch_size: int, accelerator, desc: str | None = None,
                   main_only: bool = False) -> np.ndarray:
    """Eval-mode logits (float32, shape (n, C)) for every item, in the order of ``encoded``.

    Parameters
    ----------
    model : torch.nn.Module
        A sequence classifier, prepared by ``accelerator`` (several processes shard the batches).
    encoded : list of dict
        Tokenized items (:func:`datamap.training.batching.encode_frame`).
    collate : callable
        Pads a list of items into a batch (:class:`datamap.training.batching.Collator`).
    batch_size : int
        Items per batch; batches are sorted by length (least padding).
    accelerator : accelerate.Accelerator
    desc : str or None, default None
        Progress-bar label; ``None`` shows no bar.
    main_only : bool, default False
        Several processes: gather the logits to the main process only (the others get ``(0, C)``).
    """
    return predict_batches(model, encoded, collate, batch_size, accelerator,
                           lambda m, batch: m(**model_inputs(m, batch)).logits, desc=desc, main_only=main_only)


@torch.no_grad()
def predict_batches(model, encoded: list[dict], collate, batch_size: int, accelerator, forward, desc: str | None = None,
                    main_only: bool = False) -> np.ndarray:
    """One eval-mode ``no_grad`` pass: ``forward(model, batch)`` rows (float32) for every item, in the
    order of ``encoded``.

    Batches are sorted by length (least padding), run under ``accelerator.autocast()`` (bf16 when
    the accelerator was made with it), sharded over the processes and gathered once at the end;
    the random state of training is left as it was. ``forward`` returns one row per item of the
    batch (logits, pooled embeddings...). Other parameters as in :func:`predict_logits`.
    """
    was_training = model.training
    model.eval()
    lengths = np.array([len(it["input_ids"]) for it in encoded])
    rec = EpochRecorder()
    show = desc is not None and accelerator.is_local_main_process
    with preserved_rng():
        loader = accelerator.prepare_data_loader(
            make_loader(encoded, collate, FixedBatches(sorted_batches(lengths, batch_size))), device_placement=True
        )
        for batch in progress(loader, desc or "", unit="batches", enabled=show, leave=False):
            with accelerator.autocast():
                rows = forward(model, batch)
            rec.add(batch["index"], rows)
    model.train(was_training)
    _, rows = rec.collect(accelerator, n_examples=len(encoded), main_only=main_only)
    return rows
