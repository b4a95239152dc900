"""One writer per run directory: ``RUN/.datamap.lock``.

A command that writes a run (``train``) holds the lock while it writes: the file is created
exclusively (``O_CREAT | O_EXCL``) and holds the writer's pid, host, command and start time. A second
writer is refused with one line naming the first. A lock whose process is gone (same host, pid not
running) is stale: it is removed and taken over, with a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Iterator

from datamap.errors import DatamapError

log = logging.getLogger(__name__)

LOCK_NAME = ".datamap.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _holder(path: Path) -> dict | None:
    """The lock's content when a live process holds it; None when there is no lock or it is stale (then removed)."""
    if not path.exists():
        return None
    info = _read(path)
    pid, host = info.get("pid"), info.get("host")
    if isinstance(pid, int) and host == socket.gethostname() and not _alive(pid):
        log.warning("%s: removing the stale lock of process %d (%s), which is no longer running",
                    path, pid, info.get("command", "?"))
        path.unlink(missing_ok=True)
        return None
    return info


def _refusal(path: Path, info: dict) -> DatamapError:
    since = info.get("started")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else ""
    return DatamapError(f"{path.parent}: another datamap process (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
                        f"`{info.get('command', '?')}`{when}) is writing this run; wait for it to finish, or remove "
                        f"{path} if that process is gone")


def check_unlocked(root: str | os.PathLike) -> None:
    """Stop (one line) if a live process holds the lock of the run ``root`` (a stale lock is removed)."""
    path = Path(root) / LOCK_NAME
    info = _holder(path)
    if info is not None:
        raise _refusal(path, info)


@contextlib.contextmanager
def run_lock(root: str | os.PathLike, command: str) -> Iterator[Path]:
    """Hold the lock of the run folder ``root`` (created if missing) while the block runs.

    Parameters
    ----------
    root : path
        The run directory. When this call creates it and the block fails leaving nothing but
        the lock, the folder is removed again (a refused command writes nothing).
    command : str
        What holds the lock, for the refusal message (``"train"``).
    """
    root = Path(root)
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "started": time.time()}
    for _ in range(2):  # a second try after removing a stale lock
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None:
                raise _refusal(path, holder) from None
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f)
        break
    else:  # pragma: no cover - another writer took a stale lock between our two tries
        raise _refusal(path, _read(path))
    try:
        yield path
    finally:
        if _read(path).get("pid") == os.getpid():
            path.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                if not any(root.iterdir()):
                    root.rmdir()
