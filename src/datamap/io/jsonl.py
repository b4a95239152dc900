"""The allenai/cartography jsonl format: ``dynamics_epoch_{e}.jsonl`` files.

Each line is ``{"guid": ID, "logits_epoch_{e}": [floats], "gold": int}``; other keys (such as
``device``) are ignored on import. Export then import is exact: logits are float32 in the store
and written with enough digits to restore the same float32.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from datamap.errors import DatamapError
from datamap.io.atomic import atomic_path
from datamap.io.store import Dynamics, dynamics_from_table, epoch_table, read_dynamics

FILE_RE = re.compile(r"^dynamics_epoch_(\d+)\.jsonl$")


def export_jsonl(dynamics_path: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Write one ``dynamics_epoch_{e}.jsonl`` per epoch into ``out_dir``; returns the paths."""
    dyn = read_dynamics(dynamics_path)
    return write_jsonl(dyn, out_dir)


def write_jsonl(dyn: Dynamics, out_dir: str | os.PathLike) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    gold = dyn.gold.tolist()
    ids = [str(i) for i in dyn.ids]
    for j, e in enumerate(dyn.epochs):
        key = f"logits_epoch_{int(e)}"
        rows = dyn.logits[:, j].tolist()  # float32 -> Python float: repr round-trips to the same float32
        path = out_dir / f"dynamics_epoch_{int(e)}.jsonl"
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for guid, lg, g in zip(ids, rows, gold):
                fh.write(json.dumps({"guid": guid, key: lg, "gold": g}, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def read_jsonl_dir(folder: str | os.PathLike) -> Dynamics:
    """Read every ``dynamics_epoch_{e}.jsonl`` in ``folder`` (validated like the Parquet store)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatamapError(f"{folder}: folder not found")
    files = sorted(
        ((int(m.group(1)), folder / f) for f in os.listdir(folder) if (m := FILE_RE.match(f))),
        key=lambda t: t[0],
    )
    if not files:
        raise DatamapError(f"{folder}: no dynamics_epoch_{{e}}.jsonl files")
    tables = []
    for epoch, path in files:
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
                for k in ("guid", key, "gold"):
                    if k not in rec:
                        raise DatamapError(f"{path}:{lineno}: missing key '{k}'")
                if not isinstance(rec[key], list) or not rec[key]:
                    raise DatamapError(f"{path}:{lineno}: '{key}' must be a non-empty list of numbers")
                if logits and len(rec[key]) != len(logits[0]):
                    raise DatamapError(
                        f"{path}:{lineno}: mixed class counts: {len(rec[key])} logits, earlier lines have {len(logits[0])}"
                    )
                ids.append(str(rec["guid"]))
                logits.append(rec[key])
                gold.append(int(rec["gold"]))
        if not ids:
            raise DatamapError(f"{path}: no records")
        try:
            arr = np.asarray(logits, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise DatamapError(f"{path}: '{key}' holds non-numeric values") from exc
        tables.append(epoch_table(ids, arr, gold, epoch))
    try:
        table = pa.concat_tables(tables)
    except pa.ArrowInvalid as exc:
        raise DatamapError(f"{folder}: inconsistent files ({exc})") from exc
    return dynamics_from_table(table, str(folder))
