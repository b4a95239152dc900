"""Tokenisation, per-batch padding, length-grouped batching and the batch samplers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch


def encode_frame(df: pd.DataFrame, tokenizer, max_length: int = 128) -> list[dict]:
    """Tokenise a canonical frame (``text``, optional ``text_pair``, ``label``) once, unpadded.

    Each item: ``input_ids``, ``attention_mask`` (and ``token_type_ids`` if the tokenizer makes
    them) as lists of ints, ``labels`` (int) and ``index`` (row position in ``df``).
    """
    pair = df["text_pair"].tolist() if "text_pair" in df.columns else None
    enc = tokenizer(df["text"].tolist(), pair, truncation=True, max_length=max_length, padding=False)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    labels = df["label"].to_numpy() if "label" in df.columns else np.zeros(len(df), dtype=np.int64)
    return [
        {**{k: enc[k][i] for k in keys}, "labels": int(labels[i]), "index": i} for i in range(len(df))
    ]


def padded_width(items: list[dict], multiple: int | None = None) -> int:
    """The longest ``input_ids`` of a batch, rounded up to a multiple of ``multiple`` when given."""
    longest = max(len(it["input_ids"]) for it in items)
    return (longest + multiple - 1) // multiple * multiple if multiple else longest


def pad_right(seqs: list, width: int, pad: int) -> torch.Tensor:
    """A (len(seqs), width) LongTensor: each sequence, then ``pad``."""
    arr = np.full((len(seqs), width), pad, dtype=np.int64)
    for r, seq in enumerate(seqs):
        arr[r, : len(seq)] = seq
    return torch.from_numpy(arr)


class Collator:
    """Pad a list of encoded items to the longest in the batch; returns LongTensors."""

    def __init__(self, tokenizer, pad_to_multiple_of: int | None = None):
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        longest = padded_width(items, self.pad_to_multiple_of)
        batch: dict[str, torch.Tensor] = {}
        for key, pad in (("input_ids", self.pad_id), ("attention_mask", 0), ("token_type_ids", 0)):
            if key in items[0]:
                batch[key] = pad_right([it[key] for it in items], longest, pad)
        batch["labels"] = torch.tensor([it["labels"] for it in items], dtype=torch.long)
        batch["index"] = torch.tensor([it["index"] for it in items], dtype=torch.long)
        return batch


def length_grouped_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, group_factor: int = 50
) -> list[np.ndarray]:
    """Shuffled batches of similar length (less padding), in random order.

    The data is shuffled, cut into mega-batches of ``batch_size * group_factor`` examples, each
    sorted by length and cut into batches; then the batches are shuffled. Every index appears
    exactly once.
    """
    lengths = np.asarray(lengths)
    perm = rng.permutation(len(lengths))
    mega = max(batch_size * group_factor, batch_size)
    batches: list[np.ndarray] = []
    for start in range(0, len(perm), mega):
        chunk = perm[start : start + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Deterministic batches sorted by length (for inference passes)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class LengthGroupedSampler:
    """Batch sampler: a new seeded length-grouped shuffle on every pass (epoch)."""

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self._n = math.ceil(len(self.lengths) / batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = length_grouped_batches(self.lengths, self.batch_size, rng)
        # Accelerate's sharding across processes (even_batches) expects only the last batch to be
        # short; a short batch elsewhere makes it skip a round of batches. Stable: order kept otherwise.
        batches.sort(key=lambda b: len(b) < self.batch_size)
        for b in batches:
            yield b.tolist()

    def __len__(self) -> int:
        return self._n


class FixedBatches:
    """Batch sampler over precomputed batches (inference passes)."""

    def __init__(self, batches):
        self.batches = [b.tolist() for b in batches]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def make_loader(encoded, collate, batch_sampler):
    """A DataLoader over tokenized items with a batch sampler and a collate function.

    On a GPU the batches are collated into pinned memory, so that the copies to the device
    (``non_blocking``, see :func:`datamap.training.predict.make_accelerator`) do not stop the host.
    """
    return torch.utils.data.DataLoader(encoded, batch_sampler=batch_sampler, collate_fn=collate,
                                       pin_memory=torch.cuda.is_available())
