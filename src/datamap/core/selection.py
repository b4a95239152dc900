"""Selecting subsets of a training set from its data map.

Pure NumPy, functional core (plain arrays in, plain arrays out). The input is a *metrics table*:
a mapping of column name -> 1-d array, all of one length ``N`` (the columns of ``metrics.parquet``,
see ``docs/run-directory.md``: ``id``, ``gold``, ``confidence``, ``variability``, ``correctness``,
``forgetfulness`` (may be ``inf``), ``threshold_closeness``, ``aum``, ``el2n``, ``entropy``,
``confidence_pred``, ``region``). A pandas DataFrame works too (anything with ``keys()`` and
``[column]``).

A :class:`Recipe` says what to keep; :func:`select` applies it in this order:

1. ``drop_hard``: remove the examples whose ``region`` is ``"hard"`` from the pool.
2. ``where`` filters (``"confidence<0.5"``, ``"region==ambiguous"``...): keep only the rows of the
   pool that pass every filter (strict or inclusive exactly as written).
3. Parts, drawn one after the other from what is left of the pool, so they never overlap
   (an example taken as ambiguous is not taken again as easy: the easy ranking skips it and
   takes the next one):

   * ``ambiguous``: highest ``variability`` first,
   * ``easy``: highest ``confidence`` first,
   * ``hard``: lowest ``confidence`` first,
   * ``by`` + ``top`` / ``bottom``: any numeric column, either end,
   * ``cluster``: by cluster label (whole clusters, first k, nearest the centroids, round-robin,
     proportional; see :mod:`datamap.core.clusters`; reads the ``cluster`` and
     ``cluster_distance`` columns),
   * ``random``: uniformly at random without replacement (seeded ``numpy.random.Generator``).

   Ties in a ranking are broken by position (the earlier row wins), NaN ranks last.
   If no part is asked for, the whole pool is the selection.
4. ``data_pct``: keep a random fraction of what steps 1-3 selected.

Sizes. A fraction ``f`` of a part is a fraction of the *whole* table: ``k = floor(f * N)`` examples
(rounded down, with a 1e-9 tolerance so that ``0.29 * 100`` gives 29, not 28), whatever the
filters removed; if fewer than ``k`` examples are left to draw from, ``ValueError`` is
raised, so the size asked for is always the size delivered. With ``stratify=True`` the fraction is
applied within each gold class: ``k_c = floor(f * N_c)`` examples of class ``c`` (``N_c`` = rows of
class ``c`` in the table), ranked within the class; the total can then be a little below
``floor(f * N)``. ``data_pct`` keeps ``floor(data_pct * n)`` of the ``n`` selected examples
(per class with ``stratify``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from datamap.core.checks import COUNT_TOL, InputError, check_fraction, check_int, fraction_count
from datamap.core.clusters import ClusterSpec, cluster_select, take_cluster_part
from datamap.core.regions import top_k

#: allenai/cartography's sweep of selection fractions.
SWEEP_FRACTIONS = (0.01, 0.05, 0.10, 0.17, 0.25, 0.33, 0.50, 0.75)

#: the region parts and the ranking each one uses: (column, largest first?)
REGION_RANKINGS = {
    "ambiguous": ("variability", True),
    "easy": ("confidence", True),
    "hard": ("confidence", False),
}

OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
_FILTER_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(.*?)\s*$")
_TOL = COUNT_TOL


# ---------------------------------------------------------------------------------------------
# recipe


@dataclass(kw_only=True)
class Recipe:
    """What to select; every field is optional and they compose (see the module docstring).

    Parameters
    ----------
    ambiguous, easy, hard : float, default 0.0
        Fraction in [0, 1] of the whole table to take from each region ranking
        (ambiguous = highest variability, easy = highest confidence, hard = lowest confidence).
    random : float, default 0.0
        Fraction in [0, 1] of the whole table drawn at random (without replacement, seeded)
        from what the other parts left. ``ambiguous + easy + hard + random`` must be <= 1.
    by : str or None, default None
        A numeric metric column to rank by (``"variability"``, ``"aum"``, ``"forgetfulness"``...);
        needs exactly one of ``top`` / ``bottom``.
    top, bottom : float, int or None, default None
        How many of the highest (``top``) or lowest (``bottom``) values of ``by`` to take: a
        ``float`` is a fraction in [0, 1] of the whole table, an ``int`` is a count.
    where : tuple of str, default ()
        Threshold filters such as ``"confidence<0.5"``, ``"variability>=0.2"``,
        ``"region==ambiguous"``; operators ``< <= > >= == !=``. See :func:`parse_filter`.
    data_pct : float or None, default None
        Keep a random fraction in (0, 1] of the selection (of the whole pool when no part is
        given).
    drop_hard : bool, default False
        Remove the hard-to-learn region (``region == "hard"``) before anything else.
    stratify : bool, default False
        Apply every fraction within each gold class (needs a ``gold`` column).
    cluster : ClusterSpec, dict or None, default None
        A part drawn by cluster label (:class:`datamap.core.clusters.ClusterSpec`), after the
        rankings and before ``random``.
    """

    ambiguous: float = 0.0
    easy: float = 0.0
    hard: float = 0.0
    random: float = 0.0
    by: str | None = None
    top: float | int | None = None
    bottom: float | int | None = None
    where: tuple[str, ...] = field(default_factory=tuple)
    data_pct: float | None = None
    drop_hard: bool = False
    stratify: bool = False
    cluster: ClusterSpec | None = None

    def __post_init__(self) -> None:
        if isinstance(self.where, str):
            self.where = (self.where,)
        self.where = tuple(self.where)
        if isinstance(self.cluster, Mapping):
            self.cluster = ClusterSpec(**self.cluster)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as a JSON-ready dict (``where`` as a list)."""
        d = dataclasses.asdict(self)
        d["where"] = list(self.where)
        for k, v in d.items():  # NumPy scalars -> plain Python numbers
            if isinstance(v, np.generic):
                d[k] = v.item()
        if d["cluster"] is None:  # recipes without a cluster part keep their old form
            del d["cluster"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Recipe":
        """Build a recipe from :meth:`to_dict` output (or any mapping of its fields).

        Parameters
        ----------
        d : mapping of str -> value
            Recipe fields; unknown keys raise ``ValueError`` naming the first one.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InputError(f"unknown recipe key {unknown[0]!r} (known: {', '.join(sorted(names))})")
        return cls(**dict(d))

    def validate(self) -> None:
        """Raise ``ValueError`` (one line, naming the field) if the recipe is inconsistent."""
        for name in ("ambiguous", "easy", "hard", "random"):
            check_fraction(getattr(self, name), name)
        total = self.ambiguous + self.easy + self.hard + self.random
        if total > 1.0 + _TOL:
            raise InputError(
                f"region fractions sum to {total:g} > 1 (ambiguous {self.ambiguous:g} + easy {self.easy:g}"
                f" + hard {self.hard:g} + random {self.random:g})"
            )
        if self.top is not None and self.bottom is not None:
            raise InputError("give only one of top / bottom")
        if self.by is None and (self.top is not None or self.bottom is not None):
            raise InputError("top / bottom need a column to rank by (by=...)")
        if self.by is not None and self.top is None and self.bottom is None:
            raise InputError(f"by={self.by!r} needs top or bottom (a fraction or a count)")
        for name in ("top", "bottom"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise InputError(f"{name} must be a fraction (float) or a count (int), got {v!r}")
            if isinstance(v, (int, np.integer)):
                check_int(v, f"{name} count", low=0)
                if self.stratify:
                    raise InputError(f"stratify needs {name} as a fraction, not a count ({v})")
            else:
                check_fraction(v, name)
        if self.data_pct is not None:
            check_fraction(self.data_pct, "data_pct", low_inclusive=False)
        for w in self.where:
            if not isinstance(w, str):
                raise InputError(f"where filters must be strings like 'confidence<0.5', got {w!r}")
        if self.cluster is not None:
            self.cluster.validate(stratify=self.stratify)


# ---------------------------------------------------------------------------------------------
# result


@dataclass
class SelectionResult:
    """What :func:`select` chose.

    Attributes
    ----------
    indices : np.ndarray of int64
        Row positions in the metrics table, part by part in the order ambiguous, easy, hard,
        ranking, random (ranking order within a ranked part, draw order within a random part),
        then thinned by ``data_pct`` (keeping that order).
    ids : list of str
        ``str`` of the ``id`` column at ``indices`` (the row positions when there is no ``id``).
    parts : dict of str -> np.ndarray
        Indices per part that was asked for (``"ambiguous"``, ``"easy"``, ``"hard"``,
        ``"top:variability"`` / ``"bottom:aum"``, ``"random"``; ``"all"`` when no part was asked).
    sizes : dict of str -> int
        Final number of examples per part (after ``data_pct``).
    class_sizes : dict of str -> int
        Final number of examples per gold class (keys: label names when given, else the class
        id as a string); empty without a ``gold`` column.
    recipe : dict
        :meth:`Recipe.to_dict` of the recipe used, plus ``"seed"``.
    n_total, n_pool : int
        Rows in the table, and rows left after ``drop_hard`` and ``where``.
    """

    indices: np.ndarray
    ids: list[str]
    parts: dict[str, np.ndarray]
    sizes: dict[str, int]
    class_sizes: dict[str, int]
    recipe: dict[str, Any]
    n_total: int
    n_pool: int

    def __len__(self) -> int:
        return len(self.indices)

    def sizes_dict(self) -> dict[str, Any]:
        """JSON-ready sizes: ``{"total", "dataset", "pool", "parts": {...}, "per_class": {...}}``."""
        return {
            "total": int(len(self.indices)),
            "dataset": int(self.n_total),
            "pool": int(self.n_pool),
            "parts": {k: int(v) for k, v in self.sizes.items()},
            "per_class": {k: int(v) for k, v in self.class_sizes.items()},
        }


# ---------------------------------------------------------------------------------------------
# table helpers


def as_columns(metrics: Any) -> dict[str, np.ndarray]:
    """Turn a mapping (or DataFrame) of columns into ``{name: 1-d np.ndarray}``; lengths must agree."""
    try:
        keys = list(metrics.keys())
    except AttributeError:
        raise InputError("metrics must be a mapping of column name -> array (or a DataFrame)") from None
    cols = {str(k): np.asarray(metrics[k]) for k in keys}
    lengths = {k: (v.shape[0] if v.ndim == 1 else -1) for k, v in cols.items()}
    if not cols:
        raise InputError("metrics table has no columns")
    n = next(iter(lengths.values()))
    for k, length in lengths.items():
        if length == -1:
            raise InputError(f"metrics column {k!r} is not 1-d")
        if length != n:
            raise InputError(f"metrics column {k!r} has {length} rows, expected {n}")
    return cols


def _column(cols: Mapping[str, np.ndarray], name: str, what: str = "column") -> np.ndarray:
    if name not in cols:
        raise InputError(f"unknown {what} {name!r} (known: {', '.join(sorted(cols))})")
    return cols[name]


def _numeric(cols: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    col = _column(cols, name)
    if not (np.issubdtype(col.dtype, np.number) or col.dtype == np.bool_):
        numeric = sorted(k for k, v in cols.items() if np.issubdtype(v.dtype, np.number))
        raise InputError(f"column {name!r} is not numeric (numeric columns: {', '.join(numeric)})")
    return col.astype(np.float64)


def _n_rows(cols: Mapping[str, np.ndarray]) -> int:
    return int(next(iter(cols.values())).shape[0])


# ---------------------------------------------------------------------------------------------
# filters


def parse_filter(text: str, *, columns: Iterable[str] | None = None) -> tuple[str, str, float | str]:
    """Parse ``"column<op>value"`` into ``(column, op, value)``.

    Parameters
    ----------
    text : str
        e.g. ``"confidence<0.5"``, ``"variability >= 0.2"``, ``"region==ambiguous"``. Operators:
        ``<``, ``<=``, ``>``, ``>=`` (strict or inclusive exactly as written), ``==``, ``!=``.
        The value is a float when it parses as one (``inf`` too), else a string (for ``region``).
    columns : iterable of str or None, default None
        Known column names; when given, an unknown column raises ``ValueError`` naming it
        and listing the known ones.
    """
    m = _FILTER_RE.match(text or "")
    if not m or m.group(3) == "":
        raise InputError(
            f"cannot parse filter {text!r}: expected COLUMN OP VALUE with OP one of {' '.join(OPERATORS)}"
            " (e.g. 'confidence<0.5')"
        )
    col, op, raw = m.group(1), m.group(2), m.group(3)
    if columns is not None:
        known = sorted(columns)
        if col not in known:
            raise InputError(f"filter {text!r}: unknown column {col!r} (known: {', '.join(known)})")
    value: float | str
    try:
        value = float(raw)
    except ValueError:
        value = raw.strip("'\"")
    return col, op, value


#: values a text column may be compared with even when no row holds them (an empty region is no typo)
KNOWN_VALUES = {"region": ("easy", "ambiguous", "hard", "none")}
CLASS_COLUMNS = ("gold", "pred")


def _did_you_mean(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, sorted(set(known)), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def filter_mask(metrics: Any, filters: Sequence[str], label_names: Sequence[str] | None = None) -> np.ndarray:
    """Boolean mask of the rows that pass every filter of ``filters`` (see :func:`parse_filter`).

    Parameters
    ----------
    metrics : mapping of str -> array, or DataFrame
        The table to filter.
    filters : sequence of str
        Filters such as ``"confidence<0.5"``; all must hold.
    label_names : sequence of str or None, default None
        Class names in id order: ``gold`` and ``pred`` may then be compared with a name
        (``"gold==pos"``); an unknown name raises ``ValueError`` listing the classes.

    Numeric columns compare as floats (``nan`` fails every comparison but ``!=``, as in NumPy);
    string columns (``region``, ``id``) accept only ``==`` and ``!=``, with a value that some row
    holds (or a region name): an unknown value raises ``ValueError`` with the closest known one,
    e.g. ``region==ambigous: no example has region 'ambigous' (did you mean 'ambiguous'?)``.
    """
    cols = as_columns(metrics)
    mask = np.ones(_n_rows(cols), dtype=bool)
    for text in filters:
        col, op, value = parse_filter(text, columns=cols.keys())
        data = cols[col]
        is_num = np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_
        if is_num and col in CLASS_COLUMNS and label_names is not None and not isinstance(value, str):
            raw = _FILTER_RE.match(text).group(3).strip("'\"")
            if raw in [str(n) for n in label_names] and raw.lower() in ("nan", "inf", "-inf", "infinity"):
                value = raw  # a class named like a special float ("NaN") is that class, not a number
        if is_num and isinstance(value, str) and col in CLASS_COLUMNS and label_names is not None:
            names = [str(n) for n in label_names]
            if value not in names:
                raise InputError(f"{text}: no class named {value!r}{_did_you_mean(value, names)}"
                                 f" (classes: {', '.join(names)})")
            value = float(names.index(value))
        if is_num:
            if isinstance(value, str):
                raise InputError(f"filter {text!r}: column {col!r} is numeric but {value!r} is not a number")
            data = data.astype(np.float64)
        else:
            if op not in ("==", "!="):
                raise InputError(f"filter {text!r}: column {col!r} holds text, only == and != apply")
            data = data.astype(str)
            value = str(value) if not isinstance(value, float) else _num_text(value)
            present = np.unique(data)
            if value not in KNOWN_VALUES.get(col, ()) and not np.any(present == value):
                raise InputError(f"{text}: no example has {col} {value!r}"
                                 f"{_did_you_mean(value, [*present.tolist(), *KNOWN_VALUES.get(col, ())])}")
        if op == "<":
            m = data < value
        elif op == "<=":
            m = data <= value
        elif op == ">":
            m = data > value
        elif op == ">=":
            m = data >= value
        elif op == "==":
            m = data == value
        else:
            m = data != value
        mask &= np.asarray(m, dtype=bool)
    return mask


def _num_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


# ---------------------------------------------------------------------------------------------
# drawing


def _rank_take(values: np.ndarray, candidates: np.ndarray, k: int, largest: bool) -> np.ndarray:
    """The ``k`` best of ``candidates`` (sorted positions) by ``values``, ties by position."""
    order = top_k(values[candidates], k, largest=largest)
    return candidates[order]


def _groups(cols: Mapping[str, np.ndarray], stratify: bool) -> list[tuple[Any, np.ndarray]]:
    """[(class, row mask)] for stratified draws, or [(None, all rows)]."""
    n = _n_rows(cols)
    if not stratify:
        return [(None, np.ones(n, dtype=bool))]
    gold = _column(cols, "gold", "column (stratify needs the gold class)")
    return [(g, gold == g) for g in np.unique(gold)]


def select(
    metrics: Any,
    recipe: Recipe | None = None,
    *,
    seed: int = 0,
    label_names: Sequence[str] | None = None,
) -> SelectionResult:
    """Apply ``recipe`` to a metrics table and return the selected rows.

    Parameters
    ----------
    metrics : mapping of str -> array, or DataFrame
        The metrics table (columns of ``metrics.parquet``); only the columns the recipe uses are
        needed (``variability``/``confidence`` for regions, ``region`` for ``drop_hard``, ``gold``
        for ``stratify``, ``id`` for ids).
    recipe : Recipe or None, default None
        What to select (see :class:`Recipe`); ``None`` selects everything.
    seed : int, default 0
        Seed of the ``numpy.random.Generator`` used by ``random`` and ``data_pct``; same seed,
        same table, same recipe -> same selection.
    label_names : sequence of str or None, default None
        Class names in id order, used as the keys of ``class_sizes``.

    Returns
    -------
    SelectionResult
    """
    recipe = recipe or Recipe()
    recipe.validate()
    cols = as_columns(metrics)
    n = _n_rows(cols)
    rng = np.random.default_rng(seed)

    # 1-2: the pool
    pool = np.ones(n, dtype=bool)
    if recipe.drop_hard:
        region = _column(cols, "region", "column (drop_hard needs the region column)")
        pool &= region.astype(str) != "hard"
    if recipe.where:
        pool &= filter_mask(cols, recipe.where, label_names=label_names)
    n_pool = int(pool.sum())

    # 3: parts
    plan: list[tuple[str, str, Any]] = []  # (part name, kind, arg)
    for name, (col, largest) in REGION_RANKINGS.items():
        f = getattr(recipe, name)
        if f > 0:
            plan.append((name, "rank", (col, largest, float(f))))
    if recipe.by is not None:
        end = "top" if recipe.top is not None else "bottom"
        amount = recipe.top if recipe.top is not None else recipe.bottom
        _numeric(cols, recipe.by)
        plan.append((f"{end}:{recipe.by}", "rank", (recipe.by, end == "top", amount)))
    if recipe.cluster is not None:
        plan.append((f"cluster:{recipe.cluster.mode}", "cluster", recipe.cluster))
    if recipe.random > 0:
        plan.append(("random", "random", float(recipe.random)))

    groups = _groups(cols, recipe.stratify)
    available = pool.copy()
    parts: dict[str, np.ndarray] = {}
    for name, kind, arg in plan:
        chosen: list[np.ndarray] = []
        for g, gmask in groups:
            if kind == "cluster":  # datamap.core.clusters draws (and checks the size of) this part
                picked = take_cluster_part(cols, np.flatnonzero(available & gmask), int(gmask.sum()), arg, rng)
                available[picked] = False
                chosen.append(picked)
                continue
            amount = arg[2] if kind == "rank" else arg
            group_n = int(gmask.sum())
            if isinstance(amount, (int, np.integer)) and not isinstance(amount, bool):
                k = int(amount)
            else:
                k = fraction_count(amount, group_n)
            candidates = np.flatnonzero(available & gmask)
            if k > len(candidates):
                where = f" of class {g!r}" if g is not None else ""
                raise InputError(
                    f"{name}: asked for {k} examples{where} but only {len(candidates)} are left"
                    " after drop_hard/where filters and earlier parts"
                )
            if kind == "rank":
                col, largest, _ = arg
                picked = _rank_take(_numeric(cols, col), candidates, k, largest)
            else:
                picked = rng.choice(candidates, size=k, replace=False).astype(np.int64)
            available[picked] = False
            chosen.append(picked)
        parts[name] = np.concatenate(chosen).astype(np.int64) if chosen else np.empty(0, np.int64)
    if not plan:
        parts["all"] = np.flatnonzero(pool).astype(np.int64)

    # 4: data_pct thins what was selected (per class with stratify), keeping the order
    if recipe.data_pct is not None:
        selected = np.concatenate(list(parts.values()))
        keep = np.zeros(n, dtype=bool)
        for g, gmask in groups:
            members = selected[gmask[selected]]
            k = fraction_count(recipe.data_pct, len(members))
            keep[rng.choice(members, size=k, replace=False)] = True
        parts = {name: idx[keep[idx]] for name, idx in parts.items()}

    indices = np.concatenate(list(parts.values())).astype(np.int64) if parts else np.empty(0, np.int64)
    ids = [str(x) for x in cols["id"][indices]] if "id" in cols else [str(int(i)) for i in indices]
    class_sizes: dict[str, int] = {}
    if "gold" in cols:
        gold = cols["gold"]
        for g in np.unique(gold):
            key = str(label_names[int(g)]) if label_names is not None and 0 <= int(g) < len(label_names) else str(g)
            class_sizes[key] = int(np.sum(gold[indices] == g))
    recipe_dict = recipe.to_dict()
    recipe_dict["seed"] = int(seed)
    return SelectionResult(
        indices=indices,
        ids=ids,
        parts=parts,
        sizes={name: int(len(idx)) for name, idx in parts.items()},
        class_sizes=class_sizes,
        recipe=recipe_dict,
        n_total=n,
        n_pool=n_pool,
    )


def select_by(
    metrics: Any,
    by: str,
    *,
    top: float | int | None = None,
    bottom: float | int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Indices of the ``top`` highest (or ``bottom`` lowest) rows by column ``by``.

    Shorthand for ``select(metrics, Recipe(by=by, top=top, bottom=bottom), seed=seed).indices``.

    Parameters
    ----------
    metrics : mapping of str -> array, or DataFrame
        The metrics table.
    by : str
        A numeric column to rank by.
    top, bottom : float, int or None, default None
        Exactly one of them: a ``float`` is a fraction in [0, 1] of the table
        (``floor(f * N)`` rows), an ``int`` >= 0 a count. Ties by position.
    seed : int, default 0
        Unused by a ranking; kept for symmetry with :func:`select`.

    Returns
    -------
    np.ndarray of int64
        Row positions, best first.
    """
    return select(metrics, Recipe(by=by, top=top, bottom=bottom), seed=seed).indices


def sweep_part(recipe: Recipe) -> str:
    """The one part of ``recipe`` that :func:`sweep` varies.

    ``"top"`` / ``"bottom"`` when the recipe ranks ``by`` a column, else the single non-zero
    fraction among ambiguous / easy / hard / random; ``ValueError`` if that is ambiguous.
    """
    if recipe.by is not None:
        return "bottom" if recipe.bottom is not None else "top"
    nonzero = [p for p in ("ambiguous", "easy", "hard", "random") if getattr(recipe, p) > 0]
    if len(nonzero) != 1:
        raise InputError(
            "sweep needs exactly one part to vary (one of ambiguous/easy/hard/random, or by + top/bottom),"
            f" got {', '.join(nonzero) or 'none'}"
        )
    return nonzero[0]


def sweep(
    metrics: Any,
    recipe: Recipe,
    *,
    fractions: Sequence[float] = SWEEP_FRACTIONS,
    part: str | None = None,
    seed: int = 0,
    label_names: Sequence[str] | None = None,
) -> dict[float, SelectionResult]:
    """One selection per fraction, varying one part of ``recipe`` (allenai's fraction sweep).

    Parameters
    ----------
    metrics : mapping or DataFrame
        The metrics table.
    recipe : Recipe
        The base recipe; its ``part`` is replaced by each fraction in turn, the rest is kept.
    fractions : sequence of float, default :data:`SWEEP_FRACTIONS`
        Each in [0, 1]; the default is ``(0.01, 0.05, 0.10, 0.17, 0.25, 0.33, 0.50, 0.75)``.
    part : str or None, default None
        ``"ambiguous"``, ``"easy"``, ``"hard"``, ``"random"``, ``"top"`` or ``"bottom"``;
        ``None`` infers it with :func:`sweep_part`.
    seed, label_names
        As in :func:`select`.

    Returns
    -------
    dict of float -> SelectionResult, in the order of ``fractions``.
    """
    part = part or sweep_part(recipe)
    if part not in ("ambiguous", "easy", "hard", "random", "top", "bottom"):
        raise InputError(f"cannot sweep part {part!r} (one of ambiguous, easy, hard, random, top, bottom)")
    out: dict[float, SelectionResult] = {}
    for i, f in enumerate(fractions):
        f = check_fraction(f, f"fractions[{i}]")
        out[f] = select(metrics, dataclasses.replace(recipe, **{part: float(f)}), seed=seed, label_names=label_names)
    return out


def s2l_sample(clusters, budget: float | int, seed: int = 0) -> np.ndarray:
    """SmallToLarge selection (Yang et al. 2024) over cluster labels: sorted row indices.

    Clusters are visited from the smallest to the largest (ties by cluster id); each gets
    ``floor(remaining budget / clusters left)`` examples sampled uniformly without replacement
    (``numpy.random.default_rng(seed)``); a cluster smaller than its share is taken whole and the
    leftover carries to the next ones. Label ``-1`` (DBSCAN noise) is a group of its own.

    Parameters
    ----------
    clusters : array of int, shape (N,)
        Cluster label per example.
    budget : float or int
        A ``float`` is a fraction in [0, 1] of N (``floor(f * N)``), an ``int`` a count (<= N).
    seed : int, default 0
        Seed of the uniform draws within clusters.

    Returns
    -------
    np.ndarray of int64
        The chosen row positions, ascending; exactly the budget of them.
    """
    labels = np.asarray(clusters)
    if isinstance(budget, (float, np.floating)):
        budget = fraction_count(check_fraction(float(budget), "budget"), len(labels))
    return np.sort(cluster_select(labels, mode="s2l", budget=budget, rng=seed))
