"""The evaluate and ensemble stages: score a model, a run's model, or a weighted ensemble on a labelled set."""

from __future__ import annotations

from typing import Sequence

import logging
import os
import re
from pathlib import Path

import numpy as np

from datamap.errors import DatamapError
from datamap.eval.sets import SAME_AS_TRAIN, EvalSet, load_eval_set, set_name, write_eval_set
from datamap.io import atomic
from datamap.io.data import same_dataset
from datamap.io.names import check_name
from datamap.io.rundir import RunDir, refuse_sft
from datamap.stages.options.evaluate import BATCH_SIZE, MAX_LENGTH, SPLIT

log = logging.getLogger(__name__)


def _eval_name(name: str | None, dataset: str, split: str) -> str:
    """The set name (``--name``, else ``DATASET_SPLIT``), safe as a file name in ``RUN/eval/``."""
    if name is not None:
        return check_name(name, "--name", suffix=".json")
    default = re.sub(r"[^A-Za-z0-9._-]", "_", set_name(dataset, split)).lstrip("._-")  # 'my data.csv' -> my_data
    return check_name(default, "set name (from --dataset and --split; pass --name)")


def _training_data(model_or_run: str) -> tuple[str, str] | None:
    """(dataset, split) a run was trained on, from its config.yaml; None for a model or an unreadable config."""
    try:
        conf = RunDir(model_or_run).read_config()
    except DatamapError:
        return None
    if not isinstance(conf.get("dataset"), str):
        return None
    return conf["dataset"], str(conf.get("split") or "train")


def _training_rows(model_or_run: str, es: EvalSet, name: str) -> bool:
    """Whether every row of ``es`` is a training row of the run ``model_or_run`` (by id; warned). Some: warned too."""
    data = Path(model_or_run) / "data.parquet"
    if not data.is_file():
        return False
    import pyarrow.parquet as pq

    try:
        trained = set(pq.read_table(data, columns=["id"]).column("id").to_pylist())
    except Exception:  # an unreadable run: the stages that need it say so
        return False
    shared = int(es.frame["id"].astype(str).isin(trained).sum())
    if shared == len(es.frame) and shared:
        log.warning("EVALUATING ON THE TRAINING DATA: all %d rows of %s are rows %s was trained on (same ids); "
                    "its scores (eval/%s%s.json) measure fit, not generalisation", shared, es.source, model_or_run,
                    name, SAME_AS_TRAIN)
        return True
    if shared:
        log.warning("%d of %d rows of %s are rows %s was trained on (same ids): its scores overstate generalisation",
                    shared, len(es.frame), es.source, model_or_run)
    return False


def _refuse_existing_scores(run: RunDir, name: str, overwrite: bool, extra: tuple = ()) -> None:
    """Stop before any work if ``RUN/eval/NAME.json`` or ``.parquet`` (or ``extra`` files) exist."""
    for path in (run.eval_scores(name), run.eval_predictions(name), *extra):
        atomic.refuse_existing(path, overwrite)


def _model_source(model_or_run: str) -> tuple[str, RunDir | None]:
    p = Path(model_or_run)
    if p.is_dir() and (p / "model" / "config.json").is_file():
        return str(p / "model"), RunDir(p)
    return model_or_run, None


def model_logits(model_ref: str, es: EvalSet, batch_size: int = BATCH_SIZE, max_length: int = MAX_LENGTH,
                 trust_remote_code: bool = False):
    """(logits, label names) of a model folder / hub name / run directory on an evaluation set."""
    from accelerate import Accelerator

    from datamap.training.batching import Collator, encode_frame
    from datamap.training.models import check_max_length, load_model, load_tokenizer, model_label_names
    from datamap.training.predict import predict_logits

    path, _ = _model_source(model_ref)
    tok = load_tokenizer(path, trust_remote_code)
    model = load_model(path, None, trust_remote_code)
    check_max_length(model, tok, max_length, str(model_ref))
    acc = Accelerator()
    model = acc.prepare_model(model, evaluation_mode=True)
    enc = encode_frame(es.frame, tok, max_length)
    logits = predict_logits(model, enc, Collator(tok), batch_size, acc, desc=f"evaluating {es.name}")
    return logits, model_label_names(acc.unwrap_model(model))


def model_label_names_of(model_ref: str) -> list[str]:
    from transformers import AutoConfig

    from datamap.training.models import resolve_model

    path, _ = _model_source(model_ref)
    try:
        cfg = AutoConfig.from_pretrained(resolve_model(path))
    except Exception as exc:
        raise DatamapError(f"model '{model_ref}': cannot read its config ({str(exc).splitlines()[0]})") from exc
    return [str(cfg.id2label[i]) for i in range(cfg.num_labels)]


def evaluate(
    model_or_run: str,
    dataset: str,
    split: str = SPLIT,
    out: str | os.PathLike | None = None,
    name: str | None = None,
    batch_size: int = BATCH_SIZE,
    max_length: int = MAX_LENGTH,
    columns: dict | None = None,
    overwrite: bool = False,
) -> tuple[dict, RunDir]:
    """Evaluate a model or run on one set; writes ``eval/NAME.json`` and ``.parquet`` into the run (or ``out``).

    Parameters
    ----------
    model_or_run : str
        A run directory (its ``model/`` is used), a model folder or a hub name.
    dataset, split : str
        The labelled set to score on.
    out : path or None, default None
        Run directory for the scores; default ``model_or_run`` when it is a run.
    name : str or None, default None
        Set name (``eval/NAME.json``): letters, digits, ``. _ -``; default ``DATASET_SPLIT``.
    batch_size, max_length : int, default 128
        Forward-pass batch size and token limit (both >= 1).
    columns : dict or None
        ``text_column``, ``text_pair_column``, ``label_column`` of ``dataset``.
    overwrite : bool, default False
        Replace existing scores of the same name; without it they are refused before any work.
    """
    from datamap.core.checks import check_int
    from datamap.errors import user_errors

    with user_errors():
        check_int(batch_size, "--batch-size", low=1)
        check_int(max_length, "--max-length", low=1)
    if Path(model_or_run).is_dir():
        refuse_sft(model_or_run, "datamap evaluate (of a classifier; sft runs are evaluated by train)")
    _, run = _model_source(model_or_run)
    if out is not None:
        run = RunDir(out)
    if run is None:
        raise DatamapError(f"{model_or_run}: not a run directory; pass --out RUN to say where to write the scores")
    trained_on = _training_data(model_or_run)
    if trained_on is not None and same_dataset(dataset, trained_on[0]) and split == trained_on[1]:
        name = _eval_name(name, dataset, split) + ("" if name is not None else SAME_AS_TRAIN)
        log.warning("EVALUATING ON THE TRAINING DATA: split '%s' of %s is the split %s was trained on; its scores "
                    "(eval/%s.json) measure fit, not generalisation", split, dataset, model_or_run, name)
    else:
        name = _eval_name(name, dataset, split)
    _refuse_existing_scores(run, name, overwrite)
    names = model_label_names_of(model_or_run)
    es = load_eval_set(dataset, split, names, name=name, **(columns or {}))
    if not name.endswith(SAME_AS_TRAIN) and _training_rows(model_or_run, es, name):
        es.name = name = name + SAME_AS_TRAIN  # same rows by id, under another name (e.g. a single file's 'validation')
        _refuse_existing_scores(run, name, overwrite)
    logits, names = model_logits(model_or_run, es, batch_size, max_length)
    run.root.mkdir(parents=True, exist_ok=True)
    return write_eval_set(run, es, logits, names, extra={"model": str(model_or_run)}), run


def ensemble(
    runs: list[str],
    weights: "Sequence[float] | None",
    dataset: str,
    split: str,
    out: str | os.PathLike,
    name: str | None = None,
    batch_size: int = BATCH_SIZE,
    max_length: int = MAX_LENGTH,
    columns: dict | None = None,
    overwrite: bool = False,
) -> dict:
    """Weighted mean of the logits of several models, scored like one model.

    Parameters
    ----------
    runs : list of str
        Two or more run directories or model folders (same label names).
    weights : sequence of float or None
        One weight per run, summing to 1 (the command line parses its comma-separated ``--weights``
        into this list); ``None``: equal weights.
    dataset, split : str
        The labelled set to score on.
    out : path
        Run directory for ``eval/NAME.json``, ``eval/NAME.parquet`` and ``ensemble.json``.
    name : str or None, default None
        Set name: letters, digits, ``. _ -``; default ``DATASET_SPLIT``.
    batch_size, max_length : int, default 128
        Forward-pass batch size and token limit (both >= 1).
    columns : dict or None
        ``text_column``, ``text_pair_column``, ``label_column`` of ``dataset``.
    overwrite : bool, default False
        Replace those files when they exist; without it they are refused before any work.
    """
    from datamap.core.checks import check_int
    from datamap.errors import user_errors
    from datamap.eval.ensemble import check_weights, ensemble_logits, parse_weights

    if len(runs) < 2:
        raise DatamapError("an ensemble needs at least two models or runs")
    with user_errors():
        check_int(batch_size, "--batch-size", low=1)
        check_int(max_length, "--max-length", low=1)
    for r in runs:
        if Path(r).is_dir():
            refuse_sft(r, "datamap ensemble (a mean of classifier logits)")
    w = parse_weights(None, len(runs)) if weights is None else check_weights(weights, len(runs))
    name = _eval_name(name, dataset, split)
    _refuse_existing_scores(RunDir(out), name, overwrite, (RunDir(out).ensemble,))
    names = [model_label_names_of(r) for r in runs]
    for r, n in zip(runs[1:], names[1:]):
        if n != names[0]:
            raise DatamapError(f"{r}: label names {n} differ from {runs[0]}'s {names[0]}; ensembles need the same classes")
    es = load_eval_set(dataset, split, names[0], name=name, **(columns or {}))
    all_logits = []
    for r, wi in zip(runs, w):
        if wi == 0:  # a zero-weight member changes nothing: skip its forward pass
            all_logits.append(np.zeros((len(es.frame), len(names[0])), dtype=np.float32))
            continue
        all_logits.append(model_logits(r, es, batch_size, max_length)[0])
    logits = ensemble_logits(all_logits, w)
    run = RunDir(out)
    run.root.mkdir(parents=True, exist_ok=True)
    extra = {"ensemble": {"members": [str(r) for r in runs], "weights": [float(x) for x in w]}}
    scores = write_eval_set(run, es, logits, names[0], extra=extra)
    run.write_ensemble(extra["ensemble"])
    return scores
