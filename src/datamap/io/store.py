"""The dynamics store: ``dynamics.parquet``, one row per (example, epoch).

Schema: ``id`` (string), ``epoch`` (int32, 0-based), ``logits`` (list<float32>), ``gold`` (int64).
Rows are written one epoch at a time (one row group per epoch), so host memory does not grow
with the number of epochs. The file appears under its final name only when closed.

While a run trains, each finished epoch is its own file, ``RUN/dynamics/epoch_{e}.parquet``
(same schema, written atomically), so a killed run keeps every finished epoch;
:func:`consolidate_epochs` joins them into ``dynamics.parquet`` when training completes (byte for
byte the file :class:`DynamicsWriter` writes). :func:`read_dynamics` reads either form.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datamap.errors import DatamapError
from datamap.io.atomic import temp_file

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("epoch", pa.int32()),
        ("logits", pa.list_(pa.float32())),
        ("gold", pa.int64()),
    ]
)


@dataclass
class Dynamics:
    """Training dynamics as arrays: ``logits[i, e, c]`` for example ``ids[i]`` at epoch ``epochs[e]``."""

    ids: np.ndarray  # (N,) object (str)
    logits: np.ndarray  # (N, E, C) float32
    gold: np.ndarray  # (N,) int64
    epochs: np.ndarray  # (E,) int

    @property
    def n_examples(self) -> int:
        return len(self.ids)

    @property
    def n_epochs(self) -> int:
        return self.logits.shape[1]

    @property
    def n_classes(self) -> int:
        return self.logits.shape[2]


def epoch_table(ids, logits, gold, epoch: int) -> pa.Table:
    """One epoch as an Arrow table in the store's schema (no per-row Python objects)."""
    logits = np.ascontiguousarray(np.asarray(logits, dtype=np.float32))
    n, c = logits.shape
    offsets = pa.array(np.arange(0, (n + 1) * c, c, dtype=np.int32))
    values = pa.ListArray.from_arrays(offsets, pa.array(logits.reshape(-1)))
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    ids = ids.cast(pa.string()) if isinstance(ids, pa.Array) else pa.array(np.asarray(ids, dtype=object), type=pa.string())
    return pa.Table.from_arrays(
        [
            ids,
            pa.array(np.full(n, epoch, dtype=np.int32)),
            values,
            pa.array(np.asarray(gold, dtype=np.int64)),
        ],
        schema=SCHEMA,
    )


class DynamicsWriter:
    """Append epochs to a dynamics file; ``close()`` renames the temporary file into place.

    Use as a context manager: on an exception nothing is left under the final name.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._tmp = temp_file(self.path)
        self._writer = pq.ParquetWriter(self._tmp, SCHEMA, compression="zstd")
        self.epochs_written: list[int] = []

    def write_epoch(self, epoch: int, ids, logits, gold) -> None:
        self._writer.write_table(epoch_table(ids, logits, gold, epoch))
        self.epochs_written.append(int(epoch))

    def close(self) -> Path:
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def __enter__(self) -> "DynamicsWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_dynamics(path: str | os.PathLike, dyn: Dynamics) -> Path:
    with DynamicsWriter(path) as w:
        for j, e in enumerate(dyn.epochs):
            w.write_epoch(int(e), dyn.ids, dyn.logits[:, j], dyn.gold)
    return Path(path)


EPOCH_FILE = re.compile(r"^epoch_(\d+)\.parquet$")


def epoch_file(folder: str | os.PathLike, epoch: int) -> Path:
    """The per-epoch dynamics file of ``epoch`` in ``folder`` (``RUN/dynamics/epoch_{e}.parquet``).

    Parameters
    ----------
    folder : path
        The run's per-epoch dynamics folder.
    epoch : int
        0-based epoch.
    """
    return Path(folder) / f"epoch_{int(epoch)}.parquet"


def epoch_files(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of every per-epoch dynamics file in ``folder``, by epoch; [] if there is no folder.

    Parameters
    ----------
    folder : path
        The run's per-epoch dynamics folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := EPOCH_FILE.match(p.name))]
    return sorted(found)


def write_epoch_file(folder: str | os.PathLike, epoch: int, ids, logits, gold) -> Path:
    """Write one epoch as ``folder/epoch_{epoch}.parquet``, atomically (it replaces an earlier copy).

    Parameters
    ----------
    folder : path
        The run's per-epoch dynamics folder (created if missing).
    epoch : int
        0-based epoch, written in the ``epoch`` column.
    ids, logits, gold : arrays
        Example ids (N,), logits (N, C) and gold classes (N,), as for :func:`epoch_table`.
    """
    path = epoch_file(folder, epoch)
    tmp = temp_file(path)
    try:
        pq.write_table(epoch_table(ids, logits, gold, epoch), tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def _checked_epoch_files(folder: Path) -> list[Path]:
    files = epoch_files(folder)
    if not files:
        raise DatamapError(f"{folder}: no epoch_{{e}}.parquet files")
    epochs = [e for e, _ in files]
    if epochs != list(range(len(epochs))):
        missing = sorted(set(range(max(epochs) + 1)) - set(epochs))
        raise DatamapError(f"{folder}: epoch {missing[0]} is missing (found epochs {epochs})")
    return [p for _, p in files]


def consolidate_epochs(folder: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Join the per-epoch files of ``folder`` (epochs 0..E-1, none missing) into the file ``path``.

    One epoch is in memory at a time; ``path`` appears only when complete (the same bytes a
    :class:`DynamicsWriter` fed the same epochs writes). ``folder`` is left as it is.

    Parameters
    ----------
    folder : path
        The per-epoch dynamics folder.
    path : path
        The ``dynamics.parquet`` to write.
    """
    files = _checked_epoch_files(Path(folder))
    with DynamicsWriter(path) as w:
        for f in files:
            w._writer.write_table(pq.read_table(f, columns=SCHEMA.names).cast(SCHEMA))
    return Path(path)


def read_dynamics(path: str | os.PathLike) -> Dynamics:
    """Read and validate a dynamics file (or a folder of per-epoch files) into dense arrays.

    Checks: the columns exist; every row has the same number of classes; epochs are 0..E-1
    with none missing; every example appears exactly once in every epoch; gold agrees
    across epochs. Examples are ordered as in the first epoch.

    Parameters
    ----------
    path : path
        ``dynamics.parquet``, or a folder of ``epoch_{e}.parquet`` files (``RUN/dynamics/``).
    """
    path = Path(path)
    if not path.exists():
        raise DatamapError(f"{path}: dynamics file not found")
    try:
        if path.is_dir():
            tables = [pq.read_table(f, columns=["id", "epoch", "logits", "gold"]) for f in _checked_epoch_files(path)]
            table = pa.concat_tables(tables)
        else:
            table = pq.read_table(path, columns=["id", "epoch", "logits", "gold"])
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise DatamapError(f"{path}: cannot read dynamics ({str(exc).splitlines()[0]})") from exc
    return dynamics_from_table(table, str(path))


def _same_order_epochs(table, epoch, n_epochs, values, n_classes, source) -> Dynamics | None:
    """Fast path for files written epoch by epoch with the same example order (what datamap writes).

    Returns None when the layout differs; the general path then handles (and validates) it.
    """
    n_rows = len(epoch)
    if n_rows % n_epochs:
        return None
    n = n_rows // n_epochs
    if not np.array_equal(epoch, np.repeat(np.arange(n_epochs), n)):
        return None
    ids = table.column("id")
    first = ids.slice(0, n)
    for e in range(1, n_epochs):
        if not ids.slice(e * n, n).equals(first):
            return None
    gold_rows = table.column("gold").to_numpy().astype(np.int64).reshape(n_epochs, n)
    if (gold_rows != gold_rows[0]).any():
        return None  # the general path names the example
    uniq = np.asarray(first.to_pylist(), dtype=object)
    if len(set(uniq)) != n:
        return None
    gold = gold_rows[0]
    if n and (gold.min() < 0 or gold.max() >= n_classes):
        i = int(np.flatnonzero((gold < 0) | (gold >= n_classes))[0])
        raise DatamapError(f"{source}: gold {gold[i]} of example '{uniq[i]}' is outside 0..{n_classes - 1}")
    logits = np.ascontiguousarray(values.reshape(n_epochs, n, n_classes).transpose(1, 0, 2))
    return Dynamics(ids=uniq, logits=logits, gold=gold, epochs=np.arange(n_epochs))


def _check_finite(values: np.ndarray, table: pa.Table, epoch: np.ndarray, source: str) -> None:
    """Stop at the first row with a NaN or infinite logit, naming its example and epoch (one pass)."""
    if np.isfinite(values).all():
        return
    row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
    raise DatamapError(
        f"{source}: non-finite logits {values[row].tolist()} for example '{table.column('id')[row].as_py()}'"
        f" at epoch {int(epoch[row])} (row {row})"
    )


def dynamics_from_table(table: pa.Table, source: str) -> Dynamics:
    n_rows = table.num_rows
    if n_rows == 0:
        raise DatamapError(f"{source}: no dynamics rows")
    for col in ("id", "epoch", "logits", "gold"):
        if col not in table.column_names:
            raise DatamapError(f"{source}: missing column '{col}'")
    for col in ("id", "epoch", "logits", "gold"):
        if table.column(col).null_count:
            row = int(np.flatnonzero(table.column(col).is_null().to_numpy(zero_copy_only=False))[0])
            raise DatamapError(f"{source}: null '{col}' at row {row}")

    logits_col = table.column("logits").combine_chunks()
    lengths = pc.list_value_length(logits_col).to_numpy()
    n_classes = int(lengths[0])
    if (lengths != n_classes).any():
        row = int(np.flatnonzero(lengths != n_classes)[0])
        raise DatamapError(
            f"{source}: mixed class counts: row {row} has {int(lengths[row])} logits, row 0 has {n_classes}"
        )
    if n_classes < 2:
        raise DatamapError(f"{source}: rows have {n_classes} logit(s); need at least 2 classes")
    values = logits_col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    values = values.reshape(n_rows, n_classes)

    epoch = table.column("epoch").to_numpy().astype(np.int64)
    epochs = np.unique(epoch)
    expected = np.arange(len(epochs))
    if not np.array_equal(epochs, expected):
        missing = sorted(set(range(int(epochs.max()) + 1)) - set(epochs.tolist()))
        what = f"epoch {missing[0]} is missing" if missing else f"epochs must start at 0, got {epochs[0]}"
        raise DatamapError(f"{source}: {what} (found epochs {epochs.tolist()})")
    n_epochs = len(epochs)
    _check_finite(values, table, epoch, source)

    fast = _same_order_epochs(table, epoch, n_epochs, values, n_classes, source)
    if fast is not None:
        return fast

    ids_arr = table.column("id").combine_chunks()
    codes_arr = pc.dictionary_encode(ids_arr)
    codes = codes_arr.indices.to_numpy().astype(np.int64)
    uniq = np.asarray(codes_arr.dictionary.to_pylist(), dtype=object)
    n = len(uniq)
    key = codes * n_epochs + epoch
    counts = np.bincount(key, minlength=n * n_epochs).reshape(n, n_epochs)
    if (counts != 1).any():
        i, e = np.argwhere(counts != 1)[0]
        if counts[i, e] == 0:
            raise DatamapError(f"{source}: example '{uniq[i]}' is missing from epoch {e}")
        raise DatamapError(f"{source}: example '{uniq[i]}' appears {counts[i, e]} times in epoch {e}")

    logits = np.empty((n, n_epochs, n_classes), dtype=np.float32)
    logits.reshape(n * n_epochs, n_classes)[key] = values
    gold_rows = table.column("gold").to_numpy().astype(np.int64)
    gold = np.empty(n, dtype=np.int64)
    gold[codes] = gold_rows
    if (gold[codes] != gold_rows).any():
        row = int(np.flatnonzero(gold[codes] != gold_rows)[0])
        raise DatamapError(f"{source}: gold of example '{uniq[codes[row]]}' changes between epochs (row {row})")
    if gold.min() < 0 or gold.max() >= n_classes:
        i = int(np.flatnonzero((gold < 0) | (gold >= n_classes))[0])
        raise DatamapError(f"{source}: gold {gold[i]} of example '{uniq[i]}' is outside 0..{n_classes - 1}")
    # order examples as in the first epoch's rows
    first = codes[epoch == 0]
    return Dynamics(ids=uniq[first], logits=logits[first], gold=gold[first], epochs=epochs)
