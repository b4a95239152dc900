"""``--compile``: ``torch.compile`` of the training forward pass, with length buckets that bound recompilation.

A compiled graph is specialised to its input shapes. Dynamic padding (each batch padded to its own
longest row) would give one graph per distinct length, so with ``--compile`` every training batch is
padded up to the next of a few bucket lengths (:func:`bucket_lengths`: multiples of 16 up to 64, then
96, 128, 192, 256, 384, 512, ..., and ``max_length`` itself). With full batches and the one shorter
last batch, a run compiles at most ``2 * len(buckets)`` graphs; the recompile limit is raised to fit.

What stays as in the eager run:

* recording: the compiled forward returns the batch's logits like the eager one; they are recorded in
  flight, before the optimizer step, from the same forward pass;
* dropout: inductor is told to draw random numbers with the eager kernels (``fallback_random``), so
  on the same padded shapes the dropout masks, and the dynamics, equal those of an eager run (fp32:
  within 1e-4 on CPU, tests/training/test_compile.py). The eager run pads each batch to its own
  longest row; padding changes the shapes that dropout draws for, so with dropout the two runs
  differ as runs with two different seeds would; a model without dropout gives the same dynamics;
* evaluation and ``--record epoch_end`` passes run the eager model (no extra graphs for eval mode).

Refused with one line where compilation cannot work: no TorchDynamo on this platform, no C++
compiler for the CPU backend, ``--mixup`` (its steps hook into the model's submodules), or the
model failing to compile at its first step.
"""

from __future__ import annotations

import logging
import shutil
from typing import Sequence

import torch

from datamap.errors import DatamapError

log = logging.getLogger(__name__)

FLAG = "--compile"


def bucket_lengths(max_length: int) -> list[int]:
    """The padded lengths a compiled run uses: a few buckets up to and including ``max_length``.

    >>> bucket_lengths(64)
    [16, 32, 48, 64]
    >>> bucket_lengths(100)
    [16, 32, 48, 64, 96, 100]
    """
    steps, b = [16, 32, 48, 64], 64
    while b < max_length:
        steps += [b * 3 // 2, b * 2]
        b *= 2
    return sorted({s for s in steps if s < max_length} | {int(max_length)})


def bucket_for(length: int, buckets: Sequence[int]) -> int:
    """The smallest bucket >= ``length`` (``length`` itself when it is longer than every bucket)."""
    for b in buckets:
        if b >= length:
            return b
    return length


def pad_batch(batch: dict, buckets: Sequence[int], pad_id: int) -> dict:
    """Pad the (B, L) token tensors of a collated batch on the right up to ``bucket_for(L)``.

    ``input_ids`` get ``pad_id``; ``attention_mask``, ``token_type_ids`` get 0. Other entries are kept.
    """
    ids = batch.get("input_ids")
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2:
        return batch
    extra = bucket_for(ids.shape[1], buckets) - ids.shape[1]
    if extra <= 0:
        return batch
    out = dict(batch)
    for key, value in (("input_ids", pad_id), ("attention_mask", 0), ("token_type_ids", 0)):
        t = batch.get(key)
        if isinstance(t, torch.Tensor) and t.ndim == 2:
            out[key] = torch.nn.functional.pad(t, (0, extra), value=value)
    return out


class BucketCollator:
    """A collator whose batches are padded up to a bucket length (see :func:`pad_batch`)."""

    def __init__(self, collate, buckets: Sequence[int], pad_id: int):
        self.collate, self.buckets, self.pad_id = collate, list(buckets), int(pad_id)

    @classmethod
    def for_length(cls, collate, max_length: int) -> "BucketCollator":
        """Buckets for inputs of at most ``max_length`` tokens; ``collate`` is a :class:`~datamap.training.batching.Collator`."""
        buckets = bucket_lengths(max_length)
        log.info("%s: batches padded to lengths %s", FLAG, buckets)
        return cls(collate, buckets, collate.pad_id)

    def __call__(self, items):
        return pad_batch(self.collate(items), self.buckets, self.pad_id)


def check_compile(mixup: bool = False) -> None:
    """Refuse ``--compile`` (one line) where it cannot work here, before any file is written."""
    if mixup:
        raise DatamapError(f"{FLAG}: not with --mixup (its steps hook into the model's submodules); drop one of them")
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        raise DatamapError(f"{FLAG}: torch.compile is not supported on this platform (torch {torch.__version__}); "
                           "run without it")
    if not torch.cuda.is_available() and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        raise DatamapError(f"{FLAG}: the CPU backend (inductor) needs a C++ compiler (g++ or clang++) on PATH; "
                           "install one or run without it")


def _graph_count() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


class CompiledForward:
    """The training forward pass, compiled; called like the model (``fwd(**inputs)``).

    ``_orig_mod`` is the eager model (what :func:`datamap.training.models.unwrap_model` finds), so
    the steps see the model's own class. A failure to compile at the first call is turned into a
    one-line :class:`DatamapError`.

    Parameters
    ----------
    model : torch.nn.Module
        The (Accelerate-prepared) model; its weights are shared, not copied.
    buckets : sequence of int
        The bucket lengths the batches are padded to (bounds the number of graphs).
    name : str
        The model's name, for messages.
    """

    def __init__(self, model: torch.nn.Module, buckets: Sequence[int], name: str = "model"):
        import torch._dynamo
        import torch._inductor.config as inductor_config

        inductor_config.fallback_random = True  # eager's dropout masks: compiled == eager on the same shapes
        limit = 2 * len(buckets) + 2  # full batches and the last, shorter one, per bucket
        for key in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, key):
                setattr(torch._dynamo.config, key, max(getattr(torch._dynamo.config, key), limit))
        self._orig_mod = model
        self.name = name
        self.buckets = buckets  # for the run's closing message
        self._graphs0 = _graph_count()
        self._compiled = torch.compile(model, dynamic=False)
        self._checked = False

    def __call__(self, **inputs):
        if self._checked:
            return self._compiled(**inputs)
        try:
            out = self._compiled(**inputs)
        except Exception as exc:  # compile errors surface at the first call
            from torch._dynamo.exc import TorchDynamoException

            if not isinstance(exc, TorchDynamoException):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatamapError(f"{FLAG}: model '{self.name}' cannot be compiled ({first}); run without {FLAG}") from None
        self._checked = True
        return out

    @property
    def graphs(self) -> int:
        """Graphs compiled so far for this run (TorchDynamo's count of unique graphs)."""
        return _graph_count() - self._graphs0
