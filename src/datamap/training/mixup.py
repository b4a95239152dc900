"""Mixup for sequence classifiers, at three sites, with training-dynamics-aware pairing.

Sites (``--mixup SITE``):

``embeddings``  the input word embeddings are mixed and passed as ``inputs_embeds``; the model adds
                position and token-type embeddings itself. Attention masks are OR-ed. Token types
                are mixed with the same λ (the mixed token-type embedding is folded into
                ``inputs_embeds``); RoBERTa-style position ids are the element-wise max of the two
                rows' ids, i.e. those of the OR-ed mask.
``pooled``      the input of the final linear layer of the classification head is mixed (BERT/ALBERT:
                the pooler output after the head's dropout; RoBERTa/ELECTRA: the [CLS] state after
                dense → activation → dropout; DistilBERT: after pre_classifier → ReLU → dropout;
                DeBERTa: after its context pooler; ModernBERT: after its prediction head; decoders:
                the last non-pad token's state). Each row keeps its own dropout mask.
``hidden``      the last-layer sequence states are mixed, then the normal head runs: the input of the
                base model's pooler when it has one (BERT, ALBERT), else the input of the first head
                module (RoBERTa/ELECTRA/DeBERTa: the whole sequence, of which the head reads the first
                token; DistilBERT: the first-token state; ModernBERT: its pooled state; decoders: the
                score layer, so for them ``hidden`` and ``pooled`` are the same site).

The head is found from the model (:func:`datamap.training.models.find_head`): the children of the
classifier outside ``model.base_model``, the last linear layer with ``num_labels`` outputs among them.
The ``pooled`` and ``hidden`` sites are forward pre-hooks that append the mixed rows to the batch at
that module's input; a forward hook on the final linear layer takes the appended rows back off its
output, so the model's own code after the head (a decoder's pick of the last token, which counts the
rows of ``input_ids``) sees the batch it expects, and one ordinary ``model(**inputs)`` call (through
DDP/Accelerate wrappers too) yields the clean and the mixed logits. Where the head scores every token
(decoders) a mixed row is its first member's states with the read token (the last non-pad one)
replaced by the mix of both members' read tokens. Evaluation - the same model without hooks - never
uses a layer that training skipped, nor skips one training used.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from datamap.core.pairing import (
    keep_mask,
    pair_easy_ambiguous,
    pair_random,
    pair_reverse,
    pair_same_label,
    pair_td_entropy,
    parse_lambda,
    synthetic_count,
)
from datamap.errors import DatamapError, user_errors
from datamap.training.config import MixupConfig
from datamap.training.losses import Loss
from datamap.training.models import Head, _quiet_transformers, find_head, model_inputs, unwrap_model
from datamap.training.steps import StandardStep, zero_loss


def _pad_inputs(inputs: dict, length: int, pad_id: int) -> dict:
    out = {}
    for key, value in inputs.items():
        extra = length - value.shape[1]
        out[key] = F.pad(value, (0, extra), value=pad_id if key == "input_ids" else 0) if extra > 0 else value
    return out


def _roberta_positions(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    real = input_ids.ne(padding_idx).long()
    return torch.cumsum(real, dim=1) * real + padding_idx


def _read_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """The last attended token of each row (right or left padding): what a decoder's head reads."""
    idx = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (idx * attention_mask.ne(0).long()).argmax(-1)


class _HeadTap:
    """Forward hook on the head's final linear layer: keeps its output, hands back the first ``keep`` rows.

    ``logits(mask)``: the captured output as (rows, classes) logits; where the layer scored every
    token (decoders) the token read is that of :func:`_read_positions` of ``mask``.
    """

    def __init__(self, module: torch.nn.Module, keep: int | None = None):
        self.keep, self.out = keep, None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, _module, _args, output):
        self.out = output
        if self.keep is not None and output.shape[0] > self.keep:
            return output[: self.keep]
        return None

    def logits(self, mask: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        out = self.out[rows]
        if out.dim() == 3:
            pos = _read_positions(mask)
            out = out[torch.arange(out.shape[0], device=out.device), pos]
        return out

    def __enter__(self) -> "_HeadTap":
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


@contextlib.contextmanager
def _mix_hook(module: torch.nn.Module, rows: int, a: torch.Tensor, b: torch.Tensor, lam: torch.Tensor,
              read: torch.Tensor | None = None):
    """Pre-hook on ``module``: append ``lam·x[a] + (1 − lam)·x[b]`` to its first input ``x``.

    With ``read`` (one token position per row, decoders' token-wise heads) a 3-D ``x`` is mixed at
    those tokens only: the mixed row is ``x[a]`` with token ``read[a]`` set to the mix of
    ``x[a, read[a]]`` and ``x[b, read[b]]``.
    """
    calls = []

    def hook(_module, args, kwargs):
        if calls:
            raise RuntimeError("mixup site module ran twice in one forward")
        calls.append(1)
        x = args[0] if args else next(iter(kwargs.values()))
        if x.shape[0] != rows:
            raise RuntimeError(f"mixup site expected {rows} rows, got {x.shape[0]}")
        weight = lam.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        if read is not None and x.dim() == 3:
            ar = torch.arange(len(a), device=x.device)
            mixed = x[a].clone()
            mixed[ar, read[a]] = weight[:, 0] * x[a, read[a]] + (1 - weight[:, 0]) * x[b, read[b]]
        else:
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

class MixupStrategy(StandardStep):
    """One training step with mixup; see the module docstring for the sites.

    Parameters
    ----------
    config : MixupConfig
        The validated mixup settings: ``site``; ``pairing`` (``reverse``, ``random``,
        ``same-label`` pair rows within the batch, its kept rows; ``td-entropy`` and
        ``easy-ambiguous`` pair each kept example with a partner chosen over the whole kept
        training set, :mod:`datamap.core.pairing`, fetched through ``collate``); ``lam`` (the λ
        sampler, :func:`datamap.core.pairing.parse_lambda`) drawn per ``lam_per``; ``mode``
        (``mixed+original``: loss over the kept clean rows and the mixed rows, mean over both;
        ``mixed-only``: the mixed rows only); ``start_epoch`` (0-based first epoch with mixup,
        before it the step is the standard one); ``ratio`` (synthetic examples per kept
        original per epoch, ``floor(ratio · kept)`` in all). Defaults and ranges: see
        :class:`~datamap.training.config.MixupConfig`.
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
        config: MixupConfig,
        train_examples: Sequence[dict] | None = None,
        collate: Callable[[list], dict] | None = None,
        labels: np.ndarray | None = None,
        regions: np.ndarray | None = None,
        entropy: np.ndarray | None = None,
        drop_hard: bool = False,
        seed: int = 0,
        loss: "str | Loss" = "ce",
    ):
        pairing = config.pairing
        needs_dynamics = pairing.needs_dynamics
        missing = regions is None or (needs_dynamics and entropy is None)
        if (needs_dynamics or drop_hard) and missing:  # from the config: TrainConfig refuses them without dynamics_from
            raise ValueError(f"{f'pairing {pairing}' if needs_dynamics else 'drop_hard'} needs regions and entropy")
        if needs_dynamics and (train_examples is None or collate is None):
            raise ValueError("dataset-level pairings need train_examples and collate")

        self.config = config
        self.site, self.pairing, self.lam_per, self.mode = config.site, pairing, config.lam_per, config.mode
        self.start_epoch, self.ratio, self.seed = config.start_epoch, config.ratio, int(seed)
        with user_errors("--mixup-lambda"):
            self.lam_sampler = parse_lambda(config.lam)
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

        keep = keep_mask(self.regions) if drop_hard else None
        super().__init__(loss=loss, keep=keep)

        self._partner_of = None  # data.parquet row -> partner row (dataset-level pairings)
        if needs_dynamics:
            kept = np.flatnonzero(keep) if keep is not None else np.arange(len(self.labels))
            if self._position is not None:
                kept = kept[(kept < len(self._position))]
                kept = kept[self._position[kept] >= 0]  # only rows actually in the training set
            rule = pair_td_entropy if pairing == "td-entropy" else pair_easy_ambiguous
            with user_errors("--dynamics-from"):
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
        loss = per_row.mean() if per_row.numel() else zero_loss(out.clean_logits)
        return loss, out.clean_logits.detach()

    def mix_forward(self, model: torch.nn.Module, batch: dict) -> "MixOutput":
        """The forward part of a step (no loss): clean and mixed logits with their targets.

        Advances this epoch's generator and synthetic-example count like a step does.
        """
        inner = unwrap_model(model)
        head = find_head(inner)
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
        lam = torch.as_tensor(self.lam_sampler.draw(self._rng, m, per=self.lam_per), dtype=torch.float32, device=device)

        final = inner.get_submodule(head.final)
        if self.site == "embeddings":
            clean, mixed = self._embeddings_forward(model, inner, head, inputs, B, a_t, b_t, lam)
        else:
            site = inner.get_submodule(head.final if self.site == "pooled" else head.hidden)
            mask = inputs["attention_mask"]
            read = _read_positions(mask) if head.causal else None
            with _HeadTap(final, keep=rows_total) as tap, _mix_hook(site, rows_total, a_t, b_t, lam, read):
                model(**inputs)
            clean = tap.logits(mask[:B], slice(0, B))
            mixed = tap.logits(mask[a_t], slice(rows_total, None))
        onehot = F.one_hot(all_labels.long(), mixed.shape[-1]).float()
        w = lam.view(-1, 1)
        soft = w * onehot[a_t] + (1 - w) * onehot[b_t]
        partner_index = torch.cat([batch["index"], part["index"].to(device)])[b_t] if self._partner_of is not None else batch["index"][b_t]
        return MixOutput(clean, mixed, soft, batch["index"][a_t], partner_index, lam, rows_t)

    def _embeddings_forward(self, model, inner, head: Head, inputs, B, a, b, lam):
        embed = inner.get_input_embeddings()
        E = embed(inputs["input_ids"])
        w = lam.to(E.dtype).view(-1, 1, 1)
        mixed = w * E[a] + (1 - w) * E[b]
        mask = inputs["attention_mask"]
        feed_mixed = {"attention_mask": torch.maximum(mask[a], mask[b])}
        base = inner.base_model
        if "token_type_ids" in inputs:
            tt = inputs["token_type_ids"]
            table = getattr(getattr(base, "embeddings", None), "token_type_embeddings", None)
            if table is not None:  # mix token types with the same λ; the model adds table[tt[a]] back
                Ta, Tb = table(tt[a]), table(tt[b])
                mixed = mixed + (w * Ta + (1 - w) * Tb - Ta)
            feed_mixed["token_type_ids"] = tt[a]
        feed_clean = {k: v for k, v in inputs.items() if k != "input_ids"}
        if head.position_padding_idx is not None:  # positions from input_ids, which inputs_embeds lacks
            pos = _roberta_positions(inputs["input_ids"], head.position_padding_idx)
            feed_mixed["position_ids"] = torch.maximum(pos[a], pos[b])
            feed_clean["position_ids"] = pos
        feed_mixed["inputs_embeds"] = mixed
        final = inner.get_submodule(head.final)
        # the model's own last-token pick needs input_ids: read the head's output here instead
        quiet = _quiet_transformers() if head.causal else contextlib.nullcontext()
        if self.mode == "mixed+original":
            clean_part = {k: v[:B] for k, v in feed_clean.items()}
            clean_part["inputs_embeds"] = E[:B]
            feed = {k: torch.cat([clean_part[k], feed_mixed[k]]) for k in feed_mixed}
            with _HeadTap(final) as tap, quiet:
                model(**feed)
            out = tap.logits(feed["attention_mask"])
            return out[:B], out[B:]
        with torch.no_grad():
            clean = model(**{k: v[:B] for k, v in inputs.items()}).logits
        with _HeadTap(final) as tap, quiet:
            model(**feed_mixed)
        return clean, tap.logits(feed_mixed["attention_mask"])
