"""The experiment file of ``datamap run``: schema, validation with paths, dotted overrides.

An experiment file (YAML, read with :func:`datamap.io.yamlsafe.load_yaml_file`: safe, no duplicate keys, bounded) names the data, shared training settings, the
cartography stage, named selections (a list of fractions is a sweep), the experiments that retrain
on them, the seeds, the evaluation sets and optional ensembles (see ``examples/*.yaml`` and
docs/experiments.md). :func:`load_config` reads one, applies ``key.path=value`` overrides and
checks everything before any work starts; every problem is reported with its path in the file::

    experiments[2].selection: no selection named 'ambigous' (did you mean 'ambiguous'?)

The training settings are not redefined here: the ``data`` section takes its fields from
:class:`~datamap.training.config.TrainConfig`, and ``train`` sections (shared, ``cartography.train``,
``experiments[i].train``) are merged and validated as a ``TrainConfig``, errors named where the
offending key was written.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from datamap.core.clusters import ClusterSpec
from datamap.core.metrics import JOINED_COLUMNS, TABLE_COLUMNS
from datamap.core.sft_metrics import SFT_TABLE_COLUMNS
from datamap.core.selection import Recipe, parse_filter
from datamap.errors import DatamapError
from datamap.io.yamlsafe import load_yaml, load_yaml_file
from datamap.io.names import check_name
from datamap.stages.options.cluster import ClusterOptions
from datamap.stages.options.embed import EmbedOptions
from datamap.stages.options.metrics import MetricsOptions
from datamap.stages.options.select import SelectOptions
from datamap.stages.options.errors import ErrorsOptions
from datamap.stages.options.evaluate import SPLIT
from datamap.stages.options.weights import WeightsOptions
from datamap.training.config import TrainConfig, config_error

__all__ = ["ExperimentConfig", "load_config", "apply_overrides", "train_config", "yaml_path", "variants",
           "DATA_FIELDS", "RESERVED_TRAIN"]

#: TrainConfig fields that belong to the ``data`` section.
DATA_FIELDS = ("dataset", "split", "text_column", "text_pair_column", "label_column", "id_column", "drop_empty",
               "limit", "limit_mode", "limit_seed")
#: TrainConfig fields a ``train`` section may not set, and what sets them instead.
RESERVED_TRAIN = {"out": "the runner names every run folder", "subset": "set by an experiment's selection",
                  "seed": "set by the top-level seeds list", "overwrite": "the runner decides what to redo"}
#: the parts of a selection that may be a list (a sweep)
SWEEPABLE = ("ambiguous", "easy", "hard", "random", "top", "bottom", "data_pct")
#: the summary columns of an experiment of sft runs (their eval/SET.json scores) unless summary_metrics says
SFT_SUMMARY_METRICS = ["exact_match", "token_accuracy", "loss"]
#: names a run folder may not take (folders of the experiment itself)
RESERVED_RUNS = ("cartography", "select", "evalsets", "plots")

Loc = tuple


def yaml_path(loc: Loc) -> str:
    """``("experiments", 2, "selection")`` -> ``experiments[2].selection``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def _fields(names) -> dict:
    return {n: (TrainConfig.model_fields[n].annotation, copy.copy(TrainConfig.model_fields[n])) for n in names}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


DataSpec = create_model("DataSpec", __base__=_Strict, __doc__="The ``data`` section: the TrainConfig data fields.",
                        **_fields(DATA_FIELDS))


def _fraction_or_list(value: Any, *, counts: bool = False) -> Any:
    """A fraction in [0, 1] (or a count >= 0 with ``counts``), or a non-empty list of them (a sweep)."""
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        raise ValueError("an empty list (a sweep needs at least one value)")
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"must be a fraction{' or a count' if counts else ''}, got {v!r}")
        if isinstance(v, int) and counts:
            if v < 0:
                raise ValueError(f"a count must be >= 0, got {v!r}")
        elif not (math.isfinite(v) and 0 <= v <= 1):
            raise ValueError(f"a fraction must be in [0, 1], got {v!r}")
    if isinstance(value, list) and len(set(map(float, items))) != len(items):
        raise ValueError(f"repeats a value: {value!r}")
    return value


def _select(name: str) -> Any:
    """The default of ``datamap select``'s option ``name`` (SelectionSpec takes other types: see SelectOptions)."""
    return SelectOptions.default(name)


class ClusterPart(_Strict):
    """``selections.NAME.cluster``: the cluster part of a selection (``datamap select --cluster-*``)."""

    mode: str
    budget: Any = _select("cluster_budget")
    k: Optional[int] = Field(_select("cluster_k"), ge=1)
    order: str = _select("cluster_order")
    rank: Optional[str] = _select("cluster_rank")

    @field_validator("budget")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        return v if v is None else _fraction_or_list(v, counts=True)


class SelectionSpec(_Strict):
    """``selections.NAME``: a :class:`~datamap.core.selection.Recipe` (one part may be a list: a sweep),
    or ``random_like: OTHER``: random subsets of exactly the sizes of selection OTHER's."""

    ambiguous: Any = _select("ambiguous")
    easy: Any = _select("easy")
    hard: Any = _select("hard")
    random: Any = _select("random")
    by: Optional[str] = _select("by")
    top: Any = _select("top")
    bottom: Any = _select("bottom")
    where: list[str] = Field(default_factory=list)
    data_pct: Any = _select("data_pct")
    drop_hard: bool = _select("drop_hard")
    stratify: bool = _select("stratify")
    cluster: Optional[ClusterPart] = None
    seed: Optional[int] = Field(None, ge=0, description="seed of the random draws (default: the run's seed)")
    random_like: Optional[str] = None
    drop_errors: bool = Field(_select("drop_errors"),
                              description="leave out the examples the errors section flags (select --drop-errors)")

    @field_validator("ambiguous", "easy", "hard", "random", "data_pct")
    @classmethod
    def _fractions(cls, v: Any) -> Any:
        return v if v is None else _fraction_or_list(v)

    @field_validator("top", "bottom")
    @classmethod
    def _amounts(cls, v: Any) -> Any:
        return v if v is None else _fraction_or_list(v, counts=True)


class ExperimentSpec(_Strict):
    """``experiments[i]``: retrain on a selection (every variant of a sweep), or on all the data.

    ``dataset``: train on this file instead of ``data.dataset`` (the same rows, other labels: e.g. the
    clean labels of a noisy copy, the oracle); ``act``: ``relabel`` trains on the cartography run's
    rows with the flagged labels replaced by its predictions (``datamap relabel``), ``down_weight`` on
    the data with the flagged examples' loss weighted ``errors.flagged_weight`` (``datamap weights``).
    ``train.steps_like: cartography`` takes the cartography run's number of optimizer steps.
    """

    name: str
    selection: Optional[str] = None
    dataset: Optional[str] = None
    act: Optional[Literal["relabel", "down_weight"]] = None
    train: dict[str, Any] = Field(default_factory=dict)


class EvalSpec(_Strict):
    """``evaluation[i]``: a labelled set every run is scored on (``RUN/eval/NAME.json``)."""

    name: str
    dataset: Optional[str] = None
    split: str = SPLIT  # datamap evaluate's default
    text_column: Optional[str] = None
    text_pair_column: Optional[str] = None
    label_column: Optional[str] = None
    limit: Optional[int] = Field(None, ge=1)
    limit_seed: int = Field(0, ge=0)


class EnsembleSpec(_Strict):
    """``ensemble[i]``: the weighted mean of the logits of two or more runs (of the same seed)."""

    name: str
    members: list[str] = Field(min_length=2)
    weights: Optional[list[float]] = None


#: ``cartography.metrics``: the options of ``datamap metrics`` (the same model)
MetricsSpec = MetricsOptions.section("MetricsSpec")


#: ``cartography.clusters``: the options of ``datamap embed`` and ``datamap cluster`` the runner takes (the same models)
_EmbedPart = EmbedOptions.section("ClustersEmbedPart")
_ClusterPart = ClusterOptions.section("ClustersClusterPart")


class ClustersSpec(_ClusterPart, _EmbedPart):  # type: ignore[valid-type, misc]
    """``cartography.clusters``: ``datamap embed`` then ``datamap cluster`` on the cartography run."""

    @model_validator(mode="before")
    @classmethod
    def _on_key(cls, data: Any) -> Any:  # YAML 1.1 reads an unquoted key `on:` as the boolean true
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data


#: ``errors``: ``datamap errors`` on each cartography run (its method, cut, max_class_share, force_flag), then
#: the relabelled file and the weights (``datamap weights``' flagged_weight) the experiments' ``act`` and the
#: selections' ``drop_errors`` use: the two commands' options models, the same fields, ranges and validators
ErrorsSpec = create_model("ErrorsSpec", __base__=ErrorsOptions.section("ErrorsSpec"),
                          __doc__="``errors``: datamap errors, relabel and weights on each cartography run.",
                          **{n: (WeightsOptions.model_fields[n].annotation, WeightsOptions.model_fields[n])
                             for n in WeightsOptions.yaml_fields()})


class CartographySpec(_Strict):
    """``cartography``: train on all the data recording dynamics, metrics, maps (one run per seed)."""

    train: dict[str, Any] = Field(default_factory=dict)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    maps: list[Literal["png", "html"]] = Field(default_factory=lambda: ["png", "html"])
    evaluate: bool = True
    clusters: Optional[ClustersSpec] = None


class ExperimentConfig(_Strict):
    """The whole experiment file (see the module docstring and docs/experiments.md)."""

    name: Optional[str] = None
    out: Optional[str] = None
    data: DataSpec  # type: ignore[valid-type]
    train: dict[str, Any] = Field(default_factory=dict)
    cartography: CartographySpec = Field(default_factory=CartographySpec)
    errors: Optional[ErrorsSpec] = None
    selections: dict[str, SelectionSpec] = Field(default_factory=dict)
    experiments: list[ExperimentSpec] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [42], min_length=1)
    evaluation: list[EvalSpec] = Field(default_factory=list)
    ensemble: list[EnsembleSpec] = Field(default_factory=list)
    summary_metrics: list[str] = Field(default_factory=lambda: ["accuracy", "f1_macro"], min_length=1)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        for s in seeds:
            if not 0 <= s <= 2**32 - 1:
                raise ValueError(f"a seed must be in [0, 2**32 - 1], got {s}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"repeats a seed: {seeds}")
        return seeds

    @model_validator(mode="after")
    def _sft_summary(self) -> "ExperimentConfig":
        if "summary_metrics" not in self.model_fields_set and is_sft(self):
            self.summary_metrics = list(SFT_SUMMARY_METRICS)
        return self


def is_sft(cfg: ExperimentConfig) -> bool:
    """Whether the experiment trains causal LMs (``task: sft`` in ``train`` or ``cartography.train``)."""
    return {**cfg.train, **cfg.cartography.train}.get("task") == "sft"


# ------------------------------------------------------------------ variants of a selection


def variants(name: str, spec: SelectionSpec) -> list[tuple[str, Recipe | None, dict]]:
    """The selections a spec expands to: ``[(variant name, Recipe, {axis: value})]``.

    A spec with a list (``ambiguous: [0.1, 0.33]``) gives one variant per value, named
    ``NAME_10``, ``NAME_33`` (percent, or the count for integer ``top``/``bottom``/``budget``); a
    spec without a list gives one variant named ``NAME``. ``random_like`` specs give ``(name, None, {})``:
    their variants follow those of the selection they copy the sizes of (see the runner).
    """
    if spec.random_like is not None:
        return [(name, None, {})]
    fields = spec.model_dump(exclude={"seed", "random_like", "cluster", "drop_errors"})
    cluster = spec.cluster.model_dump() if spec.cluster is not None else None
    axes = [k for k in SWEEPABLE if isinstance(fields.get(k), list)]
    if cluster is not None and isinstance(cluster.get("budget"), list):
        axes.append("cluster.budget")
    if len(axes) > 1:
        raise ValueError(f"only one part may be a list (a sweep), got {', '.join(axes)}")
    if not axes:
        return [(name, _recipe(fields, cluster), {})]
    axis = axes[0]
    values = cluster["budget"] if axis == "cluster.budget" else fields[axis]
    out = []
    for v in values:
        f, c = dict(fields), (dict(cluster) if cluster else None)
        if axis == "cluster.budget":
            c["budget"] = v
        else:
            f[axis] = v
        suffix = f"{v}" if isinstance(v, int) else f"{int(round(v * 100)):02d}"
        out.append((f"{name}_{suffix}", _recipe(f, c), {axis: v}))
    return out


def _recipe(fields: dict, cluster: dict | None) -> Recipe:
    fields = {k: v for k, v in fields.items() if not (k in ("ambiguous", "easy", "hard", "random") and v is None)}
    recipe = Recipe(**{**fields, "where": tuple(fields.get("where") or ())},
                    cluster=ClusterSpec(**cluster) if cluster else None)
    recipe.validate()
    return recipe


# ------------------------------------------------------------------ training configs


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def train_config(cfg: ExperimentConfig, *, seed: int, out: str, overrides: dict | None = None,
                 subset: str | None = None, cartography: str | None = None, dataset: str | None = None,
                 own_columns: bool = False) -> TrainConfig:
    """The TrainConfig of one run: ``data`` + shared ``train`` + ``overrides``, with the runner's fields.

    Parameters
    ----------
    cfg : ExperimentConfig
        The validated experiment.
    seed : int
        The run's seed.
    out : str
        The run folder.
    overrides : dict or None
        ``cartography.train`` or ``experiments[i].train``.
    subset : str or None
        A selection JSON to train on; the ``data`` limit is then not applied again (the selection
        was drawn from the limited rows).
    cartography : str or None
        The cartography run of this seed: ``dynamics_from: cartography`` and ``steps_like: cartography`` name it.
    dataset : str or None
        Train on this dataset instead of ``data.dataset`` (an experiment's ``dataset`` or ``act: relabel``).
    own_columns : bool, default False
        ``dataset`` holds a run's own columns (id, text, label: ``datamap relabel``'s file): none of the
        ``data`` section's other fields apply to it.
    """
    data = cfg.data.model_dump(exclude_unset=True)
    if dataset is not None:
        data = {"dataset": dataset} if own_columns else {**data, "dataset": dataset}
    sft = _merge(cfg.train, overrides or {}).get("task") == "sft"
    if subset is not None and not sft:  # sft: the limit comes before the hold-out and the subset (same held-out rows)
        for key in ("limit", "limit_mode", "limit_seed"):
            data.pop(key, None)
    merged = _merge(_merge(cfg.train, overrides or {}), {**data, "seed": seed, "out": out})
    if subset is not None:
        merged["subset"] = subset
    for key in ("dynamics_from", "steps_like"):
        if merged.get(key) == "cartography":
            merged[key] = cartography or "cartography"
    return TrainConfig.model_validate(merged)


def _train_problems(cfg: ExperimentConfig, raw_section: dict, at: Loc) -> list[str]:
    """Problems of the TrainConfig that ``data`` + ``train`` + the section at ``at`` make, each with its path."""
    problems = []
    for key in raw_section:
        if key in DATA_FIELDS:
            problems.append(f"{yaml_path(at + (key,))}: belongs to the data section (data.{key})")
        elif key in RESERVED_TRAIN:
            problems.append(f"{yaml_path(at + (key,))}: not allowed ({RESERVED_TRAIN[key]})")
    if problems:
        return problems

    def naming(loc: Loc) -> str:
        top = loc[0] if loc else None
        if top in DATA_FIELDS:
            return yaml_path(("data",) + tuple(loc))
        if at != ("train",) and top in raw_section:
            return yaml_path(at + tuple(loc))
        return yaml_path(("train",) + tuple(loc))

    try:
        train_config(cfg, seed=cfg.seeds[0], out="run", overrides=raw_section,
                     subset=None, cartography="cartography")
    except ValidationError as exc:
        problems.append(str(config_error(exc, naming)))
    return problems


# ------------------------------------------------------------------ cross-references


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_name(name: str, loc: Loc) -> str | None:
    try:
        check_name(name, "name")
    except DatamapError:
        return f"{yaml_path(loc)}: {name!r} is not a valid name (letters, digits, '.', '_', '-')"
    return None


def run_names(cfg: ExperimentConfig) -> dict[str, tuple[str, str | None]]:
    """``{run name: (experiment name, selection variant or None)}`` for every retraining run."""
    out = {}
    for exp in cfg.experiments:
        if exp.selection is None:
            out[exp.name] = (exp.name, None)
            continue
        vs = variants(exp.selection, cfg.selections[exp.selection])
        target = cfg.selections[exp.selection].random_like
        if target is not None:
            vs = [(f"{exp.selection}{v[len(target):]}", None, {}) for v, _, _ in variants(target, cfg.selections[target])]
        for v, _, _ in vs:
            out[exp.name + v[len(exp.selection):]] = (exp.name, v)
    return out


def cross_problems(cfg: ExperimentConfig) -> list[str]:
    """Problems between sections (unknown names, clashes, selections that cannot be built), with paths."""
    problems: list[str] = []
    for name, spec in cfg.selections.items():
        loc = ("selections", name)
        if (p := _check_name(name, loc)):
            problems.append(p)
        if spec.random_like is not None:
            others = [k for k in spec.model_fields_set if k not in ("random_like", "seed")]
            if others:
                problems.append(f"{yaml_path(loc + (others[0],))}: not with random_like (its sizes come from "
                                f"{spec.random_like!r})")
            if spec.random_like not in cfg.selections:
                problems.append(f"{yaml_path(loc + ('random_like',))}: no selection named {spec.random_like!r}"
                                + _suggest(spec.random_like, cfg.selections))
            elif cfg.selections[spec.random_like].random_like is not None:
                problems.append(f"{yaml_path(loc + ('random_like',))}: {spec.random_like!r} is itself random_like")
            continue
        if spec.drop_errors and cfg.errors is None:
            problems.append(f"{yaml_path(loc + ('drop_errors',))}: needs the errors section (the flags it drops)")
        if spec.cluster is not None and cfg.cartography.clusters is None:
            problems.append(f"{yaml_path(loc + ('cluster',))}: needs cartography.clusters (the embeddings and "
                            "clusters it draws from)")
        try:
            variants(name, spec)
        except (ValueError, TypeError) as exc:
            problems.append(f"{yaml_path(loc)}: {exc}")
        table_columns = SFT_TABLE_COLUMNS if is_sft(cfg) else TABLE_COLUMNS
        for j, text in enumerate(spec.where):  # checked now, not after the cartography training
            try:
                parse_filter(text, columns=(*table_columns, *JOINED_COLUMNS))
            except ValueError as exc:
                problems.append(f"{yaml_path(loc + ('where', j))}: {exc}")
    if is_sft(cfg):  # train scores an sft run on its own evaluation set; nothing here works on logits or classes
        for i, ev in enumerate(cfg.evaluation):
            for key in sorted(ev.model_fields_set - {"name"}):
                problems.append(f"evaluation[{i}].{key}: not for sft runs (train scores them on their own evaluation "
                                "set, eval_split: give only its name, e.g. validation or heldout)")
        if cfg.ensemble:
            problems.append("ensemble: not for sft runs (a mean of classifier logits)")
        if cfg.errors is not None:
            problems.append("errors: not for sft runs (label errors need classes)")
    if cfg.cartography.clusters is not None and cfg.cartography.clusters.method != "dbscan" \
            and cfg.cartography.clusters.k is None:
        problems.append("cartography.clusters.k: required by the k-means methods")

    seen: dict[str, str] = {}
    for i, exp in enumerate(cfg.experiments):
        loc = ("experiments", i)
        if (p := _check_name(exp.name, loc + ("name",))):
            problems.append(p)
        if exp.name in seen:
            problems.append(f"{yaml_path(loc + ('name',))}: {exp.name!r} is already the name of {seen[exp.name]}")
        seen[exp.name] = yaml_path(loc)
        if exp.name in RESERVED_RUNS:
            problems.append(f"{yaml_path(loc + ('name',))}: {exp.name!r} is a folder of the experiment itself")
        if exp.act is not None and cfg.errors is None:
            problems.append(f"{yaml_path(loc + ('act',))}: needs the errors section (the flags it acts on)")
        if exp.act is not None and exp.dataset is not None:
            problems.append(f"{yaml_path(loc + ('dataset',))}: not with act")
        if exp.act == "relabel" and exp.selection is not None:
            problems.append(f"{yaml_path(loc + ('selection',))}: not with act: relabel (it trains on every row)")
        if exp.selection is not None and exp.selection not in cfg.selections:
            problems.append(f"{yaml_path(loc + ('selection',))}: no selection named {exp.selection!r}"
                            + _suggest(exp.selection, cfg.selections))
    if problems:
        return problems
    runs = run_names(cfg)
    for i, ens in enumerate(cfg.ensemble):
        loc = ("ensemble", i)
        if (p := _check_name(ens.name, loc + ("name",))):
            problems.append(p)
        if ens.name in runs or ens.name in RESERVED_RUNS:
            problems.append(f"{yaml_path(loc + ('name',))}: {ens.name!r} is already a run name")
        known = ["cartography", *runs]
        for j, m in enumerate(ens.members):
            if m not in known:
                problems.append(f"{yaml_path(loc + ('members', j))}: no run named {m!r}" + _suggest(m, known))
        if ens.weights is not None and len(ens.weights) != len(ens.members):
            problems.append(f"{yaml_path(loc + ('weights',))}: {len(ens.weights)} weights for "
                            f"{len(ens.members)} members")
    names = [e.name for e in cfg.evaluation]
    for i, ev in enumerate(cfg.evaluation):
        if (p := _check_name(ev.name, ("evaluation", i, "name"))):
            problems.append(p)
        if names.index(ev.name) != i:
            problems.append(f"evaluation[{i}].name: {ev.name!r} is given twice")
    if cfg.ensemble and not cfg.evaluation:
        problems.append("ensemble: needs at least one evaluation set")
    return problems


# ------------------------------------------------------------------ reading a file


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_TOKEN = re.compile(r"[^.\[\]]+|\[(\d+)\]")


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Set ``key.path=value`` (``experiments[1].train.epochs=2``; values parsed as YAML) in a copy of ``raw``."""
    raw = copy.deepcopy(raw)
    for text in overrides:
        key, eq, value = text.partition("=")
        if not eq or not key.strip():
            raise DatamapError(f"override {text!r}: expected key.path=value")
        parts: list[Any] = []
        for m in _TOKEN.finditer(key.strip()):
            tok = m.group(0)
            parts.append(int(m.group(1)) if m.group(1) is not None else (int(tok) if tok.isdigit() else tok))
        parsed = load_yaml(value, f"override {text!r}: the value")
        if isinstance(parsed, str) and _NUMBER.match(parsed.strip()):
            parsed = float(parsed)  # YAML 1.1 reads 1e-4 (no dot) as a string
        node: Any = raw
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = yaml_path(tuple(parts[: i + 1]))
            if isinstance(part, int):
                if not isinstance(node, list) or not -len(node) <= part < len(node):
                    raise DatamapError(f"override {text!r}: {where} does not exist")
            elif not isinstance(node, dict):
                raise DatamapError(f"override {text!r}: {yaml_path(tuple(parts[:i]))} is not a mapping")
            if last:
                node[part] = parsed
            else:
                if isinstance(node, dict) and node.get(part) is None:
                    node[part] = {}
                node = node[part]
    return raw


def load_config(path: "str | Path", overrides: list[str] | None = None) -> ExperimentConfig:
    """Read, override and validate an experiment file; a :class:`DatamapError` lists every problem with its path.

    Parameters
    ----------
    path : path
        The YAML file.
    overrides : list of str
        ``key.path=value`` items applied before validation (validated like the file).
    """
    path = Path(path)
    if not path.exists():
        raise DatamapError(f"{path}: not found")
    raw = load_yaml_file(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DatamapError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    raw = apply_overrides(raw, overrides or [])
    return validate(raw, str(path))


def validate(raw: dict, source: str = "config") -> ExperimentConfig:
    """Build the :class:`ExperimentConfig` of a mapping, or stop with every problem and its path."""
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise DatamapError(f"{source}: {config_error(exc, yaml_path)}") from None
    problems = _train_problems(cfg, cfg.train, ("train",))
    if not problems:
        problems += _train_problems(cfg, cfg.cartography.train, ("cartography", "train"))
        for i, exp in enumerate(cfg.experiments):
            problems += _train_problems(cfg, exp.train, ("experiments", i, "train"))
    problems += cross_problems(cfg)
    if not problems:
        problems += data_problems(cfg)
    if problems:
        raise DatamapError(f"{source}: " + "; ".join(problems))
    return cfg


def data_problems(cfg: ExperimentConfig) -> list[str]:
    """Local data that cannot be found: a missing file, a folder or mirror entry without the split.

    Checked before any work so that an evaluation set misspelled at the end of a long experiment
    stops it at once. Names that are neither local files nor mirror entries are hub datasets and
    are not probed (that needs the network); they fail when first loaded.
    """
    import os

    from datamap.io.data import DATA_DIR_ENV, EXTENSIONS, locate

    mirror = Path(os.environ[DATA_DIR_ENV]) if os.environ.get(DATA_DIR_ENV) else None
    entries = sorted(f.name for f in mirror.iterdir() if f.is_dir()) if mirror and mirror.is_dir() else []
    wanted = [(("data",), cfg.data.dataset, cfg.data.split)]
    wanted += [(("evaluation", i), ev.dataset or cfg.data.dataset, ev.split) for i, ev in enumerate(cfg.evaluation)]
    problems, seen = [], set()
    for loc, dataset, split in wanted:
        if dataset is None or (dataset, split) in seen or dataset in seen:
            continue  # each problem once, at its first place
        seen.add((dataset, split))
        try:
            found = locate(dataset, split)
        except DatamapError as exc:
            problems.append(f"{yaml_path(loc)}: {exc}")
            continue
        if found is not None or Path(dataset).exists():
            continue
        if dataset in entries:  # a mirror entry without that split
            have = sorted(f.stem for f in (mirror / dataset).iterdir() if f.suffix.lower() in EXTENSIONS)
            problems.append(f"{yaml_path(loc)}: {mirror / dataset}: no '{split}' split (found: {', '.join(have) or 'none'})")
        elif (hint := _suggest(dataset, entries)):
            seen.add(dataset)
            problems.append(f"{yaml_path(loc)}: {dataset!r} is not in the local mirror {mirror}{hint}; "
                            "a hub dataset of that name would be downloaded")
    return problems

