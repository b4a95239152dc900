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

Precision. float32 logits are computed in float32 (float64 ones in float64) and every mean in
float64. Nothing close to 1 is subtracted from 1: ``1 - p_e`` is the sum of the other classes'
probabilities, EL2N is ``sqrt(sum_{c != gold} p_c^2 + (1 - p_e)^2)``, ``threshold_closeness`` is
``c`` times the mean of ``1 - p_e``, and ``variability`` is the standard deviation of ``1 - p_e``
when ``c > 0.5`` (of ``p_e`` otherwise; the two are equal, the smaller one is the exact one). AUM
takes each margin exactly (float64) before averaging, and entropy uses the float64
log-softmax of :mod:`datamap.core.probs`. With float32 logits every metric is then within 1e-6
relative of an exact computation for gold probabilities up to ``1 - 1e-7`` (logit gaps up to 16).
"""

from __future__ import annotations

import numpy as np

from datamap.core.checks import InputError, check_int
from datamap.core.probs import log_softmax

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

#: The columns of ``metrics.parquet`` (``datamap metrics``), what selection filters (``where``) can name;
#: ``select`` adds ``label_issue`` (with ``label_issues.parquet``) and ``cluster``/``cluster_distance``
#: (with a clusters file).
TABLE_COLUMNS = ("id", "gold", "pred", *METRIC_COLUMNS, "region")
JOINED_COLUMNS = ("label_issue", "cluster", "cluster_distance")

_CHUNK = 1 << 17  # examples per block: keeps temporaries bounded (~30 MB at 20 epochs x 3 classes)


def _check(logits: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits)
    gold = np.asarray(gold)
    if logits.ndim != 3:
        raise InputError(f"logits must have shape (examples, epochs, classes), got {logits.shape}")
    n, e, c = logits.shape
    if e < 1 or c < 2:
        raise InputError(f"need at least 1 epoch and 2 classes, got shape {logits.shape}")
    if gold.shape != (n,):
        raise InputError(f"gold must have shape ({n},), got {gold.shape}")
    if not np.issubdtype(gold.dtype, np.integer):
        raise InputError(f"gold must hold integer class ids, got dtype {gold.dtype}")
    if n and (gold.min() < 0 or gold.max() >= c):
        bad = int(np.flatnonzero((gold < 0) | (gold >= c))[0])
        raise InputError(f"gold label {int(gold[bad])} at row {bad} is outside [0, {c})")
    if not np.issubdtype(logits.dtype, np.floating):
        logits = logits.astype(np.float32)
    return logits, gold.astype(np.int64, copy=False)


def compute_metrics(
    logits: np.ndarray,
    gold: np.ndarray,
    *,
    burn_out: int | None = None,
    entropy_epoch: int | None = None,
) -> dict[str, np.ndarray]:
    """Compute every metric of :data:`METRIC_COLUMNS` (and ``pred``) for every example.

    Parameters
    ----------
    logits : array of float, shape (N, E, C)
        Raw logits of N examples at E >= 1 epochs (or checkpoints, in training order) over
        C >= 2 classes. float32 is computed in float32, float64 in float64, integers as float32.
    gold : array of int, shape (N,)
        Gold class id of each example, in ``[0, C)``.
    burn_out : int or None, default None
        Use only the first ``burn_out`` epochs, ``1 <= burn_out <= E``; ``None`` uses all ``E``.
    entropy_epoch : int or None, default None
        The epoch whose softmax gives ``entropy`` and ``pred``: 0-based within the epochs used
        (``U`` = ``burn_out`` or ``E``), negative counts from the end, ``-U <= entropy_epoch < U``;
        ``None`` is the last epoch used.

    Returns
    -------
    dict of str -> np.ndarray, shape (N,)
        The float64 columns of :data:`METRIC_COLUMNS` (definitions in the module docstring) and
        ``pred`` (int64, the argmax at ``entropy_epoch``).

    Raises
    ------
    ValueError
        If the shapes or gold ids do not fit, or ``burn_out`` / ``entropy_epoch`` is out of range.
    """
    logits, gold = _check(logits, gold)
    n, e_all, c = logits.shape
    if burn_out is not None:
        e_all = check_int(burn_out, "burn_out", low=1, high=e_all)
    if entropy_epoch is None:
        entropy_epoch = e_all - 1
    entropy_epoch = check_int(entropy_epoch, "entropy_epoch", low=-e_all, high=e_all - 1) % e_all

    out = {name: np.empty(n, dtype=np.float64) for name in METRIC_COLUMNS}
    out["pred"] = np.empty(n, dtype=np.int64)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        _block(logits[start:stop, :e_all], gold[start:stop], entropy_epoch, out, slice(start, stop))
    return out


def _block(z: np.ndarray, g: np.ndarray, entropy_epoch: int, out: dict, sl: slice) -> None:
    # Work class-major: (C, m*e). NumPy reduces slowly over a short last axis, but fast
    # across a handful of contiguous rows, so every class-wise step is an elementwise op.
    # Selections use arithmetic, or masks on the gold class (runs of e equal values): a masked
    # store on a random mask is several times slower. Buffers are reused (out=) because fresh
    # large temporaries cost page faults.
    dtype = np.float64 if z.dtype == np.float64 else np.float32
    m, e, c = z.shape
    size = m * e
    zt = np.array(z.reshape(size, c).T, dtype=dtype, order="C")  # (c, size), a copy: worked in place
    ids = np.min_scalar_type(-c)  # the smallest signed integer type that holds the class ids
    gg = np.repeat(g.astype(ids), e)  # gold per (example, epoch)
    at = np.arange(m) * e + entropy_epoch
    z_at = zt[:, at]  # (c, m) the logits at the entropy epoch

    # argmax with first-index tie breaking and the gold logit; then zt holds each class's
    # logits with the gold entries left out (-inf)
    best = zt[0].copy()
    pred = np.zeros(size, dtype=ids)
    z_gold = np.empty(size, dtype=dtype)
    for k in range(c):
        row, is_gold = zt[k], gg == k
        if k:
            pred += (row > best) * (k - pred)  # = np.where(row > best, k, pred)
            np.maximum(best, row, out=best)
        np.copyto(z_gold, row, where=is_gold)
        np.copyto(row, -np.inf, where=is_gold)
    other = zt.max(axis=0)  # the largest logit other than gold

    # Probabilities relative to the largest logit (no overflow). No quantity near 1 is ever
    # subtracted from 1: with ``e_k = exp(z_k - max z)``, ``e_gold`` and ``rest`` (the sum of
    # ``e_k`` over the classes other than gold) are both sums of positive terms, so
    # p_gold = e_gold / (e_gold + rest) and 1 - p_gold = rest / (e_gold + rest) are each
    # accurate to a few ulps, even for p_gold within 1e-7 of 1 in float32.
    e_gold = np.exp(np.subtract(z_gold, best))
    np.exp(np.subtract(zt, best, out=zt), out=zt)  # e_k, 0 at gold
    rest = zt.sum(axis=0)
    rest_sq = np.square(zt, out=zt).sum(axis=0)
    inv_denom = np.divide(1.0, np.add(e_gold, rest, out=zt[0]), out=zt[0])  # zt is scratch now
    p_gold = np.multiply(e_gold, inv_denom, out=e_gold)
    q_gold = np.multiply(rest, inv_denom, out=rest)  # 1 - p_gold
    # ||p - onehot(gold)||^2 = sum_{c != gold} p_c^2 + (1 - p_gold)^2
    rest_sq *= np.square(inv_denom, out=zt[1])
    rest_sq += np.square(q_gold, out=zt[1])
    el2n = np.sqrt(rest_sq, out=rest_sq)

    def per_example(x: np.ndarray) -> np.ndarray:
        return x.reshape(m, e).mean(axis=1, dtype=np.float64)

    conf = per_example(p_gold)
    comp = per_example(q_gold)  # 1 - confidence, without the subtraction
    out["confidence"][sl] = conf
    out["threshold_closeness"][sl] = conf * comp
    out["confidence_pred"][sl] = per_example(inv_denom)  # max probability = exp(0) / denom
    out["el2n"][sl] = per_example(el2n)

    buf = np.subtract(z_gold, other, dtype=np.float64).reshape(m, e)  # margins, exact
    out["aum"][sl] = buf.mean(axis=1)
    # std(p_gold) = std(1 - p_gold): take it over whichever of the two is small (and so exact)
    np.copyto(buf, p_gold.reshape(m, e))
    np.copyto(buf, q_gold.reshape(m, e), where=(conf > 0.5)[:, None])
    buf -= buf.mean(axis=1, keepdims=True)
    out["variability"][sl] = np.sqrt(np.square(buf, out=buf).mean(axis=1))  # = np.std, fewer copies

    correct = (pred == gg).reshape(m, e)
    out["correctness"][sl] = correct.mean(axis=1)
    forgot = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)
    forgot[~correct.any(axis=1)] = np.inf
    out["forgetfulness"][sl] = forgot

    # entropy at one epoch, from the float64 log-softmax (exact where probabilities underflow)
    log_p = log_softmax(z_at, axis=0)  # (c, m)
    out["entropy"][sl] = -(np.exp(log_p) * log_p).sum(axis=0)
    out["pred"][sl] = pred[at]
