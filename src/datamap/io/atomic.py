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


#: files of a run directory that other stages read: no command's output may take their name in a run
RUN_INPUTS = ("config.yaml", "data.parquet", "labels.json", "dynamics.parquet", "manifest.json", "metrics.parquet",
              "metrics.json", "three_regions_data_indices.json", "history.json", "heldout.parquet",
              "threshold_samples.parquet", "stages.json")


def refuse_existing(path: str | os.PathLike, overwrite: bool, flag: str = "", inputs=()) -> None:
    """Stop (``DatamapError``) before any work if the output file ``path`` cannot be written.

    Parameters
    ----------
    path : path
        The file about to be written.
    overwrite : bool
        Whether an existing file may be replaced (``--overwrite``).
    flag : str, default ""
        The option that named ``path`` (``"--out"``), put before it in the message.

    inputs : sequence of paths, default ()
        The command's input files: ``path`` may not be one of them, even with ``overwrite``.

    An existing folder under that name is refused even with ``overwrite`` (a file is replaced,
    a folder never is); so is an existing file without ``overwrite``, a file of the contract that
    the stages read (:data:`RUN_INPUTS`) in a run folder, and one of ``inputs``.
    """
    from datamap.errors import DatamapError

    path = Path(path)
    where = f"{flag} {path}" if flag else str(path)
    check_parent(path, where)
    if path.is_dir():
        raise DatamapError(f"{where}: is a directory; give a file name")
    for src in inputs:
        if src is not None and Path(src).exists() and path.exists() and os.path.samefile(src, path):
            raise DatamapError(f"{where}: is this command's input {src}; give another output name")
    if path.name in RUN_INPUTS and any((path.parent / f).exists() for f in ("manifest.json", "data.parquet", "dynamics.parquet")):
        raise DatamapError(f"{where}: is the run's own {path.name} in {path.parent}, which other stages read; "
                           "give another output name")
    if path.exists() and not overwrite:
        raise DatamapError(f"{where}: already exists; pass --overwrite to replace it")


def check_parent(path: str | os.PathLike, where: str = "") -> None:
    """Stop (``DatamapError``) if an existing ancestor of ``path`` is a file (``--out FILE/x``) rather than a folder."""
    from datamap.errors import DatamapError

    for parent in Path(path).parents:
        if parent.exists():
            if not parent.is_dir():
                raise DatamapError(f"{where or path}: {parent} is a file, not a folder")
            return


def refuse_existing_dir(path: str | os.PathLike, overwrite: bool, flag: str = "") -> None:
    """Stop (``DatamapError``) before any work if the output folder ``path`` cannot be written.

    Parameters
    ----------
    path : path
        The folder about to be written as a whole (see :func:`replace_dir`).
    overwrite : bool
        Whether a folder that already holds files may be replaced (``--overwrite``).
    flag : str, default ""
        The option that named ``path``, put before it in the message.

    A file under that name is refused even with ``overwrite``; so is a folder holding anything
    without ``overwrite`` (an empty folder is fine).
    """
    from datamap.errors import DatamapError

    path = Path(path)
    where = f"{flag} {path}" if flag else str(path)
    check_parent(path, where)
    if path.exists() and not path.is_dir():
        raise DatamapError(f"{where}: is a file; give a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise DatamapError(f"{where}: already holds files; pass --overwrite to replace the folder")


def replace_dir(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Put the finished folder ``tmp`` under the name ``path``, replacing what was there.

    Parameters
    ----------
    tmp : path
        A complete folder beside ``path`` (from :func:`temp_dir`).
    path : path
        The final name. An existing folder there is first renamed aside, then removed once
        ``tmp`` is in place, so ``path`` always names either the old or the new folder.
    """
    import shutil

    tmp, path = Path(tmp), Path(path)
    old = None
    if path.exists():
        old = temp_dir(path.with_name(path.name + ".old"))
        os.replace(path, old / path.name)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path


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
