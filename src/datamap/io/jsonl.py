"""The allenai/cartography jsonl format: ``dynamics_epoch_{e}.jsonl`` files.

Each line is ``{"guid": ID, "logits_epoch_{e}": [floats], "gold": int}``; other keys (such as
``device``) are ignored on import. Export then import is exact: logits are float32 in the store
and written as the shortest decimal of their float64 value, which reads back to the same float32.

Both directions work one epoch (file) at a time, so memory is bounded by one epoch. Writing builds
each file's text with ``orjson`` on whole arrays (ids and gold are encoded once for all epochs);
reading uses Arrow's multi-threaded JSON reader, and falls back to a line-by-line reader that
names the offending line whenever a file is not in the expected shape.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from datamap.errors import DatamapError
from datamap.io.atomic import atomic_path
from datamap.io.store import Dynamics, dynamics_from_table, epoch_table, read_dynamics

FILE_RE = re.compile(r"^dynamics_epoch_(\d+)\.jsonl$")
#: file in a folder whose export has not finished (``datamap export-dynamics`` removes it last)
PARTIAL_MARKER = ".partial"


def export_jsonl(dynamics_path: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Write one ``dynamics_epoch_{e}.jsonl`` per epoch into ``out_dir``; returns the paths."""
    dyn = read_dynamics(dynamics_path)
    return write_jsonl(dyn, out_dir)


def _encoded(values: list, quoted: bool = False) -> list[bytes]:
    """Each item of ``values`` JSON-encoded by one ``orjson`` call (strings without their quotes).

    Inside a JSON string a quote is always escaped, so ``","`` only ever separates two strings;
    numbers and lists of numbers hold no ``,`` outside their own text.
    """
    if not values:
        return []
    encoded = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    return encoded[2:-2].split(b'","') if quoted else encoded[1:-1].split(b",")


def write_jsonl(dyn: Dynamics, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``dyn`` as allenai-format files, one per epoch, each atomically; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n = dyn.n_examples
    guids = _encoded([str(i) for i in dyn.ids], quoted=True)  # ids and gold: encoded once for all epochs
    golds = [g + b"}\n" for g in _encoded(dyn.gold.astype(np.int64).tolist())]
    parts: list = [None] * (6 * n)
    parts[0::6] = [b'{"guid":"'] * n
    parts[1::6] = guids
    parts[4::6] = [b'],"gold":'] * n
    parts[5::6] = golds
    paths = []
    for j, e in enumerate(dyn.epochs):
        # float32 -> float64 -> shortest repr: reads back as the same float32
        rows = orjson.dumps(np.ascontiguousarray(dyn.logits[:, j], dtype=np.float64), option=orjson.OPT_SERIALIZE_NUMPY)
        parts[2::6] = [f'","logits_epoch_{int(e)}":['.encode()] * n
        parts[3::6] = rows[2:-2].split(b"],[") if n else []
        path = out_dir / f"dynamics_epoch_{int(e)}.jsonl"
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(b"".join(parts))
        paths.append(path)
    return paths


def _files(folder: Path) -> list[tuple[int, Path]]:
    """The epoch files of ``folder`` in epoch order; they must be epochs 0..E-1 of a finished export."""
    if not folder.is_dir():
        raise DatamapError(f"{folder}: folder not found")
    if (folder / PARTIAL_MARKER).exists():
        raise DatamapError(f"{folder}: holds a partial export ({PARTIAL_MARKER} marker); export it again")
    files = sorted(
        ((int(m.group(1)), folder / f) for f in os.listdir(folder) if (m := FILE_RE.match(f))),
        key=lambda t: t[0],
    )
    if not files:
        raise DatamapError(f"{folder}: no dynamics_epoch_{{e}}.jsonl files")
    epochs = [e for e, _ in files]
    if epochs != list(range(len(files))):
        missing = sorted(set(range(max(epochs) + 1)) - set(epochs))
        what = f"dynamics_epoch_{missing[0]}.jsonl (epoch {missing[0]}) is missing" if missing else "epochs repeat"
        raise DatamapError(f"{folder}: {what}; found epochs {epochs}")
    return files


def _read_fast(path: Path, epoch: int) -> pa.Table | None:
    """One file through Arrow's JSON reader; None when it is not exactly in the expected shape."""
    import pyarrow.json as pj

    key = f"logits_epoch_{epoch}"
    try:
        table = pj.read_json(path)
    except (pa.ArrowInvalid, OSError):
        return None
    if table.num_rows == 0 or any(k not in table.column_names for k in ("guid", key, "gold")):
        return None
    guid, logits, gold = table.column("guid"), table.column(key), table.column("gold")
    if any(c.null_count for c in (guid, logits, gold)) or not pa.types.is_integer(gold.type):
        return None
    if not (pa.types.is_string(guid.type) or pa.types.is_integer(guid.type)):
        return None
    if not pa.types.is_list(logits.type) or not (
        pa.types.is_floating(logits.type.value_type) or pa.types.is_integer(logits.type.value_type)
    ):
        return None
    logits = logits.combine_chunks()
    lengths = pc.list_value_length(logits).to_numpy(zero_copy_only=False)
    if logits.values.null_count or lengths.min() < 1 or (lengths != lengths[0]).any():
        return None
    values = logits.values.to_numpy(zero_copy_only=False).astype(np.float32)
    if not np.isfinite(values).all():
        return None
    ids = guid.cast(pa.string()) if not pa.types.is_string(guid.type) else guid
    return epoch_table(ids, values.reshape(len(lengths), int(lengths[0])), gold.to_numpy(), epoch)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _read_checked(path: Path, epoch: int) -> pa.Table:
    """One file line by line, naming the first line that is wrong."""
    ids, logits, gold = [], [], []
    key = f"logits_epoch_{epoch}"
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatamapError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
            if not isinstance(rec, dict):
                raise DatamapError(f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}")
            for k in ("guid", key, "gold"):
                if k not in rec:
                    raise DatamapError(f"{path}:{lineno}: missing key '{k}'")
            guid, row, g = rec["guid"], rec[key], rec["gold"]
            if isinstance(guid, bool) or not isinstance(guid, (str, int)):
                raise DatamapError(f"{path}:{lineno}: 'guid' must be a string or an integer, got {guid!r}")
            if isinstance(g, bool) or not (isinstance(g, int) or (isinstance(g, float) and g.is_integer())):
                raise DatamapError(f"{path}:{lineno}: 'gold' must be an integer class index, got {g!r}")
            if not isinstance(row, list) or not row or not all(_is_number(v) for v in row):
                raise DatamapError(f"{path}:{lineno}: '{key}' must be a non-empty list of finite numbers")
            if logits and len(row) != len(logits[0]):
                raise DatamapError(
                    f"{path}:{lineno}: mixed class counts: {len(row)} logits, earlier lines have {len(logits[0])}"
                )
            ids.append(str(guid))
            logits.append(row)
            gold.append(int(g))
    if not ids:
        raise DatamapError(f"{path}: no records")
    return epoch_table(ids, np.asarray(logits, dtype=np.float32), gold, epoch)


def read_jsonl_dir(folder: str | os.PathLike) -> Dynamics:
    """Read every ``dynamics_epoch_{e}.jsonl`` in ``folder`` (validated like the Parquet store)."""
    folder = Path(folder)
    tables = []
    for epoch, path in _files(folder):
        table = _read_fast(path, epoch)
        tables.append(table if table is not None else _read_checked(path, epoch))
    try:
        table = pa.concat_tables(tables)
    except pa.ArrowInvalid as exc:
        raise DatamapError(f"{folder}: inconsistent files ({exc})") from exc
    return dynamics_from_table(table, str(folder))
