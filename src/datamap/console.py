"""What datamap prints while it works: progress, one log line per event, ``--quiet``.

Like :mod:`datamap.errors`, this is the base every layer may use (it imports no other datamap module).

- :func:`progress` is a tqdm bar when stderr is a terminal, and plain lines every
  :data:`PLAIN_INTERVAL` seconds (plus the last one) when it is not (a piped log keeps no bar frames);
  nothing under ``--quiet``.
- :func:`say` prints an informational line (``wrote ...``, per-epoch summaries) unless quiet.
- :func:`configure_logging` sets the ``warning: ...`` format and makes each log event one line:
  libraries that bring their own handler (``datasets``, ``huggingface_hub``) would otherwise print
  their hub-retry warnings twice, once by their handler and once by ours.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Iterable, Iterator

#: seconds between two plain progress lines when stderr is not a terminal
PLAIN_INTERVAL = float(os.environ.get("DATAMAP_PROGRESS_INTERVAL", "30"))
#: seconds between two refreshes of a bar's postfix (e.g. the running loss) on a terminal
REFRESH_INTERVAL = 0.5

_state = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    """``--quiet``: no progress, no informational lines (warnings and errors still show)."""
    _state["quiet"] = bool(quiet)


def is_quiet() -> bool:
    return _state["quiet"]


def printable(text: object) -> str:
    """``text`` safe for a terminal: control and format characters (ESC, BEL, CR, bidi overrides...) shown
    as escapes (``\\x1b``, ``\\u202e``), so dataset content cannot clear the screen, hide links or retitle the window."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in s)


def say(line: str, *, err: bool = False) -> None:
    """Print an informational line (stdout, or stderr with ``err``) unless quiet; keeps an open bar intact."""
    if is_quiet():
        return
    stream = sys.stderr if err else sys.stdout
    if stream.isatty():
        from tqdm import tqdm

        tqdm.write(line, file=stream)
    else:
        print(line, file=stream, flush=True)


class Progress:
    """Progress of a loop of ``total`` steps: a tqdm bar on a terminal, plain lines otherwise, or nothing.

    Use :meth:`update` after each step and :meth:`due` to decide whether to compute a postfix
    (e.g. a loss that costs a device sync) for :meth:`set_postfix`.
    """

    def __init__(self, total: int | None, desc: str, unit: str = "it", enabled: bool = True, leave: bool = True,
                 interval: float | None = None):
        self.total, self.desc, self.unit = total, desc, unit
        self.n = 0
        self.postfix: dict[str, Any] = {}
        self.bar = None
        self.plain = False
        self.interval = PLAIN_INTERVAL if interval is None else interval
        self.t0 = self._last = time.perf_counter()
        if not enabled or is_quiet():
            return
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True)
            self.interval = REFRESH_INTERVAL
        else:
            self.plain = True

    @property
    def active(self) -> bool:
        return self.bar is not None or self.plain

    def due(self) -> bool:
        """Whether the next :meth:`set_postfix` would be shown (a refresh or a plain line is due)."""
        return self.active and time.perf_counter() - self._last >= self.interval

    def set_postfix(self, **values: Any) -> None:
        self.postfix = values
        if self.bar is not None:
            self.bar.set_postfix(values, refresh=False)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
            if time.perf_counter() - self._last >= self.interval:
                self._last = time.perf_counter()
        elif self.plain and time.perf_counter() - self._last >= self.interval:
            self._line()

    def _line(self) -> None:
        self._last = time.perf_counter()
        of = f"/{self.total}" if self.total else ""
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {self.n}{of} {self.unit}{pct}{extra}, {time.perf_counter() - self.t0:.0f} s",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.plain:
            self._line()
            self.plain = False


def progress(iterable: Iterable, desc: str, total: int | None = None, unit: str = "it", enabled: bool = True,
             leave: bool = True) -> Iterator:
    """Iterate ``iterable`` showing :class:`Progress` (``total`` defaults to ``len(iterable)``)."""
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    bar = Progress(total, desc, unit=unit, enabled=enabled, leave=leave)
    try:
        for item in iterable:
            yield item
            bar.update(1)
    finally:
        bar.close()


class _OncePerEvent(logging.Filter):
    """Drop a record on the root handler when a handler of its own library already printed it."""

    def filter(self, record: logging.LogRecord) -> bool:
        logger = logging.getLogger(record.name)
        while logger is not None and logger is not logging.root:
            if logger.handlers:
                return False
            if not logger.propagate:
                break
            logger = logger.parent  # type: ignore[assignment]
        return True


def configure_logging() -> None:
    """One ``warning: ...`` line per log event on stderr (see the module's docstring)."""
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    for handler in logging.root.handlers:
        if not any(isinstance(f, _OncePerEvent) for f in handler.filters):
            handler.addFilter(_OncePerEvent())
