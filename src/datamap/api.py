"""The public Python API: measure, map into regions, select, train and open runs from Python.

Everything here is re-exported from the package, so ``import datamap`` is enough::

    import datamap

    metrics = datamap.compute_metrics(logits, gold)           # (N, E, C) logits, (N,) gold
    metrics["region"] = datamap.assign_regions(metrics)       # easy / ambiguous / hard / none
    chosen = datamap.select(metrics, ambiguous=0.33, seed=0)  # a SelectionResult (.ids, .indices)

    run = datamap.train(dataset="rotten_tomatoes", model="minilm", out="runs/rt", epochs=3)
    run = datamap.load_run("runs/rt")                         # data, dynamics, metrics, evaluations

The functions are thin: :mod:`datamap.core` holds the formulas (plain arrays in and out),
:mod:`datamap.stages` the commands' logic, :mod:`datamap.training` the loop. Bad input raises
:class:`datamap.DatamapError` (a ``ValueError``) with a one-line message.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from datamap.core.label_errors import DEFAULT_METHOD
from datamap.core.regions import REGION_FRACTION
from datamap.core.selection import SelectionResult
from datamap.errors import DatamapError, user_errors

if TYPE_CHECKING:  # pandas is imported where used: `import datamap` stays light
    import pandas as pd

__all__ = ["Run", "assign_regions", "compute_metrics", "label_issues", "load_run", "plot_map", "select", "show_map",
           "train"]


def _dynamics_arrays(dynamics: Any, gold: Any) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(ids or None, logits (N, E, C), gold (N,)) from any of the inputs :func:`compute_metrics` takes."""
    import pandas as pd

    from datamap.io.store import Dynamics, dynamics_from_table

    if isinstance(dynamics, pd.DataFrame):
        if gold is not None:
            raise DatamapError("compute_metrics: pass gold only with a logits array; a frame carries its own 'gold'")
        import pyarrow as pa

        missing = [c for c in ("id", "epoch", "logits", "gold") if c not in dynamics.columns]
        if missing:
            raise DatamapError(f"compute_metrics: the dynamics frame has no column {missing[0]!r} "
                               "(expected id, epoch, logits, gold: one row per example and epoch)")
        frame = dynamics[["id", "epoch", "logits", "gold"]].assign(id=dynamics["id"].astype(str))
        dynamics = dynamics_from_table(pa.Table.from_pandas(frame, preserve_index=False), "dynamics frame")
    if isinstance(dynamics, Dynamics):
        return np.asarray(dynamics.ids, dtype=object), dynamics.logits, dynamics.gold
    if gold is None:
        raise DatamapError("compute_metrics: gold is required with a logits array")
    return None, np.asarray(dynamics), np.asarray(gold)


def compute_metrics(
    dynamics: Any,
    gold: Any = None,
    *,
    burn_out: int | None = None,
    entropy_epoch: int | None = None,
    probabilities: bool = False,
) -> "pd.DataFrame":
    """Per-example training-dynamics metrics (Dataset Cartography and more), one row per example.

    Parameters
    ----------
    dynamics : array (N, E, C), pandas.DataFrame or datamap.io.store.Dynamics
        Either raw logits of N examples at E epochs over C classes (then ``gold`` is required), or
        a frame in the layout of ``dynamics.parquet`` (columns ``id``, ``epoch`` 0..E-1,
        ``logits`` (a list of C floats), ``gold``; one row per example and epoch, any order), or
        the arrays :func:`datamap.io.store.read_dynamics` returns.
    gold : int array (N,), optional
        Gold class ids; only with a logits array.
    burn_out : int, optional
        Use only the first ``burn_out`` epochs, 1 <= burn_out <= E. Default: all epochs.
    entropy_epoch : int, optional
        0-based epoch (within those used; negative counts from the end) whose softmax gives
        ``entropy`` and ``pred``. Default: the last epoch used.
    probabilities : bool, default False
        The values are probabilities (a softmax already applied): converted with ``log`` first.
        Without it, values whose every row lies in [0, 1] and sums to 1 raise ``DatamapError``
        (they are not logits).

    Returns
    -------
    pandas.DataFrame
        ``id`` (when the input has ids; else the row position as a string), ``gold``, ``pred``,
        ``confidence``, ``variability``, ``correctness``, ``forgetfulness`` (``inf`` if never
        correct), ``threshold_closeness``, ``aum``, ``el2n``, ``entropy``, ``confidence_pred``.
        Definitions: :mod:`datamap.core.metrics`.
    """
    import pandas as pd

    from datamap.core.metrics import METRIC_COLUMNS, compute_metrics as core_metrics
    from datamap.core.probs import logits_from_probabilities, looks_like_probabilities

    ids, logits, gold_arr = _dynamics_arrays(dynamics, gold)
    with user_errors("compute_metrics: probabilities=True"):
        if probabilities:
            logits = logits_from_probabilities(logits)
    if not probabilities and looks_like_probabilities(logits):
        raise DatamapError("compute_metrics: every row lies in [0, 1] and sums to 1: these are probabilities, not "
                           "logits; pass probabilities=True to convert them with log")
    with user_errors("compute_metrics"):
        m = core_metrics(logits, gold_arr, burn_out=burn_out, entropy_epoch=entropy_epoch)
    if ids is None:
        ids = np.array([str(i) for i in range(len(gold_arr))], dtype=object)
    table = pd.DataFrame({"id": ids, "gold": np.asarray(gold_arr, dtype=np.int64), "pred": m["pred"]})
    for col in METRIC_COLUMNS:
        table[col] = m[col]
    return table


def assign_regions(
    metrics: Any,
    variability: Any = None,
    *,
    fraction: float = REGION_FRACTION,
) -> np.ndarray:
    """Data-map region of every example: ``easy``, ``ambiguous``, ``hard`` or ``none``.

    The allenai ranking: ambiguous = the ``floor(fraction * N)`` highest variabilities, easy = as many
    highest confidences, hard = as many lowest confidences; one label each with precedence
    ambiguous > easy > hard, ties broken by position.

    Parameters
    ----------
    metrics : DataFrame (or mapping) with ``confidence`` and ``variability``, or a confidence array
        The output of :func:`compute_metrics`, or the confidences themselves.
    variability : array, optional
        Only when ``metrics`` is a confidence array.
    fraction : float, default REGION_FRACTION (0.33)
        Size of each region as a fraction of N, in [0, 1].

    Returns
    -------
    numpy array of str (object dtype), shape (N,)
    """
    from datamap.core.regions import assign_regions as core_regions

    if variability is None:
        try:
            confidence, variability = metrics["confidence"], metrics["variability"]
        except (KeyError, TypeError, IndexError):
            raise DatamapError("assign_regions: pass a metrics table with confidence and variability, "
                               "or the confidence and variability arrays") from None
    else:
        confidence = metrics
    with user_errors("assign_regions"):
        return core_regions(np.asarray(confidence, dtype=np.float64), np.asarray(variability, dtype=np.float64),
                            fraction=fraction)


def select(
    metrics: Any,
    recipe: Any = None,
    *,
    seed: int = 0,
    label_names: Sequence[str] | None = None,
    **parts: Any,
):
    """Choose a subset of examples from their metrics (regions, rankings, filters, random parts).

    Parameters
    ----------
    metrics : DataFrame or mapping of column -> array
        A metrics table (:func:`compute_metrics` plus a ``region`` column for ``drop_hard`` or
        ``region==...`` filters), e.g. ``load_run(path).metrics``.
    recipe : datamap.core.selection.Recipe, optional
        What to select; or give its fields as keywords instead: ``ambiguous``, ``easy``, ``hard``,
        ``random`` (fractions of the whole table), ``by`` with ``top`` or ``bottom`` (a fraction or
        a count), ``where`` (filters such as ``"confidence<0.5"``), ``data_pct`` (keep a random
        fraction in (0, 1] of the result), ``drop_hard``, ``stratify``. See
        :class:`datamap.core.selection.Recipe` for each one's meaning and default.
    seed : int, default 0
        Seed of the random draws (``random`` and ``data_pct``).
    label_names : sequence of str, optional
        Class names in id order (used for per-class sizes and ``gold==NAME`` filters).

    Returns
    -------
    Selection
        A :class:`datamap.core.selection.SelectionResult`: ``.ids`` (list of str), ``.indices`` (row
        positions), ``.parts``, ``.sizes``; sizes asked are sizes delivered (or an error says why
        not). ``.to_dataset(data)`` keeps those examples of a ``datasets.Dataset`` or frame.
    """
    from datamap.core.selection import Recipe, select as core_select

    if recipe is not None and parts:
        raise DatamapError(f"select: give a recipe or its fields as keywords, not both (got {', '.join(parts)})")
    with user_errors("select"):
        if recipe is None:
            try:
                recipe = Recipe(**parts)
            except TypeError as exc:
                raise DatamapError(f"select: {exc}") from None
        result = core_select(metrics, recipe, seed=seed, label_names=label_names)
    return Selection(**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)})


class Selection(SelectionResult):
    """:class:`~datamap.core.selection.SelectionResult` with :meth:`to_dataset`."""

    def to_dataset(self, data, *, text_column: str | None = None, text_pair_column: str | None = None,
                   label_column: str = "label", id_column: str | None = None):
        """The selected examples of ``data`` (a ``datasets.Dataset`` or ``pandas.DataFrame``), in its order.

        Each row's id is computed as ``datamap train`` computes it (the id column, else a hash of the
        text(s)), so ``data`` is the dataset the run was trained on (or any with those rows). The
        column arguments are those the run was trained with. An id of the selection that ``data``
        lacks is an error.
        """
        import pandas as pd

        from datamap.io.data import hf_frame, prepare

        is_frame = isinstance(data, pd.DataFrame)
        frame = data.reset_index(drop=True) if is_frame else hf_frame(data)
        prepared, _ = prepare(frame, "to_dataset", text_column=text_column, text_pair_column=text_pair_column,
                              label_column=label_column, id_column=id_column)
        if len(prepared) != len(frame):
            raise DatamapError("to_dataset: rows with empty text; drop them first, as the run did")
        wanted = set(self.ids)
        rows = np.flatnonzero(prepared["id"].isin(wanted).to_numpy())
        if len(rows) != len(wanted):
            missing = sorted(wanted - set(prepared["id"]))
            raise DatamapError(f"to_dataset: {len(missing)} selected ids are not in the data (e.g. {missing[0]!r}); "
                               "pass the dataset the run was trained on, with its --text-column/--id-column")
        return data.iloc[rows].reset_index(drop=True) if is_frame else data.select(rows)


def train(config: Any = None, /, **options: Any) -> "Run":
    """Fine-tune a classifier, record its training dynamics and return the run.

    Parameters
    ----------
    config : datamap.training.config.TrainConfig or dict, optional
        The whole configuration; or give its fields as keywords (``dataset`` is required; e.g.
        ``model="minilm"``, ``out="runs/rt"``, ``epochs=3``, ``lr=5e-5``, ``limit=2000``). The
        fields are those of ``datamap train --help`` with ``-`` written ``_``; mixup options are
        nested: ``mixup={"site": "pooled", "pairing": "td-entropy"}``. Every field is validated
        before any file is read (:class:`datamap.training.config.TrainConfig`).
        Beside names and paths, ``dataset`` (or ``data``) takes a ``datasets.Dataset`` or
        ``DatasetDict`` (its ``validation`` split is the evaluation set), a ``pandas.DataFrame`` or a
        ``save_to_disk`` folder, and ``model`` a transformers model object with ``tokenizer=``
        (trained in place). Such a run's ``config.yaml`` names them ``memory:...``/``object:...``:
        it cannot be resumed from the command line.

    Returns
    -------
    Run
        The run directory, opened with :func:`load_run`.
    """
    from pydantic import ValidationError

    from datamap.training.config import TrainConfig, config_error, field_path
    from datamap.training.loop import train as run_train

    tokenizer = options.pop("tokenizer", None)
    if "data" in options:
        if "dataset" in options:
            raise DatamapError("train: give data= or dataset=, not both")
        options["dataset"] = options.pop("data")
    if config is not None and options:
        raise DatamapError("train: give a config or its fields as keywords, not both")
    if config is None:
        config = _in_memory(options, tokenizer)
    if isinstance(config, dict):
        try:
            config = TrainConfig(**config)
        except ValidationError as exc:  # one line naming the field: "train: epochs: must be >= 1, got 0"
            raise DatamapError(f"train: {config_error(exc, naming=field_path)}") from None
    rundir = run_train(config)
    return load_run(rundir.root)


def _in_memory(options: dict, tokenizer) -> dict:
    """``options`` with a dataset or model object replaced by the name it is registered under."""
    from datamap.io.data import register_data
    from datamap.training.models import register_model

    options = dict(options)
    if options.get("dataset") is not None and not isinstance(options["dataset"], (str, os.PathLike)):
        options["dataset"] = register_data(options["dataset"])
    elif isinstance(options.get("dataset"), os.PathLike):
        options["dataset"] = str(options["dataset"])
    model = options.get("model")
    if model is not None and not isinstance(model, (str, os.PathLike)):
        options["model"] = register_model(model, tokenizer)
    elif tokenizer is not None:
        raise DatamapError("train: tokenizer= goes with a model object; a named model brings its own")
    return options


@dataclass
class Run:
    """A run directory opened for reading; frames are read on first access.

    Attributes
    ----------
    path : Path
        The run directory.
    config : dict
        ``config.yaml`` (empty if absent).
    label_names : list of str
        Class names in id order (``labels.json``).
    history : list of dict
        Per-epoch training loss, speed and evaluation scores (``history.json``).
    evaluations : dict of str -> dict
        ``eval/<set>.json`` scores by set name.
    selections : dict of str -> list of str
        Selected ids by selection name (``selections/<name>.json``).
    data, dynamics, metrics : pandas.DataFrame or None
        ``data.parquet`` (what was trained on), ``dynamics.parquet`` (one row per example and
        epoch: ``id``, ``epoch``, ``logits``, ``gold``; while a run trains, its finished epochs
        from ``dynamics/epoch_{e}.parquet``) and ``metrics.parquet``; ``None`` when the file does
        not exist yet.
    """

    path: Path
    config: dict
    label_names: list[str]
    history: list
    evaluations: dict
    selections: dict

    @functools.cached_property
    def data(self) -> "pd.DataFrame | None":
        return _read_frame(self.path / "data.parquet")

    @functools.cached_property
    def dynamics(self) -> "pd.DataFrame | None":
        from datamap.io.rundir import RunDir

        source = RunDir(self.path).dynamics_source()  # dynamics/ (per epoch) while a run trains
        if source.is_dir():
            from datamap.io.store import epoch_files

            frames = [_read_frame(p) for _, p in epoch_files(source)]
            return pd_concat(frames) if frames else None
        return _read_frame(source)

    @functools.cached_property
    def metrics(self) -> "pd.DataFrame | None":
        """``metrics.parquet``; when it is missing but the dynamics exist, the same table computed here
        (default options of ``datamap metrics``: every epoch, regions at fraction 0.33), not written."""
        table = _read_frame(self.path / "metrics.parquet")
        if table is None and (self.path / "dynamics.parquet").exists():
            from datamap.stages.measure import metrics_table
            from datamap.stages.measure_sft import sft_metrics_table

            dyn = self.dynamics_arrays()
            with user_errors(str(self.path / "dynamics.parquet")):
                table = metrics_table(dyn) if hasattr(dyn, "logits") else sft_metrics_table(dyn)
        return table

    def dynamics_arrays(self):
        """The dynamics as dense arrays, validated: ``.ids``, ``.logits`` (N, E, C), ``.gold`` of a classifier
        run; of an sft run an :class:`datamap.io.store.SFTDynamics` (``.loss_sum``, ``.n_tokens``, ``.n_correct`` (N, P))."""
        from datamap.io.store import dynamics_kind, read_dynamics, read_sft_dynamics

        from datamap.io.rundir import RunDir

        source = RunDir(self.path).dynamics_source()
        if source.exists() and dynamics_kind(source) == "sft":
            return read_sft_dynamics(source)
        return read_dynamics(source)


def _as_run(run: "Run | str | os.PathLike") -> "Run":
    return run if isinstance(run, Run) else load_run(run)


def plot_map(run: "Run | str | os.PathLike", *, title: str | None = None, max_points: int | None = None):
    """The data map of a run as a matplotlib ``Figure`` (what ``datamap plot`` saves as map.png).

    Parameters
    ----------
    run : Run or path
        A trained run; its metrics are computed when ``datamap metrics`` has not run (see ``Run.metrics``).
    title : str, optional
        Default: the run directory's name.
    max_points : int, optional
        Draw a seeded random sample of this many points in the scatter (said in the title).
    """
    from datamap.views.static import map_figure

    r = _as_run(run)
    if r.metrics is None:
        raise DatamapError(f"{r.path}: no dynamics.parquet; train the run first")
    return map_figure(r.metrics, title or f"Data map: {r.path.name}", max_points)


def show_map(run: "Run | str | os.PathLike", *, height: int = 820, **options: Any):
    """The interactive data map of a run, inline in Jupyter: the page ``datamap plot RUN --html`` writes.

    Returns a :class:`datamap.views.notebook.MapView`; a notebook shows it (an ``<iframe srcdoc>``, sandboxed),
    ``.page`` is the HTML and ``.save(path)`` writes it. Needs ``RUN/metrics.parquet`` (``datamap metrics RUN``);
    nothing is written into the run.

    Parameters
    ----------
    run : Run or path
    height : int, default 820
        The frame's height in pixels.
    **options
        ``color_by``, ``max_points``, ``seed``, ``xy`` (``"map"`` or ``"embedding"``), ``embeddings``,
        ``clusters``, ``projection``: as :func:`datamap.views.interactive.write_html_map` takes them.
    """
    from datamap.views.notebook import map_view

    return map_view(_as_run(run).path, height=height, **options)


def label_issues(run: "Run | str | os.PathLike", method: str = DEFAULT_METHOD, **options: Any) -> "pd.DataFrame":
    """Training examples ranked by how likely their label is wrong, as a frame like cleanlab's.

    Runs ``datamap errors RUN --method METHOD --overwrite`` (so RUN/label_issues.parquet is written too;
    like it, flagging is refused for a model at or near chance unless ``force_flag=True``)
    and returns its table, most suspicious first: ``id``, ``rank``, ``is_label_issue`` (the flag),
    ``given_label``, ``predicted_label`` (names), their ``..._id`` columns, ``score_<method>`` for every
    method, and the ``text`` (and ``text_pair``).

    Parameters
    ----------
    run : Run or path
    method : str, default "aum"
        ``confidence``, ``aum``, ``el2n``, ``forgetfulness``, ``rank_mean``, ``class_confidence`` or
        ``cleanlab`` (needs the cleanlab package).
    **options
        The other options of :func:`datamap.stages.errors.find_errors` (``cut``, ``percentile``,
        ``max_class_share``, ``force_flag``, ``probs``), as ``datamap errors`` takes them.
    """
    from datamap.stages.errors import find_errors, with_texts

    path = _as_run(run).path
    found = find_errors(path, method=method, overwrite=True, **options)
    return with_texts(path, found.table).rename(columns={"flag": "is_label_issue"})


def pd_concat(frames: list) -> "pd.DataFrame":
    """The frames one after the other, with a fresh index."""
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def _read_frame(path: Path) -> "pd.DataFrame | None":
    import pandas as pd

    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise DatamapError(f"{path}: cannot read ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatamapError(f"{path}: cannot read ({exc})") from exc


def load_run(path: "str | os.PathLike") -> Run:
    """Open a run directory (see ``docs/run-directory.md``) for reading.

    Parameters
    ----------
    path : str or PathLike
        A folder written by ``datamap train`` (or ``import-dynamics``, or the Trainer integration).

    Returns
    -------
    Run
        Small files (config, labels, history, evaluation scores, selections) are read now; the
        Parquet frames (``data``, ``dynamics``, ``metrics``) on first access.
    """
    from datamap.io.rundir import RunDir
    from datamap.io.selection import load_selection_ids

    rd = RunDir(path)
    rd.require()
    config = rd.read_config()
    names = rd.label_names() if rd.labels.exists() else []
    history = _read_json(rd.history).get("epochs", []) if rd.history.exists() else []
    evaluations = {p.stem: _read_json(p) for p in sorted(rd.eval_dir.glob("*.json"))} if rd.eval_dir.is_dir() else {}
    selections = ({p.stem: load_selection_ids(p) for p in sorted(rd.selections.glob("*.json"))}
                  if rd.selections.is_dir() else {})
    return Run(path=rd.root, config=config, label_names=names, history=history, evaluations=evaluations,
               selections=selections)
