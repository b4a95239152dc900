"""Embedding and cluster files (Parquet, never pickle), see docs/run-directory.md.

* ``embeddings.parquet``: ``id`` (string), ``embedding`` (fixed_size_list<float32 or float16>[dim]),
  one row per example in dataset order. Schema metadata key ``datamap``: JSON with ``kind``
  ("embeddings"), ``model``, ``pooling``, ``dim``, ``dtype``, ``max_length``, ``source`` ...
* ``clusters.parquet``: ``id`` (string), ``cluster`` (int32, ``-1`` = noise), ``distance``
  (float32: Euclidean distance to its cluster's centroid in the space that was clustered; NaN for
  noise), in the order of the embeddings. Metadata: ``kind`` ("clusters"), ``method``, the
  options, ``centroids`` (the centroids file's name, next to it), ``n_clusters``, ``n_noise``,
  ``inertia``, ``silhouette``...
* ``<clusters stem>.centroids.parquet`` (``clusters.centroids.parquet`` by default): ``cluster``
  (int32), ``size`` (int64), ``centroid`` (fixed_size_list<float32>[dim]).

Every file is written atomically (:mod:`datamap.io.atomic`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from datamap.errors import DatamapError
from datamap.io.atomic import write_table

META_KEY = b"datamap"
DTYPES = ("float32", "float16")


@dataclass
class Vectors:
    """Rows of a vectors file: ``keys`` (ids or cluster numbers), ``vectors`` (float32, (n, dim)),
    the file's ``metadata`` dict and the other columns (``extra``)."""

    keys: np.ndarray
    vectors: np.ndarray
    metadata: dict[str, Any]
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def vector_table(key_name: str, keys: Sequence, column: str, vectors: np.ndarray, metadata: dict[str, Any],
                 dtype: str = "float32", extra: dict[str, Any] | None = None):
    """A pyarrow Table: the key column, ``extra`` columns, then ``column`` as a fixed-size list."""
    import pyarrow as pa

    if dtype not in DTYPES:
        raise DatamapError(f"--dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) != len(keys):
        raise ValueError(f"vectors of shape {vectors.shape} do not match {len(keys)} rows")
    flat = pa.array(np.ascontiguousarray(vectors, dtype=dtype).ravel())
    cols = {key_name: pa.array(list(keys)) if key_name == "id" else pa.array(np.asarray(keys))}
    for name, values in (extra or {}).items():
        cols[name] = pa.array(np.asarray(values))
    cols[column] = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
    meta = {**metadata, "dim": int(vectors.shape[1]), "dtype": dtype}
    return pa.table(cols).replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode("utf-8")})


def read_vectors(path: str | os.PathLike, key_name: str, column: str, extra: Sequence[str] = ()) -> Vectors:
    """Read a file written from :func:`vector_table`; vectors come back as float32."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DatamapError(f"{path}: not found")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise DatamapError(f"{path}: cannot read as Parquet ({exc})") from exc
    for name in (key_name, column, *extra):
        if name not in schema.names:
            raise DatamapError(f"{path}: missing column {name!r} (columns: {', '.join(schema.names)})")
    table = pq.read_table(path, columns=[key_name, column, *extra])
    arr = table.column(column).combine_chunks()
    if not pa.types.is_fixed_size_list(arr.type) or not pa.types.is_floating(arr.type.value_type):
        raise DatamapError(f"{path}: column {column!r} must be a fixed-size list of floats, not {arr.type}")
    if arr.null_count or arr.flatten().null_count:
        raise DatamapError(f"{path}: column {column!r} has null values")
    dim = arr.type.list_size
    vectors = arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), dim).astype(np.float32, copy=False)
    keys = table.column(key_name).to_numpy(zero_copy_only=False)
    meta = {}
    raw = (schema.metadata or {}).get(META_KEY)
    if raw:
        try:
            meta = json.loads(raw)
        except ValueError:
            raise DatamapError(f"{path}: schema metadata {META_KEY.decode()!r} is not JSON") from None
    return Vectors(keys, vectors, meta, {name: table.column(name).to_numpy(zero_copy_only=False) for name in extra})


# ---------------------------------------------------------------------------------------------
# embeddings


def write_embeddings(path: str | os.PathLike, ids: Sequence[str], vectors: np.ndarray, metadata: dict[str, Any],
                     dtype: str = "float32") -> Path:
    """Write ``embeddings.parquet`` (``id``, ``embedding``) atomically, ``metadata`` in the schema."""
    table = vector_table("id", [str(i) for i in ids], "embedding", vectors, {"kind": "embeddings", **metadata}, dtype)
    return write_table(path, table)


def read_embeddings(path: str | os.PathLike) -> Vectors:
    """Read ``embeddings.parquet``: ``keys`` are the ids (str), ``vectors`` float32 (n, dim).

    Raises :class:`DatamapError` naming the file for a missing column, nulls or duplicate ids.
    """
    emb = read_vectors(path, "id", "embedding")
    emb.keys = emb.keys.astype(str).astype(object)
    _check_unique(emb.keys, path)
    bad = ~np.isfinite(emb.vectors).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatamapError(f"{path}: non-finite value (NaN or infinite) in the embedding of id '{emb.keys[i]}' "
                           f"(row {i + 1}; {int(bad.sum())} such rows); recompute it with datamap embed")
    return emb


def _check_unique(ids: np.ndarray, path) -> None:
    uniq, counts = np.unique(ids.astype(str), return_counts=True)
    if (counts > 1).any():
        raise DatamapError(f"{path}: id {uniq[counts > 1][0]!r} occurs more than once")


# ---------------------------------------------------------------------------------------------
# clusters


def centroids_path(clusters_path: str | os.PathLike) -> Path:
    """``X.parquet`` -> ``X.centroids.parquet`` (next to it)."""
    p = Path(clusters_path)
    return p.with_name(f"{p.stem}.centroids{p.suffix or '.parquet'}")


def write_clusters(path: str | os.PathLike, ids: Sequence[str], labels: np.ndarray, distances: np.ndarray,
                   centroid_ids: np.ndarray, sizes: np.ndarray, centroids: np.ndarray, metadata: dict[str, Any]) -> tuple[Path, Path]:
    """Write the clusters file and its centroids file (centroids first, the clusters file last)."""
    path = Path(path)
    cpath = centroids_path(path)
    meta = {"kind": "clusters", **metadata, "centroids": cpath.name}
    ctable = vector_table("cluster", np.asarray(centroid_ids, dtype=np.int32), "centroid", centroids,
                          {"kind": "centroids", "clusters": path.name}, extra={"size": np.asarray(sizes, dtype=np.int64)})
    write_table(cpath, ctable)
    try:
        _write_clusters_table(path, ids, labels, distances, meta)
    except BaseException:  # no centroids file without its clusters file (it would block the rerun)
        cpath.unlink(missing_ok=True)
        raise
    return path, cpath


def _write_clusters_table(path: Path, ids, labels, distances, meta: dict) -> None:
    import pyarrow as pa

    table = pa.table({
        "id": pa.array([str(i) for i in ids]),
        "cluster": pa.array(np.asarray(labels, dtype=np.int32)),
        "distance": pa.array(np.asarray(distances, dtype=np.float32)),
    }).replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True, allow_nan=False).encode("utf-8")})
    write_table(path, table)


def read_clusters(path: str | os.PathLike):
    """Read a clusters file: ``(frame with id (str), cluster (int64), distance (float64), metadata)``."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DatamapError(f"{path}: clusters file not found (run `datamap cluster` first)")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:
        raise DatamapError(f"{path}: cannot read as Parquet ({exc})") from exc
    for name in ("id", "cluster", "distance"):
        if name not in schema.names:
            raise DatamapError(f"{path}: missing column {name!r} (is it a `datamap cluster` output?)")
    frame = pq.read_table(path, columns=["id", "cluster", "distance"]).to_pandas()
    if frame["cluster"].isna().any():
        raise DatamapError(f"{path}: column 'cluster' has null values")
    frame["id"] = frame["id"].astype(str)
    _check_unique(frame["id"].to_numpy(), path)
    frame["cluster"] = frame["cluster"].astype(np.int64)
    frame["distance"] = frame["distance"].astype(np.float64)
    raw = (schema.metadata or {}).get(META_KEY)
    return frame, (json.loads(raw) if raw else {})


def read_centroids(clusters_file: str | os.PathLike) -> Vectors:
    """The centroids of a clusters file (``keys`` = cluster numbers, ``extra["size"]``)."""
    return read_vectors(centroids_path(clusters_file), "cluster", "centroid", extra=("size",))


def positions_by_id(have: Sequence[str], want: Sequence[str], source: str | os.PathLike, what: str) -> np.ndarray:
    """Positions in ``have`` of each id of ``want`` (ids compared as strings); every one must be there.

    Raises :class:`DatamapError` naming ``source`` and the first missing id. Ids of ``have`` that
    ``want`` does not ask for are ignored.
    """
    import pandas as pd

    want = pd.Index([str(i) for i in want])
    pos = pd.Index([str(i) for i in have]).get_indexer(want)
    missing = pos < 0
    if missing.any():
        raise DatamapError(
            f"{source}: has no {what} for {int(missing.sum())} of {len(want)} ids, e.g. {want[missing][0]!r}"
        )
    return pos.astype(np.int64)
