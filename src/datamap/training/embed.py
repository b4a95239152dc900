"""Sentence embeddings from a model's encoder: one vector per example, in dataset order.

One eval-mode ``no_grad`` pass (:func:`datamap.training.predict.predict_batches`): length-sorted
batches, bf16 autocast on GPUs that support it, sharded over the processes of
``accelerate launch`` and gathered once, the random state left untouched. Poolings:

* ``cls``: the last layer's state of the first token (``[CLS]`` / ``<s>``),
* ``mean``: the mean of the last layer's token states over the attention mask (padding left out),
* ``last``: the last layer's state of the last attended token (what a decoder classifier's head reads),
* ``pooler``: the model's pooler output (BERT: tanh(dense(first token))); an error when the model
  type has none or the checkpoint holds no trained pooler weights.

The default (``pooling=None``) follows the family: ``last`` for decoders, ``mean`` otherwise;
``cls`` on a decoder is refused (its first token attends to nothing after it).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from datamap.errors import DatamapError
from datamap.training.config import Pooling

POOLINGS = tuple(p.value for p in Pooling)


def pool(last_hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str, pooler_output: torch.Tensor | None = None) -> torch.Tensor:
    """One float32 vector per sequence from the last layer's states (batch, tokens, hidden)."""
    if pooling == "cls":
        return last_hidden[:, 0].float()
    if pooling == "last":
        idx = torch.arange(attention_mask.shape[1], device=attention_mask.device)
        pos = (idx * attention_mask.ne(0).long()).argmax(-1)
        return last_hidden[torch.arange(last_hidden.shape[0], device=last_hidden.device), pos].float()
    if pooling == "mean":
        mask = attention_mask.to(torch.float32).unsqueeze(-1)
        return (last_hidden.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    if pooling == "pooler":
        if pooler_output is None:
            raise DatamapError("--pooling pooler: the model gives no pooler output; use cls or mean")
        return pooler_output.float()
    raise DatamapError(f"--pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")


def default_pooling(config) -> str:
    """The family's pooling: ``last`` for decoders (:func:`~datamap.training.models.is_causal`), else ``mean``."""
    from datamap.training.models import is_causal

    return Pooling.LAST.value if is_causal(config) else Pooling.MEAN.value


def check_pooling(pooling: "str | None", config, model_ref: str = "model") -> str:
    """``pooling`` checked against the model's family (``None``: :func:`default_pooling`); a one-line
    DatamapError for an unknown name or ``cls`` on a decoder."""
    from datamap.training.models import is_causal

    if pooling is None:
        return default_pooling(config)
    pooling = str(pooling)
    if pooling not in POOLINGS:
        raise DatamapError(f"--pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
    if pooling == Pooling.CLS.value and is_causal(config):
        raise DatamapError(f"--pooling cls: model '{model_ref}' (type {getattr(config, 'model_type', '?')!r}) is a decoder, "
                           "whose first token sees no other token (every example would get nearly the same vector); "
                           "use last or mean")
    return pooling


def check_embed_pooling(pooling: str, model, model_ref: str) -> None:
    """``train --embed POOLING`` checked against the classifier just loaded (before training)."""
    check_pooling(pooling, model.config, model_ref)
    if pooling == Pooling.POOLER.value and getattr(model.base_model, "pooler", None) is None:
        raise DatamapError(f"--embed pooler: model '{model_ref}' has no pooler; use cls, mean or last")


def embed_frame(
    frame: pd.DataFrame,
    model_ref: str,
    *,
    pooling: str | None = None,
    batch_size: int = 128,
    max_length: int = 128,
    trust_remote_code: bool = False,
    progress: bool = True,
) -> tuple[np.ndarray, dict]:
    """Embed the rows of a canonical frame (``text``, optional ``text_pair``) with a model's encoder.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``text`` and, for pairs, ``text_pair`` (tokenized together, as in training).
    model_ref : str
        A model folder (a run's ``model/``), a hub name or the alias ``minilm``.
    pooling : str or None, default None
        ``cls``, ``mean``, ``last`` or ``pooler`` (see the module docstring); None: the family's
        default (:func:`default_pooling`).
    batch_size, max_length : int
        Examples per batch (sorted by length) and the truncation length in tokens.
    trust_remote_code : bool, default False
    progress : bool, default True
        Show a progress bar on the main process.

    Returns
    -------
    (np.ndarray of float32 with shape (len(frame), hidden), dict)
        The vectors in the order of ``frame`` (on every process), and a description of the model
        (``model``, ``model_type``, ``pooling``, ``max_length``, ``processes``, ``precision``, and
        ``seconds``: tokenisation and the pass, model loading left out).
    """
    from datamap.training.batching import Collator, encode_frame
    from datamap.training.models import check_max_length, load_encoder, load_tokenizer
    from datamap.training.predict import make_accelerator

    from datamap.training.models import set_pad_token

    if pooling is not None:
        check_pooling(pooling, None, model_ref)  # the name, before anything is loaded
    if batch_size < 1 or max_length < 2:
        raise DatamapError(f"--batch-size must be >= 1 and --max-length >= 2 (got {batch_size}, {max_length})")
    tokenizer = load_tokenizer(model_ref, trust_remote_code)
    model, has_pooler = load_encoder(model_ref, trust_remote_code)
    model_type = getattr(model.config, "model_type", "?")
    pooling = check_pooling(pooling, model.config, model_ref)
    set_pad_token(model, tokenizer)
    check_max_length(model, tokenizer, max_length, str(model_ref))
    if pooling == "pooler" and not has_pooler:
        raise DatamapError(
            f"--pooling pooler: model '{model_ref}' (type {model_type!r}) has no trained pooler; use cls or mean"
        )
    accelerator = make_accelerator("auto")
    model = accelerator.prepare_model(model, evaluation_mode=True)

    t0 = time.perf_counter()
    encoded = encode_frame(frame, tokenizer, max_length)
    vectors = embed_encoded(model, encoded, Collator(tokenizer), accelerator, pooling=pooling, batch_size=batch_size,
                            progress=progress)
    info = {"model": str(model_ref), "model_type": model_type, "pooling": pooling, "max_length": int(max_length),
            "processes": int(accelerator.num_processes), "precision": "bf16" if accelerator.mixed_precision == "bf16" else "fp32",
            "seconds": round(time.perf_counter() - t0, 3)}
    return vectors, info


def embed_encoded(encoder, encoded: list[dict], collate, accelerator, *, pooling: str, batch_size: int,
                  progress: bool = True, main_only: bool = False) -> np.ndarray:
    """The pooled vectors of tokenised items (in their order) from an encoder already on the accelerator's
    device: a bare encoder (``AutoModel``) or the ``base_model`` of a classifier that was just trained
    (``datamap train --embed``). float32, shape ``(len(encoded), hidden)``, on every process (``main_only``:
    on the main process, ``(0, hidden)`` on the others)."""
    from datamap.training.models import model_inputs
    from datamap.training.predict import predict_batches

    def forward(m, batch):
        out = m(**model_inputs(m, batch))
        return pool(out.last_hidden_state, batch["attention_mask"], pooling, getattr(out, "pooler_output", None))

    return predict_batches(encoder, encoded, collate, batch_size, accelerator, forward,
                           desc="embedding" if progress else None, main_only=main_only)
