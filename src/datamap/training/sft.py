"""Causal-LM fine-tuning (``--task sft``): prompt -> completion data, the completion-only loss and the
per-example records that make its training dynamics.

    rows (prompt/completion, messages or text) -> data.parquet (id, prompt, completion)
    -> tokens: prompt ids + completion ids + EOS, labels -100 on the prompt (unless train_on_prompt)
    -> each forward pass: per example [summed token NLL, target tokens, argmax-correct tokens]

The records are a (B, 3) float32 tensor per batch, so the recorder, the gather across processes and
the per-epoch files of classifier runs carry them unchanged (see ``docs/run-directory.md``). The
summed loss is exact in float32 for a few thousand target tokens; the counts are exact integers below 2**24.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from datamap.errors import DatamapError

log = logging.getLogger(__name__)

#: label value of positions that carry no loss (the prompt, the padding): PyTorch's and transformers' convention
IGNORE = -100
#: the record's columns, in order
RECORD_FIELDS = ("loss_sum", "n_tokens", "n_correct")


# ----------------------------------------------------------------------------- data
@dataclass
class SFTColumns:
    """Where an sft dataset keeps its text (resolved against a table by :func:`sft_frame`)."""

    prompt: str = "prompt"
    completion: str = "completion"
    messages: str = "messages"
    text: str = "text"
    id: str | None = None


def _as_messages(value, source: str, row: int, column: str) -> list[dict]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise DatamapError(f"{source}: row {row}, column '{column}': not a JSON list of messages") from None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        raise DatamapError(f"{source}: row {row}, column '{column}': expected a non-empty list of {{role, content}} messages")
    out = []
    for m in value:
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise DatamapError(f"{source}: row {row}, column '{column}': each message needs 'role' and 'content'")
        out.append({"role": str(m["role"]), "content": str(m["content"])})
    if out[-1]["role"] != "assistant":
        raise DatamapError(f"{source}: row {row}, column '{column}': the last message is '{out[-1]['role']}', "
                           "not 'assistant' (the completion to learn)")
    return out


def render_messages(messages: list[dict], tokenizer, source: str = "data", row: int = 0) -> tuple[str, str]:
    """(prompt, completion) of a conversation: the chat template of every message but the last with the
    generation prompt, and the rest of the whole conversation's rendering (the assistant's answer)."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise DatamapError(f"{source}: a 'messages' column needs a tokenizer with a chat template "
                           "(this one has none); give 'prompt' and 'completion' columns instead")
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    whole = tokenizer.apply_chat_template(messages, tokenize=False)
    if not whole.startswith(prompt):
        raise DatamapError(f"{source}: row {row}: the chat template renders the conversation without its prompt "
                           "as a prefix; give 'prompt' and 'completion' columns instead")
    return prompt, whole[len(prompt):]


def sft_frame(raw: pd.DataFrame, source: str, tokenizer=None, columns: SFTColumns | None = None,
              drop_empty: bool = False) -> pd.DataFrame:
    """The canonical sft frame ``id, prompt, completion`` of a raw table.

    Takes ``prompt``/``completion`` columns if present, else a ``messages`` column (rendered with the
    tokenizer's chat template: :func:`render_messages`), else a ``text`` column (an empty prompt:
    every token is a target). Ids: the table's id column (``columns.id``, or ``id``/``guid`` when
    present), else a content hash of prompt and completion (duplicates numbered, with a warning).
    """
    from datamap.io.data import ID_CANDIDATES, content_ids

    cols = columns or SFTColumns()
    have = list(map(str, raw.columns))
    if cols.prompt in raw.columns and cols.completion in raw.columns:
        prompt, completion = raw[cols.prompt], raw[cols.completion]
    elif cols.messages in raw.columns:
        if tokenizer is None:
            raise DatamapError(f"{source}: a 'messages' column needs the model's tokenizer")
        pairs = [render_messages(_as_messages(v, source, i, cols.messages), tokenizer, source, i)
                 for i, v in enumerate(raw[cols.messages])]
        prompt = pd.Series([p for p, _ in pairs], index=raw.index)
        completion = pd.Series([c for _, c in pairs], index=raw.index)
    elif cols.text in raw.columns:
        completion = raw[cols.text]
        prompt = pd.Series([""] * len(raw), index=raw.index)
    else:
        raise DatamapError(f"{source}: an sft dataset needs '{cols.prompt}' and '{cols.completion}' columns, "
                           f"a '{cols.messages}' column or a '{cols.text}' column (columns: {', '.join(have)})")
    null = (prompt.isna() | completion.isna()).to_numpy()
    empty = completion.fillna("").astype(str).str.strip().to_numpy() == ""
    bad = null | empty
    if bad.any() and not drop_empty:
        row = int(np.flatnonzero(bad)[0])
        raise DatamapError(f"{source}: {'null' if null[row] else 'empty'} completion at row {row} "
                           f"({int(bad.sum())} such rows; --drop-empty skips them)")
    frame = pd.DataFrame({"prompt": prompt.fillna("").astype(str).to_numpy(),
                          "completion": completion.fillna("").astype(str).to_numpy()})
    ident = cols.id or next((c for c in ID_CANDIDATES if c in raw.columns), None)
    if ident is not None:
        if ident not in raw.columns:
            raise DatamapError(f"{source}: no id column '{ident}' (columns: {', '.join(have)})")
        ids = raw[ident].astype(str).to_numpy()
        if len(set(ids)) != len(ids):
            dup = pd.Series(ids).duplicated()
            raise DatamapError(f"{source}: id column '{ident}' repeats '{ids[int(np.flatnonzero(dup)[0])]}'")
    else:
        ids, dups = content_ids(frame["prompt"], frame["completion"])
        if dups:
            log.warning("%s: %d duplicate (prompt, completion) rows got numbered ids", source, dups)
    frame.insert(0, "id", ids)
    return frame[~bad].reset_index(drop=True) if bad.any() else frame


# ----------------------------------------------------------------------------- tokens
def encode_sft(frame: pd.DataFrame, tokenizer, max_length: int, train_on_prompt: bool = False,
               source: str = "data") -> list[dict]:
    """Tokenise an sft frame once, unpadded: ``input_ids``, ``attention_mask``, ``labels`` (lists) and ``index``.

    ``input_ids`` = tokenizer(prompt) (special tokens as the tokenizer adds them) + tokenizer(completion,
    no special tokens) + EOS, cut to ``max_length`` from the right; ``labels`` repeats the ids with
    :data:`IGNORE` on the prompt's positions (unless ``train_on_prompt``). A row left without a target
    token is refused, naming it.
    """
    eos = tokenizer.eos_token_id
    prompts = tokenizer(frame["prompt"].tolist(), add_special_tokens=True)["input_ids"]
    completions = tokenizer(frame["completion"].tolist(), add_special_tokens=False)["input_ids"]
    items = []
    for i, (p, c) in enumerate(zip(prompts, completions)):
        if not frame["prompt"].iat[i]:
            p = [t for t in p if t != eos]  # a plain text row: no prompt, not even a template's EOS
        target = list(c) + ([eos] if eos is not None else [])
        ids = (list(p) + target)[:max_length]
        labels = ids.copy() if train_on_prompt else ([IGNORE] * len(p) + target)[:max_length]
        if sum(t != IGNORE for t in labels[1:]) == 0:
            raise DatamapError(f"{source}: row {i} (id {frame['id'].iat[i]}): no completion token within "
                               f"--max-length {max_length} (the prompt has {len(p)} tokens); raise --max-length "
                               "or shorten the prompt")
        items.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels, "index": i})
    return items


class SFTCollator:
    """Pad a list of sft items on the right: ``input_ids`` with the pad token, ``attention_mask`` with 0,
    ``labels`` with :data:`IGNORE`; ``index`` as given."""

    def __init__(self, tokenizer, pad_to_multiple_of: int | None = None):
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        from datamap.training.batching import pad_right, padded_width

        longest = padded_width(items, self.pad_to_multiple_of)
        batch = {key: pad_right([it[key] for it in items], longest, pad)
                 for key, pad in (("input_ids", self.pad_id), ("attention_mask", 0), ("labels", IGNORE))}
        batch["index"] = torch.tensor([it["index"] for it in items], dtype=torch.long)
        return batch


# ----------------------------------------------------------------------------- records and loss
def token_records(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example records and the summed loss of a causal LM's batch.

    Parameters
    ----------
    logits : (B, T, V) tensor
        The model's output; position t predicts token t+1.
    labels : (B, T) long tensor
        Token ids, :data:`IGNORE` where no loss is taken.

    Returns
    -------
    records : (B, 3) float32 tensor, detached
        [summed token negative log-likelihood (natural log, float32), number of target tokens, number
        of target tokens whose argmax is the target].
    loss_sum : scalar tensor (with gradient)
        The batch's summed token NLL (divide by the target count for the token mean).
    """
    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    mask = shift_labels != IGNORE
    nll = F.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1),
                          ignore_index=IGNORE, reduction="none").view(shift_labels.shape)
    per_row = nll.sum(dim=1)
    with torch.no_grad():
        correct = (shift_logits.argmax(dim=-1) == shift_labels) & mask
        records = torch.stack([per_row.detach(), mask.sum(dim=1).float(), correct.sum(dim=1).float()], dim=1)
    return records, per_row.sum()


def _lm_inputs(batch: dict) -> dict:
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


class SFTStep:
    """One training step of a causal LM: the token-mean loss over the batch's target tokens and the
    batch's per-example records (:func:`token_records`), taken from the same forward pass.

    Call as ``loss, records = step(model, batch, epoch)``, like the classifier steps.
    """

    def on_epoch_start(self, epoch: int) -> None:
        """Nothing to do (the loop's uniform interface)."""

    def __call__(self, model: torch.nn.Module, batch: dict, epoch: int):
        logits = model(**_lm_inputs(batch)).logits
        records, loss_sum = token_records(logits, batch["labels"])
        # token mean; a batch without any target token (cannot happen: encode_sft refuses such rows) gives 0
        return loss_sum / records[:, 1].sum().clamp_min(1.0), records


def predict_records(model, encoded: list[dict], collate, batch_size: int, accelerator, desc: str | None = None,
                    main_only: bool = False) -> np.ndarray:
    """(n, 3) float32 records of every item (eval mode, ``no_grad``, length-sorted batches, sharded over
    the processes), in the order of ``encoded``: the pass of ``--record epoch_end`` and ``--record-every``
    (``main_only``: gathered to the main process only, the others get ``(0, 3)``)."""
    from datamap.training.predict import predict_batches

    return predict_batches(model, encoded, collate, batch_size, accelerator,
                           lambda m, batch: token_records(m(**_lm_inputs(batch)).logits, batch["labels"])[0], desc=desc,
                           main_only=main_only)


def record_summary(records: np.ndarray) -> dict:
    """Token-level scores of a set of records: ``loss`` (mean token NLL), ``token_accuracy``, ``n``."""
    records = np.asarray(records, dtype=np.float64)
    tokens = max(records[:, 1].sum(), 1.0)
    return {"loss": float(records[:, 0].sum() / tokens), "token_accuracy": float(records[:, 2].sum() / tokens),
            "n": int(len(records))}


# ----------------------------------------------------------------------------- generation
@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 32,
             max_length: int | None = None, device=None) -> list[str]:
    """Greedy completions of ``prompts`` (left-padded batches, stopped at EOS), decoded without special tokens."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos = tokenizer.eos_token_id
    encoded = tokenizer(prompts, add_special_tokens=True)["input_ids"]
    if max_length:
        encoded = [ids[-max_length:] for ids in encoded]
    order = np.argsort([len(e) for e in encoded], kind="stable")
    out: list[str] = [""] * len(prompts)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        seqs = [encoded[r] if prompts[r] else [t for t in encoded[r] if t != eos] or [eos] for r in rows]
        longest = max(len(s) for s in seqs)
        ids = torch.full((len(rows), longest), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for k, s in enumerate(seqs):
            ids[k, longest - len(s):] = torch.tensor(s)
            mask[k, longest - len(s):] = 1
        gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=pad, eos_token_id=eos)
        for k, r in enumerate(rows):
            new = gen[k, longest:].tolist()
            if eos is not None and eos in new:
                new = new[: new.index(eos)]
            out[r] = tokenizer.decode(new, skip_special_tokens=True)
    model.train(was_training)
    return out


def exact_matches(generated: list[str], references: list[str]) -> np.ndarray:
    """Whether each generated completion equals its reference, both stripped of surrounding white space."""
    return np.array([g.strip() == r.strip() for g, r in zip(generated, references)], dtype=bool)


def load_causal_lm(name_or_path: str, trust_remote_code: bool = False, dtype: "str | None" = None):
    """``AutoModelForCausalLM`` from a hub name, a folder or a registered object (``datamap.train(model=...)``),
    its weights in ``dtype`` (:func:`datamap.training.models.dtype_kwargs`; an object keeps its own)."""
    from transformers import AutoModelForCausalLM

    from datamap.training.models import _OBJECTS, _first, _quiet_transformers, dtype_kwargs, resolve_model

    if name_or_path in _OBJECTS:
        return _OBJECTS[name_or_path][0]
    path = resolve_model(name_or_path)
    try:
        with _quiet_transformers():
            return AutoModelForCausalLM.from_pretrained(path, trust_remote_code=trust_remote_code, **dtype_kwargs(dtype))
    except DatamapError:
        raise
    except Exception as exc:
        raise DatamapError(f"model '{name_or_path}': cannot load as a causal language model ({_first(exc)})") from exc


def target_counts(items: list[dict], vocab: int) -> np.ndarray:
    """How often each token id is a target (a label != -100 after the shift) in ``items``: (vocab,) int64."""
    counts = np.zeros(vocab, dtype=np.int64)
    for it in items:
        t = np.asarray(it["labels"][1:], dtype=np.int64)
        np.add.at(counts, t[(t != IGNORE) & (t < vocab)], 1)
    return counts


def unigram_loss(items: list[dict], counts: np.ndarray) -> float:
    """Mean token negative log-likelihood on ``items``' targets of the unigram model with these training target
    ``counts`` (add-one smoothed over the vocabulary): the baseline of :func:`datamap.core.health.check_unigram`."""
    counts = np.asarray(counts, dtype=np.float64)
    logp = np.log((counts + 1.0) / (counts.sum() + len(counts)))
    mine = target_counts(items, len(counts))
    return float(-(mine * logp).sum() / max(mine.sum(), 1))
