"""Record training dynamics from an existing Hugging Face ``Trainer`` script with one changed line.

    from datamap.hf import DynamicsTrainer as Trainer      # the one-line change

    trainer = Trainer(model=model, args=args, train_dataset=train_ds, ...)   # unchanged
    trainer.train()                                                           # unchanged
    # -> <args.output_dir>/datamap/ is a datamap run directory:
    #    datamap metrics trainer_output/datamap && datamap plot trainer_output/datamap

How it works:

* every training row carries its row position in an extra column (``datamap_index``) that is
  declared as a model input, so ``remove_unused_columns=True`` (the default) keeps it; a wrapper
  around the data collator takes it out before the user's collator runs and puts it back as a
  tensor, and :meth:`DynamicsTrainer.compute_loss` pops it before the model is called;
* ``record="inflight"`` (default): the logits of each training batch's own forward pass are kept
  on the device (:class:`~datamap.training.recorder.EpochRecorder`), no extra compute;
  ``record="epoch_end"``: after each epoch one ``no_grad`` eval-mode pass over the training set;
* at each epoch's end the records are gathered across processes once, duplicates that even
  batching adds are dropped by row index, and the main process writes the epoch as its own file,
  ``dynamics/epoch_{e}.parquet``, numbered by the Trainer's epoch (``state.epoch``);
* when ``train()`` returns, the epochs are joined into ``dynamics.parquet`` and ``manifest.json``
  says ``complete``. ``train(resume_from_checkpoint=...)`` keeps the epochs recorded before the
  checkpoint (the Trainer restores weights, optimizer, scheduler and RNG states itself).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from transformers import Trainer, TrainerCallback

from datamap.errors import DatamapError
from datamap.io.data import LABEL_CANDIDATES, PAIR_COLUMNS, TEXT_CANDIDATES
from datamap.io.rundir import RunDir, file_sha256
from datamap.io.store import consolidate_epochs, epoch_files, read_dynamics, write_epoch_file
from datamap.training.config import RecordMode
from datamap.training.models import model_label_names, set_pad_token
from datamap.training.recorder import DynamicsRecorder

log = logging.getLogger(__name__)

INDEX_KEY = "datamap_index"
HF_RECORD_MODES = (RecordMode.INFLIGHT, RecordMode.EPOCH_END)  # "none": use a plain Trainer


class IndexCollator:
    """Wrap a data collator: take ``datamap_index`` out of each feature, collate the rest, add it back.

    Parameters
    ----------
    collator : callable
        The user's data collator (list of feature dicts -> batch dict). Features without the
        index key (evaluation sets) are passed through unchanged.
    buckets : list of int or None, default None
        With ``torch_compile``: training batches are padded up to one of these lengths
        (:func:`datamap.training.compile.pad_batch`, ``pad_id`` for ``input_ids``), so that few graphs are compiled.
    """

    def __init__(self, collator, buckets=None, pad_id: int = 0):
        self.collator = collator
        self.buckets, self.pad_id = buckets, pad_id

    def __call__(self, features):
        if not features or INDEX_KEY not in features[0]:
            return self.collator(features)
        index = torch.tensor([int(f[INDEX_KEY]) for f in features], dtype=torch.long)
        batch = self.collator([{k: v for k, v in f.items() if k != INDEX_KEY} for f in features])
        if self.buckets:
            from datamap.training.compile import pad_batch

            batch = pad_batch(batch, self.buckets, self.pad_id)
        batch[INDEX_KEY] = index
        return batch


class _IndexedDataset(torch.utils.data.Dataset):
    """A map-style dataset whose items also carry their row position."""

    def __init__(self, base):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):
        item = dict(self.base[i])
        item[INDEX_KEY] = int(i)
        return item


class _EpochEndCallback(TrainerCallback):
    def __init__(self, trainer: "DynamicsTrainer"):
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer._begin(state)
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        self.trainer._end_epoch(state)
        return control


def _is_hf_dataset(ds) -> bool:
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        return False
    return isinstance(ds, datasets.Dataset)


def train_frame(dataset, id_column: str = "id") -> pd.DataFrame:
    """The run directory's ``data.parquet`` frame for a Trainer training set.

    Parameters
    ----------
    dataset : datasets.Dataset or map-style dataset of dict items
        The training set as given to the Trainer (before column removal).
    id_column : str, default "id"
        Column holding example ids (converted to str). If absent, the id is the row position
        as a string (``"0"``, ``"1"``, ...), stable as long as the dataset's row order is.

    Returns
    -------
    pandas.DataFrame with ``id``, ``label`` (int64) and, where the dataset has such columns,
    ``text`` (from text/sentence/premise/sentence1/question) and ``text_pair``
    (from text_pair/hypothesis/sentence2). Raises DatamapError for a missing label column,
    non-integer labels or duplicate ids.
    """
    if _is_hf_dataset(dataset):
        columns = list(dataset.column_names)
        wanted = [c for c in columns if c in (id_column, *LABEL_CANDIDATES, *TEXT_CANDIDATES, *PAIR_COLUMNS)]
        raw = dataset.select_columns(wanted).with_format("arrow")[:].to_pandas() if wanted else pd.DataFrame()
        n = len(dataset)
    else:
        n = len(dataset)
        items = [dataset[i] for i in range(n)]
        columns = list(items[0].keys()) if n else []
        raw = pd.DataFrame({c: [_scalar(it.get(c)) for it in items] for c in columns if c != INDEX_KEY})
    label_col = next((c for c in LABEL_CANDIDATES if c in columns), None)
    if label_col is None:
        raise DatamapError(f"train dataset: no label column (looked for {', '.join(LABEL_CANDIDATES)})")
    labels = raw[label_col].map(_scalar).to_numpy()
    try:
        gold = np.asarray(labels, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DatamapError(f"train dataset: label column '{label_col}' is not numeric ({exc})") from exc
    if gold.ndim != 1 or not np.all(np.isfinite(gold)) or not np.all(gold == np.round(gold)):
        raise DatamapError(f"train dataset: label column '{label_col}' must hold one integer class per row")
    frame = pd.DataFrame({"id": [str(_scalar(v)) for v in raw[id_column]] if id_column in columns else [str(i) for i in range(n)]})
    dup = frame["id"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise DatamapError(f"train dataset: id column '{id_column}' has duplicate value '{frame['id'][row]}' (row {row})")
    for target, sources in (("text", TEXT_CANDIDATES), ("text_pair", PAIR_COLUMNS)):
        src = next((c for c in sources if c in raw.columns and raw[c].map(lambda v: isinstance(v, str)).all()), None)
        if src is not None:
            frame[target] = raw[src].to_numpy(dtype=object)
    frame["label"] = gold.astype(np.int64)
    return frame


def class_label_names(dataset, model) -> list[str]:
    """The class names of a run: ``model.config.id2label``, unless those are transformers' defaults
    (``LABEL_0``, ``LABEL_1``...) and the training set's label column is a ``datasets.ClassLabel``
    with as many names; then its names."""
    names = model_label_names(model)
    if names != [f"LABEL_{i}" for i in range(len(names))] or not _is_hf_dataset(dataset):
        return names
    for column in LABEL_CANDIDATES:
        feature = dataset.features.get(column)
        if getattr(feature, "names", None) is not None and len(feature.names) == len(names):
            return [str(n) for n in feature.names]
    return names


def _scalar(v):
    if isinstance(v, (torch.Tensor, np.ndarray)) and v.ndim == 0:
        return v.item()
    return v


def trainer_run_config(trainer) -> dict:
    """The ``config.yaml`` fields every trainer drop-in writes (from its ``TrainingArguments``)."""
    a = trainer.args
    return {
        "trainer": f"{type(trainer).__module__}.{type(trainer).__name__}",
        "model": str(getattr(getattr(trainer.model, "config", None), "_name_or_path", "") or ""),
        "id_column": trainer.id_column,
        "epochs": float(a.num_train_epochs),
        "batch_size": int(a.per_device_train_batch_size),
        "gradient_accumulation_steps": int(a.gradient_accumulation_steps),
        "lr": float(a.learning_rate),
        "weight_decay": float(a.weight_decay),
        "seed": int(a.seed),
        "num_processes": int(a.world_size),
        "output_dir": str(a.output_dir),
    }


def start_trainer_run(trainer, config: dict, frame: pd.DataFrame, names: list[str], new_run_files=()) -> None:
    """Main process, before ``train``: a new run drops an earlier run's dynamics (and ``new_run_files``);
    then ``config.yaml``, ``data.parquet``, ``labels.json`` and an ``incomplete`` manifest."""
    run = trainer.run_dir
    if not trainer._resuming:
        for path in (run.dynamics, *new_run_files):
            path.unlink(missing_ok=True)
        shutil.rmtree(run.dynamics_dir, ignore_errors=True)
    run.remove_temporaries()
    run.start(config, frame, names)
    run.write_manifest(stage="train", status="incomplete", epochs=math.ceil(trainer.args.num_train_epochs),
                       epochs_written=len(epoch_files(run.dynamics_dir)), data_sha256=file_sha256(run.data),
                       config_sha256=file_sha256(run.config), metrics=None)


def finish_trainer_run(run: RunDir, points_of: Callable[[Path], int]) -> None:
    """Main process, after ``train``: join the epoch files and mark the manifest ``complete`` with the
    number of record points ``points_of(dynamics.parquet)`` holds."""
    if epoch_files(run.dynamics_dir):
        consolidate_epochs(run.dynamics_dir, run.dynamics)
        shutil.rmtree(run.dynamics_dir, ignore_errors=True)
    run.write_manifest(status="complete", epochs_written=points_of(run.dynamics) if run.dynamics.exists() else 0)


def keep_epochs_before(trainer, state, write_part: Callable[[int, object], None]) -> int:
    """At ``on_train_begin`` (the Trainer's state restored), main process: keep the epoch files before
    ``state.epoch`` when resuming (splitting them out of ``dynamics.parquet`` again, through ``write_part(epoch,
    rows)``, when an earlier call had joined them), drop the rest; returns that first epoch to record."""
    run = trainer.run_dir
    start = int(math.floor((state.epoch or 0) + 1e-6)) if trainer._resuming else 0
    if start and run.dynamics.exists() and len(epoch_files(run.dynamics_dir)) < start:
        table = pq.read_table(run.dynamics)
        for e in range(start):
            part = table.filter(pc.equal(table.column("epoch"), e))
            if part.num_rows:
                write_part(e, part)
    run.dynamics.unlink(missing_ok=True)
    for e, path in epoch_files(run.dynamics_dir):
        if e >= start:
            path.unlink()
    return start


class DynamicsTrainer(Trainer):
    """A ``transformers.Trainer`` that records per-example training dynamics into a datamap run directory.

    Takes every argument of ``Trainer`` plus:

    Parameters
    ----------
    dynamics_dir : str or PathLike, optional
        The run directory to write (``dynamics.parquet``, ``labels.json``, ``data.parquet``,
        ``config.yaml``, ``manifest.json``; ``dynamics/epoch_{e}.parquet`` while training). Default: ``<args.output_dir>/datamap``.
    record : RecordMode or str, {"inflight", "epoch_end"}, default "inflight"
        ``inflight``: the logits of each training batch's own forward pass (taken in
        ``compute_loss``, before the optimizer step; no extra compute). ``epoch_end``: a
        ``no_grad`` eval-mode pass over the training set after every epoch.
    id_column : str, default "id"
        Column of the training set holding example ids (written as strings). Without it the id
        of a row is its position in the training set as a string ("0", "1", ...), which is
        stable only as long as the dataset's row order is.

    Notes
    -----
    The training set must be map-style (have a length) and carry an integer label column
    (``labels``, ``label`` or ``label_ids``). ``labels.json`` comes from
    ``model.config.id2label``. Epochs are numbered by the Trainer's epoch (``state.epoch``), so
    ``train(resume_from_checkpoint=...)`` continues the dynamics of the interrupted run: epochs
    before the checkpoint are kept, later ones recorded again. An epoch cut short (``max_steps``,
    or resumed from a checkpoint saved mid-epoch) is not written: resume from checkpoints saved at
    epoch ends (``save_strategy="epoch"``) to keep every epoch.
    Works under ``accelerate launch`` / ``torchrun`` (data-parallel); only the main process writes.
    """

    def __init__(self, *args, dynamics_dir: str | os.PathLike | None = None,
                 record: "RecordMode | str" = RecordMode.INFLIGHT, id_column: str = "id", **kwargs):
        if record not in HF_RECORD_MODES:
            raise DatamapError(f"record must be one of {', '.join(map(str, HF_RECORD_MODES))}, got '{record}'")
        super().__init__(*args, **kwargs)
        tokenizer = self.processing_class or getattr(self.data_collator, "tokenizer", None)
        config = getattr(self.model, "config", None)
        if tokenizer is not None and config is not None and getattr(config, "pad_token_id", None) is None \
                and hasattr(tokenizer, "pad_token_id"):
            set_pad_token(self.model, tokenizer)  # decoder classifiers find each row's last token by it
        if self.compute_loss_func is None:
            # A sequence classifier's loss is a mean over its batch and ignores num_items_in_batch; left True
            # (any forward taking **kwargs), the Trainer multiplies that mean by the number of processes
            # (the logged loss and the gradients of 2 processes were twice those of 1) and skips the
            # division by gradient_accumulation_steps. The plain Trainer does the same (transformers 5).
            self.model_accepts_loss_kwargs = False
        self.record = RecordMode(record)
        self.id_column = id_column
        self.run_dir = RunDir(dynamics_dir if dynamics_dir is not None else Path(self.args.output_dir or ".") / "datamap")
        self.data_collator = IndexCollator(self.data_collator, *_compile_buckets(self.args, self.model, self.processing_class))
        self._recorder: DynamicsRecorder | None = None
        self._source = None  # the user's training set
        self._indexed = None  # the same rows, with datamap_index
        self._n = 0
        self._resuming = False
        self.add_callback(_EpochEndCallback(self))

    # -- ids through column removal -------------------------------------------------------
    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if INDEX_KEY not in self._signature_columns:
            self._signature_columns.append(INDEX_KEY)

    def _attach_index(self) -> None:
        ds = self.train_dataset
        if ds is None:
            raise DatamapError("DynamicsTrainer needs a train_dataset")
        if ds is self._indexed:
            return
        if isinstance(ds, torch.utils.data.IterableDataset) or not hasattr(ds, "__len__"):
            raise DatamapError("DynamicsTrainer needs a map-style train_dataset (with a length), not an iterable one")
        self._source = ds
        if _is_hf_dataset(ds):
            if INDEX_KEY in ds.column_names:
                ds = ds.remove_columns(INDEX_KEY)
            self._indexed = ds.add_column(INDEX_KEY, np.arange(len(ds), dtype=np.int64))
        else:
            self._indexed = _IndexedDataset(ds)
        self.train_dataset = self._indexed
        self._n = len(ds)

    # -- the run --------------------------------------------------------------------------
    def train(self, *args, **kwargs):
        """``Trainer.train`` that also writes the run directory (see the class docstring)."""
        self._attach_index()
        resume = kwargs.get("resume_from_checkpoint", args[0] if args else None)
        self._resuming = bool(resume)
        frame = None
        if self.is_world_process_zero():
            frame = train_frame(self._source, self.id_column)
            names = class_label_names(self._source, self.model)
            bad = (frame["label"] < 0) | (frame["label"] >= len(names))
            if len(frame) and bad.any():
                raise DatamapError(
                    f"train dataset: label {int(frame['label'][bad].iloc[0])} (row {int(np.flatnonzero(bad)[0])}) "
                    f"is outside the model's {len(names)} classes (model.config.id2label)"
                )
            frame["label_name"] = [names[g] for g in frame["label"]]
            start_trainer_run(self, self._run_config(), frame, names)
        # other processes gather their records but do not write
        self._recorder = DynamicsRecorder(
            self.run_dir.dynamics_dir if frame is not None else None,
            frame["id"].tolist() if frame is not None else [],
            frame["label"].to_numpy() if frame is not None else np.zeros(0, dtype=np.int64),
        )
        result = super().train(*args, **kwargs)
        if self.is_world_process_zero():
            finish_trainer_run(self.run_dir, lambda path: len(read_dynamics(path).epochs))
        return result

    def _begin(self, state) -> None:
        """At ``on_train_begin`` (the Trainer's state restored): keep the epochs before ``state.epoch``, drop the rest."""
        if not self.is_world_process_zero():
            return
        run = self.run_dir
        keep_epochs_before(self, state, lambda e, part: write_epoch_file(
            run.dynamics_dir, e, part.column("id"), _list_values(part), part.column("gold")))
        run.write_manifest(epochs_written=len(epoch_files(run.dynamics_dir)))

    def _run_config(self) -> dict:
        return {**trainer_run_config(self), "record": self.record.value}

    # -- recording --------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """``Trainer.compute_loss``; in ``inflight`` mode also keeps the batch's logits (on the device)."""
        index = None
        if INDEX_KEY in inputs:
            inputs = dict(inputs)
            index = inputs.pop(INDEX_KEY)
        if index is None or self.record != "inflight" or not model.training:
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        self._recorder.add(index, _logits(outputs))
        return (loss, outputs) if return_outputs else loss

    @torch.no_grad()
    def _predict_training_set(self) -> None:
        if hasattr(self, "_get_dataloader"):
            loader = self._get_dataloader(
                dataset=self._indexed,
                description="datamap epoch_end",
                batch_size=self.args.eval_batch_size,
                sampler_fn=self._get_eval_sampler,
            )
        else:  # older transformers (4.46, the floor, has no _get_dataloader): the test loader is the same sequential one
            loader = self.get_test_dataloader(self._indexed)
        model = self.model
        was_training = model.training
        model.eval()
        try:
            for batch in loader:
                batch = dict(self._prepare_inputs(batch))
                index = batch.pop(INDEX_KEY)
                for key in self.label_names:
                    batch.pop(key, None)
                with self.autocast_smart_context_manager():
                    outputs = model(**batch)
                self._recorder.add(index, _logits(outputs))
        finally:
            model.train(was_training)

    def _end_epoch(self, state) -> None:
        """Called on every process at each epoch's end: gather once, de-duplicate, write (main process).

        Parameters
        ----------
        state : transformers.TrainerState
            The Trainer's state; ``state.epoch`` (``e + 1`` at the end of epoch ``e``) numbers the epoch.
        """
        epoch = int(round(state.epoch or 0)) - 1
        if self.record == "epoch_end":
            self._predict_training_set()
        index, logits = self._recorder.collect(self.accelerator)
        if len(index) != self._n and self.accelerator.is_main_process:  # only the main process gets the records
            log.warning("epoch %d recorded %d of %d training examples (cut short?); not written", epoch + 1, len(index), self._n)
            return
        self._recorder.write(epoch, index, logits)
        if self.is_world_process_zero():
            self.run_dir.write_manifest(epochs_written=len(epoch_files(self.run_dir.dynamics_dir)))


def _compile_buckets(args, model, tokenizer) -> tuple:
    """``(buckets, pad_id)`` for the training batches of a Trainer with ``torch_compile``; ``(None, 0)`` without."""
    if not getattr(args, "torch_compile", False):
        return None, 0
    from datamap.training.compile import bucket_lengths

    config = getattr(model, "config", None)
    longest = getattr(tokenizer, "model_max_length", None)
    if not isinstance(longest, int) or longest > 100_000:  # tokenizers without a limit say 1e30
        longest = getattr(config, "max_position_embeddings", None) or 512
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if pad_id is None:
        pad_id = getattr(config, "pad_token_id", None) or 0
    return bucket_lengths(int(longest)), int(pad_id)


def _list_values(table) -> np.ndarray:
    """The ``logits`` column of a dynamics table as an (n, C) float32 array."""
    col = table.column("logits").combine_chunks()
    return col.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(table.num_rows, -1)


def _logits(outputs) -> torch.Tensor:
    if isinstance(outputs, dict):
        return outputs["logits"]
    return outputs[1] if len(outputs) > 1 and outputs[0].ndim == 0 else outputs[0]
