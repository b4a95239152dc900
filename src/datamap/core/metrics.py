"""Per-example training-dynamics metrics, vectorised over an (examples x epochs x classes) array.

Pure NumPy. Definitions (``p_e`` = softmax probability of the gold label at epoch ``e``; ``e``
ranges over the first ``burn_out`` epochs when given, else over all epochs):

========================  ==================================================================
confidence                mean of ``p_e`` (Swayamdipta et al. 2020)
variability               population standard deviation of ``p_e`` (ddof 0)
correctness               fraction of epochs whose argmax equals gold
forgetfulness             number of correct -> incorrect transitions between consecutive
                          epochs; ``inf`` if the example is never predicted correctly
threshold_closeness       ``c * (1 - c)`` with ``c`` the confidence
aum                       mean over epochs of (gold logit - largest other logit)
                          (Pleiss et al. 2020, area under the margin)
el2n                      mean over epochs of the L2 norm of (softmax - one-hot(gold))
                          (Paul et al. 2021)
entropy                   entropy (natural log) of the softmax at one epoch (the last used one
                          by default)
confidence_pred           mean over epochs of the largest class probability
pred                      argmax at the entropy epoch (the "prediction" shown on maps)
========================  ==================================================================
"""

from __future__ import annotations

import numpy as np

METRIC_COLUMNS = (
    "confidence",
    "variability",
    "correctness",
    "forgetfulness",
    "threshold_closeness",
    "aum",
    "el2n",
    "entropy",
    "confidence_pred",
)

_CHUNK = 1 << 17  # examples per block: keeps temporaries bounded (~30 MB at 20 epochs x 3 classes)


def _check(logits: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits)
    gold = np.asarray(gold)
    if logits.ndim != 3:
        raise ValueError(f"logits must have shape (examples, epochs, classes), got {logits.shape}")
    n, e, c = logits.shape
    if e < 1 or c < 2:
        raise ValueError(f"need at least 1 epoch and 2 classes, got shape {logits.shape}")
    if gold.shape != (n,):
        raise ValueError(f"gold must have shape ({n},), got {gold.shape}")
    if not np.issubdtype(gold.dtype, np.integer):
        raise ValueError(f"gold must hold integer class ids, got dtype {gold.dtype}")
    if n and (gold.min() < 0 or gold.max() >= c):
        bad = int(np.flatnonzero((gold < 0) | (gold >= c))[0])
        raise ValueError(f"gold label {int(gold[bad])} at row {bad} is outside [0, {c})")
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float32)
    return logits, gold.astype(np.int64, copy=False)


def compute_metrics(
    logits: np.ndarray,
    gold: np.ndarray,
    burn_out: int | None = None,
    entropy_epoch: int | None = None,
) -> dict[str, np.ndarray]:
    """Compute every metric for every example.

    Parameters
    ----------
    logits : array (N, E, C)
        Raw logits of N examples at E epochs (or checkpoints) over C classes.
    gold : int array (N,)
        Gold class id of each example.
    burn_out : int, optional
        Use only the first ``burn_out`` epochs (1 <= burn_out <= E). Default: all epochs.
    entropy_epoch : int, optional
        Epoch (0-based, within the used epochs; negative counts from the end) whose softmax
        gives ``entropy`` and ``pred``. Default: the last used epoch.

    Returns
    -------
    dict of column name -> array (N,): the columns of :data:`METRIC_COLUMNS` plus ``pred``.
    """
    logits, gold = _check(logits, gold)
    n, e_all, c = logits.shape
    if burn_out is not None:
        if not 1 <= int(burn_out) <= e_all:
            raise ValueError(f"burn_out must be between 1 and the number of epochs ({e_all}), got {burn_out}")
        e_all = int(burn_out)
    if entropy_epoch is None:
        entropy_epoch = e_all - 1
    if not -e_all <= entropy_epoch < e_all:
        raise ValueError(f"entropy_epoch {entropy_epoch} is outside the {e_all} epochs used")
    entropy_epoch %= e_all

    out = {name: np.empty(n, dtype=np.float64) for name in METRIC_COLUMNS}
    out["pred"] = np.empty(n, dtype=np.int64)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        _block(logits[start:stop, :e_all], gold[start:stop], entropy_epoch, out, slice(start, stop))
    return out


def _block(z: np.ndarray, g: np.ndarray, entropy_epoch: int, out: dict, sl: slice) -> None:
    # Work class-major: (C, m*e). NumPy reduces slowly over a short last axis, but fast
    # across a handful of contiguous rows, so every class-wise step is an elementwise op.
    dtype = np.float64 if z.dtype == np.float64 else np.float32
    m, e, c = z.shape
    size = m * e
    zt = np.ascontiguousarray(z.reshape(size, c).T, dtype=dtype)  # (c, size)
    gg = np.repeat(g, e)  # gold per (example, epoch)

    # argmax with first-index tie breaking, and the largest logit other than gold
    best = zt[0].copy()
    pred = np.zeros(size, dtype=np.int64)
    other = np.where(gg == 0, -np.inf, zt[0]).astype(dtype, copy=False)
    for k in range(1, c):
        row = zt[k]
        pred[row > best] = k
        np.maximum(best, row, out=best)
        np.maximum(other, np.where(gg == k, -np.inf, row), out=other)

    shifted = zt - best  # (c, size), <= 0
    expz = np.exp(shifted)
    denom = expz.sum(axis=0)
    flat = gg * size + np.arange(size)
    z_gold = zt.ravel()[flat]
    p_gold = expz.ravel()[flat] / denom
    sum_sq = np.square(expz).sum(axis=0) / np.square(denom)

    def per_example(x: np.ndarray) -> np.ndarray:
        return x.reshape(m, e).mean(axis=1, dtype=np.float64)

    p_gold_me = p_gold.reshape(m, e)
    conf = p_gold_me.mean(axis=1, dtype=np.float64)
    out["confidence"][sl] = conf
    out["variability"][sl] = p_gold_me.std(axis=1, dtype=np.float64)
    out["threshold_closeness"][sl] = conf * (1.0 - conf)
    out["confidence_pred"][sl] = per_example(1.0 / denom)  # max probability = exp(0) / denom

    correct = (pred == gg).reshape(m, e)
    out["correctness"][sl] = correct.mean(axis=1)
    forgot = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)
    forgot[~correct.any(axis=1)] = np.inf
    out["forgetfulness"][sl] = forgot

    out["aum"][sl] = per_example(z_gold - other)
    # ||p - onehot||^2 = sum p^2 - 2 p_gold + 1
    out["el2n"][sl] = per_example(np.sqrt(np.maximum(sum_sq - 2.0 * p_gold + 1.0, 0.0)))

    # entropy at one epoch from the log-softmax (exact even where probabilities underflow)
    at = np.arange(m) * e + entropy_epoch
    sh_t = shifted[:, at]  # (c, m)
    log_den = np.log(denom[at])
    p_t = np.exp(sh_t - log_den)
    out["entropy"][sl] = -(p_t * (sh_t - log_den)).sum(axis=0, dtype=np.float64)
    out["pred"][sl] = pred[at]
