"""Mixup pairing rules and mixing-coefficient (λ) samplers. Pure NumPy.

Every pairing rule returns a ``partner`` array: ``partner[i]`` is the position (in the same
arrays) of the example mixed with example ``i``. Each example is the *first member* of exactly one
synthetic example, so every kept example is used once per pairing round, and the number of
synthetic examples equals the number of examples paired. The synthetic example for ``i`` is
``λ·x_i + (1 − λ)·x_partner[i]`` with soft target ``λ·onehot(y_i) + (1 − λ)·onehot(y_partner[i])``.

How each rule treats odd counts and singletons (nothing is ever left out):

``reverse``         ``partner[i] = n − 1 − i`` (the batch flipped). With ``n`` odd the middle
                    example is its own partner: its synthetic example is an unmixed copy.
``random``          a uniformly random permutation (classic mixup's ``randperm``); a fixed point
                    likewise gives an unmixed copy.
``same-label``      within each label a random cyclic shift of a shuffled group, so no example is
                    paired with itself unless its label has a single example in the set (then it is
                    its own partner).
``td-entropy``      within each (region, label) group, sorted by entropy (ties by position), the
                    k-th lowest is paired with the k-th highest and vice versa. In a group of odd
                    size the middle example is paired with the group's highest-entropy example; a
                    group of one is its own partner.
``easy-ambiguous``  per label, easy examples sorted by increasing entropy are matched with
                    ambiguous examples sorted by decreasing entropy (lowest-entropy easy with
                    highest-entropy ambiguous); the shorter list is cycled so each easy example has
                    an ambiguous partner and each ambiguous one an easy partner. Examples of other
                    regions (``none``, and ``hard`` unless dropped), and easy/ambiguous examples of a
                    label that lacks the other region, fall back to the ``td-entropy`` rule.

A ratio ``r`` scales the number of synthetic examples to ``floor(r · kept)`` per epoch:
:func:`synthetic_count` spreads it over batches exactly (cumulative floor); when ``r > 1`` the
pairing rule is applied again (a fresh draw for the random rules, the same pairs with fresh λ for
the deterministic ones) until enough rows exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datamap.core.checks import InputError, check_fraction, check_number, fraction_count
from datamap.core.choices import Choice


class Pairing(Choice):
    """How the partner of each synthetic example is chosen (see the module docstring).

    ``reverse``, ``random`` and ``same-label`` pair rows within a batch; ``td-entropy`` and
    ``easy-ambiguous`` pair over the whole training set by an earlier run's regions and entropies
    (:attr:`needs_dynamics`).
    """

    REVERSE = "reverse"
    RANDOM = "random"
    SAME_LABEL = "same-label"
    TD_ENTROPY = "td-entropy"
    EASY_AMBIGUOUS = "easy-ambiguous"

    @property
    def needs_dynamics(self) -> bool:
        """Whether the rule needs the regions and entropies of an earlier run."""
        return self in (Pairing.TD_ENTROPY, Pairing.EASY_AMBIGUOUS)


class LambdaPer(Choice):
    """One λ per synthetic example, or one per batch (see :meth:`LambdaSampler.draw`)."""

    EXAMPLE = "example"
    BATCH = "batch"


PAIRINGS = Pairing.values()
DYNAMICS_PAIRINGS = tuple(p.value for p in Pairing if p.needs_dynamics)
LAMBDA_KINDS = ("beta", "beta-folded", "normal", "fixed")


# --------------------------------------------------------------------------- pairing rules


def pair_reverse(n: int) -> np.ndarray:
    """Batch reversal: ``partner[i] = n - 1 - i``.

    Parameters
    ----------
    n : int
        Number of examples. With ``n`` odd the middle one is its own partner (unmixed copy).
    """
    return np.arange(int(n) - 1, -1, -1, dtype=np.int64)


def pair_random(n: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random permutation (fixed points allowed, as in the original mixup).

    Parameters
    ----------
    n : int
        Number of examples.
    rng : numpy.random.Generator
        Source of randomness.
    """
    return rng.permutation(int(n)).astype(np.int64)


def _cyclic_within(members: np.ndarray, partner: np.ndarray, rng: np.random.Generator) -> None:
    shuffled = rng.permutation(members)
    partner[shuffled] = np.roll(shuffled, -1)


def pair_same_label(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random partner of the same label; nobody is paired with itself unless alone in its label.

    Parameters
    ----------
    labels : array of int, shape (n,)
        Gold labels.
    rng : numpy.random.Generator
        Source of randomness.
    """
    labels = np.asarray(labels)
    partner = np.arange(len(labels), dtype=np.int64)
    for value in np.unique(labels):
        _cyclic_within(np.flatnonzero(labels == value), partner, rng)
    return partner


def _check_dynamics(labels, regions, entropy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    regions = np.asarray(regions, dtype=object)
    entropy = np.asarray(entropy, dtype=np.float64)
    if not (labels.shape == regions.shape == entropy.shape) or labels.ndim != 1:
        raise InputError("labels, regions and entropy must be 1-d arrays of the same length")
    if np.isnan(entropy).any():
        bad = int(np.flatnonzero(np.isnan(entropy))[0])
        raise InputError(f"entropy is missing (NaN) at row {bad}")
    return labels, regions, entropy


def pair_td_entropy(labels: np.ndarray, regions: np.ndarray, entropy: np.ndarray) -> np.ndarray:
    """Entropy-aware pairing: same region and label, lowest entropy with highest.

    Parameters
    ----------
    labels : array of int, shape (n,)
        Gold labels.
    regions : array of str, shape (n,)
        Data-map region of each example (``easy``/``ambiguous``/``hard``/``none``).
    entropy : array of float, shape (n,)
        Entropy of each example's prediction in the earlier run (no NaN).

    Deterministic (ties broken by position). Odd groups: the middle example is paired with the
    group's highest-entropy example; a group of one is its own partner.
    """
    labels, regions, entropy = _check_dynamics(labels, regions, entropy)
    partner = np.arange(len(labels), dtype=np.int64)
    if len(labels) == 0:
        return partner
    _, region_code = np.unique(regions.astype(str), return_inverse=True)
    _, label_code = np.unique(labels, return_inverse=True)
    key = region_code.reshape(-1) * (int(label_code.max()) + 1) + label_code.reshape(-1)
    order = np.lexsort((np.arange(len(key)), entropy, key))  # by group, then entropy, then position
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    for group in np.split(order, bounds):
        m = len(group)
        partner[group] = group[::-1]
        if m % 2 == 1 and m > 1:
            partner[group[m // 2]] = group[-1]
    return partner


def pair_easy_ambiguous(labels: np.ndarray, regions: np.ndarray, entropy: np.ndarray) -> np.ndarray:
    """Each easy example with an ambiguous one of the same label, entropy-ordered.

    Parameters
    ----------
    labels : array of int, shape (n,)
        Gold labels.
    regions : array of str, shape (n,)
        Data-map region of each example.
    entropy : array of float, shape (n,)
        Entropy of each example's prediction in the earlier run (no NaN).

    Per label, easy examples by increasing entropy meet ambiguous examples by decreasing entropy;
    the shorter list is cycled. Everything else falls back to :func:`pair_td_entropy`'s rule
    within its (region, label) group. Deterministic.
    """
    labels, regions, entropy = _check_dynamics(labels, regions, entropy)
    partner = pair_td_entropy(labels, regions, entropy)  # fallback for everything else
    for value in np.unique(labels):
        same = labels == value
        easy = np.flatnonzero(same & (regions == "easy"))
        amb = np.flatnonzero(same & (regions == "ambiguous"))
        if len(easy) == 0 or len(amb) == 0:
            continue
        easy = easy[np.argsort(entropy[easy], kind="stable")]
        amb = amb[np.argsort(-entropy[amb], kind="stable")]
        partner[easy] = amb[np.arange(len(easy)) % len(amb)]
        partner[amb] = easy[np.arange(len(amb)) % len(easy)]
    return partner


def keep_mask(regions: np.ndarray) -> np.ndarray:
    """Which examples a "drop hard-to-learn" rule keeps: ``True`` for every region but ``hard``.

    Parameters
    ----------
    regions : array of str, shape (n,)
        Data-map region of each example (``easy``, ``ambiguous``, ``hard`` or ``none``).

    Returns
    -------
    bool array, shape (n,)
    """
    return np.asarray(regions, dtype=object) != "hard"


def synthetic_count(seen: int, batch: int, ratio: float) -> int:
    """How many synthetic examples a batch gets so an epoch totals ``floor(ratio * kept)``.

    Parameters
    ----------
    seen : int
        Kept examples already seen this epoch (before this batch).
    batch : int
        Kept examples in this batch.
    ratio : float
        Synthetic examples per kept original, > 0 (1: one each; 2: two each).
    """
    return fraction_count(ratio, seen + batch) - fraction_count(ratio, seen)


# --------------------------------------------------------------------------- λ samplers


@dataclass(frozen=True)
class LambdaSampler:
    """Draws mixing coefficients λ in [0, 1]; build it with :func:`parse_lambda`.

    ``kind`` is one of ``beta`` (Beta(α, α)), ``beta-folded`` (max(λ, 1 − λ) of Beta(α, α), so
    λ ≥ 0.5 and the first member dominates), ``normal`` (Normal(μ, σ) clipped to [0, 1]: draws
    outside land on the bound; with μ = 0.1, σ = 0.015 that practically never happens) and
    ``fixed`` (always ``L``).
    """

    kind: str
    params: tuple[float, ...]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws (float64)."""
        if self.kind == "fixed":
            return np.full(n, self.params[0], dtype=np.float64)
        if self.kind == "normal":
            return np.clip(rng.normal(self.params[0], self.params[1], size=n), 0.0, 1.0)
        lam = rng.beta(self.params[0], self.params[0], size=n)
        if self.kind == "beta-folded":
            lam = np.maximum(lam, 1.0 - lam)
        return lam

    def draw(self, rng: np.random.Generator, n: int, *, per: str = "example") -> np.ndarray:
        """``n`` coefficients (float64).

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        n : int
            How many coefficients.
        per : {"example", "batch"}, default "example"
            One independent draw per example, or one draw repeated ``n`` times.
        """
        if per == "batch":
            return np.repeat(self.sample(rng, 1), n)
        if per != "example":
            raise InputError(f"per must be 'example' or 'batch', got {per!r}")
        return self.sample(rng, n)


def parse_lambda(spec: str) -> LambdaSampler:
    """Parse a λ distribution: ``beta:ALPHA``, ``beta-folded:ALPHA``, ``normal:MU,SIGMA``, ``fixed:L``.

    Parameters
    ----------
    spec : str
        The distribution, e.g. ``"beta:0.4"`` or ``"normal:0.1,0.015"``: ``ALPHA`` > 0,
        ``MU`` finite, ``SIGMA`` >= 0, ``L`` in [0, 1] (see :class:`LambdaSampler`).

    Returns
    -------
    LambdaSampler

    Raises
    ------
    ValueError
        ``"spec '...': ..."`` naming what is wrong.
    """
    kind, _, rest = str(spec).strip().partition(":")
    kind = kind.strip().lower()
    if kind not in LAMBDA_KINDS:
        raise InputError(f"spec {spec!r}: kind must be one of {', '.join(LAMBDA_KINDS)}")
    try:
        params = tuple(float(p) for p in rest.split(",")) if rest.strip() else ()
    except ValueError:
        raise InputError(f"spec {spec!r}: parameters must be numbers") from None
    want = 2 if kind == "normal" else 1
    if len(params) != want or not all(math.isfinite(p) for p in params):
        form = {"beta": "beta:ALPHA", "beta-folded": "beta-folded:ALPHA", "normal": "normal:MU,SIGMA", "fixed": "fixed:L"}[kind]
        raise InputError(f"spec {spec!r}: expected {form} with finite numbers")
    if kind in ("beta", "beta-folded"):
        check_number(params[0], f"spec {spec!r}: ALPHA", low=0.0, low_inclusive=False)
    if kind == "normal":
        check_number(params[1], f"spec {spec!r}: SIGMA", low=0.0)
    if kind == "fixed":
        check_fraction(params[0], f"spec {spec!r}: L")
    return LambdaSampler(kind, params)
