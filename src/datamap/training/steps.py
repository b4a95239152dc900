"""Training steps: what one batch contributes to the loss, and the clean logits the recorder keeps.

A step is called as ``loss, clean_logits = step(model, batch, epoch)``; ``clean_logits`` (B, C) are
the batch's own (unmixed) logits, detached. :func:`build_step` picks the step a config asks for:

* :class:`StandardStep`: cross-entropy (or ``--loss focal:...``), optionally leaving the
  hard-to-learn region of an earlier run out of the loss (``--drop-hard``);
* :class:`datamap.training.mixup.MixupStrategy`: mixup at one of three sites, with any pairing.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from datamap.core.pairing import keep_mask
from datamap.training.losses import Loss, parse_loss
from datamap.training.models import model_inputs


def zero_loss(logits: torch.Tensor) -> torch.Tensor:
    """A zero loss that still depends on ``logits`` (a batch whose rows are all left out)."""
    return logits.float().sum() * 0.0


class StandardStep:
    """The default step: ``loss(model(**inputs).logits, labels)``.

    Parameters
    ----------
    loss : str or Loss, default "ce"
        ``"ce"`` or ``"focal:GAMMA,ALPHA"`` (see :func:`datamap.training.losses.parse_loss`).
    keep : array of bool or None, default None
        Indexed by the batch's ``index`` (data.parquet row): rows marked False (``--drop-hard``)
        get no loss; their logits are still returned so the data map stays complete.
    fused_ce : bool, default False
        With ``loss="ce"`` and no ``keep``, compute the loss with PyTorch's ``cross_entropy`` on
        the class ids (the plain step) rather than the soft-target form (equal up to rounding).
    weights : array of float or None, default None
        Indexed like ``keep`` (``--weights``): the batch's loss is ``sum(w_i * loss_i) / sum(w_i)``
        over its rows (0 when every weight of the batch is 0); with ``keep``, dropped rows weigh 0.

    Call as ``loss, clean_logits = step(model, batch, epoch)``; ``clean_logits`` is detached.
    """

    def __init__(self, loss: "str | Loss" = "ce", keep: np.ndarray | None = None, fused_ce: bool = False,
                 weights: np.ndarray | None = None):
        self.loss = parse_loss(loss)
        self.keep = None if keep is None else np.asarray(keep, dtype=bool)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        if self.weights is not None and self.keep is not None:
            self.weights, self.keep = self.weights * self.keep, None
        self.fused_ce = bool(fused_ce) and self.keep is None and self.weights is None and self.loss.name == "ce"
        self._device_weights: torch.Tensor | None = None  # the weights on the batch's device, made once

    def _weights_on(self, device: torch.device) -> torch.Tensor:
        if self._device_weights is None or self._device_weights.device != device:
            self._device_weights = torch.as_tensor(self.weights, dtype=torch.float32, device=device)
        return self._device_weights

    def on_epoch_start(self, epoch: int) -> None:
        """Nothing to do for the standard step (kept for the loop's uniform interface)."""

    def _kept_rows(self, batch: dict) -> torch.Tensor:
        labels = batch["labels"]
        if self.keep is None:
            return torch.arange(len(labels), device=labels.device)
        rows = np.flatnonzero(self.keep[batch["index"].cpu().numpy()])
        return torch.as_tensor(rows, device=labels.device)

    def __call__(self, model: torch.nn.Module, batch: dict, epoch: int):
        logits = model(**model_inputs(model, batch)).logits
        if self.fused_ce:
            return F.cross_entropy(logits.float(), batch["labels"]), logits.detach()
        if self.weights is not None:  # indexed on the device: no host sync per step
            w = self._weights_on(logits.device)[batch["index"]]
            per_row = self.loss(logits, batch["labels"], reduction="none").float()
            # sum(w * loss) / sum(w); 0 (still depending on the logits) when every weight of the batch is 0
            return (per_row * w).sum() / w.sum().clamp_min(torch.finfo(w.dtype).tiny), logits.detach()
        rows = self._kept_rows(batch)
        loss = self.loss(logits[rows], batch["labels"][rows]) if len(rows) else zero_loss(logits)
        return loss, logits.detach()


def build_step(
    cfg,
    train_examples: Sequence[dict] | None = None,
    collate: Callable[[list], dict] | None = None,
    dynamics: dict | None = None,
    weights: np.ndarray | None = None,
) -> StandardStep:
    """The step a training config asks for.

    Parameters
    ----------
    cfg : datamap.training.config.TrainConfig
        Reads ``loss``, ``drop_hard``, ``seed`` and ``mixup`` (a
        :class:`~datamap.training.config.MixupConfig`, or None for the standard step).
    train_examples, collate
        The tokenized training set and its padding function (dataset-level mixup pairings).
    dynamics : dict, optional
        ``region`` and ``entropy`` per data.parquet row of an earlier run
        (:func:`datamap.io.rundir.read_regions`); needed by ``drop_hard`` and the
        training-dynamics pairings.
    weights : array of float, optional
        Per-example loss weights in data.parquet row order (``--weights``; standard step only).
    """
    regions = None if dynamics is None else np.asarray(dynamics["region"], dtype=object)
    entropy = None if dynamics is None else np.asarray(dynamics["entropy"], dtype=np.float64)
    if cfg.mixup is None:
        keep = keep_mask(regions) if cfg.drop_hard else None  # the config refuses drop_hard without dynamics_from
        return StandardStep(cfg.loss, keep=keep, fused_ce=keep is None, weights=weights)
    from datamap.training.mixup import MixupStrategy

    return MixupStrategy(
        cfg.mixup,
        train_examples=train_examples,
        collate=collate,
        regions=regions,
        entropy=entropy,
        drop_hard=cfg.drop_hard,
        seed=cfg.seed,
        loss=cfg.loss,
    )
