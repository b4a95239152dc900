"""The training configuration: every option of ``datamap train``, validated when built, saved as RUN/config.yaml.

:class:`TrainConfig` (with its nested :class:`MixupConfig`) is a pydantic model. Building one checks
the type and range of every value and every combination of options, so a run with a bad option
stops before it reads or writes a file. Each default is defined here once; the command line shows
these defaults and passes on only the options the user gave.

:func:`config_error` turns pydantic's ``ValidationError`` into a one-line
:class:`~datamap.errors.DatamapError` that names each offending option the way the user wrote it:
as a flag of ``datamap train`` (:func:`cli_flag`, the default) or as a dotted path in a config file
(:func:`field_path`). For example::

    try:
        cfg = TrainConfig(dataset="rotten_tomatoes", epochs=0)
    except pydantic.ValidationError as exc:
        raise config_error(exc) from None   # --epochs: must be >= 1, got 0
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from datamap.core.choices import Choice
from datamap.core.pairing import LambdaPer, Pairing, parse_lambda
from datamap.errors import DatamapError

__all__ = [
    "LambdaPer", "LimitMode", "LoraSpec", "MixupConfig", "MixupMode", "MixupSite", "OptionError", "Pairing", "Precision",
    "RecordMode", "Task", "TrainConfig", "cli_flag", "config_error", "field_path",
]

Loc = tuple  # a field path, e.g. ("mixup", "pairing")


class Task(Choice):
    """``--task``: ``classify`` (a sequence classifier, logits recorded) or ``sft`` (a causal LM fine-tuned on
    prompt -> completion rows; per-example token losses recorded: :mod:`datamap.training.sft`)."""

    CLASSIFY = "classify"
    SFT = "sft"


class RecordMode(Choice):
    """``--record``: how the training logits are recorded (also ``DynamicsTrainer(record=...)``).

    ``inflight``: the logits of each training batch's own forward pass, before the optimizer step;
    ``epoch_end``: a separate ``no_grad`` eval-mode pass over the training set after each epoch;
    ``none``: nothing is recorded (the loop alone; the Trainer integration always records).
    """

    INFLIGHT = "inflight"
    EPOCH_END = "epoch_end"
    NONE = "none"


class Precision(Choice):
    """``--precision``: ``auto`` (bf16 autocast on a GPU that supports it, else fp32), ``bf16`` or ``fp32``."""

    AUTO = "auto"
    BF16 = "bf16"
    FP32 = "fp32"


class ModelDtype(Choice):
    """``--model-dtype``: the dtype the model's weights are loaded (and trained, and saved) in.

    ``float32`` (the default, on every device: with ``--precision bf16`` the GPU computes in bf16 under
    autocast on float32 weights); ``bfloat16``: half the memory for weights, gradients and optimizer
    moments (pure bf16 training: small updates can round away); ``auto``: the checkpoint's own dtype
    (its config's ``dtype``/``torch_dtype``). A model object passed to the Python API keeps its own.
    """

    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    AUTO = "auto"


class LimitMode(Choice):
    """``--limit-mode``: which ``--limit`` rows are kept.

    ``stratified`` (default): a random sample (``--limit-seed``) with every class in proportion to its
    share of the data; ``random``: a plain random sample; ``first``: the first rows of the file (on a
    file sorted by label this is one class only).
    """

    STRATIFIED = "stratified"
    RANDOM = "random"
    FIRST = "first"


class Pooling(Choice):
    """``--embed`` / ``datamap embed --pooling``: one vector per example from the encoder's last layer.

    ``cls``: the first token's state (not on decoders, whose first token sees nothing else);
    ``mean``: the mean over the attention mask; ``last``: the last non-pad token's state (what a
    decoder classifier's head reads); ``pooler``: the model's pooler output (see
    :mod:`datamap.training.embed`). Left unset, ``datamap embed`` uses the family's default:
    ``last`` for decoders, ``mean`` otherwise (:func:`datamap.training.embed.default_pooling`).
    """

    CLS = "cls"
    MEAN = "mean"
    LAST = "last"
    POOLER = "pooler"


class MixupSite(Choice):
    """``--mixup``: where mixup mixes (see :mod:`datamap.training.mixup`)."""

    EMBEDDINGS = "embeddings"
    POOLED = "pooled"
    HIDDEN = "hidden"


class MixupMode(Choice):
    """``--mixup-mode``: the loss over the mixed rows only, or over the mixed and the original rows."""

    MIXED_ONLY = "mixed-only"
    MIXED_ORIGINAL = "mixed+original"


class OptionError(ValueError):
    """Raised by a validator when an option does not fit with the others.

    Parameters
    ----------
    loc : tuple of str
        Path of the offending option, relative to the model whose validator raises it,
        e.g. ``("drop_hard",)``.
    message : str
        What is wrong. Each ``{}`` is filled, in order, with the name of the option at the
        matching path of ``refs`` (a flag or a dotted path, see :func:`config_error`).
    *refs : tuple of str
        Paths (relative to the same model) of the other options the message mentions.
    """

    def __init__(self, loc: Loc, message: str, *refs: Loc):
        self.loc, self.message, self.refs = tuple(loc), message, tuple(tuple(r) for r in refs)
        super().__init__(message.format(*(".".join(r) for r in self.refs)))

    def render(self, naming: Callable[[Loc], str], at: Loc = ()) -> str:
        """``NAME: message`` with every path named by ``naming``; ``at`` is where the raising model sits."""
        return f"{naming(at + self.loc)}: " + self.message.format(*(naming(at + r) for r in self.refs))


def _parsed_by(parse: Callable[[str], Any], spec: str) -> str:
    """``spec`` unchanged if ``parse`` accepts it; else its one-line complaint (minus the flag) as a ValueError."""
    try:
        parse(spec)
    except DatamapError as exc:
        raise ValueError(re.sub(r"^--[\w-]+ ", "", str(exc))) from None
    return spec


class MixupConfig(BaseModel):
    """The mixup settings of a run (``--mixup`` and the ``--mixup-*`` options).

    Parameters
    ----------
    site : MixupSite
        ``--mixup``: ``embeddings``, ``pooled`` or ``hidden`` (see :mod:`datamap.training.mixup`).
        Required: any other mixup option given without it is an error.
    pairing : Pairing, default "reverse"
        ``--mixup-pairing``: ``reverse``, ``random``, ``same-label`` (within the batch), or
        ``td-entropy``, ``easy-ambiguous`` (over the training set; they need ``dynamics_from``).
    lam : str, default "beta:0.4"
        ``--mixup-lambda``: ``beta:ALPHA``, ``beta-folded:ALPHA``, ``normal:MU,SIGMA`` or ``fixed:L``,
        checked by :func:`datamap.core.pairing.parse_lambda`.
    lam_per : LambdaPer, default "example"
        ``--mixup-lambda-per``: one λ per synthetic example, or one per batch.
    mode : MixupMode, default "mixed+original"
        ``--mixup-mode``: loss over the kept original rows and the mixed rows, or the mixed rows only.
    start_epoch : int, default 0
        ``--mixup-start-epoch``: first epoch (0-based) with mixup; >= 0 and below the run's epochs.
    ratio : float, default 1.0
        ``--mixup-ratio``: synthetic examples per kept original per epoch; finite and > 0.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    site: MixupSite
    pairing: Pairing = Pairing.REVERSE
    lam: str = "beta:0.4"
    lam_per: LambdaPer = LambdaPer.EXAMPLE
    mode: MixupMode = MixupMode.MIXED_ORIGINAL
    start_epoch: int = Field(0, ge=0)
    ratio: float = Field(1.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _needs_site(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("site") is None:
            given = [name for name in cls.model_fields if name != "site" and name in data]
            if given:
                raise OptionError((given[0],), "given without {}", ("site",))
        return data

    @field_validator("lam")
    @classmethod
    def _lambda(cls, spec: str) -> str:
        return _parsed_by(parse_lambda, spec)


class LoraSpec(BaseModel):
    """``--lora r=16,alpha=32,dropout=0.05[,targets=query,value]``: train low-rank adapters (peft) instead
    of the whole model; the classification head (found from the model) stays fully trainable.

    Parameters
    ----------
    r : int, default 16
        Rank of the adapters (>= 1).
    alpha : float, default 32
        LoRA scaling numerator (the update is scaled by ``alpha / r``); > 0.
    dropout : float, default 0.05
        Dropout on the adapters' input, in [0, 1).
    targets : list of str or None, default None
        Names of the modules that get adapters (``query,value``; ``q_proj,v_proj``; or ``all-linear``);
        None: peft's default for the family, else every linear layer of the base model.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    r: int = Field(16, ge=1)
    alpha: float = Field(32.0, gt=0, allow_inf_nan=False)
    dropout: float = Field(0.05, ge=0, lt=1)
    targets: Optional[list[str]] = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        """``"r=8,alpha=16,targets=query,value"`` -> a mapping (a bare word continues the previous list)."""
        if not isinstance(data, str):
            return data
        out: dict[str, Any] = {}
        key = None
        for part in (p.strip() for p in data.split(",") if p.strip()):
            name, eq, value = part.partition("=")
            if eq:
                key = name.strip()
                out[key] = [value.strip()] if key == "targets" else value.strip()
            elif key == "targets":
                out[key].append(part)
            else:
                raise ValueError(f"expected NAME=VALUE items (r, alpha, dropout, targets), got {part!r}")
        return out

    @field_validator("targets")
    @classmethod
    def _targets(cls, names: Optional[list[str]]) -> Optional[list[str]]:
        if names is not None and (not names or not all(names)):
            raise ValueError("targets: give module names, e.g. targets=query,value")
        return names


class TrainConfig(BaseModel):
    """Everything a training run needs (every option of ``datamap train``); saved as RUN/config.yaml.

    Built from keywords (``TrainConfig(dataset="rotten_tomatoes", epochs=2)``) or a mapping
    (``TrainConfig.model_validate(data)``); every value is checked then, see :func:`config_error`
    for the messages. Unknown options are errors.

    Parameters
    ----------
    dataset : str
        ``--dataset``: hub name, local mirror name (``$DATAMAP_DATA_DIR/NAME/SPLIT.parquet``), file or folder.
    dataset_config : str or None, default None
        ``--dataset-config``: the hub configuration (``glue`` + ``sst2``), or the mirror folder
        ``NAME/CONFIG/``; also used for the in-domain evaluation split.
    revision : str or None, default None
        ``--revision``: branch, tag or commit of the hub dataset (hub datasets only).
    model : str, default "minilm"
        ``--model``: model folder, hub name, or the alias ``minilm``.
    out : str, default "runs/run"
        ``--out``: the run directory to write.
    split : str, default "train"
        ``--split``: the training split.
    eval_split : str or None, default "auto"
        ``--eval-split``: in-domain evaluation split; ``"auto"``: validation if it exists, and for a
        single-file dataset a seeded, class-stratified 10 % of the training rows held out (``heldout``,
        their ids in RUN/heldout.parquet); None (or ``"none"``, any case): no evaluation.
    eval_datasets : list of str, default []
        ``--eval-dataset``: extra evaluation sets, ``NAME[:SPLIT]`` or files.
    text_column, text_pair_column : str or None, default None
        ``--text-column``, ``--text-pair-column``: the text column(s); None: found by name.
    label_column : str, default "label"
        ``--label-column``: label column (integers or names).
    id_column : str or None, default None
        ``--id-column``: id column; None: id/idx/guid if present, else a content hash.
    drop_empty : bool, default False
        ``--drop-empty``: skip rows with empty or null text instead of stopping.
    limit : int or None, default None
        ``--limit``: train on only this many examples (>= 1); None: all.
    limit_mode : LimitMode, default "stratified"
        ``--limit-mode``: ``limit`` rows drawn at random within each class in proportion to its size
        (``stratified``), ``limit`` random rows (``random``), or the first ``limit`` rows (``first``).
        Another value than the default without ``limit`` is an error.
    limit_seed : int, default 0
        ``--limit-seed``: seed (>= 0) of the ``stratified`` and ``random`` draws, independent of ``seed``
        so runs with different seeds share a subset. Another value than the default without ``limit``
        is an error.
    allow_single_class : bool, default False
        ``--allow-single-class``: train even when the training rows (after ``subset`` and ``limit``)
        hold a single class; without it that is an error (the model would learn to predict one class).
    subset : str or None, default None
        ``--subset``: a selection JSON (ids) to train on.
    epochs : int, default 3
        ``--epochs``: >= 1.
    batch_size, eval_batch_size : int, default 32, 128
        ``--batch-size``, ``--eval-batch-size``: >= 1.
    lr : float, default 2e-5
        ``--lr``: peak learning rate (AdamW, linear schedule with warm-up); finite and > 0.
    weight_decay : float, default 0.01
        ``--weight-decay``: finite and >= 0 (not applied to biases and norms).
    warmup_ratio : float, default 0.1
        ``--warmup-ratio``: fraction of the steps spent warming up, in [0, 1].
    max_grad_norm : float, default 1.0
        ``--max-grad-norm``: gradient clipping, finite and >= 0 (0 disables it).
    max_length : int, default 128
        ``--max-length``: inputs are truncated to this many tokens (>= 1).
    seed : int, default 42
        ``--seed``: seed of initialisation, batching, dropout and mixup draws, in [0, 2**32 - 1].
    record : RecordMode, default "inflight"
        ``--record``: ``inflight``, ``epoch_end`` or ``none``.
    export_jsonl : bool, default False
        ``--export-jsonl``: also write the allenai-format jsonl files; not with ``record="none"``.
    freeze_base : bool, default False
        ``--freeze-base``: train only the classification head.
    precision : Precision, default "auto"
        ``--precision``: ``auto``, ``bf16`` or ``fp32``.
    save_model : bool, default True
        ``--no-save-model`` sets it to False: do not write RUN/model/.
    checkpoint : bool, default True
        ``--no-checkpoint`` sets it to False: no RUN/checkpoint/ after each epoch (the run cannot
        be resumed then).
    overwrite : bool, default False
        ``--overwrite``: replace an existing run in ``out`` (its derived files are removed).
    trust_remote_code : bool, default False
        ``--trust-remote-code``: allow model code from the hub.
    loss : str, default "ce"
        ``--loss``: ``ce`` or ``focal:GAMMA[,ALPHA]``, checked by :func:`datamap.training.losses.parse_loss`.
    report_to : list of str, default []
        ``--report-to``: experiment trackers (``tensorboard``, ``wandb``, ``mlflow``) that receive the
        loss, learning rate, throughput and evaluation scores (:mod:`datamap.training.tracking`).
    mixup : MixupConfig or None, default None
        The mixup settings; None: no mixup.
    dynamics_from : str or None, default None
        ``--dynamics-from``: an earlier run (with metrics) whose regions and entropies drive
        ``drop_hard`` or a ``td-entropy``/``easy-ambiguous`` pairing; an error when neither is asked for.
    drop_hard : bool, default False
        ``--drop-hard``: leave the hard-to-learn region of ``dynamics_from`` out of the loss.
    gradient_checkpointing : bool, default False
        ``--gradient-checkpointing``: keep fewer activations and recompute them in the backward pass
        (less memory, roughly a third more time); the same gradients.
    model_dtype : ModelDtype, default "float32"
        ``--model-dtype``: ``float32``, ``bfloat16`` or ``auto`` (the checkpoint's dtype); the dtype of the
        weights loaded, trained and saved in RUN/model/ (see :class:`ModelDtype`).
    grad_accum : int, default 1
        ``--grad-accum N``: one optimizer step every N batches (>= 1), the gradients of the N batches
        summed so that the step equals one batch of ``N * batch_size`` rows (the mean over examples; for
        ``--task sft`` the token mean over the N batches' target tokens); the last, shorter group of an
        epoch still steps. The learning-rate schedule, ``max_steps``, ``steps_like`` and the ``steps`` of
        the history count optimizer steps; the records still come from every forward pass
        (:mod:`datamap.training.accumulate`).
    task : Task, default "classify"
        ``--task``: ``classify`` or ``sft`` (a causal LM on ``prompt``/``completion``, ``messages`` or
        ``text`` rows; not with mixup, threshold samples, --drop-hard, --freeze-base, focal loss, --embed,
        --weights, --compile, a text pair, --export-jsonl or --eval-dataset yet).
    train_on_prompt : bool, default False
        ``--train-on-prompt`` (sft): the loss and the records on every token, not the completion's only.
    max_new_tokens : int, default 32
        ``--max-new-tokens`` (sft): greedy generation length for the exact match on the evaluation sets.
    record_every : int or None, default None
        ``--record-every N`` (sft): record by a batched, length-sorted ``no_grad`` pass over the training set
        every N optimizer steps (the trajectory's points; in-flight recording is off then); >= 1.
    record_sample : int or None, default None
        ``--record-sample K`` (sft, with ``--record-every``): each pass covers the same seeded random K
        training examples (seed ``--seed``) instead of all of them; the trajectories are those K examples'.
    lora : LoraSpec or None, default None
        ``--lora r=16,alpha=32,dropout=0.05[,targets=...]``: train LoRA adapters (needs the ``peft``
        package: ``pip install datamap[lora]``) and the head; the run keeps the adapter in RUN/adapter/
        and the merged model in RUN/model/ (see :class:`LoraSpec`).
    threshold_samples : bool, default False
        ``--threshold-samples``: give a seeded random ``floor(N / (C + 1))`` of the training examples
        an extra fake class ``C`` (AUM threshold samples, Pleiss et al. 2020; the model has ``C + 1``
        outputs) for ``datamap errors``'s cut; needs recorded dynamics.
    compile : bool, default False
        ``--compile``: ``torch.compile`` the training forward pass (inductor on CPU and CUDA), with
        each batch padded up to one of a few bucket lengths so that at most two graphs per bucket
        are compiled (:mod:`datamap.training.compile`); not with ``mixup``.
    weights : str or None, default None
        ``--weights``: a table of ``id`` and ``weight`` (:mod:`datamap.io.weights`; ``datamap weights RUN``
        writes one): each batch's loss is the weighted mean ``sum(w_i * loss_i) / sum(w_i)`` of its
        examples' losses (weight 0 leaves an example out of the loss; its logits are still recorded).
        Not with mixup.
    max_steps : int or None, default None
        ``--max-steps``: stop after this many optimizer steps (the learning-rate schedule spans them);
        the epochs run as needed, the last one cut short. None: ``epochs`` full passes.
    steps_like : str or None, default None
        ``--steps-like``: an earlier run whose number of optimizer steps (``steps`` in its history)
        this run takes, as ``max_steps`` would: a subset then trains as long as the full set.
        Not with ``max_steps``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    dataset: str
    dataset_config: Optional[str] = None
    revision: Optional[str] = None
    model: str = "minilm"
    out: str = "runs/run"
    split: str = "train"
    eval_split: Optional[str] = "auto"
    eval_datasets: list[str] = Field(default_factory=list)
    text_column: Optional[str] = None
    text_pair_column: Optional[str] = None
    label_column: str = "label"
    id_column: Optional[str] = None
    drop_empty: bool = False
    limit: Optional[int] = Field(None, ge=1)
    limit_mode: LimitMode = LimitMode.STRATIFIED
    limit_seed: int = Field(0, ge=0)
    allow_single_class: bool = False
    subset: Optional[str] = None
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(128, ge=1)
    lr: float = Field(2e-5, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(0.01, ge=0, allow_inf_nan=False)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    max_grad_norm: float = Field(1.0, ge=0, allow_inf_nan=False)
    max_length: int = Field(128, ge=1)
    seed: int = Field(42, ge=0, le=2**32 - 1)
    record: RecordMode = RecordMode.INFLIGHT
    export_jsonl: bool = False
    freeze_base: bool = False
    precision: Precision = Precision.AUTO
    save_model: bool = True
    checkpoint: bool = True
    overwrite: bool = False
    trust_remote_code: bool = False
    loss: str = "ce"
    report_to: list[str] = Field(default_factory=list)
    mixup: Optional[MixupConfig] = None
    dynamics_from: Optional[str] = None
    drop_hard: bool = False
    embed: Optional[Pooling] = None
    threshold_samples: bool = False
    compile: bool = False
    weights: Optional[str] = None
    max_steps: Optional[int] = Field(None, ge=1)
    steps_like: Optional[str] = None
    lora: Optional[LoraSpec] = None
    gradient_checkpointing: bool = False
    grad_accum: int = Field(1, ge=1)
    model_dtype: ModelDtype = ModelDtype.FLOAT32
    task: Task = Task.CLASSIFY
    train_on_prompt: bool = False
    max_new_tokens: int = Field(32, ge=1)
    record_every: Optional[int] = Field(None, ge=1)
    record_sample: Optional[int] = Field(None, ge=1)

    @field_validator("report_to")
    @classmethod
    def _trackers(cls, names: list[str]) -> list[str]:
        known = ("tensorboard", "wandb", "mlflow")
        for name in names:
            if name not in known:
                raise ValueError(f"unknown tracker {name!r} (choose from {', '.join(known)})")
        return names

    @field_validator("eval_split")
    @classmethod
    def _no_eval(cls, split: Optional[str]) -> Optional[str]:
        return None if split is None or split.strip().lower() == "none" else split
    @field_validator("lora")
    @classmethod
    def _peft_installed(cls, spec: Optional[LoraSpec]) -> Optional[LoraSpec]:
        import importlib.util

        if spec is not None and importlib.util.find_spec("peft") is None:
            raise ValueError("needs the peft package: pip install 'datamap[lora]'")
        return spec

    @field_validator("loss")
    @classmethod
    def _loss(cls, spec: str) -> str:
        from datamap.training.losses import parse_loss  # imports torch: only when a config is built

        return _parsed_by(parse_loss, spec)

    @model_validator(mode="after")
    def _compatible(self) -> "TrainConfig":
        for name in ("limit_mode", "limit_seed"):
            # a default value is let through so that a saved config.yaml (every field written) loads again
            if self.limit is None and getattr(self, name) != type(self).model_fields[name].default:
                raise OptionError((name,), "given without {}", ("limit",))
        if self.export_jsonl and self.record == RecordMode.NONE:
            raise OptionError(("export_jsonl",), "nothing is recorded with {} none", ("record",))
        if self.threshold_samples and self.record == RecordMode.NONE:
            raise OptionError(("threshold_samples",), "needs recorded dynamics, not {} none", ("record",))
        td_pairing = self.mixup is not None and self.mixup.pairing.needs_dynamics
        if self.dynamics_from is None:
            if self.drop_hard:
                raise OptionError(("drop_hard",), "needs {} RUN (an earlier run with metrics)", ("dynamics_from",))
            if td_pairing:
                raise OptionError(("mixup", "pairing"), f"{self.mixup.pairing} needs {{}} RUN (an earlier run with metrics)",
                                  ("dynamics_from",))
        elif not (self.drop_hard or td_pairing):
            raise OptionError(("dynamics_from",), "given but not used: it serves {} and {} td-entropy or easy-ambiguous",
                              ("drop_hard",), ("mixup", "pairing"))
        if self.compile and self.mixup is not None:
            raise OptionError(("compile",), "not with {} (its steps hook into the model's submodules)", ("mixup", "site"))
        if self.weights is not None and self.mixup is not None:
            raise OptionError(("weights",), "not with {}", ("mixup", "site"))
        if self.task == Task.SFT:
            if self.record_every is not None and self.record == RecordMode.NONE:
                raise OptionError(("record_every",), "not with {} none", ("record",))
            if self.record_sample is not None and self.record_every is None:
                raise OptionError(("record_sample",), "given without {}", ("record_every",))
            for name, on in (("mixup", self.mixup is not None), ("threshold_samples", self.threshold_samples),
                             ("drop_hard", self.drop_hard), ("freeze_base", self.freeze_base), ("loss", self.loss != "ce"),
                             ("embed", self.embed is not None), ("weights", self.weights is not None),
                             ("compile", self.compile),
                             ("text_pair_column", self.text_pair_column is not None), ("export_jsonl", self.export_jsonl),
                             ("eval_datasets", bool(self.eval_datasets))):
                if on:
                    raise OptionError((name,), "not with {} sft (not built for causal-LM runs yet)", ("task",))
        else:
            for name in ("train_on_prompt", "max_new_tokens", "record_every", "record_sample"):
                if getattr(self, name) != type(self).model_fields[name].default:
                    raise OptionError((name,), "applies to {} sft only", ("task",))
        if self.max_steps is not None and self.steps_like is not None:
            raise OptionError(("steps_like",), "not with {}", ("max_steps",))
        if self.mixup is not None and self.mixup.start_epoch >= self.epochs:
            raise OptionError(("mixup", "start_epoch"), f"must be < {{}} ({self.epochs}), got {self.mixup.start_epoch}",
                              ("epochs",))
        return self


# ------------------------------------------------------------------ naming options in messages

_FLAGS = {
    ("mixup", "site"): "--mixup",
    ("mixup", "lam"): "--mixup-lambda",
    ("mixup", "lam_per"): "--mixup-lambda-per",
    ("save_model",): "--no-save-model",
    ("checkpoint",): "--no-checkpoint",
    ("eval_datasets",): "--eval-dataset",
}


def cli_flag(loc: Loc) -> str:
    """The ``datamap train`` flag of the field at ``loc``.

    Parameters
    ----------
    loc : tuple of str (and int list positions, ignored)
        A field path of :class:`TrainConfig`, e.g. ``("mixup", "pairing")`` -> ``--mixup-pairing``,
        ``("mixup", "site")`` -> ``--mixup``, ``("epochs",)`` -> ``--epochs``.
    """
    names = tuple(p for p in loc if isinstance(p, str))
    if not names:
        return "datamap train"
    if names[0] == "lora" and len(names) > 1:  # one flag, NAME=VALUE items: "--lora r: must be >= 1"
        return f"--lora {names[1]}"
    return _FLAGS.get(names) or "--" + "-".join(names).replace("_", "-")


def field_path(loc: Loc) -> str:
    """The dotted path of the field at ``loc`` as a config file spells it (``("mixup", "lam")`` -> ``mixup.lam``).

    Parameters
    ----------
    loc : tuple of str and int
        A field path; list positions show as numbers (``eval_datasets.0``).
    """
    return ".".join(str(p) for p in loc) or "config"


_BOUNDS = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"),
           "less_than": ("<", "lt"), "less_than_equal": ("<=", "le")}


def _problem(error: dict) -> str:
    """What is wrong, in words, for one of pydantic's error dicts (the option's name not included)."""
    kind, ctx, got = error["type"], error.get("ctx") or {}, error.get("input")
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        bound = ctx[key]
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # pydantic gives float fields float bounds: "> 0", not "> 0.0"
        return f"must be {op} {bound}, got {got!r}"
    if kind == "finite_number":
        return f"must be a finite number, got {got!r}"
    if kind == "enum":
        return f"must be one of {ctx['expected']}, got {got!r}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not an option"
    if kind == "value_error":
        return str(ctx["error"])
    msg = error["msg"]
    return f"{msg[:1].lower()}{msg[1:]}, got {got!r}"


def config_error(exc: ValidationError, naming: Callable[[Loc], str] = cli_flag) -> DatamapError:
    """One line for every problem pydantic found in a config, each naming its option.

    Parameters
    ----------
    exc : pydantic.ValidationError
        From building a :class:`TrainConfig` (or a :class:`MixupConfig` inside one).
    naming : callable, default :func:`cli_flag`
        Turns a field path (a tuple such as ``("mixup", "pairing")``) into the name the user knows:
        :func:`cli_flag` for the command line, :func:`field_path` (or a function that puts the
        section in front) for a config file.

    Returns
    -------
    DatamapError
        ``NAME: problem``, several joined by ``"; "``. For example ``--epochs: must be >= 1, got 0``,
        ``--mixup-pairing: given without --mixup``, ``--lr: must be a finite number, got inf``.
    """
    parts = []
    for error in exc.errors():
        at = tuple(error["loc"])
        problem = (error.get("ctx") or {}).get("error")
        if isinstance(problem, OptionError):
            parts.append(problem.render(naming, at))
        else:
            parts.append(f"{naming(at)}: {_problem(error)}")
    return DatamapError("; ".join(parts))
