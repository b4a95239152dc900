"""Mixup for sequence classifiers, at three sites, with training-dynamics-aware pairing.

Sites (``--mixup SITE``):

``embeddings``  the input word embeddings are mixed and passed as ``inputs_embeds``; the model adds
                position and token-type embeddings itself. Attention masks are OR-ed. Token types
                are mixed with the same λ (the mixed token-type embedding is folded into
                ``inputs_embeds``); RoBERTa-style position ids are the element-wise max of the two
                rows' ids, i.e. those of the OR-ed mask.
``pooled``      the input of the final linear layer of the stock head is mixed: BERT/ALBERT the
                pooler output after the head's dropout, RoBERTa/ELECTRA the [CLS] state after the
                head's dropout → dense → activation → dropout, DistilBERT after pre_classifier →
                ReLU → dropout. Each row keeps its own dropout mask as in the normal head.
``hidden``      the last-layer sequence states are mixed, then the normal head runs (pooler
                included). The heads read only the first token, so for ALBERT and DistilBERT the
                first-token state is mixed, which is the same thing.

The ``pooled`` and ``hidden`` sites are forward pre-hooks on a module of the stock head that append
the mixed rows to the batch, so one ordinary ``model(**inputs)`` call (through DDP/Accelerate
wrappers too) yields the clean logits followed by the mixed ones, and evaluation - the same model
without hooks - never uses a layer that training skipped, nor skips one training used.

Architectures are recognised by ``model.config.model_type``; see :data:`ARCHITECTURES`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from datamap.core.pairing import (
    DYNAMICS_PAIRINGS,
    PAIRINGS,
    LambdaSampler,
    apply_drop_hard,
    pair_easy_ambiguous,
    pair_random,
    pair_reverse,
    pair_same_label,
    pair_td_entropy,
    parse_lambda,
    synthetic_count,
)
from datamap.errors import DatamapError
from datamap.training.losses import Loss, parse_loss

SITES = ("embeddings", "pooled", "hidden")
MODES = ("mixed-only", "mixed+original")


@dataclass(frozen=True)
class Architecture:
    """Where mixup hooks into one model family.

    ``base``: attribute of the encoder; ``pooled`` / ``hidden``: dotted path of the module whose
    first input is mixed for that site; ``head``: the classification-head modules (trainable under
    ``--freeze-base``); ``roberta_positions``: position ids are counted from ``padding_idx + 1``.
    """

    base: str
    pooled: str
    hidden: str
    head: tuple[str, ...]
    roberta_positions: bool = False


ARCHITECTURES: dict[str, Architecture] = {
    "bert": Architecture("bert", pooled="classifier", hidden="bert.pooler", head=("classifier",)),
    "albert": Architecture("albert", pooled="classifier", hidden="albert.pooler", head=("classifier",)),
    "distilbert": Architecture("distilbert", pooled="classifier", hidden="pre_classifier", head=("pre_classifier", "classifier")),
    "electra": Architecture("electra", pooled="classifier.out_proj", hidden="classifier", head=("classifier",)),
    "roberta": Architecture("roberta", pooled="classifier.out_proj", hidden="classifier", head=("classifier",), roberta_positions=True),
    "xlm-roberta": Architecture("roberta", pooled="classifier.out_proj", hidden="classifier", head=("classifier",), roberta_positions=True),
}


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside DDP (``.module``) or ``torch.compile`` (``._orig_mod``) wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None) or getattr(model, "module", None)
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


def _submodule(model: torch.nn.Module, path: str, model_type: str, flag: str) -> torch.nn.Module:
    try:
        module = model.get_submodule(path)
    except AttributeError:
        module = None
    if module is None:
        raise DatamapError(
            f"{flag}: model class {type(model).__name__} (type {model_type!r}) has no module {path!r}; "
            "only the stock ...ForSequenceClassification classes are supported"
        )
    return module


def architecture(model: torch.nn.Module, flag: str = "--mixup") -> Architecture:
    """The :class:`Architecture` of ``model`` (checked), or a DatamapError naming the type.

    Parameters
    ----------
    model : torch.nn.Module
        A transformers ``AutoModelForSequenceClassification`` model (wrappers are unwrapped).
    flag : str, default "--mixup"
        The option named in the error message.
    """
    inner = unwrap_model(model)
    model_type = getattr(getattr(inner, "config", None), "model_type", None)
    arch = ARCHITECTURES.get(model_type)
    if arch is None:
        raise DatamapError(
            f"{flag}: model type {model_type!r} cannot be hooked; supported: {', '.join(sorted(ARCHITECTURES))}"
        )
    for path in (arch.base, arch.pooled, arch.hidden, *arch.head):
        _submodule(inner, path, model_type, flag)
    return arch


def freeze_base(model: torch.nn.Module) -> list[str]:
    """Freeze every parameter except the classification head; return the trainable names.

    Parameters
    ----------
    model : torch.nn.Module
        A supported sequence classifier. Head modules: BERT/ALBERT ``classifier`` (the pooler
        belongs to the frozen encoder), RoBERTa/ELECTRA ``classifier`` (their dense + out_proj
        head), DistilBERT ``pre_classifier`` and ``classifier``.

    Build the optimizer after calling this, from the parameters that still require grad.
    """
    inner = unwrap_model(model)
    arch = architecture(inner, flag="--freeze-base")
    prefixes = tuple(name + "." for name in arch.head)
    trainable = []
    for name, param in inner.named_parameters():
        param.requires_grad_(name.startswith(prefixes))
        if param.requires_grad:
            trainable.append(name)
    return trainable


@functools.lru_cache(maxsize=None)
def _takes_token_types(cls: type) -> bool:
    return "token_type_ids" in inspect.signature(cls.forward).parameters


def model_inputs(model: torch.nn.Module, batch: dict) -> dict[str, torch.Tensor]:
    """The model's own inputs from a batch: ``input_ids``, ``attention_mask`` and, when the model
    takes them and the batch has them, ``token_type_ids`` (``labels``/``index`` are left out)."""
    out = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if batch.get("token_type_ids") is not None and _takes_token_types(type(unwrap_model(model))):
        out["token_type_ids"] = batch["token_type_ids"]
    return out


def _pad_inputs(inputs: dict, length: int, pad_id: int) -> dict:
    out = {}
    for key, value in inputs.items():
        extra = length - value.shape[1]
        out[key] = F.pad(value, (0, extra), value=pad_id if key == "input_ids" else 0) if extra > 0 else value
    return out


def _roberta_positions(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    real = input_ids.ne(padding_idx).long()
    return torch.cumsum(real, dim=1) * real + padding_idx


@contextlib.contextmanager
def _mix_hook(module: torch.nn.Module, rows: int, a: torch.Tensor, b: torch.Tensor, lam: torch.Tensor):
    """Pre-hook on ``module``: append ``lam·x[a] + (1 − lam)·x[b]`` to its first input ``x``."""
    calls = []

    def hook(_module, args, kwargs):
        if calls:
            raise RuntimeError("mixup site module ran twice in one forward")
        calls.append(1)
        x = args[0] if args else next(iter(kwargs.values()))
        if x.shape[0] != rows:
            raise RuntimeError(f"mixup site expected {rows} rows, got {x.shape[0]}")
        weight = lam.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        mixed = weight * x[a] + (1 - weight) * x[b]
        x = torch.cat([x, mixed], dim=0)
        if args:
            return (x, *args[1:]), kwargs
        first = next(iter(kwargs))
        return args, {**kwargs, first: x}

    handle = module.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def _zero_loss(logits: torch.Tensor) -> torch.Tensor:
    return logits.float().sum() * 0.0


@dataclass
class MixOutput:
    """What :meth:`MixupStrategy.mix_forward` computed for one batch.

    ``clean_logits`` (B, C) of the batch rows; ``mixed_logits`` (m, C); ``soft_targets`` (m, C);
    ``first_index`` / ``partner_index`` (m,) the data.parquet rows mixed (``index`` values);
    ``lam`` (m,) the λ of each mixed row (weight of the first member); ``kept_rows`` the batch
    rows not dropped by ``--drop-hard``.
    """

    clean_logits: torch.Tensor
    mixed_logits: torch.Tensor
    soft_targets: torch.Tensor
    first_index: torch.Tensor
    partner_index: torch.Tensor
    lam: torch.Tensor
    kept_rows: torch.Tensor


class StandardStrategy:
    """The default step: ``loss(model(**inputs).logits, labels)``.

    Parameters
    ----------
    loss : str or Loss, default "ce"
        ``"ce"`` or ``"focal:GAMMA,ALPHA"`` (see :func:`datamap.training.losses.parse_loss`).
    keep : array of bool or None, default None
        Indexed by the batch's ``index`` (data.parquet row): rows marked False (``--drop-hard``)
        get no loss; their logits are still returned so the data map stays complete.

    Call as ``loss, clean_logits = strategy(model, batch, epoch)``; ``clean_logits`` is detached.
    """

    def __init__(self, loss: "str | Loss" = "ce", keep: np.ndarray | None = None):
        self.loss = parse_loss(loss)
        self.keep = None if keep is None else np.asarray(keep, dtype=bool)

    def on_epoch_start(self, epoch: int) -> None:
        """Nothing to do for the standard step (kept for the loop's uniform interface)."""

    def _kept_rows(self, batch: dict) -> torch.Tensor:
        labels = batch["labels"]
        if self.keep is None:
            return torch.arange(len(labels), device=labels.device)
        rows = np.flatnonzero(self.keep[batch["index"].cpu().numpy()])
        return torch.as_tensor(rows, device=labels.device)

    def __call__(self, model: torch.nn.Module, batch: dict, epoch: int):
        logits = model(**model_inputs(model, batch)).logits
        rows = self._kept_rows(batch)
        loss = self.loss(logits[rows], batch["labels"][rows]) if len(rows) else _zero_loss(logits)
        return loss, logits.detach()


class MixupStrategy(StandardStrategy):
    """One training step with mixup; see the module docstring for the sites.

    Parameters
    ----------
    site : {"embeddings", "pooled", "hidden"}
    pairing : str, default "random"
        ``reverse``, ``random``, ``same-label`` pair rows within the batch (its kept rows);
        ``td-entropy`` and ``easy-ambiguous`` pair each kept example with a partner chosen over the
        whole kept training set (:mod:`datamap.core.pairing`), fetched through ``collate``.
    lam_sampler : str or LambdaSampler, default "beta:0.4"
        ``--mixup-lambda`` (:func:`datamap.core.pairing.parse_lambda`).
    lam_per : {"example", "batch"}, default "example"
    mode : {"mixed+original", "mixed-only"}, default "mixed+original"
        Loss over the kept clean rows and the mixed rows (mean over both), or the mixed rows only.
    start_epoch : int, default 0
        0-based first epoch with mixup; before it the step is the standard one.
    ratio : float, default 1.0
        Synthetic examples per kept original per epoch (``floor(ratio · kept)`` in all).
    train_examples : list of dict, optional
        The tokenized training set (``input_ids``, ``attention_mask``, ``labels``, ``index``...);
        needed by the dataset-level pairings.
    collate : callable, optional
        ``collate(list_of_examples) -> batch`` (pads); needed by the dataset-level pairings.
    labels : array of int, optional
        Gold label per data.parquet row (position = ``index``); taken from ``train_examples``
        when omitted.
    regions, entropy : arrays, optional
        Region (str) and entropy (float) per data.parquet row from the ``--dynamics-from`` run
        (:func:`load_dynamics`); required by ``td-entropy``, ``easy-ambiguous`` and ``drop_hard``.
    drop_hard : bool, default False
        Hard-to-learn rows get no loss and are never mixed; their clean logits are still returned.
    seed : int, default 0
        Pairing and λ draws use ``numpy.random.default_rng([seed, epoch])``, reset every epoch.
    loss : str or Loss, default "ce"
        Applied to the clean rows (hard targets) and the mixed rows (soft targets).

    Clean logits: at the ``pooled`` and ``hidden`` sites they are the first rows of the single
    forward that also yields the mixed rows (with grad; in ``mixed-only`` they are simply left out
    of the loss). At the ``embeddings`` site in ``mixed+original`` mode the clean rows ride in the
    same forward; in ``mixed-only`` mode they come from a separate forward of the clean batch
    *without grad* (the loss does not use them, so no graph is kept), in the model's current
    (training) mode, so they are recorded like the standard step's logits.
    """

    def __init__(
        self,
        site: str,
        pairing: str = "random",
        lam_sampler: "str | LambdaSampler" = "beta:0.4",
        lam_per: str = "example",
        mode: str = "mixed+original",
        start_epoch: int = 0,
        ratio: float = 1.0,
        train_examples: Sequence[dict] | None = None,
        collate: Callable[[list], dict] | None = None,
        labels: np.ndarray | None = None,
        regions: np.ndarray | None = None,
        entropy: np.ndarray | None = None,
        drop_hard: bool = False,
        seed: int = 0,
        loss: "str | Loss" = "ce",
    ):
        if site not in SITES:
            raise DatamapError(f"--mixup {site!r}: expected one of {', '.join(SITES)}")
        if pairing not in PAIRINGS:
            raise DatamapError(f"--mixup-pairing {pairing!r}: expected one of {', '.join(PAIRINGS)}")
        if mode not in MODES:
            raise DatamapError(f"--mixup-mode {mode!r}: expected one of {', '.join(MODES)}")
        if lam_per not in ("example", "batch"):
            raise DatamapError(f"--mixup-lambda-per {lam_per!r}: expected 'example' or 'batch'")
        if not (isinstance(ratio, (int, float)) and math.isfinite(ratio) and ratio > 0):
            raise DatamapError(f"--mixup-ratio {ratio!r}: must be a number > 0")
        if int(start_epoch) != start_epoch or start_epoch < 0:
            raise DatamapError(f"--mixup-start-epoch {start_epoch!r}: must be an integer >= 0")
        needs_dynamics = pairing in DYNAMICS_PAIRINGS
        missing = regions is None or (needs_dynamics and entropy is None)
        if (needs_dynamics or drop_hard) and missing:
            what = f"--mixup-pairing {pairing}" if needs_dynamics else "--drop-hard"
            raise DatamapError(f"{what} needs the regions and entropies of an earlier run: pass --dynamics-from RUN")
        if needs_dynamics and (train_examples is None or collate is None):
            raise ValueError("dataset-level pairings need train_examples and collate")

        self.site, self.pairing, self.lam_per, self.mode = site, pairing, lam_per, mode
        self.start_epoch, self.ratio, self.seed = int(start_epoch), float(ratio), int(seed)
        self.lam_sampler = lam_sampler if isinstance(lam_sampler, LambdaSampler) else parse_lambda(lam_sampler)
        self.train_examples, self.collate = train_examples, collate

        # position in train_examples of each data.parquet row
        self._position = None
        if train_examples is not None:
            index = np.fromiter((int(ex["index"]) for ex in train_examples), dtype=np.int64, count=len(train_examples))
            n_rows = max(int(index.max()) + 1 if len(index) else 0, 0 if regions is None else len(regions))
            self._position = np.full(n_rows, -1, dtype=np.int64)
            self._position[index] = np.arange(len(index))
            if labels is None:
                labels = np.zeros(len(self._position), dtype=np.int64)
                labels[index] = [int(ex["labels"]) for ex in train_examples]
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.regions = None if regions is None else np.asarray(regions, dtype=object)
        self.entropy = None if entropy is None else np.asarray(entropy, dtype=np.float64)
        for name, arr in (("regions", self.regions), ("entropy", self.entropy)):
            if arr is not None and self.labels is not None and len(arr) != len(self.labels):
                raise DatamapError(
                    f"--dynamics-from: {name} has {len(arr)} rows but the training data has {len(self.labels)}"
                )

        keep = None
        if drop_hard:
            keep = np.zeros(len(self.regions), dtype=bool)
            keep[apply_drop_hard(self.regions)] = True
        super().__init__(loss=loss, keep=keep)

        self._partner_of = None  # data.parquet row -> partner row (dataset-level pairings)
        if needs_dynamics:
            kept = np.flatnonzero(keep) if keep is not None else np.arange(len(self.labels))
            if self._position is not None:
                kept = kept[(kept < len(self._position))]
                kept = kept[self._position[kept] >= 0]  # only rows actually in the training set
            rule = pair_td_entropy if pairing == "td-entropy" else pair_easy_ambiguous
            partner = rule(self.labels[kept], self.regions[kept], self.entropy[kept])
            self._partner_of = np.full(len(self.labels), -1, dtype=np.int64)
            self._partner_of[kept] = kept[partner]
        self._epoch = None
        self.on_epoch_start(0)

    # ------------------------------------------------------------------ per epoch

    def on_epoch_start(self, epoch: int) -> None:
        """Reset the seeded generator (``default_rng([seed, epoch])``) and the synthetic count.

        The dataset-level pairings are deterministic given the earlier run's entropies, so they
        are computed once; the in-batch ones are drawn per batch from this generator.
        """
        self._epoch = int(epoch)
        self._rng = np.random.default_rng([self.seed, int(epoch)])
        self._seen = 0

    # ------------------------------------------------------------------ planning

    def _plan(self, batch: dict, rows: np.ndarray, m: int):
        """First members (batch rows) and partners (batch rows, or data.parquet rows)."""
        n = len(rows)
        firsts, partners = [], []
        for _ in range(math.ceil(m / n)):
            firsts.append(rows)
            if self._partner_of is not None:
                index = batch["index"].cpu().numpy()[rows]
                partners.append(self._partner_of[index])
            elif self.pairing == "reverse":
                partners.append(rows[pair_reverse(n)])
            elif self.pairing == "random":
                partners.append(rows[pair_random(n, self._rng)])
            else:
                labels = batch["labels"].cpu().numpy()[rows]
                partners.append(rows[pair_same_label(labels, self._rng)])
        return np.concatenate(firsts)[:m], np.concatenate(partners)[:m]

    def _partner_batch(self, indices: np.ndarray, device) -> dict:
        positions = self._position[indices]
        if (positions < 0).any():
            bad = int(indices[positions < 0][0])
            raise DatamapError(f"--mixup-pairing {self.pairing}: partner row {bad} is not in the training set")
        part = self.collate([self.train_examples[p] for p in positions])
        return {k: v.to(device) for k, v in part.items() if isinstance(v, torch.Tensor)}

    # ------------------------------------------------------------------ the step

    def __call__(self, model: torch.nn.Module, batch: dict, epoch: int):
        """One step: returns ``(loss, clean_logits.detach())``; see the class docstring."""
        if epoch != self._epoch:
            self.on_epoch_start(epoch)
        if epoch < self.start_epoch:
            return super().__call__(model, batch, epoch)
        out = self.mix_forward(model, batch)
        parts = [self.loss(out.mixed_logits, out.soft_targets, reduction="none")]
        if self.mode == "mixed+original":
            labels = batch["labels"][out.kept_rows]
            parts.insert(0, self.loss(out.clean_logits[out.kept_rows], labels, reduction="none"))
        per_row = torch.cat(parts)
        loss = per_row.mean() if per_row.numel() else _zero_loss(out.clean_logits)
        return loss, out.clean_logits.detach()

    def mix_forward(self, model: torch.nn.Module, batch: dict) -> "MixOutput":
        """The forward part of a step (no loss): clean and mixed logits with their targets.

        Advances this epoch's generator and synthetic-example count like a step does.
        """
        arch = architecture(model)
        inner = unwrap_model(model)
        inputs = model_inputs(model, batch)
        labels = batch["labels"]
        device = labels.device
        rows_t = self._kept_rows(batch)
        rows = np.arange(labels.shape[0]) if self.keep is None else rows_t.cpu().numpy()
        m = synthetic_count(self._seen, len(rows), self.ratio)
        self._seen += len(rows)
        if m == 0:
            logits = model(**inputs).logits
            empty = torch.zeros(0, dtype=torch.long, device=device)
            return MixOutput(logits, logits[:0], logits.new_zeros((0, logits.shape[-1])).float(), empty, empty,
                             logits.new_zeros(0).float(), rows_t)

        a, b = self._plan(batch, rows, m)
        B = labels.shape[0]
        all_labels = labels
        if self._partner_of is not None:  # fetch dataset-level partners, appended after the batch
            uniq, b_pos = np.unique(b, return_inverse=True)
            part = self._partner_batch(uniq, device)
            part_inputs = {k: part[k] for k in inputs if k in part}
            if set(part_inputs) != set(inputs):
                raise ValueError("collate must return the same input keys as the batch")
            pad_id = getattr(inner.config, "pad_token_id", None) or 0
            length = max(inputs["input_ids"].shape[1], part["input_ids"].shape[1])
            inputs, part_inputs = _pad_inputs(inputs, length, pad_id), _pad_inputs(part_inputs, length, pad_id)
            inputs = {k: torch.cat([inputs[k], part_inputs[k]]) for k in inputs}
            all_labels = torch.cat([labels, part["labels"].to(labels.dtype)])
            b = B + b_pos.reshape(-1)
        rows_total = all_labels.shape[0]
        a_t = torch.as_tensor(a, device=device)
        b_t = torch.as_tensor(b, device=device)
        lam = torch.as_tensor(self.lam_sampler.draw(self._rng, m, self.lam_per), dtype=torch.float32, device=device)

        if self.site == "embeddings":
            clean, mixed = self._embeddings_forward(model, inner, arch, inputs, B, a_t, b_t, lam)
        else:
            site = inner.get_submodule(arch.pooled if self.site == "pooled" else arch.hidden)
            with _mix_hook(site, rows_total, a_t, b_t, lam):
                out = model(**inputs).logits
            clean, mixed = out[:B], out[rows_total:]
        onehot = F.one_hot(all_labels.long(), mixed.shape[-1]).float()
        w = lam.view(-1, 1)
        soft = w * onehot[a_t] + (1 - w) * onehot[b_t]
        partner_index = torch.cat([batch["index"], part["index"].to(device)])[b_t] if self._partner_of is not None else batch["index"][b_t]
        return MixOutput(clean, mixed, soft, batch["index"][a_t], partner_index, lam, rows_t)

    def _embeddings_forward(self, model, inner, arch, inputs, B, a, b, lam):
        embed = inner.get_input_embeddings()
        E = embed(inputs["input_ids"])
        w = lam.to(E.dtype).view(-1, 1, 1)
        mixed = w * E[a] + (1 - w) * E[b]
        mask = inputs["attention_mask"]
        feed_mixed = {"attention_mask": torch.maximum(mask[a], mask[b])}
        if "token_type_ids" in inputs:
            tt = inputs["token_type_ids"]
            table = getattr(getattr(inner.get_submodule(arch.base), "embeddings", None), "token_type_embeddings", None)
            if table is not None:  # mix token types with the same λ; the model adds table[tt[a]] back
                Ta, Tb = table(tt[a]), table(tt[b])
                mixed = mixed + (w * Ta + (1 - w) * Tb - Ta)
            feed_mixed["token_type_ids"] = tt[a]
        feed_clean = {k: v for k, v in inputs.items() if k != "input_ids"}
        if arch.roberta_positions:
            pos = _roberta_positions(inputs["input_ids"], inner.get_submodule(arch.base).embeddings.padding_idx)
            feed_mixed["position_ids"] = torch.maximum(pos[a], pos[b])
            feed_clean["position_ids"] = pos
        feed_mixed["inputs_embeds"] = mixed
        if self.mode == "mixed+original":
            clean_part = {k: v[:B] for k, v in feed_clean.items()}
            clean_part["inputs_embeds"] = E[:B]
            feed = {k: torch.cat([clean_part[k], feed_mixed[k]]) for k in feed_mixed}
            out = model(**feed).logits
            return out[:B], out[B:]
        with torch.no_grad():
            clean = model(**{k: v[:B] for k, v in inputs.items()}).logits
        return clean, model(**feed_mixed).logits


# ---------------------------------------------------------------------- wiring for the loop


def load_dynamics(run: "str | Path", ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Regions and entropies of an earlier run, aligned with this run's training rows.

    Parameters
    ----------
    run : path
        The ``--dynamics-from`` run directory (its ``metrics.parquet``, written by ``metrics``),
        or the parquet file itself.
    ids : sequence of str
        The ``id`` column of this run's data.parquet, in row order.

    Returns ``{"region": object array of str, "entropy": float64 array}`` in the order of ``ids``.
    Every id must be in the earlier run's metrics (DatamapError naming the first missing one).
    """
    import pandas as pd

    from datamap.io.rundir import RunDir

    path = Path(run)
    if path.is_dir():
        path = RunDir(path).metrics
    if not path.is_file():
        raise DatamapError(f"--dynamics-from: {path} not found (run `datamap metrics` on that run first)")
    try:
        frame = pd.read_parquet(path, columns=["id", "region", "entropy"])
    except Exception as exc:  # missing column or unreadable file
        raise DatamapError(f"--dynamics-from: cannot read columns id, region, entropy from {path}: {exc}") from None
    frame["id"] = frame["id"].astype(str)
    if frame["id"].duplicated().any():
        raise DatamapError(f"--dynamics-from: {path} has duplicate id {frame['id'][frame['id'].duplicated()].iloc[0]!r}")
    frame = frame.set_index("id")
    ids = pd.Index([str(i) for i in ids])
    missing = ~ids.isin(frame.index)
    if missing.any():
        raise DatamapError(
            f"--dynamics-from: {int(missing.sum())} training ids are not in {path}, e.g. {ids[missing][0]!r}"
        )
    frame = frame.loc[ids]
    return {"region": frame["region"].astype(str).to_numpy(dtype=object), "entropy": frame["entropy"].to_numpy(dtype=np.float64)}


def build_strategy(
    options: dict[str, Any],
    train_examples: Sequence[dict] | None = None,
    collate: Callable[[list], dict] | None = None,
    dynamics: "dict | Any | None" = None,
) -> StandardStrategy:
    """The step strategy for the CLI options.

    Parameters
    ----------
    options : dict
        Keys (CLI flags with ``-`` → ``_``; all optional): ``mixup`` (site or None = no mixup),
        ``mixup_pairing`` ("random"), ``mixup_lambda`` ("beta:0.4"), ``mixup_lambda_per``
        ("example"), ``mixup_mode`` ("mixed+original"), ``mixup_start_epoch`` (0),
        ``mixup_ratio`` (1.0), ``drop_hard`` (False), ``seed`` (0), ``loss`` ("ce").
    train_examples, collate
        The tokenized training set and its padding function (see :class:`MixupStrategy`).
    dynamics : dict or DataFrame, optional
        ``region`` and ``entropy`` per data.parquet row, e.g. from :func:`load_dynamics`.
    """
    loss = parse_loss(options.get("loss"))
    drop_hard = bool(options.get("drop_hard", False))
    regions = None if dynamics is None else np.asarray(dynamics["region"], dtype=object)
    entropy = None if dynamics is None else np.asarray(dynamics["entropy"], dtype=np.float64)
    site = options.get("mixup")
    if not site:
        if drop_hard and regions is None:
            raise DatamapError("--drop-hard needs the regions of an earlier run: pass --dynamics-from RUN")
        return StandardStrategy(loss, keep=(regions != "hard") if drop_hard else None)
    return MixupStrategy(
        site,
        pairing=options.get("mixup_pairing") or "random",
        lam_sampler=options.get("mixup_lambda") or "beta:0.4",
        lam_per=options.get("mixup_lambda_per") or "example",
        mode=options.get("mixup_mode") or "mixed+original",
        start_epoch=int(options.get("mixup_start_epoch") or 0),
        ratio=float(options.get("mixup_ratio") if options.get("mixup_ratio") is not None else 1.0),
        train_examples=train_examples,
        collate=collate,
        regions=regions,
        entropy=entropy,
        drop_hard=drop_hard,
        seed=int(options.get("seed") or 0),
        loss=loss,
    )
