"""Datasets: load by hub name, local mirror or file; validate; give every example a stable id.

A dataset is resolved in this order:

1. a path to a file (``.csv``, ``.tsv``, ``.jsonl``/``.json``, ``.parquet``) or to a folder holding
   ``<split>.<ext>`` files;
2. a local mirror ``$DATAMAP_DATA_DIR/<name>/<split>.parquet`` (or ``.csv``/``.tsv``/``.jsonl``) —
   this is how datamap works offline;
3. the Hugging Face hub (``datasets.load_dataset(name, config, split=split, revision=revision)``).

Besides names: a folder written by ``datasets``' ``save_to_disk`` (a ``Dataset`` or a ``DatasetDict``),
and, from Python, a ``datasets.Dataset``/``DatasetDict`` or a ``pandas.DataFrame`` in memory, registered
under a name by :func:`register_data` (what ``datamap.train(dataset=...)`` does). A lone ``Dataset`` or
frame is the ``train`` split. The names of a ``datasets.ClassLabel`` label column are the class names.

A ``config`` (``--dataset-config``, e.g. ``glue`` + ``sst2``) selects a hub configuration, or the
mirror folder ``$DATAMAP_DATA_DIR/<name>/<config>/``; a ``revision`` (``--revision``: a branch, tag or
commit of the hub repository) applies to the hub only, and is refused for local data.

:func:`prepare` turns a raw table into the run's canonical frame:
``id, text[, text_pair], label, label_name``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.errors import DatamapError

log = logging.getLogger(__name__)

DATA_DIR_ENV = "DATAMAP_DATA_DIR"
EXTENSIONS = (".parquet", ".csv", ".tsv", ".jsonl", ".json")
TEXT_CANDIDATES = ("text", "sentence", "premise", "sentence1", "question", "content", "review")
PAIR_CANDIDATES = {"premise": "hypothesis", "sentence1": "sentence2", "question": "passage"}
#: second-text columns when the first text column is not known (the Trainer integration)
PAIR_COLUMNS = ("text_pair", *PAIR_CANDIDATES.values())
ID_CANDIDATES = ("id", "idx", "guid")
#: label columns of a Hugging Face training set (the Trainer integration)
LABEL_CANDIDATES = ("labels", "label", "label_ids")


@dataclass
class TextColumns:
    """Which columns hold the text(s), label and id (resolved against a table)."""

    text: str
    label: str
    text_pair: str | None = None
    id: str | None = None


# ----------------------------------------------------------------------------- reading
def read_file(path: str | os.PathLike) -> pd.DataFrame:
    """Read one CSV/TSV/JSONL/JSON/Parquet file into a DataFrame (DatamapError if unreadable)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DatamapError(f"{path}: file not found")
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype_backend="numpy_nullable")
        if suffix == ".tsv":
            return pd.read_csv(
                path, sep="\t", keep_default_na=False, na_values=[""], quoting=3, dtype_backend="numpy_nullable"
            )
        if suffix in (".jsonl", ".json"):
            try:
                return pd.read_json(path, lines=True)
            except ValueError:
                if suffix == ".json":
                    return pd.read_json(path)
                raise
    except DatamapError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for corrupt files
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatamapError(f"{path}: cannot read {suffix[1:]} file ({first})") from exc
    raise DatamapError(f"{path}: unsupported file type '{suffix}' (use one of {', '.join(EXTENSIONS)})")


def _split_file(folder: Path, split: str) -> Path | None:
    for ext in EXTENSIONS:
        candidate = folder / f"{split}{ext}"
        if candidate.is_file():
            return candidate
    return None


def locate(name_or_path: str, split: str, config: str | None = None) -> Path | None:
    """The local file for (dataset, split[, config]), or None if it must come from the hub."""
    p = Path(name_or_path)
    mirror = os.environ.get(DATA_DIR_ENV)
    if config is not None:
        if p.is_file():
            raise DatamapError(f"--dataset-config {config}: {p} is a file; a config selects a hub configuration "
                               "or a mirror folder NAME/CONFIG/")
        base = p if p.is_dir() else (Path(mirror) / name_or_path if mirror else None)
        if base is not None and base.is_dir():
            if not (base / config).is_dir():
                raise DatamapError(f"{base}: no config folder '{config}' (found: "
                                   f"{', '.join(sorted(f.name for f in base.iterdir() if f.is_dir())) or 'none'})")
            return locate(str(base / config), split)
        return None
    if p.is_file():
        return p
    if p.is_dir():
        found = _split_file(p, split)
        if found is None:
            avail = sorted(f.name for f in p.iterdir() if f.suffix.lower() in EXTENSIONS)
            raise DatamapError(f"{p}: no '{split}' split file (found: {', '.join(avail) or 'none'})")
        return found
    if mirror and (Path(mirror) / name_or_path).is_dir():
        return _split_file(Path(mirror) / name_or_path, split)
    if p.suffix.lower() in EXTENSIONS:
        raise DatamapError(f"{name_or_path}: file not found{did_you_mean(name_or_path)}")
    return None


def did_you_mean(name: str) -> str:
    """`` (did you mean 'X'?)`` for the closest local file beside ``name`` or entry of the mirror, or ""."""
    import difflib

    p = Path(name)
    candidates: list[str] = []
    folder = p.parent if str(p.parent) not in ("", ".") else Path(".")
    try:
        candidates += [str(folder / f.name) if str(p.parent) not in ("", ".") else f.name
                       for f in folder.iterdir() if f.suffix.lower() in EXTENSIONS or f.is_dir()]
    except OSError:
        pass
    mirror = os.environ.get(DATA_DIR_ENV)
    if mirror and Path(mirror).is_dir():
        candidates += [f.name for f in Path(mirror).iterdir() if f.is_dir()]
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def same_dataset(a: str, b: str) -> bool:
    """Whether two ``--dataset`` values name the same data (the same string, or the same file or folder)."""
    return a == b or (Path(a).exists() and Path(b).exists() and Path(a).resolve() == Path(b).resolve())


def split_exists(name_or_path: str, split: str, config: str | None = None) -> bool:
    """Whether ``split`` exists locally (file, folder, mirror, in memory); hub datasets are not probed."""
    data = _saved_dataset(name_or_path)
    if data is not None:
        return _split_of(data, name_or_path, split) is not None
    try:
        return locate(name_or_path, split, config) is not None
    except DatamapError:
        return False


def load_table(name_or_path: str, split: str = "train", config: str | None = None,
               revision: str | None = None) -> tuple[pd.DataFrame, str]:
    """Load one split as a raw DataFrame; returns (frame, source description for messages).

    ``config`` and ``revision`` as in the module's docstring (a revision of local data is an error).
    """
    data = _saved_dataset(name_or_path)
    if data is not None:
        part = _split_of(data, name_or_path, split)
        if part is None:
            have = ["train"] if isinstance(data, pd.DataFrame) or type(data).__name__ == "Dataset" else list(data)
            raise DatamapError(f"{name_or_path}: no '{split}' split (found: {', '.join(have)})")
        return (part.copy() if isinstance(part, pd.DataFrame) else hf_frame(part)), f"{name_or_path}[{split}]"
    local = locate(name_or_path, split, config)
    if local is not None:
        if revision is not None:
            raise DatamapError(f"--revision {revision}: {local} is local data; a revision applies to hub datasets only")
        return read_file(local), str(local)
    mirror = os.environ.get(DATA_DIR_ENV)
    if config is None and mirror and (Path(mirror) / name_or_path).is_dir():
        raise DatamapError(f"{Path(mirror) / name_or_path}: no '{split}' split in the local mirror")
    where = name_or_path + (f"/{config}" if config else "") + (f"@{revision}" if revision else "")
    probe_hub(name_or_path, revision, split)
    try:
        import datasets

        ds = datasets.load_dataset(name_or_path, config, split=split, revision=revision)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatamapError(
            f"dataset '{where}' split '{split}': not a local file or mirror entry{did_you_mean(name_or_path)} "
            f"(set {DATA_DIR_ENV}) and the hub failed: {first}"
        ) from exc
    return hf_frame(ds), f"{where}[{split}]"


#: Seconds the hub gets to say whether a dataset exists, before ``datasets`` (and its retries) is asked.
HUB_PROBE_TIMEOUT = 10.0


def probe_hub(name: str, revision: str | None, split: str) -> None:
    """Ask the hub once, with a short timeout, whether dataset ``name`` (at ``revision``) exists.

    A definite "no such dataset" or "no such revision" becomes one line at once, instead of a minute of
    ``datasets``' retries. Anything else (offline, a slow hub, ``HF_HUB_OFFLINE=1``, no ``huggingface_hub``)
    says nothing here: ``datasets`` then tries as before (its cache included).
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip() not in ("", "0") or \
            os.environ.get("HF_DATASETS_OFFLINE", "").strip() not in ("", "0"):
        return
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
    except ImportError:
        return
    try:
        HfApi().dataset_info(name, revision=revision, timeout=HUB_PROBE_TIMEOUT)
    except RevisionNotFoundError:
        raise DatamapError(f"--revision {revision}: no such branch, tag or commit of hub dataset '{name}'") from None
    except RepositoryNotFoundError:
        raise DatamapError(f"dataset '{name}' split '{split}': not a local file or mirror entry{did_you_mean(name)} "
                           f"(set {DATA_DIR_ENV}), and the hub has no dataset of that name (or it is private)") from None
    except Exception:  # offline, timeout, rate limit...: leave it to datasets
        return


# ----------------------------------------------------------------------------- in memory, save_to_disk
_MEMORY: dict[str, object] = {}


def register_data(data) -> str:
    """A name under which :func:`load_table` finds ``data`` (a ``datasets.Dataset``/``DatasetDict`` or a
    ``pandas.DataFrame``) for the rest of this process: ``memory:<Type>:<n>``."""
    kind = type(data).__name__
    if not (isinstance(data, pd.DataFrame) or kind in ("Dataset", "DatasetDict")):
        raise DatamapError(f"dataset: a name, a path, a datasets.Dataset/DatasetDict or a pandas.DataFrame, not {kind}")
    for name, known in _MEMORY.items():
        if known is data:
            return name
    name = f"memory:{kind}:{len(_MEMORY)}"
    _MEMORY[name] = data
    return name


def _saved_dataset(name_or_path: str):
    """The registered object, or the ``load_from_disk`` of a ``save_to_disk`` folder; else None."""
    if name_or_path in _MEMORY:
        return _MEMORY[name_or_path]
    p = Path(name_or_path)
    if p.is_dir() and ((p / "dataset_dict.json").is_file() or (p / "state.json").is_file()):
        import datasets

        return datasets.load_from_disk(str(p))
    return None


def _split_of(data, name: str, split: str):
    """One split of an in-memory or saved dataset (a lone Dataset or frame is ``train``), or None."""
    if isinstance(data, pd.DataFrame) or type(data).__name__ == "Dataset":
        return data if split == "train" else None
    return data[split] if split in data else None


def hf_frame(ds) -> pd.DataFrame:
    """``ds.to_pandas()`` with the names of its ``ClassLabel`` columns in ``frame.attrs["class_names"]``."""
    frame = ds.to_pandas()
    names = {col: list(f.names) for col, f in ds.features.items() if getattr(f, "names", None) is not None}
    if names:
        frame.attrs["class_names"] = names
    return frame


# ----------------------------------------------------------------------------- columns
def resolve_columns(
    df: pd.DataFrame,
    source: str,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    label_column: str = "label",
    id_column: str | None = None,
) -> TextColumns:
    cols = list(df.columns)

    def need(col: str, what: str) -> str:
        if col not in df.columns:
            raise DatamapError(f"{source}: no {what} column '{col}' (columns: {', '.join(map(str, cols))})")
        return col

    if text_column:
        text = need(text_column, "text")
    else:
        text = next((c for c in TEXT_CANDIDATES if c in df.columns), None)
        if text is None:
            raise DatamapError(f"{source}: no text column found; pass --text-column (columns: {', '.join(map(str, cols))})")
    if text_pair_column:
        pair = need(text_pair_column, "text-pair")
    else:
        guess = PAIR_CANDIDATES.get(text)
        pair = guess if guess and guess in df.columns else None
    label = need(label_column, "label")
    if id_column:
        ident = need(id_column, "id")
    else:
        ident = next((c for c in ID_CANDIDATES if c in df.columns), None)
    return TextColumns(text=text, label=label, text_pair=pair, id=ident)


# ----------------------------------------------------------------------------- ids
def content_ids(texts: pd.Series, pairs: pd.Series | None = None) -> tuple[np.ndarray, int]:
    """Stable ids from a hash of the text(s); duplicates get ``-1``, ``-2``... suffixes.

    Returns (ids, number of duplicates renamed).
    """
    keys = texts.astype(str) if pairs is None else texts.astype(str) + "\x1f" + pairs.astype(str)
    base = np.array([hashlib.sha1(k.encode("utf-8")).hexdigest()[:16] for k in keys], dtype=object)
    seen: dict[str, int] = {}
    out = base.copy()
    dups = 0
    for i, b in enumerate(base):
        n = seen.get(b, 0)
        if n:
            out[i] = f"{b}-{n}"
            dups += 1
        seen[b] = n + 1
    return out, dups


# ----------------------------------------------------------------------------- labels
def infer_label_names(df: pd.DataFrame, cols: TextColumns, source: str) -> list[str]:
    """Class names in id order: from (label, label_name) pairs, string labels (sorted), or ids."""
    labels = df[cols.label]
    if labels.isna().any():
        row = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise DatamapError(f"{source}: null label in column '{cols.label}' at row {row}")
    if pd.api.types.is_integer_dtype(labels) or pd.api.types.is_bool_dtype(labels):
        ints = labels.astype("int64").to_numpy()
        if (ints < 0).any():
            row = int(np.flatnonzero(ints < 0)[0])
            raise DatamapError(f"{source}: label {ints[row]} at row {row} in column '{cols.label}' (unlabeled rows cannot be used)")
        n = int(ints.max()) + 1 if len(ints) else 0
        names = [str(i) for i in range(n)]
        if "label_name" in df.columns and cols.label != "label_name":
            for i, name in df.groupby(cols.label, sort=True)["label_name"].first().items():
                if isinstance(name, str) and name:
                    names[int(i)] = name
        return names
    return sorted({str(v) for v in labels})


def encode_labels(df: pd.DataFrame, cols: TextColumns, names: list[str], source: str) -> np.ndarray:
    """Label ids for each row under the label map ``names`` (integers or names accepted)."""
    labels = df[cols.label]
    if labels.isna().any():
        row = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise DatamapError(f"{source}: null label in column '{cols.label}' at row {row}")
    if pd.api.types.is_integer_dtype(labels) or pd.api.types.is_bool_dtype(labels):
        ids = labels.astype("int64").to_numpy()
        bad = (ids < 0) | (ids >= len(names))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DatamapError(
                f"{source}: unknown label {ids[row]} at row {row} in column '{cols.label}' "
                f"(label map has {len(names)} classes: {', '.join(names)})"
            )
        if "label_name" in df.columns and cols.label != "label_name":
            given = df["label_name"].astype("string").to_numpy()
            expect = np.asarray(names, dtype=object)[ids]
            mismatch = np.flatnonzero(pd.notna(given) & (given != expect))
            if len(mismatch):
                r = int(mismatch[0])
                raise DatamapError(
                    f"{source}: row {r} has label {ids[r]} named '{given[r]}' but the label map names it '{expect[r]}'"
                )
        return ids
    index = {n: i for i, n in enumerate(names)}
    as_str = labels.astype(str).to_numpy()
    ids = np.array([index.get(v, -1) for v in as_str], dtype=np.int64)
    if (ids < 0).any():
        row = int(np.flatnonzero(ids < 0)[0])
        raise DatamapError(
            f"{source}: unknown label '{as_str[row]}' at row {row} in column '{cols.label}' (known: {', '.join(names)})"
        )
    return ids


# ----------------------------------------------------------------------------- prepare
def _check_text(series: pd.Series, column: str, source: str, drop_empty: bool) -> np.ndarray:
    """Boolean mask of usable rows; raises on null/empty text unless ``drop_empty``."""
    null = series.isna().to_numpy()
    empty = np.zeros(len(series), dtype=bool)
    ok = ~null
    empty[ok] = series[ok].astype(str).str.strip().to_numpy() == ""
    bad = null | empty
    if bad.any() and not drop_empty:
        row = int(np.flatnonzero(bad)[0])
        what = "null" if null[row] else "empty"
        raise DatamapError(
            f"{source}: {what} text in column '{column}' at row {row} ({int(bad.sum())} such rows; --drop-empty skips them)"
        )
    return ~bad


def prepare(
    df: pd.DataFrame,
    source: str,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    label_column: str = "label",
    id_column: str | None = None,
    label_names: list[str] | None = None,
    drop_empty: bool = False,
    keep_columns: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """Validate a raw table and return (canonical frame, label names).

    The frame has ``id`` (str), ``text``, optional ``text_pair``, ``label`` (int64) and
    ``label_name``; ``frame.attrs["source_columns"]`` names the source columns of ``text``,
    ``text_pair``, ``label`` and ``id`` (None where there was none). ``label_names`` fixes the label map (e.g. an evaluation set must use the
    model's); otherwise it is inferred. ``keep_columns`` that exist in ``df`` are carried over
    (e.g. HANS's ``heuristic`` and ``subcase``). Row numbers in messages are 0-based positions in the
    source table.
    """
    if len(df) == 0:
        raise DatamapError(f"{source}: no rows")
    class_names = (df.attrs.get("class_names") or {})
    cols = resolve_columns(df, source, text_column, text_pair_column, label_column, id_column)
    if label_names is None and class_names.get(cols.label):  # a datasets.ClassLabel column names its classes
        label_names = [str(n) for n in class_names[cols.label]]
    keep = _check_text(df[cols.text], cols.text, source, drop_empty)
    if cols.text_pair:
        keep &= _check_text(df[cols.text_pair], cols.text_pair, source, drop_empty)
    if not keep.all():
        log.warning("%s: dropped %d rows with empty or null text", source, int((~keep).sum()))
        df = df[keep]
        if len(df) == 0:
            raise DatamapError(f"{source}: no rows left after dropping empty texts")
    names = label_names if label_names is not None else infer_label_names(df, cols, source)
    labels = encode_labels(df, cols, names, source)

    out = pd.DataFrame({"text": df[cols.text].astype(str).to_numpy()})
    if cols.text_pair:
        out["text_pair"] = df[cols.text_pair].astype(str).to_numpy()
    if cols.id:
        ids = df[cols.id].astype(str).to_numpy()
        dup = pd.Series(ids).duplicated().to_numpy()
        if dup.any():
            row = int(np.flatnonzero(dup)[0])
            raise DatamapError(f"{source}: duplicate id '{ids[row]}' in column '{cols.id}' at row {row}")
    else:
        ids, dups = content_ids(out["text"], out.get("text_pair"))
        if dups:
            log.warning("%s: %d duplicate texts; their ids got numbered suffixes", source, dups)
    out.insert(0, "id", ids.astype(object))
    out["label"] = labels.astype(np.int64)
    out["label_name"] = np.asarray(names, dtype=object)[labels]
    for col in keep_columns:
        if col in df.columns and col not in out.columns:
            out[col] = df[col].to_numpy()
    out = out.reset_index(drop=True)
    # where the canonical columns came from: saved in labels.json, used to name CSV exports back
    out.attrs["source_columns"] = {"text": cols.text, "text_pair": cols.text_pair, "label": cols.label, "id": cols.id}
    return out, list(names)


def load_dataset(
    name_or_path: str,
    split: str = "train",
    label_names: list[str] | None = None,
    config: str | None = None,
    revision: str | None = None,
    **columns,
) -> tuple[pd.DataFrame, list[str], str]:
    """Load and prepare one split (of hub ``config`` at ``revision``): returns (frame, label names, source)."""
    raw, source = load_table(name_or_path, split, config, revision)
    frame, names = prepare(raw, source, label_names=label_names, **columns)
    return frame, names, source
