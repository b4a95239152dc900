"""LoRA through peft (``--lora``): low-rank adapters on the base model, the classification head trained whole.

:func:`apply_lora` wraps a sequence classifier in a ``peft`` model whose ``modules_to_save`` are the
head modules :func:`~datamap.training.models.find_head` finds (so nothing family-specific is kept
here); the adapter targets are the user's, else peft's default for the family, else every linear
layer of the base model (``all-linear``). :func:`finish_lora` saves the adapter (``RUN/adapter/``) and
returns the merged plain model, which the run saves as ``RUN/model/`` so that ``evaluate``, ``embed``,
``ensemble`` and the rest load it like any other.
"""

from __future__ import annotations

from pathlib import Path

import torch

from datamap.errors import DatamapError
from datamap.training.config import LoraSpec
from datamap.training.models import find_head


def _peft():
    try:
        import peft
    except ImportError:
        raise DatamapError("--lora: needs the peft package: pip install 'datamap[lora]'") from None
    return peft


def apply_lora(model: torch.nn.Module, spec: LoraSpec, causal: bool = False) -> torch.nn.Module:
    """``model`` wrapped with LoRA adapters (see the module docstring); prints nothing.

    Parameters
    ----------
    model : transformers sequence classifier
    spec : LoraSpec
        Rank, alpha, dropout and targets.
    causal : bool, default False
        ``model`` is a causal LM (``--task sft``): peft's ``CAUSAL_LM`` task and no head trained whole (the
        output layer is usually tied to the input embeddings).
    """
    peft = _peft()
    head = None if causal else find_head(model, flag="--lora")
    targets = spec.targets
    if targets is None:
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

        targets = DEFAULTS.get(getattr(model.config, "model_type", None)) or "all-linear"
    elif targets == ["all-linear"]:
        targets = "all-linear"
    config = peft.LoraConfig(task_type=peft.TaskType.CAUSAL_LM if causal else peft.TaskType.SEQ_CLS, r=spec.r,
                             lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=targets,
                             modules_to_save=None if causal else list(head.modules))
    try:
        return peft.get_peft_model(model, config)
    except ValueError as exc:  # e.g. no module matched the targets
        first = str(exc).split(". ")[0].strip().rstrip(".")
        raise DatamapError(f"--lora: {first} (targets: {targets})") from None


def trainable_summary(model: torch.nn.Module) -> str:
    """``"LoRA: 12,345 of 1,234,567 parameters trainable (1.00%)"``."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return f"LoRA: {trainable:,} of {total:,} parameters trainable ({100 * trainable / max(total, 1):.2f}%)"


def is_lora(model: torch.nn.Module) -> bool:
    return hasattr(model, "peft_config")


def finish_lora(model: torch.nn.Module, tokenizer, adapter_dir: "Path | None") -> torch.nn.Module:
    """Save the adapter and the head (peft's ``save_pretrained``) with the tokenizer into ``adapter_dir``
    (when given), and return the merged plain model; a model without adapters comes back unchanged."""
    from datamap.training.models import save_model

    if not is_lora(model):
        return model
    from accelerate import PartialState

    if torch.cuda.is_available() and PartialState().is_main_process:
        from datamap.console import say

        say(f"LoRA: peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    if adapter_dir is not None:
        save_model(model, tokenizer, Path(adapter_dir))
    return model.merge_and_unload()
