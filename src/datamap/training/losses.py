"""Classification losses on soft targets: cross-entropy and focal loss.

Both accept either hard targets (``(B,)`` class ids) or soft targets (``(B, C)`` rows summing to
1, e.g. mixup's ``λ·onehot(y_i) + (1 − λ)·onehot(y_j)``). They compute in float32 whatever the
autocast dtype of the logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from datamap.errors import DatamapError


def _soft(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    if targets.dim() == 1:
        return F.one_hot(targets.long(), num_classes).float()
    return targets.float()


def _reduce(per_row: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return per_row.sum()
    return per_row.mean() if per_row.numel() else per_row.sum()


def soft_cross_entropy(logits: torch.Tensor, soft_targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy against soft targets: ``-Σ_c t_c log softmax(logits)_c`` per row.

    Parameters
    ----------
    logits : Tensor (B, C)
    soft_targets : Tensor (B, C) of probabilities, or (B,) class ids (then equal to plain CE).
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"none"`` returns the (B,) per-row losses. The mean of an empty batch is 0.

    With mixup targets this equals ``λ·CE(y_i) + (1 − λ)·CE(y_j)``.
    """
    logp = F.log_softmax(logits.float(), dim=-1)
    per_row = -(_soft(soft_targets, logits.shape[-1]) * logp).sum(dim=-1)
    return _reduce(per_row, reduction)


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    alpha: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Focal loss (Lin et al. 2017), multi-class, on hard or soft targets.

    Per row: ``-Σ_c t_c · α · (1 − p_c)^γ · log p_c`` with ``p = softmax(logits)``.

    Parameters
    ----------
    logits : Tensor (B, C)
    targets : Tensor (B,) class ids or (B, C) soft targets.
    gamma : float, default 2.0
        Focusing parameter; ``gamma = 0`` and ``alpha = 1`` give cross-entropy.
    alpha : float, default 1.0
        A uniform weight on every class (the multi-class form; not a per-class balance).
    reduction : {"mean", "sum", "none"}, default "mean"
    """
    logp = F.log_softmax(logits.float(), dim=-1)
    weight = (1.0 - logp.exp()).clamp_min(0.0).pow(gamma)
    per_row = -(alpha * _soft(targets, logits.shape[-1]) * weight * logp).sum(dim=-1)
    return _reduce(per_row, reduction)


@dataclass(frozen=True)
class Loss:
    """A parsed ``--loss``: call it as ``loss(logits, targets, reduction="mean")``."""

    name: str = "ce"
    gamma: float = 0.0
    alpha: float = 1.0

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self.name == "focal":
            return focal_loss(logits, targets, self.gamma, self.alpha, reduction)
        return soft_cross_entropy(logits, targets, reduction)

    def __str__(self) -> str:
        return "ce" if self.name == "ce" else f"focal:{self.gamma:g},{self.alpha:g}"


def parse_loss(spec: "str | Loss | None") -> Loss:
    """Parse ``--loss``: ``ce`` (default) or ``focal:GAMMA[,ALPHA]`` (ALPHA defaults to 1).

    Parameters
    ----------
    spec : str, Loss or None
        e.g. ``"focal:2,0.25"``. ``None`` means ``"ce"``.
    """
    if isinstance(spec, Loss):
        return spec
    text = "ce" if spec is None else str(spec).strip()
    name, _, rest = text.partition(":")
    name = name.strip().lower()
    if name in ("ce", "cross-entropy") and not rest.strip():
        return Loss("ce")
    if name != "focal":
        raise DatamapError(f"--loss {text!r}: expected 'ce' or 'focal:GAMMA,ALPHA'")
    try:
        params = [float(p) for p in rest.split(",")] if rest.strip() else []
    except ValueError:
        raise DatamapError(f"--loss {text!r}: GAMMA and ALPHA must be numbers") from None
    if not 1 <= len(params) <= 2 or not all(math.isfinite(p) for p in params):
        raise DatamapError(f"--loss {text!r}: expected focal:GAMMA or focal:GAMMA,ALPHA")
    gamma, alpha = params[0], (params[1] if len(params) == 2 else 1.0)
    if gamma < 0 or alpha <= 0:
        raise DatamapError(f"--loss {text!r}: GAMMA must be >= 0 and ALPHA > 0")
    return Loss("focal", gamma, alpha)
