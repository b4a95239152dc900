"""Record the training dynamics of a TRL ``SFTTrainer`` script with one changed line (an sft run directory).

    from datamap.training.trl_trainer import DynamicsSFTTrainer as SFTTrainer   # the one-line change

    trainer = SFTTrainer(model=model, args=SFTConfig(...), train_dataset=ds, processing_class=tok)  # unchanged
    trainer.train()                                                                                  # unchanged
    # -> <args.output_dir>/datamap/ is an sft run directory (docs/sft.md):
    #    datamap metrics out/datamap && datamap plot out/datamap && datamap cluster out/datamap --on trajectories

How it works (TRL >= 1.0; ``packing`` and ``padding_free`` are refused: one example per row):

* before TRL prepares the training set, every row gets its position in an extra column (``datamap_index``);
  TRL's preparation (``map``/``filter``) keeps extra columns, and the index is declared a signature column,
  so ``remove_unused_columns=True`` keeps it too; rows TRL drops (no target token left after truncation)
  are left out of the run; the wrapped collator (:class:`datamap.training.trainer.IndexCollator`) puts it
  back as a tensor and :meth:`DynamicsSFTTrainer.compute_loss` pops it before TRL's loss;
* the records come from the training forward pass itself (a forward hook on the model, nothing recomputed):
  with TRL's fused LM head (its default: no ``(B, T, V)`` logits are built) from its per-token
  log-probabilities, label mask and top-1 flags, which are zero where the label is -100; with full logits
  (``compute_loss_func``, label smoothing) by :func:`datamap.training.sft.token_records`. Either way per
  example ``[loss_sum, n_tokens, n_correct]`` over the tokens TRL trains on (``labels != -100`` after the
  shift: the completion with ``completion_only_loss``, the assistant turns with ``assistant_only_loss``);
* at each epoch's end the records are gathered across processes once, duplicates dropped by row index, and
  the main process writes ``dynamics/epoch_{e}.parquet`` (:func:`datamap.io.store.write_sft_epoch_file`,
  one record point per epoch, ``record: inflight``); ``train()`` joins them into ``dynamics.parquet`` and
  marks the manifest ``complete``. ``data.parquet`` holds ``id, prompt, completion`` of the rows trained on;
  ``history.json`` per epoch the token-mean training loss of those records, and the unigram baseline of the
  training targets (``unigram_loss.train``) that the sft health check compares the model's token loss with.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import TrainerCallback

from datamap.errors import DatamapError

try:
    from trl import SFTTrainer
except ImportError:
    raise DatamapError("needs trl: pip install 'datamap[trl]'") from None

from datamap.io import atomic
from datamap.io.rundir import RunDir
from datamap.io.store import epoch_files, read_sft_dynamics, write_sft_epoch_file
from datamap.training.sft import SFTColumns, sft_frame, target_counts, token_records, unigram_loss
from datamap.training.trainer import (INDEX_KEY, IndexCollator, _is_hf_dataset, finish_trainer_run, keep_epochs_before,
                                      start_trainer_run, trainer_run_config)

log = logging.getLogger(__name__)


def fused_records(output) -> torch.Tensor:
    """(B, 3) float32 ``[loss_sum, n_tokens, n_correct]`` from the output of TRL's fused LM head.

    ``log_probs``, ``label_mask`` and ``is_top1`` are (B, T-1), per next-token label and zero where it is -100:
    the same three sums :func:`datamap.training.sft.token_records` takes from full logits (``is_top1``: the label
    is the first maximum, as ``argmax``).
    """
    if output.is_top1 is None:
        raise DatamapError("DynamicsSFTTrainer: TRL's fused LM head was added without 'is_top1' (n_correct)")
    with torch.no_grad():
        return torch.stack([-output.log_probs.detach().float().sum(dim=1), output.label_mask.sum(dim=1).float(),
                            output.is_top1.sum(dim=1).float()], dim=1)


def trl_frame(dataset, tokenizer, id_column: str = "id", text_field: str = "text", formatting_func=None) -> pd.DataFrame:
    """``data.parquet`` of a TRL training set (before TRL prepares it): ``id``, ``prompt``, ``completion``,
    one row per dataset row, by :func:`datamap.training.sft.sft_frame`.

    Prompt/completion columns (strings, or conversations rendered with the chat template), a ``messages``
    column, a text column (``text_field``; prompt ""), the ``formatting_func``'s text, or (an already
    tokenised set) the decoded ``input_ids``. Ids: ``id_column`` (or ``id``/``guid``) when present, else
    the content hash of prompt and completion.
    """
    columns = list(dataset.column_names)
    if id_column != "id" and id_column not in columns:
        raise DatamapError(f"train dataset: no id column '{id_column}' (columns: {', '.join(columns)})")
    keep = [c for c in columns if c in (id_column, "id", "guid")]
    if formatting_func is not None:
        raw = pd.DataFrame({"text": [formatting_func(dataset[i]) for i in range(len(dataset))]})
        text_field = "text"
    elif {"prompt", "completion"} <= set(columns) or "messages" in columns or text_field in columns:
        wanted = [c for c in ("prompt", "completion", "messages", text_field) if c in columns]
        raw = dataset.select_columns(wanted).to_pandas()
        if {"prompt", "completion"} <= set(columns) and len(raw) and not isinstance(raw["prompt"].iat[0], str):
            # conversational prompt/completion: the whole conversation, rendered as a 'messages' column
            raw = pd.DataFrame({"messages": [list(p) + list(c) for p, c in zip(raw["prompt"], raw["completion"])]})
    elif "input_ids" in columns:
        raw = pd.DataFrame({"text": tokenizer.batch_decode(dataset["input_ids"])})
        text_field = "text"
    else:
        raise DatamapError(f"train dataset: no prompt/completion, messages, '{text_field}' or input_ids column "
                           f"(columns: {', '.join(columns)})")
    for c in keep:
        raw[c] = dataset[c]
    ident = id_column if id_column in columns else None
    return sft_frame(raw, "train dataset", tokenizer, SFTColumns(text=text_field, id=ident))


class _EpochCallback(TrainerCallback):
    def __init__(self, trainer: "DynamicsSFTTrainer"):
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer._begin(state)
        return control

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.trainer._epoch_t0 = time.perf_counter()
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        self.trainer._end_epoch(state)
        return control


class DynamicsSFTTrainer(SFTTrainer):
    """A ``trl.SFTTrainer`` that records per-example token-loss dynamics into an sft run directory.

    Takes every argument of ``SFTTrainer`` plus:

    Parameters
    ----------
    dynamics_dir : str or PathLike, optional
        The run directory to write (``data.parquet``, ``config.yaml`` with ``task: sft``, ``manifest.json``,
        ``dynamics.parquet``; ``dynamics/epoch_{e}.parquet`` while training). Default ``<args.output_dir>/datamap``.
    id_column : str, default "id"
        Column of the training set holding example ids (written as strings). Without it the id of a row is the
        content hash of its prompt and completion (as ``datamap train --task sft`` makes them).

    Notes
    -----
    The training set must be a ``datasets.Dataset`` (map-style). One record point per epoch, taken in flight
    (``record: inflight``); an epoch cut short (``max_steps``, or resumed mid-epoch) is not written. Epochs are
    numbered by the Trainer's ``state.epoch``, so ``train(resume_from_checkpoint=...)`` keeps the epochs before
    the checkpoint. Works under ``accelerate launch`` / ``torchrun``; only the main process writes.
    """

    def __init__(self, *args, dynamics_dir: str | os.PathLike | None = None, id_column: str = "id", **kwargs):
        sft_args = kwargs.get("args", args[1] if len(args) > 1 else None)
        if getattr(sft_args, "packing", False):
            raise DatamapError("DynamicsSFTTrainer: packing=True mixes examples in one row; set packing=False")
        if getattr(sft_args, "padding_free", False):
            raise DatamapError("DynamicsSFTTrainer: padding_free=True joins examples in one row; set padding_free=False")
        if "train_dataset" in kwargs:
            source = kwargs["train_dataset"]
        elif len(args) > 3:
            source = args[3]
        else:
            source = None
        if not _is_hf_dataset(source):
            raise DatamapError("DynamicsSFTTrainer needs a train_dataset that is a datasets.Dataset "
                               f"(map-style, with a length), not {type(source).__name__}")
        if INDEX_KEY in source.column_names:
            source = source.remove_columns(INDEX_KEY)
        indexed = source.add_column(INDEX_KEY, np.arange(len(source), dtype=np.int64))
        if "train_dataset" in kwargs:
            kwargs["train_dataset"] = indexed
        else:
            args = (*args[:3], indexed, *args[4:])
        super().__init__(*args, **kwargs)
        if getattr(self, "_is_vision_dataset", False):
            raise DatamapError("DynamicsSFTTrainer: vision-language datasets are not supported (text only)")
        if INDEX_KEY not in (self.train_dataset.column_names or []):
            raise DatamapError(f"DynamicsSFTTrainer: TRL's dataset preparation dropped the '{INDEX_KEY}' column")
        self._source = source
        self._kept = np.unique(np.asarray(self.train_dataset[INDEX_KEY], dtype=np.int64))  # rows TRL trains on
        if len(self._kept) < len(source):
            log.warning("DynamicsSFTTrainer: TRL dropped %d of %d training rows (no target token within max_length); "
                        "they are left out of the run", len(source) - len(self._kept), len(source))
        self.id_column = id_column
        self.run_dir = RunDir(dynamics_dir if dynamics_dir is not None else Path(self.args.output_dir or ".") / "datamap")
        self.data_collator = IndexCollator(self.data_collator)
        from datamap.training.recorder import EpochRecorder

        self._recorder = EpochRecorder()
        self._capture: dict | None = None
        self._ids: np.ndarray | None = None  # main process: id of every source row
        self._resuming = False
        self._history: list[dict] = []
        self._unigram: float | None = None
        self._epoch_t0 = time.perf_counter()
        self.model.register_forward_hook(self._on_forward, with_kwargs=True)
        self.add_callback(_EpochCallback(self))

    # -- ids through column removal ------------------------------------------------------------
    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if INDEX_KEY not in self._signature_columns:
            self._signature_columns.append(INDEX_KEY)

    # -- the run -------------------------------------------------------------------------------
    def train(self, *args, **kwargs):
        """``SFTTrainer.train`` that also writes the run directory (see the module docstring)."""
        resume = kwargs.get("resume_from_checkpoint", args[0] if args else None)
        self._resuming = bool(resume)
        if self.is_world_process_zero():
            full = trl_frame(self._source, self._source_tokenizer(), self.id_column,
                             self.args.dataset_text_field, getattr(self, "_formatting_func", None))
            self._ids = full["id"].to_numpy(dtype=object)
            frame = full.iloc[self._kept].reset_index(drop=True)
            start_trainer_run(self, self._run_config(), frame, [], new_run_files=(self.run_dir.history,))
            items = list(self.train_dataset.select_columns(["labels"]))  # the targets TRL trains on
            vocab = max(len(self._source_tokenizer()), int(getattr(self.model.config, "vocab_size", 0) or 0))
            self._unigram = unigram_loss(items, target_counts(items, vocab))
        result = super().train(*args, **kwargs)
        if self.is_world_process_zero():
            finish_trainer_run(self.run_dir, lambda path: read_sft_dynamics(path).n_points)
        return result

    def _source_tokenizer(self):
        return getattr(self, "_tokenizer", None) or self.processing_class

    def _run_config(self) -> dict:
        a = self.args
        return {"task": "sft", **trainer_run_config(self), "record": "inflight",
                "completion_only_loss": bool(getattr(self, "completion_only_loss", a.completion_only_loss)),
                "assistant_only_loss": bool(a.assistant_only_loss), "max_length": a.max_length}

    def _begin(self, state) -> None:
        """At ``on_train_begin`` (state restored): keep the epochs before ``state.epoch`` when resuming, drop the rest."""
        if not self.is_world_process_zero():
            return
        run = self.run_dir

        def write_part(e: int, part) -> None:
            rec = np.stack([part.column(c).to_numpy().astype(np.float64) for c in ("loss_sum", "n_tokens", "n_correct")],
                           axis=1)
            write_sft_epoch_file(run.dynamics_dir, e, part.column("id"), rec, int(part.column("point")[0].as_py()),
                                 int(part.column("step")[0].as_py()), record="inflight")

        start = keep_epochs_before(self, state, write_part)
        self._history = []
        if start and run.history.is_file():  # the epochs kept
            try:
                self._history = [h for h in json.loads(run.history.read_text(encoding="utf-8"))["epochs"]
                                 if int(h["epoch"]) < start]
            except (ValueError, KeyError, TypeError):
                self._history = []
        run.write_manifest(epochs_written=len(epoch_files(run.dynamics_dir)))

    # -- recording ------------------------------------------------------------------------------
    def _on_forward(self, module, args, kwargs, output) -> None:
        """Forward hook: the first forward of a training ``compute_loss`` gives the batch's records."""
        cap = self._capture
        if cap is None or cap["records"] is not None:
            return
        if getattr(output, "log_probs", None) is not None and getattr(output, "label_mask", None) is not None:
            cap["records"] = fused_records(output)  # TRL's fused LM head: no logits were built
            return
        logits = output.get("logits") if isinstance(output, dict) else getattr(output, "logits", None)
        labels = kwargs.get("labels", cap["labels"])
        if logits is not None and labels is not None:
            with torch.no_grad():
                cap["records"] = token_records(logits.detach(), labels)[0]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """``SFTTrainer.compute_loss``; in training also keeps the batch's per-example records (on the device)."""
        index = None
        if INDEX_KEY in inputs:
            inputs = dict(inputs)
            index = inputs.pop(INDEX_KEY)
        if index is None or not model.training:
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        self._capture = {"labels": inputs.get("labels"), "records": None}
        try:
            result = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
            records = self._capture["records"]
        finally:
            self._capture = None
        if records is None:
            raise DatamapError("DynamicsSFTTrainer: the training forward pass gave neither TRL's per-token "
                               "log-probabilities nor logits with labels to record")
        self._recorder.add(index, records)  # before the optimizer step
        return result

    def _end_epoch(self, state) -> None:
        """On every process at each epoch's end: gather once, de-duplicate, write (main process)."""
        epoch = int(round(state.epoch or 0)) - 1
        index, records = self._recorder.collect(self.accelerator)
        if not np.array_equal(index, self._kept):
            log.warning("epoch %d recorded %d of %d training examples (cut short?); not written",
                        epoch + 1, len(index), len(self._kept))
            return
        if self.is_world_process_zero():
            run = self.run_dir
            write_sft_epoch_file(run.dynamics_dir, epoch, self._ids[index], records, epoch, int(state.global_step),
                                 record="inflight")
            seconds = time.perf_counter() - self._epoch_t0
            self._history.append({"epoch": epoch, "steps": int(state.global_step),
                                  "train_loss": float(records[:, 0].astype(np.float64).sum() / max(records[:, 1].sum(), 1.0)),
                                  "seconds": seconds, "examples_per_s": len(index) / max(seconds, 1e-9), "eval": {}})
            atomic.write_json(run.history, {"epochs": self._history, "unigram_loss": {"train": self._unigram}})
            run.write_manifest(epochs_written=len(epoch_files(run.dynamics_dir)))
