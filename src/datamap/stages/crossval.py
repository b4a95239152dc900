"""datamap crossval: out-of-sample probabilities for every training example (K ordinary runs).

The examples a configuration trains on (after its ``subset`` and ``limit``) are split into K folds,
stratified by label and seeded. Fold k's run (``DIR/fold_k``, an ordinary run directory) trains on the
other K - 1 folds with the configuration's options and evaluates its final model on fold k, given as
its only evaluation set (``DIR/folds/fold_k_heldout.parquet``); the softmax of those logits are fold
k's out-of-sample probabilities. ``DIR/oof_probs.parquet`` gathers them: ``id``, ``label`` (given),
``fold``, ``probs`` (list of float64, one per class), in the order of the training data.
``datamap errors RUN --method cleanlab --probs DIR/oof_probs.parquet`` ranks a run of the same data
with them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.core.checks import check_int
from datamap.core.probs import softmax
from datamap.errors import DatamapError, user_errors
from datamap.io import atomic
from datamap.io.readers import read_parquet
from datamap.stages.options.crossval import FOLDS


@dataclass
class CrossvalResult:
    """What :func:`crossval` wrote."""

    oof_path: Path
    runs: list[Path]
    n: int
    accuracy: float  # out-of-sample accuracy against the given labels


def fold_assignment(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold (0..K-1) of each example: each class shuffled (seeded) and dealt round-robin, so every fold
    has about 1/K of every class."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        out[rows] = (offset + np.arange(len(rows))) % folds
        offset += len(rows)
    return out


def load_config(path: "str | os.PathLike") -> dict:
    """The training options of a YAML file (a run's ``config.yaml`` or a hand-written one); given a
    run directory, its ``config.yaml``."""
    from datamap.io.yamlsafe import load_yaml_file

    path = Path(path)
    if path.is_dir():
        if not (path / "config.yaml").is_file():
            raise DatamapError(f"{path}: a folder without config.yaml; give a run directory or a YAML file of training options")
        path = path / "config.yaml"
    if not path.is_file():
        raise DatamapError(f"{path}: configuration file not found")
    data = load_yaml_file(path)
    if not isinstance(data, dict):
        raise DatamapError(f"{path}: not a mapping of training options")
    return data


def crossval(
    config: "str | os.PathLike | dict",
    out: "str | os.PathLike",
    *,
    folds: int = FOLDS,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> CrossvalResult:
    """Train ``folds`` runs, each on K - 1 folds, and write the out-of-sample probabilities.

    Parameters
    ----------
    config : path or dict
        Training options (the fields of ``TrainConfig``): a YAML file, a run directory (its
        ``config.yaml``) or a dict. Its ``out``,
        ``subset``'s file and evaluation sets are replaced per fold; ``save_model`` is not needed.
    out : path
        Folder of the fold runs (``fold_0`` ...), ``folds/`` and ``oof_probs.parquet``.
    folds : int, default 5
        K >= 2.
    seed : int, default 0
        Seed of the fold split (training seeds come from the configuration).
    overwrite : bool, default False
        Replace the fold runs and files of an earlier crossval in ``out``.
    """
    import pydantic

    from datamap.training.config import TrainConfig, config_error, field_path
    from datamap.training.loop import load_data, train

    with user_errors():
        folds = check_int(folds, "--folds", low=2)
        seed = check_int(seed, "--seed", low=0)
    options = dict(load_config(config)) if not isinstance(config, dict) else dict(config)
    if options.get("task") == "sft":
        raise DatamapError(f"{config if not isinstance(config, dict) else 'config'}: task sft; crossval gives "
                           "out-of-sample class probabilities and needs a classifier (task: classify)")
    out = Path(out)
    oof_path = out / "oof_probs.parquet"
    atomic.refuse_existing(oof_path, overwrite)
    options.update(out=str(out / "fold_0"), overwrite=overwrite)
    try:
        base = TrainConfig.model_validate(options)
    except pydantic.ValidationError as exc:
        raise DatamapError(f"{config if not isinstance(config, dict) else 'config'}: {config_error(exc, field_path)}") from None
    if base.threshold_samples:  # an AUM device: in a fold it would hide 1/(C+1) of the labels the probabilities are for
        from datamap.console import say

        say("crossval: the run was trained with threshold samples (for AUM); the folds train without them, on the "
            "given labels", err=True)
        base = base.model_copy(update={"threshold_samples": False})
    train_df, names, _ = load_data(base)
    if len(train_df) < folds:
        raise DatamapError(f"--folds {folds}: more folds than the {len(train_df)} training examples")
    counts = train_df["label"].value_counts()
    if int(counts.min()) < folds:  # a fold without some class; and K trainings for nothing (a typo costs hours)
        small = int(counts.idxmin())
        raise DatamapError(f"--folds {folds}: class {names[small] if small < len(names) else small!r} has only "
                           f"{int(counts.min())} examples; use at most that many folds, so that each fold holds every class")
    fold = fold_assignment(train_df["label"].to_numpy(), folds, seed)

    rename = {"text": base.text_column or "text", "label": base.label_column}
    if "text_pair" in train_df.columns:
        rename["text_pair"] = base.text_pair_column or "text_pair"
    id_name = base.id_column or "id"
    fold_dir = out / "folds"
    runs, probs = [], np.zeros((len(train_df), len(names)))
    for k in range(folds):
        train_ids = train_df["id"][fold != k].tolist()
        subset = atomic.write_json(fold_dir / f"fold_{k}_train.json", {"name": f"fold_{k}_train", "ids": train_ids})
        held = train_df[fold == k]
        if base.label_column == "label_name":  # the label column takes that name
            held = held.drop(columns="label_name")
        held = held.rename(columns={**rename, "id": id_name})
        heldout = fold_dir / f"fold_{k}_heldout.parquet"
        atomic.write_table(heldout, held)
        cfg = base.model_copy(update=dict(out=str(out / f"fold_{k}"), subset=str(subset.resolve()), limit=None,
                                          limit_mode=TrainConfig.model_fields["limit_mode"].default, limit_seed=0, eval_split=None, eval_datasets=[str(heldout)]))
        run = train(TrainConfig.model_validate(cfg.model_dump()), progress=progress)
        preds = list((run.eval_dir).glob("*.parquet"))
        if len(preds) != 1:
            raise DatamapError(f"{run.eval_dir}: expected the held-out fold's predictions only, found {len(preds)} files")
        table = read_parquet(preds[0], columns=["id", "logits"])
        pos = pd.Index(train_df["id"]).get_indexer(table["id"].astype(str))
        if (pos < 0).any() or sorted(pos) != sorted(np.flatnonzero(fold == k)):
            raise DatamapError(f"{preds[0]}: ids are not those of fold {k}")
        probs[pos] = softmax(np.stack(table["logits"].to_numpy()).astype(np.float64), axis=-1)
        runs.append(run.root)
    labels = train_df["label"].to_numpy(dtype=np.int64)
    atomic.write_table(oof_path, pd.DataFrame({"id": train_df["id"].astype(str), "label": labels, "fold": fold,
                                               "probs": list(probs)}))
    atomic.write_json(out / "crossval.json", {"folds": folds, "seed": seed, "n": len(train_df), "label_names": names,
                                              "runs": [p.name for p in runs]})
    return CrossvalResult(oof_path=oof_path, runs=runs, n=len(train_df),
                          accuracy=float((probs.argmax(axis=1) == labels).mean()))
