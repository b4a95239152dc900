"""Selecting examples by cluster: pure NumPy, arrays in, indices out.

The input is one cluster label per example (``-1`` = noise, as DBSCAN writes it), optionally
restricted to ``candidates`` (the row positions that may be drawn: the pool left by ``drop_hard``,
``where`` filters and earlier parts), and a *within-cluster order*: a per-example sort key, taken in
ascending order (the distance to the centroid for "nearest first", ``-variability`` for "most
ambiguous first"), or a seeded random order when no key is given. Modes:

* ``whole``: whole clusters, one after the other in cluster order (largest first, or random),
  as long as the next one fits in the budget; then the remainder is filled from the next cluster
  (its first members in the within-cluster order), so exactly ``budget`` examples are taken.
* ``first-k``: every member of the first ``k`` clusters in cluster order.
* ``nearest-centroid``: the ``k`` members nearest each centroid (``within`` = distances); or,
  with a ``budget`` instead, rounds of the nearest remaining member of every cluster (the nearest
  of each cluster, then the second nearest, ...) until exactly ``budget`` are taken.
* ``round-robin``: one member from each cluster in turn (cluster order), in within-cluster order,
  until exactly ``budget`` are taken; a cluster that runs out is skipped.
* ``proportional``: ``budget`` split over the clusters in proportion to their sizes (largest
  remainder method, so the quotas sum to ``budget`` exactly), each cluster's quota taken in
  within-cluster order (random: a stratified random sample).
* ``s2l``: SmallToLarge's rule (Yang et al. 2024): clusters visited from the smallest to the
  largest (ties by cluster id), each taking ``floor(remaining budget / clusters left)`` members in
  within-cluster order (random: a uniform seeded sample); a cluster smaller than its share is taken
  whole and what it leaves carries to the larger ones, so exactly ``budget`` are taken.

Sizes are counted among the candidates ("whole" means every candidate of the cluster). Noise
(label ``-1``) is never merged into a cluster: it is a group of its own in the modes that draw from
every group (``round-robin``, ``proportional``) and is left out of the modes built on clusters as
units or on centroids (``whole``, ``first-k``, ``nearest-centroid``); ``s2l`` treats noise as a group too. A budget larger than what can
be drawn raises ``ValueError``: the size asked for is the size delivered.

:class:`ClusterSpec` and :func:`take_cluster_part` connect this to
:func:`datamap.core.selection.select` (the ``cluster`` part of a recipe), which reads the labels
from a ``cluster`` column and the distances from a ``cluster_distance`` column of the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from datamap.core.checks import COUNT_TOL, InputError, fraction_count

NOISE = -1
MODES = ("whole", "first-k", "nearest-centroid", "round-robin", "proportional", "s2l")
ORDERS = ("largest", "random")
#: within-cluster orders by name; the region names rank as in :data:`datamap.core.selection.REGION_RANKINGS`
RANKS = ("random", "nearest", "ambiguous", "easy", "hard", "top:COLUMN", "bottom:COLUMN")
#: the columns of the selection table that the cluster part reads
LABEL_COLUMN, DISTANCE_COLUMN = "cluster", "cluster_distance"
_TOL = COUNT_TOL


# ---------------------------------------------------------------------------------------------
# building blocks


def within_order(candidates: np.ndarray, *, key: np.ndarray | None = None, rng: Any = None) -> np.ndarray:
    """``candidates`` reordered by ascending ``key[candidates]`` (stable: ties by position, NaN
    last), or in a random order drawn from ``rng`` (a seed or ``numpy.random.Generator``) when
    ``key`` is None."""
    candidates = np.asarray(candidates, dtype=np.int64)
    if key is None:
        return np.random.default_rng(rng).permutation(candidates)
    values = np.asarray(key, dtype=np.float64)[candidates]
    return candidates[np.argsort(values, kind="stable")]


def cluster_members(labels: np.ndarray, ordered: np.ndarray, *, include_noise: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group the positions ``ordered`` by their label, keeping their order within each group.

    Returns ``(cluster ids ascending, [members of each])``; noise (``-1``) is dropped unless
    ``include_noise``.
    """
    lab = np.asarray(labels)[ordered]
    if not include_noise:
        keep = lab != NOISE
        ordered, lab = ordered[keep], lab[keep]
    by_label = np.argsort(lab, kind="stable")
    ids, starts = np.unique(lab[by_label], return_index=True)
    return ids.astype(np.int64), np.split(ordered[by_label], starts[1:]) if len(ids) else []


def order_clusters(ids: np.ndarray, sizes: np.ndarray, *, order: str, rng: Any = None) -> np.ndarray:
    """Positions into ``ids`` in cluster order: ``"largest"`` (size descending, ties by id) or
    ``"random"`` (a permutation drawn from ``rng``)."""
    if order == "largest":
        return np.lexsort((np.asarray(ids), -np.asarray(sizes)))
    if order == "random":
        return np.random.default_rng(rng).permutation(len(ids))
    raise InputError(f"cluster order {order!r}: choose one of {', '.join(ORDERS)}")


def proportional_quotas(sizes: np.ndarray, *, budget: int) -> np.ndarray:
    """Split ``budget`` over groups of ``sizes`` in proportion (largest remainder method).

    The quotas sum to ``budget`` exactly and never exceed a group's size; remainders are given to
    the largest fractional parts first (ties: the larger group, then the earlier one).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    if budget > total:
        raise InputError(f"budget {budget} is larger than the {total} examples available")
    if total == 0:
        return np.zeros_like(sizes)
    exact = sizes * (budget / total)
    quotas = np.floor(exact + _TOL).astype(np.int64)
    rest = budget - int(quotas.sum())
    if rest > 0:
        frac = np.where(quotas < sizes, exact - quotas, -1.0)
        order = np.lexsort((np.arange(len(sizes)), -sizes, -frac))
        quotas[order[:rest]] += 1
    return quotas


def s2l_quotas(sizes: np.ndarray, *, budget: int, ids: np.ndarray | None = None) -> np.ndarray:
    """Quotas of SmallToLarge (see the module docstring): groups visited by ascending size (ties by
    ``ids``, default position), each gets ``min(size, floor(left / groups left))``; they sum to
    ``budget`` (``InputError`` when ``budget`` exceeds the sizes' total)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if budget > int(sizes.sum()):
        raise InputError(f"budget {budget} is larger than the {int(sizes.sum())} examples available")
    ids = np.arange(len(sizes)) if ids is None else np.asarray(ids)
    quotas = np.zeros_like(sizes)
    left = int(budget)
    visit = np.lexsort((ids, sizes))
    for j, g in enumerate(visit):
        quotas[g] = min(int(sizes[g]), left // (len(visit) - j))
        left -= int(quotas[g])
    return quotas


def _rounds(groups: list[np.ndarray], budget: int) -> np.ndarray:
    """Rounds over ``groups`` (in the given order): the first member of each, then the second, ..."""
    if not groups:
        return np.empty(0, dtype=np.int64)
    members = np.concatenate(groups)
    rank = np.concatenate([np.arange(len(g)) for g in groups])
    group = np.concatenate([np.full(len(g), j) for j, g in enumerate(groups)])
    return members[np.lexsort((group, rank))[:budget]]


def centroid_distances(x: np.ndarray, labels: np.ndarray, centroids: np.ndarray, *, chunk: int = 65536) -> np.ndarray:
    """Euclidean distance of each row of ``x`` to the centroid of its cluster (float64; NaN for noise).

    ``centroids[c]`` is cluster ``c``'s centroid (labels are 0..C-1, ``-1`` = noise). Computed in
    chunks of ``chunk`` rows (memory O(chunk x dim)).
    """
    x = np.asarray(x)
    labels = np.asarray(labels)
    centroids = np.asarray(centroids, dtype=np.float32)
    if x.ndim != 2 or labels.shape != (len(x),) or centroids.ndim != 2 or centroids.shape[1] != x.shape[1]:
        raise InputError(f"shapes do not agree: x {x.shape}, labels {labels.shape}, centroids {centroids.shape}")
    if len(labels) and labels.max() >= len(centroids):
        raise InputError(f"label {labels.max()} has no centroid ({len(centroids)} centroids)")
    out = np.full(len(x), np.nan)
    for start in range(0, len(x), chunk):
        lab = labels[start : start + chunk]
        ok = lab != NOISE
        diff = x[start : start + chunk][ok].astype(np.float32) - centroids[lab[ok]]
        out[start : start + chunk][ok] = np.sqrt(np.einsum("ij,ij->i", diff, diff, dtype=np.float64))
    return out


# ---------------------------------------------------------------------------------------------
# the modes


def cluster_select(
    labels: np.ndarray,
    *,
    mode: str,
    budget: int | None = None,
    k: int | None = None,
    candidates: np.ndarray | None = None,
    within: np.ndarray | None = None,
    order: str = "largest",
    rng: Any = None,
) -> np.ndarray:
    """Row positions chosen by cluster (see the module docstring for the modes).

    Parameters
    ----------
    labels : array of int, shape (N,)
        Cluster label per example; ``-1`` is noise.
    mode : str
        ``"whole"``, ``"first-k"``, ``"nearest-centroid"``, ``"round-robin"``, ``"proportional"`` or ``"s2l"``.
    budget : int or None, default None
        How many examples to take (``whole``, ``round-robin``, ``proportional``, and
        ``nearest-centroid`` in rounds). Exactly this many are returned, or ``ValueError``.
    k : int or None, default None
        ``first-k``: how many clusters; ``nearest-centroid``: how many per cluster (every cluster
        must have ``k`` candidates).
    candidates : array of int or None, default None
        Row positions that may be drawn (default: all).
    within : array of float, shape (N,), or None, default None
        Within-cluster sort key, ascending (distances for nearest first, ``-score`` for largest
        score first). ``None``: a random order (seeded by ``rng``). Required by
        ``nearest-centroid`` (the distances to the centroid).
    order : str, default "largest"
        Cluster order for ``whole``, ``first-k`` and ``round-robin``: ``"largest"`` first (by
        candidates per cluster, ties by cluster id) or ``"random"``.
    rng : int, numpy.random.Generator or None, default None
        Seed or generator of the random orders; same seed, same result.

    Returns
    -------
    np.ndarray of int64
        Row positions in selection order (cluster by cluster for ``whole``/``first-k``/
        ``proportional``, round by round for ``round-robin``/``nearest-centroid``).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer)):
        raise InputError(f"cluster labels must be a 1-d integer array, got {labels.dtype} with shape {labels.shape}")
    n = len(labels)
    if mode not in MODES:
        raise InputError(f"cluster mode {mode!r}: choose one of {', '.join(MODES)}")
    if order not in ORDERS:
        raise InputError(f"cluster order {order!r}: choose one of {', '.join(ORDERS)}")
    _check_budget_k(mode, budget, k)
    if within is not None and np.asarray(within).shape != (n,):
        raise InputError(f"within-cluster key has shape {np.asarray(within).shape}, expected ({n},)")
    if mode == "nearest-centroid" and within is None:
        raise InputError("nearest-centroid needs the distances to the centroids")
    rng = np.random.default_rng(rng)
    pool = np.arange(n, dtype=np.int64) if candidates is None else np.unique(np.asarray(candidates, dtype=np.int64))
    if len(pool) and (pool[0] < 0 or pool[-1] >= n):
        raise InputError(f"candidates must be row positions in [0, {n})")

    noise_group = mode in ("round-robin", "proportional", "s2l")
    ids, groups = cluster_members(labels, within_order(pool, key=within, rng=rng), include_noise=noise_group)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    available = int(sizes.sum())
    what = "candidates" if noise_group else "candidates in clusters (noise left out)"
    if budget is not None and budget > available:
        raise InputError(f"{mode}: asked for {budget} examples but only {available} {what} are left")

    if mode == "s2l":
        quotas = s2l_quotas(sizes, budget=int(budget), ids=ids)
        visit = np.lexsort((ids, sizes))
        return _cat([groups[j][: quotas[j]] for j in visit])
    if mode == "proportional":
        quotas = proportional_quotas(sizes, budget=int(budget))
        picked = [g[:q] for g, q in zip(groups, quotas)]
        return _cat(picked)
    if mode == "nearest-centroid":
        if k is not None:
            small = np.flatnonzero(sizes < k)
            if len(small):
                j = small[0]
                raise InputError(
                    f"nearest-centroid: cluster {ids[j]} has {sizes[j]} candidates, fewer than k={k}"
                    f" ({len(small)} such clusters); ask for a budget instead (rounds over the clusters)"
                )
            return _cat([g[:k] for g in groups])
        return _rounds(groups, int(budget))

    seq = order_clusters(ids, sizes, order=order, rng=rng)
    ordered = [groups[j] for j in seq]
    if mode == "round-robin":
        return _rounds(ordered, int(budget))
    if mode == "first-k":
        if k > len(ordered):
            raise InputError(f"first-k: asked for {k} clusters but the candidates fall in {len(ordered)} clusters (noise left out)")
        return _cat(ordered[:k])
    # whole: whole clusters while they fit, then fill the remainder from the next one
    picked, left = [], int(budget)
    for g in ordered:
        if left == 0:
            break
        take = g if len(g) <= left else g[:left]
        picked.append(take)
        left -= len(take)
    return _cat(picked)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)


def _check_budget_k(mode: str, budget: Any, k: Any) -> None:
    for name, v in (("budget", budget), ("k", k)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0):
            raise InputError(f"cluster {name} must be a whole number >= 0, got {v!r}")
    if k is not None and k < 1:
        raise InputError(f"cluster k must be at least 1, got {k}")
    if mode == "first-k":
        if k is None or budget is not None:
            raise InputError("first-k takes k (the number of clusters) and no budget")
    elif mode == "nearest-centroid":
        if (k is None) == (budget is None):
            raise InputError("nearest-centroid takes either k (examples per cluster) or a budget (examples in all)")
    elif budget is None or k is not None:
        raise InputError(f"{mode} takes a budget (how many examples) and no k")


# ---------------------------------------------------------------------------------------------
# the cluster part of a selection recipe


@dataclass
class ClusterSpec:
    """The cluster part of a :class:`datamap.core.selection.Recipe`.

    Parameters
    ----------
    mode : str
        One of :data:`MODES`.
    budget : float, int or None, default None
        A ``float`` is a fraction in [0, 1] of the whole table (``floor(f * N)``, per class with
        ``stratify``), an ``int`` a count.
    k : int or None, default None
        ``first-k``: the number of clusters; ``nearest-centroid``: examples per cluster.
    order : str, default "largest"
        Cluster order (``"largest"`` or ``"random"``) for ``whole``, ``first-k``, ``round-robin``.
    rank : str or None, default None
        Order within a cluster: ``"random"`` (seeded), ``"nearest"`` (distance to the centroid),
        ``"ambiguous"`` (highest variability first), ``"easy"`` (highest confidence first),
        ``"hard"`` (lowest confidence first), ``"top:COLUMN"`` / ``"bottom:COLUMN"`` (any numeric
        column). ``None``: ``"nearest"`` for ``nearest-centroid`` (the only one it takes), else
        ``"random"``.
    """

    mode: str
    budget: float | int | None = None
    k: int | None = None
    order: str = "largest"
    rank: str | None = None

    def rank_name(self) -> str:
        return self.rank or ("nearest" if self.mode == "nearest-centroid" else "random")

    def validate(self, *, stratify: bool = False) -> None:
        """Raise ``ValueError`` (one line) if the spec is inconsistent."""
        if self.mode not in MODES:
            raise InputError(f"cluster mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.order not in ORDERS:
            raise InputError(f"cluster order {self.order!r}: choose one of {', '.join(ORDERS)}")
        budget = self.budget
        if isinstance(budget, (float, np.floating)):
            if not 0.0 <= float(budget) <= 1.0:
                raise InputError(f"cluster budget {budget!r}: a fraction must be in [0, 1] (or give a count)")
            budget = 0
        elif budget is not None and stratify:
            raise InputError(f"stratify needs the cluster budget as a fraction, not a count ({budget})")
        _check_budget_k(self.mode, budget, self.k)
        if stratify and self.k is not None:
            raise InputError(f"{self.mode} with k does not combine with stratify; give a budget fraction")
        rank = self.rank_name()
        column = rank.partition(":")[2] if rank.startswith(("top:", "bottom:")) else ""
        if rank not in RANKS[:5] and not column:
            raise InputError(f"cluster rank {rank!r}: choose one of {', '.join(RANKS)}")
        if self.mode == "nearest-centroid" and rank != "nearest":
            raise InputError(f"nearest-centroid orders by distance; it takes no rank ({rank!r})")

    def within_key(self, cols: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """The ascending within-cluster sort key of :attr:`rank` from the table's columns."""
        from datamap.core.selection import REGION_RANKINGS  # (selection imports this module)

        rank = self.rank_name()
        if rank == "random":
            return None
        if rank == "nearest":
            column, largest = DISTANCE_COLUMN, False
        elif rank in REGION_RANKINGS:
            column, largest = REGION_RANKINGS[rank]
        else:
            end, _, column = rank.partition(":")
            largest = end == "top"
        if column not in cols:
            raise InputError(f"cluster rank {rank!r} needs column {column!r} (known: {', '.join(sorted(cols))})")
        values = np.asarray(cols[column])
        if not np.issubdtype(values.dtype, np.number):
            raise InputError(f"cluster rank {rank!r}: column {column!r} is not numeric")
        values = values.astype(np.float64)
        return -values if largest else values


def take_cluster_part(
    cols: Mapping[str, np.ndarray], candidates: np.ndarray, group_n: int, spec: ClusterSpec, rng: np.random.Generator
) -> np.ndarray:
    """Draw the cluster part of a recipe from ``candidates`` (see :func:`cluster_select`).

    ``cols`` is the selection table (it needs a ``cluster`` column, and ``cluster_distance`` for
    the nearest ranks); ``group_n`` is the size a budget fraction applies to (the whole table, or
    one gold class with ``stratify``).
    """

    if LABEL_COLUMN not in cols:
        raise InputError(f"cluster selection needs a {LABEL_COLUMN!r} column (the labels of a clusters file)")
    budget = spec.budget
    if isinstance(budget, (float, np.floating)):
        budget = fraction_count(budget, group_n)
    return cluster_select(
        np.asarray(cols[LABEL_COLUMN]).astype(np.int64), mode=spec.mode, budget=budget, k=spec.k,
        candidates=candidates, within=spec.within_key(cols), order=spec.order, rng=rng,
    )
