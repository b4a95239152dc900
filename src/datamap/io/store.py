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

    def __init__(self, path: str | os.PathLike, schema: pa.Schema = SCHEMA):
        self.path = Path(path)
        self._tmp = temp_file(self.path)
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
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


def _write_epoch_table(folder, epoch: int, table: pa.Table) -> Path:
    path = epoch_file(folder, epoch)
    Path(folder).mkdir(parents=True, exist_ok=True)
    tmp = temp_file(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


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
    return _write_epoch_table(folder, epoch, epoch_table(ids, logits, gold, epoch))


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
    schema = SCHEMA
    if _kind_of_schema(pq.read_schema(files[0]), files[0]) == "sft":
        schema = pq.read_schema(files[0])  # SFT_SCHEMA with this run's metadata (record mode)
        schema = SFT_SCHEMA.with_metadata(schema.metadata)
    with DynamicsWriter(path, schema) as w:
        for f in files:
            w._writer.write_table(pq.read_table(f, columns=schema.names).cast(schema))
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
    if dynamics_kind(path) == "sft":
        raise DatamapError(f"{path}: holds the token losses of an sft run, not classifier logits "
                           "(read it with datamap.io.store.read_sft_dynamics)")
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


# ---------------------------------------------------------------------------------------------
# sft runs: per-example token losses of a causal LM (docs/run-directory.md, issue 25)

#: ``dynamics.parquet`` of an sft run: one row per (example, record point).
SFT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("epoch", pa.int32()),
        ("point", pa.int32()),
        ("step", pa.int64()),
        ("loss_sum", pa.float64()),
        ("n_tokens", pa.int64()),
        ("n_correct", pa.int64()),
    ]
)
SFT_RECORD_MODES = ("inflight", "epoch_end", "every")
_META_KEY = b"datamap"


@dataclass
class SFTDynamics:
    """Token-loss trajectories: ``loss_sum[i, p]`` of example ``ids[i]`` at record point ``p``.

    ``loss_sum`` is the summed token negative log-likelihood (natural log) over the example's target
    tokens, ``n_tokens`` their number and ``n_correct`` how many of them the argmax predicted;
    ``epochs[p]`` is the (0-based) epoch in which point ``p`` was recorded and ``steps[p]`` the
    optimizer steps done by then. ``meta``: ``{"kind": "sft", "record": ..., "record_every": ...}``.
    """

    ids: np.ndarray  # (N,) object (str)
    loss_sum: np.ndarray  # (N, P) float64
    n_tokens: np.ndarray  # (N, P) int64
    n_correct: np.ndarray  # (N, P) int64
    epochs: np.ndarray  # (P,) int
    steps: np.ndarray  # (P,) int
    meta: dict

    @property
    def n_examples(self) -> int:
        return len(self.ids)

    @property
    def n_points(self) -> int:
        return self.loss_sum.shape[1]


def sft_meta(record: str = "inflight", record_every: int | None = None, sample: int | None = None) -> dict:
    """The schema metadata of an sft dynamics file (checked: ``record`` one of :data:`SFT_RECORD_MODES`);
    ``sample``: the number of training examples each ``--record-every`` pass covers when a seeded sample."""
    if record not in SFT_RECORD_MODES:
        raise DatamapError(f"sft dynamics: record mode {record!r} is not one of {', '.join(SFT_RECORD_MODES)}")
    meta = {"kind": "sft", "record": record, "record_every": None if record_every is None else int(record_every)}
    if sample is not None:
        meta["sample"] = int(sample)
    return meta


def sft_schema(meta: dict) -> pa.Schema:
    """:data:`SFT_SCHEMA` carrying ``meta`` (JSON) under the metadata key ``datamap``."""
    import json

    return SFT_SCHEMA.with_metadata({_META_KEY: json.dumps({**meta, "kind": "sft"}).encode()})


def _kind_of_schema(schema: pa.Schema, source) -> str:
    import json

    raw = (schema.metadata or {}).get(_META_KEY)
    if raw is None:
        return "classify"
    try:
        kind = json.loads(raw).get("kind", "classify")
    except (ValueError, AttributeError):
        raise DatamapError(f"{source}: the schema metadata 'datamap' is not a JSON object") from None
    return "sft" if kind == "sft" else "classify"


def dynamics_kind(path: str | os.PathLike) -> str:
    """``"sft"`` or ``"classify"``: which kind of run wrote the dynamics file (or per-epoch folder) ``path``.

    From the schema metadata ``datamap`` (``{"kind": "sft", ...}``); files without it are ``"classify"``.
    """
    path = Path(path)
    if path.is_dir():
        files = epoch_files(path)
        if not files:
            raise DatamapError(f"{path}: no epoch_{{e}}.parquet files")
        path = files[0][1]
    if not path.exists():
        raise DatamapError(f"{path}: dynamics file not found")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DatamapError(f"{path}: cannot read dynamics ({str(exc).splitlines()[0]})") from exc
    return _kind_of_schema(schema, path)


def sft_points_table(ids, records, points, steps, epoch: int, meta: dict) -> pa.Table:
    """Record points as an Arrow table in :func:`sft_schema` (rows point by point, examples in ``ids`` order).

    ``records``: (n, 3) for one point (``points``, ``steps`` ints) or (K, n, 3) for K points
    (``points``, ``steps`` of shape (K,)); columns ``[loss_sum, n_tokens, n_correct]``.
    """
    rec = np.asarray(records, dtype=np.float64)
    if rec.ndim == 2:
        rec = rec[None]
    points = np.atleast_1d(np.asarray(points, dtype=np.int64))
    steps = np.atleast_1d(np.asarray(steps, dtype=np.int64))
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    ids = ids.cast(pa.string()) if isinstance(ids, pa.Array) else pa.array(np.asarray(ids, dtype=object), type=pa.string())
    n = len(ids)
    if rec.ndim != 3 or rec.shape[1:] != (n, 3) or points.shape != (rec.shape[0],) or steps.shape != points.shape:
        raise DatamapError(f"sft records: expected shape (K, {n}, 3) with K points and steps, got records "
                           f"{np.asarray(records).shape}, points {points.shape}, steps {steps.shape}")
    k = rec.shape[0]
    return pa.Table.from_arrays(
        [
            pa.concat_arrays([ids] * k) if k else ids.slice(0, 0),
            pa.array(np.full(n * k, epoch, dtype=np.int32)),
            pa.array(np.repeat(points, n).astype(np.int32)),
            pa.array(np.repeat(steps, n)),
            pa.array(rec[:, :, 0].reshape(-1)),
            pa.array(np.rint(rec[:, :, 1]).reshape(-1).astype(np.int64)),
            pa.array(np.rint(rec[:, :, 2]).reshape(-1).astype(np.int64)),
        ],
        schema=sft_schema(meta),
    )


def write_sft_epoch_file(folder: str | os.PathLike, epoch: int, ids, records, points, steps, *,
                         record: str = "inflight", record_every: int | None = None,
                         sample: int | None = None) -> Path:
    """Write every record point taken during ``epoch`` as ``folder/epoch_{epoch}.parquet`` (atomically).

    Parameters
    ----------
    folder : path
        The run's per-epoch dynamics folder (``RUN/dynamics/``, created if missing).
    epoch : int
        0-based epoch in which the points were recorded (the ``epoch`` column).
    ids : array of str, shape (n,)
        Example ids, in the order of the records' rows.
    records : array, shape (n, 3) or (K, n, 3)
        ``[loss_sum, n_tokens, n_correct]`` per example (float32 as the recorder gathers them; the
        counts are rounded to integers): one point, or K points of this epoch.
    points : int or array of int, shape (K,)
        The trajectory positions (0-based over the whole run) of those points.
    steps : int or array of int, shape (K,)
        Optimizer steps done when each point was recorded.
    record, record_every
        The run's recording mode (``inflight``, ``epoch_end`` or ``every``) and ``--record-every``,
        stored in the schema metadata; ``sample``: the size of a seeded ``--record-sample`` (else None).
    """
    table = sft_points_table(ids, records, points, steps, epoch, sft_meta(record, record_every, sample))
    return _write_epoch_table(folder, epoch, table)


def write_sft_dynamics(path: str | os.PathLike, dyn: SFTDynamics) -> Path:
    """Write ``dyn`` as an sft ``dynamics.parquet`` (one row group per epoch; for tests and benchmarks)."""
    meta = sft_meta(dyn.meta.get("record", "inflight"), dyn.meta.get("record_every"), dyn.meta.get("sample"))
    epochs = np.asarray(dyn.epochs, dtype=np.int64)
    with DynamicsWriter(path, sft_schema(meta)) as w:
        for e in np.unique(epochs):
            cols = np.flatnonzero(epochs == e)
            rec = np.stack([dyn.loss_sum[:, cols].T, dyn.n_tokens[:, cols].T, dyn.n_correct[:, cols].T], axis=-1)
            w._writer.write_table(sft_points_table(dyn.ids, rec, cols, np.asarray(dyn.steps)[cols], int(e), meta))
            w.epochs_written.append(int(e))
    return Path(path)


def read_sft_dynamics(path: str | os.PathLike) -> SFTDynamics:
    """Read and validate an sft dynamics file (or a folder of per-epoch files) into dense (N, P) arrays.

    Checks: the columns exist, no nulls; points are 0..P-1 with none missing, each recorded in one
    epoch at one step; every example appears exactly once at every point; ``loss_sum`` finite and
    >= 0, ``n_tokens`` >= 1, ``0 <= n_correct <= n_tokens``. Examples are ordered as at point 0.
    """
    import json

    path = Path(path)
    if not path.exists():
        raise DatamapError(f"{path}: dynamics file not found")
    if dynamics_kind(path) != "sft":
        raise DatamapError(f"{path}: holds classifier logits, not the token losses of an sft run")
    cols = SFT_SCHEMA.names
    try:
        if path.is_dir():
            files = _checked_epoch_files(path)
            table = pa.concat_tables([pq.read_table(f, columns=cols) for f in files])
            schema = pq.read_schema(files[0])
        else:
            table = pq.read_table(path, columns=cols)
            schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise DatamapError(f"{path}: cannot read sft dynamics ({str(exc).splitlines()[0]})") from exc
    meta = json.loads(schema.metadata[_META_KEY])
    return sft_dynamics_from_table(table, meta, str(path))


def sft_dynamics_from_table(table: pa.Table, meta: dict, source: str) -> SFTDynamics:
    if table.num_rows == 0:
        raise DatamapError(f"{source}: no dynamics rows")
    for col in SFT_SCHEMA.names:
        if col not in table.column_names:
            raise DatamapError(f"{source}: missing column '{col}'")
        if table.column(col).null_count:
            row = int(np.flatnonzero(table.column(col).is_null().to_numpy(zero_copy_only=False))[0])
            raise DatamapError(f"{source}: null '{col}' at row {row}")
    ids_arr = table.column("id").combine_chunks()

    def name(row: int) -> str:
        return ids_arr[int(row)].as_py()

    point = table.column("point").to_numpy().astype(np.int64)
    epoch = table.column("epoch").to_numpy().astype(np.int64)
    step = table.column("step").to_numpy().astype(np.int64)
    loss = table.column("loss_sum").to_numpy().astype(np.float64)
    ntok = table.column("n_tokens").to_numpy().astype(np.int64)
    ncor = table.column("n_correct").to_numpy().astype(np.int64)
    bad = ~np.isfinite(loss) | (loss < 0)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise DatamapError(f"{source}: loss_sum {loss[r]} of example '{name(r)}' at point {point[r]} (row {r}) "
                           "is not a finite number >= 0")
    if (ntok <= 0).any():
        r = int(np.flatnonzero(ntok <= 0)[0])
        raise DatamapError(f"{source}: n_tokens {ntok[r]} of example '{name(r)}' at point {point[r]} (row {r}) "
                           "must be >= 1")
    bad = (ncor < 0) | (ncor > ntok)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise DatamapError(f"{source}: n_correct {ncor[r]} of example '{name(r)}' at point {point[r]} (row {r}) "
                           f"is outside 0..n_tokens ({ntok[r]})")
    points = np.unique(point)
    if not np.array_equal(points, np.arange(len(points))):
        missing = sorted(set(range(int(points.max()) + 1)) - set(points.tolist()))
        what = f"point {missing[0]} is missing" if missing else f"points must start at 0, got {points[0]}"
        raise DatamapError(f"{source}: {what} (found points {points.tolist()})")
    n_points = len(points)
    p_epoch = np.full(n_points, -1, dtype=np.int64)
    p_step = np.full(n_points, -1, dtype=np.int64)
    p_epoch[point] = epoch
    p_step[point] = step
    bad = (p_epoch[point] != epoch) | (p_step[point] != step)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise DatamapError(f"{source}: point {point[r]} is recorded at more than one epoch or step (row {r})")

    n_rows = len(point)
    if n_rows % n_points == 0 and np.array_equal(point, np.repeat(np.arange(n_points), n_rows // n_points)):
        # fast path: what datamap writes (point by point, the same example order at every point)
        n = n_rows // n_points
        first = ids_arr.slice(0, n)
        if all(ids_arr.slice(q * n, n).equals(first) for q in range(1, n_points)):
            uniq = np.asarray(first.to_pylist(), dtype=object)
            if len(set(uniq)) == n:
                return SFTDynamics(ids=uniq, loss_sum=np.ascontiguousarray(loss.reshape(n_points, n).T),
                                   n_tokens=np.ascontiguousarray(ntok.reshape(n_points, n).T),
                                   n_correct=np.ascontiguousarray(ncor.reshape(n_points, n).T),
                                   epochs=p_epoch, steps=p_step, meta=dict(meta))
    codes_arr = pc.dictionary_encode(ids_arr)
    codes = codes_arr.indices.to_numpy().astype(np.int64)
    uniq = np.asarray(codes_arr.dictionary.to_pylist(), dtype=object)
    n = len(uniq)
    key = codes * n_points + point
    counts = np.bincount(key, minlength=n * n_points).reshape(n, n_points)
    if (counts != 1).any():
        i, p = np.argwhere(counts != 1)[0]
        if counts[i, p] == 0:
            raise DatamapError(f"{source}: example '{uniq[i]}' is missing from point {p} (ragged trajectories)")
        raise DatamapError(f"{source}: example '{uniq[i]}' appears {counts[i, p]} times at point {p}")
    out = []
    for values, dtype in ((loss, np.float64), (ntok, np.int64), (ncor, np.int64)):
        a = np.empty(n * n_points, dtype=dtype)
        a[key] = values
        out.append(a.reshape(n, n_points))
    first = codes[point == 0]
    return SFTDynamics(ids=uniq[first], loss_sum=out[0][first], n_tokens=out[1][first], n_correct=out[2][first],
                       epochs=p_epoch, steps=p_step, meta=dict(meta))
