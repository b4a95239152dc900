"""``datamap select``: its options.

The YAML runner's ``selections.NAME`` (:class:`datamap.experiment.config.SelectionSpec`) is not cut from
this model on purpose: there a part may be a list (a sweep), ``top``/``bottom`` are numbers rather than
text, the cluster part is a nested section and ``seed`` defaults to the run's seed. It takes its shared
defaults from this model (``tests/test_drift.py`` checks them).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

from datamap.core.checks import check_fraction, check_int
from datamap.core.clusters import MODES as CLUSTER_MODES
from datamap.core.clusters import ORDERS, ClusterSpec
from datamap.core.selection import SWEEP_FRACTIONS, Recipe
from datamap.errors import DatamapError, user_errors
from datamap.stages.options.base import Options, option
from datamap.stages.options.checks import choice


def _default(cls: type, name: str) -> Any:
    """The default of field ``name`` of the dataclass ``cls`` (:class:`Recipe`, :class:`ClusterSpec`)."""
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


class SelectOptions(Options):
    """A subset of a run's training set from its data map (:func:`datamap.stages.select.select_run`)."""

    command = "select"

    out: str = option(..., "Selection name: writes RUN/selections/NAME.json (+ .parquet).")
    ambiguous: float = option(_default(Recipe, "ambiguous"),
                              "Fraction of the whole set from the ambiguous ranking (highest variability).")
    easy: float = option(_default(Recipe, "easy"), "Fraction from the easy-to-learn ranking (highest confidence).")
    hard: float = option(_default(Recipe, "hard"), "Fraction from the hard-to-learn ranking (lowest confidence).")
    random: float = option(_default(Recipe, "random"), "Fraction drawn at random from what the other parts left.")
    by: Optional[str] = option(_default(Recipe, "by"), "Rank by this metric column (with --top or --bottom).")
    top: Optional[str] = option(_default(Recipe, "top"), "Highest values of --by: a fraction (0.33) or a count (100).")
    bottom: Optional[str] = option(_default(Recipe, "bottom"),
                                   "Lowest values of --by: a fraction (0.25) or a count (100).")
    sweep: bool = option(False, "Write one selection per fraction (NAME_01, NAME_05, ...), varying the one part given.")
    fractions: Optional[str] = option(
        None, f"Fractions for --sweep, comma-separated (default {','.join(f'{f:.2f}' for f in SWEEP_FRACTIONS)}).")
    where: list[str] = option(
        help="Filter such as 'confidence<0.5', 'region==ambiguous' or 'gold==pos' (gold/pred take class names or ids; "
             "repeatable; all must hold).", default_factory=list)
    data_pct: Optional[float] = option(
        _default(Recipe, "data_pct"),
        "Keep a random fraction in (0, 1] of the selection (of everything if no part is given).")
    drop_hard: bool = option(_default(Recipe, "drop_hard"), "Remove the hard-to-learn region before anything else.")
    stratify: bool = option(
        _default(Recipe, "stratify"),
        "Apply the fractions within each gold class (keeps the class shares; recommended when the selection warns "
        "about its balance).")
    seed: int = option(0, "Seed of the random draws.", ge=0)
    csv: bool = option(False, "Also write the subset rows as CSV.")
    dataset: Optional[str] = option(None, "Name the CSV allenai-style DATASET_NAME.csv.")
    clusters: Optional[Path] = option(
        None, "Clusters file (datamap cluster): adds columns cluster and cluster_distance (for --cluster-mode and "
              "--where).")
    cluster_mode: Optional[str] = option(
        None, f"Part drawn by cluster: {', '.join(CLUSTER_MODES)} (s2l: SmallToLarge, smallest clusters first, an "
              "equal share each, small ones whole).")
    cluster_budget: Optional[str] = option(
        _default(ClusterSpec, "budget"), "Examples taken by cluster: a fraction of the whole set (0.1) or a count (300).")
    cluster_k: Optional[int] = option(
        _default(ClusterSpec, "k"),
        "first-k: number of clusters; nearest-centroid: examples per cluster (instead of a budget).", ge=1)
    cluster_order: str = option(_default(ClusterSpec, "order"),
                                "Cluster order of whole, first-k, round-robin: largest or random.")
    cluster_rank: Optional[str] = option(
        _default(ClusterSpec, "rank"),
        "Order within a cluster: random, nearest, ambiguous, easy, hard, top:COLUMN, bottom:COLUMN.")
    drop_errors: bool = option(
        False, "Leave out the examples flagged in RUN/label_issues.parquet (datamap errors); --where 'label_issue==1' "
               "selects them.")

    _cluster_mode = choice(CLUSTER_MODES, "cluster_mode")
    _cluster_order = choice(ORDERS, "cluster_order")

    def recipe(self) -> Recipe:
        """The selection these options ask for, as the core's :class:`Recipe` (``--top 100`` a count,
        ``--top 0.1`` a fraction; the ``--cluster-*`` options as its cluster part)."""
        return Recipe(**self.kwargs("ambiguous", "easy", "hard", "random", "by"),
                      top=parse_amount(self.top, "--top"), bottom=parse_amount(self.bottom, "--bottom"),
                      where=tuple(self.where), **self.kwargs("data_pct", "drop_hard", "stratify"),
                      cluster=self.cluster_spec())

    def cluster_spec(self) -> ClusterSpec | None:
        """The ``--cluster-*`` options as a :class:`ClusterSpec` (None without ``--cluster-mode``)."""
        if self.cluster_mode is None:
            given = [flag for flag, v in (("--cluster-budget", self.cluster_budget), ("--cluster-k", self.cluster_k),
                                          ("--cluster-rank", self.cluster_rank)) if v is not None]
            if given or self.cluster_order != self.default("cluster_order"):
                raise DatamapError(f"{(given or ['--cluster-order'])[0]} needs --cluster-mode (and --clusters FILE)")
            return None
        return ClusterSpec(mode=self.cluster_mode, budget=parse_amount(self.cluster_budget, "--cluster-budget"),
                           k=self.cluster_k, order=self.cluster_order, rank=self.cluster_rank)

    def sweep_fractions(self) -> tuple[float, ...] | None:
        """The fractions of ``--sweep`` (``--fractions 0.1,0.2``, else allenai's); None without ``--sweep``."""
        if self.fractions is not None and not self.sweep:
            raise DatamapError("--fractions only applies with --sweep")
        if not self.sweep:
            return None
        if self.fractions is None or not self.fractions.strip():
            return SWEEP_FRACTIONS
        try:
            return tuple(float(x) for x in self.fractions.split(","))  # the core checks their range
        except ValueError:
            raise DatamapError(f"--fractions {self.fractions!r}: expected comma-separated fractions like 0.1,0.25") from None


def parse_amount(text: str | None, flag: str) -> float | int | None:
    """``"0.33"`` -> 0.33 (a fraction), ``"100"`` -> 100 (a count); ``None`` stays ``None``.

    A value with a decimal point or an exponent is a fraction in (0, 1], a whole number is a
    count >= 1 (anything else is a DatamapError naming ``flag``).
    """
    if text is None:
        return None
    s = str(text).strip()
    try:
        value: float | int = float(s) if any(c in s for c in ".eE") else int(s)
    except ValueError:
        raise DatamapError(f"{flag} {text!r}: expected a fraction like 0.33 or a count like 100") from None
    with user_errors():
        if isinstance(value, float):
            return check_fraction(value, flag, low_inclusive=False)
        return check_int(value, flag, low=1)
