"""Atomic writes: every output is written to a temporary file next to it, then renamed.

A crash or an error while writing never leaves a half-written file under the final name. The
temporary files and folders get the permissions an ordinary ``open``/``mkdir`` would give under the
user's umask (``tempfile`` makes them private, 0600/0700, which colleagues could not read).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_file(path: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """Create an empty temporary file beside ``path`` with the permissions of a new file (0666 & ~umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    return Path(tmp)


def temp_dir(path: str | os.PathLike) -> Path:
    """Create a temporary folder beside ``path`` with the permissions of a new folder (0777 & ~umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    tmp_path = temp_file(path, suffix=(suffix or path.suffix) + ".tmp")
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def refuse_existing(path: str | os.PathLike, overwrite: bool) -> None:
    """Stop (``DatamapError``) before any work if ``path`` exists and ``overwrite`` is not given."""
    if Path(path).exists() and not overwrite:
        from datamap.errors import DatamapError

        raise DatamapError(f"{path}: already exists; pass --overwrite to replace it")


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    return write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False) + "\n")


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_table(path: str | os.PathLike, table, **kwargs) -> Path:
    """Write a pyarrow Table (or pandas DataFrame) to Parquet atomically (zstd)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    kwargs.setdefault("compression", "zstd")
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **kwargs)
    return Path(path)


class FileSet:
    """Several files replaced together: write each to its temporary, then :meth:`commit` renames them all.

    The renames happen in the order given; a reader that must never see a mix checks content
    hashes recorded before the renames (``datamap metrics`` records them in ``manifest.json``).
    Use as a context manager: on an exception the temporaries are removed and no file is replaced.

    Parameters
    ----------
    *paths : path
        The final files, in rename order.
    """

    def __init__(self, *paths: str | os.PathLike):
        self.paths = [Path(p) for p in paths]
        self.temps: list[Path] = []
        for p in self.paths:
            self.temps.append(temp_file(p, suffix=p.suffix + ".tmp"))

    def temp(self, path: str | os.PathLike) -> Path:
        """The temporary file standing for the final ``path`` (one of those given)."""
        return self.temps[self.paths.index(Path(path))]

    def write_table(self, path: str | os.PathLike, table, **kwargs) -> None:
        """Write a pyarrow Table or pandas DataFrame as Parquet (zstd) to ``path``'s temporary."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(table, preserve_index=False)
        kwargs.setdefault("compression", "zstd")
        pq.write_table(table, self.temp(path), **kwargs)

    def write_json(self, path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
        """Write ``obj`` as JSON (as :func:`write_json` does) to ``path``'s temporary."""
        self.temp(path).write_text(json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False) + "\n",
                                   encoding="utf-8")

    def commit(self) -> None:
        """Rename every temporary onto its final path, in order."""
        for tmp, path in zip(self.temps, self.paths):
            os.replace(tmp, path)
        self.temps = []

    def abort(self) -> None:
        """Remove the temporaries; no final file is touched."""
        for tmp in self.temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self.temps = []

    def __enter__(self) -> "FileSet":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.abort()  # after commit(): nothing left to remove
