"""Per-example metrics of a causal-LM fine-tuning (sft) run, from its token-loss trajectories.

Pure NumPy, vectorised over (examples x record points). Inputs per example ``i`` and record point
``p`` (``datamap.io.store.SFTDynamics``): ``loss_sum[i, p]`` (summed token negative log-likelihood,
natural log, over the example's target tokens), ``n_tokens[i, p]`` (number of target tokens) and
``n_correct[i, p]`` (target tokens whose argmax equals the target). With ``p`` over the first
``burn_out`` points when given, else over all points (``P`` of them):

========================  ==================================================================
token_loss_p              ``loss_sum_p / n_tokens_p`` (mean token loss at point p)
prob_p                    ``exp(-token_loss_p)``: the geometric-mean token probability
acc_p                     ``n_correct_p / n_tokens_p``: token accuracy
exact_p                   ``n_correct_p == n_tokens_p``: every target token predicted
mean_loss                 mean over p of ``token_loss_p``
first_loss, last_loss     ``token_loss`` at the first and the last point used
loss_drop                 ``first_loss - last_loss``
confidence                mean over p of ``prob_p``
variability               population standard deviation (ddof 0) of ``prob_p``
correctness               mean over p of ``acc_p`` (the classifier's correctness, per token)
exact                     mean over p of ``exact_p`` (fraction of points with every token right)
forgetfulness             number of exact -> not-exact transitions between consecutive points;
                          ``inf`` if the example is never exact
threshold_closeness       ``c * (1 - c)`` with ``c`` the confidence
========================  ==================================================================

``n_tokens`` (the number of target tokens at the first point used) is returned as well. Every
figure is float64.
"""

from __future__ import annotations

import numpy as np

from datamap.core.checks import InputError, check_int

#: The metric columns of an sft run's ``metrics.parquet`` (after ``id`` and ``n_tokens``, before ``region``).
SFT_METRIC_COLUMNS = (
    "mean_loss",
    "first_loss",
    "last_loss",
    "loss_drop",
    "confidence",
    "variability",
    "correctness",
    "exact",
    "forgetfulness",
    "threshold_closeness",
)
#: The columns of an sft run's ``metrics.parquet``.
SFT_TABLE_COLUMNS = ("id", "n_tokens", *SFT_METRIC_COLUMNS, "region")


def _check(loss_sum, n_tokens, n_correct) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    loss_sum = np.asarray(loss_sum, dtype=np.float64)
    n_tokens = np.asarray(n_tokens)
    n_correct = np.asarray(n_correct)
    if loss_sum.ndim != 2 or loss_sum.shape[1] < 1:
        raise InputError(f"loss_sum must have shape (examples, points) with at least 1 point, got {loss_sum.shape}")
    for name, a in (("n_tokens", n_tokens), ("n_correct", n_correct)):
        if a.shape != loss_sum.shape:
            raise InputError(f"{name} must have the shape of loss_sum {loss_sum.shape}, got {a.shape}")
    if not np.isfinite(loss_sum).all():
        i, p = np.argwhere(~np.isfinite(loss_sum))[0]
        raise InputError(f"loss_sum at row {i}, point {p} is {loss_sum[i, p]}: not finite")
    if (n_tokens <= 0).any():
        i, p = np.argwhere(n_tokens <= 0)[0]
        raise InputError(f"n_tokens at row {i}, point {p} is {n_tokens[i, p]}: must be >= 1")
    if ((n_correct < 0) | (n_correct > n_tokens)).any():
        i, p = np.argwhere((n_correct < 0) | (n_correct > n_tokens))[0]
        raise InputError(f"n_correct at row {i}, point {p} is {n_correct[i, p]}: outside 0..n_tokens ({n_tokens[i, p]})")
    return loss_sum, n_tokens.astype(np.float64), n_correct.astype(np.float64)


def sft_metrics(loss_sum, n_tokens, n_correct, *, burn_out: int | None = None) -> dict[str, np.ndarray]:
    """Every metric of the module docstring for each example.

    Parameters
    ----------
    loss_sum : array of float, shape (N, P)
        Summed token NLL of example i at record point p.
    n_tokens, n_correct : arrays of int, shape (N, P)
        Target tokens, and those predicted correctly (argmax), of example i at point p.
    burn_out : int or None, default None
        Use only the first ``burn_out`` points (1..P); ``None``: all.

    Returns
    -------
    dict of str -> np.ndarray, shape (N,)
        ``n_tokens`` (int64) and the :data:`SFT_METRIC_COLUMNS` (float64).
    """
    loss_sum, tokens, correct = _check(loss_sum, n_tokens, n_correct)
    n_points = loss_sum.shape[1]
    if burn_out is not None:
        burn_out = check_int(burn_out, "burn_out", low=1, high=n_points)
        loss_sum, tokens, correct = loss_sum[:, :burn_out], tokens[:, :burn_out], correct[:, :burn_out]
    token_loss = loss_sum / tokens
    prob = np.exp(-token_loss)
    acc = correct / tokens
    exact_p = correct == tokens
    confidence = prob.mean(axis=1)
    ever = exact_p.any(axis=1)
    forgets = (exact_p[:, :-1] & ~exact_p[:, 1:]).sum(axis=1).astype(np.float64)
    return {
        "n_tokens": tokens[:, 0].astype(np.int64),
        "mean_loss": token_loss.mean(axis=1),
        "first_loss": token_loss[:, 0].copy(),
        "last_loss": token_loss[:, -1].copy(),
        "loss_drop": token_loss[:, 0] - token_loss[:, -1],
        "confidence": confidence,
        "variability": prob.std(axis=1),
        "correctness": acc.mean(axis=1),
        "exact": exact_p.mean(axis=1),
        "forgetfulness": np.where(ever, forgets, np.inf),
        "threshold_closeness": confidence * (1.0 - confidence),
    }


def trajectory_matrix(loss_sum, n_tokens, *, standardize: bool = False) -> np.ndarray:
    """The (N, P) token-loss trajectories ``loss_sum / n_tokens`` (float64), the vectors a trajectory
    clustering clusters; with ``standardize`` each point (column) is centred and scaled to unit
    population standard deviation (a constant column becomes 0)."""
    x = np.asarray(loss_sum, dtype=np.float64) / np.asarray(n_tokens, dtype=np.float64)
    if standardize:
        sd = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return x


def region_summary(region, mean_loss, correctness, exact) -> dict[str, dict[str, float]]:
    """Per region present (order easy, ambiguous, hard, none, then any other name): ``count`` and the means
    of ``mean_loss``, ``correctness`` (as ``token_accuracy``) and ``exact`` of its examples."""
    from datamap.core.regions import NONE, REGIONS

    region = np.asarray(region).astype(str)
    present = set(region.tolist())
    order = [r for r in (*REGIONS, NONE) if r in present] + sorted(present - {*REGIONS, NONE})
    cols = {"mean_loss": np.asarray(mean_loss, dtype=np.float64), "token_accuracy": np.asarray(correctness, dtype=np.float64),
            "exact": np.asarray(exact, dtype=np.float64)}
    out = {}
    for r in order:
        on = region == r
        out[r] = {"count": int(on.sum()), **{k: float(v[on].mean()) for k, v in cols.items()}}
    return out
