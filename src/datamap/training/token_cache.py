"""A cache of tokenised data: a second training on the same texts with the same tokenizer skips tokenising.

The training loop tokenises its training and evaluation sets with :func:`encode_cached`. The result
of the tokenizer (``input_ids``, ``attention_mask``, ``token_type_ids``; unpadded) is kept in one
file per key, where the key is the sha256 of

* the data: every ``text`` and ``text_pair`` of the frame, in order;
* the tokenizer: its class and its full definition (``backend_tokenizer.to_str()``: vocabulary,
  normaliser, pre-tokeniser, post-processor) -- only fast tokenizers are cached;
* ``max_length``.

So the many trainings of ``datamap run`` (seeds, retrainings on subsets are other texts and get their
own entry) and repeated ``datamap train`` calls reuse one tokenisation. Labels and row positions
come from the frame each time, never from the cache.

Where: ``$DATAMAP_CACHE_DIR/tokens/`` if set, else ``$XDG_CACHE_HOME/datamap/tokens/``, else
``~/.cache/datamap/tokens/``; ``DATAMAP_CACHE_DIR=off`` turns the cache off. Entries are written
atomically (a temporary file renamed into place) and never change; delete the folder to free the
space. A file that cannot be read is ignored (the data is tokenised again and the entry rewritten).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.training.batching import encode_frame

log = logging.getLogger(__name__)

KEYS = ("input_ids", "attention_mask", "token_type_ids")
VERSION = "1"


def cache_dir() -> Path | None:
    """The folder of the tokenised-data cache, or None when ``DATAMAP_CACHE_DIR=off``."""
    root = os.environ.get("DATAMAP_CACHE_DIR")
    if root is not None and root.strip().lower() in ("off", "0", "none", ""):
        return None
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = os.path.join(base, "datamap")
    return Path(root) / "tokens"


_FINGERPRINTS: dict[int, tuple] = {}  # id -> (tokenizer, fingerprint): one computation per tokenizer object


def tokenizer_fingerprint(tokenizer) -> str | None:
    """A hash of everything that decides a fast tokenizer's output; None for other tokenizers.

    Computed once per tokenizer object (the loop's tokenizer is not changed after loading).
    """
    known = _FINGERPRINTS.get(id(tokenizer))
    if known is not None and known[0] is tokenizer:
        return known[1]
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    # truncation and padding are left behind by the last call (the tokenizer sets them on every
    # call); max_length is part of the key
    backend.no_truncation()
    backend.no_padding()
    h = hashlib.sha256()
    h.update(type(tokenizer).__name__.encode())
    h.update(backend.to_str().encode())
    for attr in ("truncation_side", "padding_side", "model_max_length"):
        h.update(f"|{attr}={getattr(tokenizer, attr, None)!r}".encode())
    _FINGERPRINTS[id(tokenizer)] = (tokenizer, h.hexdigest())
    return _FINGERPRINTS[id(tokenizer)][1]


def data_key(df: pd.DataFrame, tokenizer, max_length: int) -> str | None:
    """The cache key of tokenising ``df`` with ``tokenizer`` at ``max_length``; None if not cacheable."""
    tok = tokenizer_fingerprint(tokenizer)
    if tok is None:
        return None
    h = hashlib.sha256(f"datamap-tokens-{VERSION}|{tok}|{int(max_length)}|{len(df)}".encode())
    for column in ("text", "text_pair"):
        if column in df.columns:
            h.update(f"|{column}|".encode())
            for value in df[column].tolist():
                b = str(value).encode("utf-8", "surrogatepass")
                h.update(len(b).to_bytes(8, "little"))
                h.update(b)
    return h.hexdigest()


def _save(path: Path, encoded: list[dict]) -> None:
    from datamap.io.atomic import atomic_path

    keys = [k for k in KEYS if encoded and k in encoded[0]]
    lengths = np.array([len(it["input_ids"]) for it in encoded], dtype=np.int64)
    arrays = {"lengths": lengths}
    for k in keys:
        flat = [v for it in encoded for v in it[k]]
        arrays[k] = np.asarray(flat, dtype=np.int64)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _load(path: Path, df: pd.DataFrame) -> list[dict] | None:
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # damaged or foreign file: tokenise again
        log.warning("token cache %s: unreadable (%s); tokenising again", path, exc)
        return None
    lengths = arrays.pop("lengths")
    if len(lengths) != len(df):
        return None
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    columns = {k: v.tolist() for k, v in arrays.items()}
    labels = df["label"].to_numpy() if "label" in df.columns else np.zeros(len(df), dtype=np.int64)
    return [
        {**{k: col[bounds[i]:bounds[i + 1]] for k, col in columns.items()}, "labels": int(labels[i]), "index": i}
        for i in range(len(df))
    ]


def encode_cached(df: pd.DataFrame, tokenizer, max_length: int) -> list[dict]:
    """:func:`datamap.training.batching.encode_frame`, read from the cache when this data was tokenised before.

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical frame (``text``, optional ``text_pair``, ``label``).
    tokenizer
        A Hugging Face tokenizer; only fast tokenizers are cached (others are tokenised every time).
    max_length : int, default 128
        Truncation length.
    """
    folder = cache_dir()
    key = data_key(df, tokenizer, max_length) if folder is not None else None
    if key is None:
        return encode_frame(df, tokenizer, max_length)
    path = folder / f"{key}.npz"
    if path.is_file():
        cached = _load(path, df)
        if cached is not None:
            log.debug("token cache hit: %s (%d rows)", path, len(df))
            return cached
    encoded = encode_frame(df, tokenizer, max_length)
    try:
        _save(path, encoded)
    except OSError as exc:  # a read-only or full disk: train anyway
        log.warning("token cache %s: not written (%s)", path, exc)
    return encoded
