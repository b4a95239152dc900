"""Per-epoch recording of per-example logits, on one process or several, into RUN/dynamics/epoch_{e}.parquet.

Logits stay on the device during the epoch (a list of detached tensors, no host sync per
step); at the epoch's end they are concatenated, gathered across processes once, and duplicates
(even batching repeats a few examples on some processes) are dropped by example index. The
recorded epoch goes to the main process only (``torch.distributed.gather`` to rank 0): the other
processes never hold a copy of the whole epoch.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch

from datamap.io.store import write_epoch_file


class EpochRecorder:
    def __init__(self):
        self._index: list[torch.Tensor] = []
        self._logits: list[torch.Tensor] = []

    def add(self, index: torch.Tensor, logits: torch.Tensor) -> None:
        """Keep one batch's (example index, logits); call before the optimizer step."""
        self._index.append(index.detach())
        self._logits.append(logits.detach().float())

    def __len__(self) -> int:
        return sum(len(i) for i in self._index)

    def collect(self, accelerator=None, n_examples: int | None = None,
                main_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Gather the epoch's records from every process; returns (index, logits) sorted by index.

        Each example index is kept once (its first occurrence). Clears the recorder. With
        ``n_examples`` given, checks that every example 0..n-1 was recorded. With ``main_only``
        (several processes), only the main process receives the records (a gather to rank 0, not an
        all-gather); the others get no rows (``(0,)`` and ``(0, C)``) and check nothing.
        """
        if self._index:
            index = torch.cat(self._index)
            logits = torch.cat(self._logits)
        else:
            index = torch.empty(0, dtype=torch.long)
            logits = torch.empty(0, 0)
        self._index.clear()
        self._logits.clear()
        if accelerator is not None and accelerator.num_processes > 1:
            index = index.to(accelerator.device)
            logits = logits.to(accelerator.device)
            # processes may hold different counts: pad with -1 indices, then drop them
            index = accelerator.pad_across_processes(index, dim=0, pad_index=-1)
            logits = accelerator.pad_across_processes(logits, dim=0, pad_index=0)
            if main_only:
                index = gather_to_main(accelerator, index)
                logits = gather_to_main(accelerator, logits)
                if not accelerator.is_main_process:
                    return index.cpu().numpy(), logits.cpu().numpy().astype(np.float32, copy=False)
            else:
                index = accelerator.gather(index)
                logits = accelerator.gather(logits)
        index_np = index.cpu().numpy()
        logits_np = logits.cpu().numpy().astype(np.float32, copy=False)
        valid = index_np >= 0
        index_np, logits_np = index_np[valid], logits_np[valid]
        uniq, first = np.unique(index_np, return_index=True)
        if n_examples is not None and len(uniq) != n_examples:
            missing = np.setdiff1d(np.arange(n_examples), uniq)
            raise RuntimeError(
                f"recorded {len(uniq)} of {n_examples} examples this epoch (first missing index {missing[:1].tolist()})"
            )
        return uniq, logits_np[first]


def gather_to_main(accelerator, tensor: torch.Tensor) -> torch.Tensor:
    """Every process's ``tensor`` (the same shape on each: pad first) concatenated along dim 0 on the main
    process (``torch.distributed.gather`` to rank 0); an empty slice of ``tensor`` on the others."""
    import torch.distributed as dist

    tensor = tensor.contiguous()
    if accelerator.is_main_process:
        parts = [torch.empty_like(tensor) for _ in range(accelerator.num_processes)]
        dist.gather(tensor, parts, dst=0)
        return torch.cat(parts)
    dist.gather(tensor, None, dst=0)
    return tensor[:0]


class DynamicsRecorder:
    """A run's recording: batches kept in flight, gathered once per epoch, each epoch written to its own file.

    Used by the training loop and the ``Trainer`` integration alike. Every finished epoch is on
    disk (``folder/epoch_{e}.parquet``, atomically) before the next one starts; joining them into
    ``dynamics.parquet`` is :func:`datamap.io.store.consolidate_epochs`, once training completes.

    Parameters
    ----------
    folder : path or None
        The run's per-epoch dynamics folder (``RUN/dynamics``); ``None`` on processes that do not
        write (all but the main one) and when nothing is recorded.
    ids : sequence of str
        Example id per training row (position = the batches' ``index``).
    gold : array of int
        Gold class per training row.
    """

    def __init__(self, folder: "str | os.PathLike | None", ids: Sequence[str], gold: np.ndarray):
        self.ids = np.asarray(ids, dtype=object)
        self.gold = np.asarray(gold)
        self._epoch = EpochRecorder()
        self.folder = folder

    def add(self, index: torch.Tensor, logits: torch.Tensor) -> None:
        """Keep one batch's (row index, logits) on the device; call before the optimizer step."""
        self._epoch.add(index, logits)

    def collect(self, accelerator=None, n_examples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """This epoch's (row index, logits), gathered from every process to the main one (the others get
        no rows; see :meth:`EpochRecorder.collect`)."""
        return self._epoch.collect(accelerator, n_examples=n_examples, main_only=True)

    def write(self, epoch: int, index: np.ndarray, logits: np.ndarray) -> None:
        """Write one epoch (rows ``index`` with their ``logits``) as its own file; a no-op on non-writing processes.

        Parameters
        ----------
        epoch : int
            0-based epoch.
        index : array of int
            Training rows (positions in ``ids``), one per row of ``logits``.
        logits : array (n, C) of float32
            The rows' logits.
        """
        if self.folder is not None:
            write_epoch_file(self.folder, epoch, self.ids[index], logits, self.gold[index])
