"""Progress of the long steps on stderr, on a terminal and off it (cron, CI, a log file).

A :class:`Heartbeat` runs beside one command: the command (through the library's progress
callbacks) sets what it is doing now — ``beat.status = "送信 12/92 回 …"`` — and a background
thread shows it with the time elapsed:

* off a terminal, one line every :data:`EVERY` seconds, the first after :data:`EVERY` seconds,
  so a quick run prints nothing and a long one is never silent for longer;
* on a terminal, one line rewritten in place about every second (``\\r``), cleared at the end.

Reports stay on stdout; only these lines and messages go to stderr. The library never prints:
it calls back, and only the CLI decides how progress looks.
"""

from __future__ import annotations

import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

#: Seconds between progress lines off a terminal (and before the first one).
EVERY = 5.0
#: Seconds between redraws on a terminal.
REDRAW = 1.0


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def elapsed(seconds: float) -> str:
    """``経過 12 秒`` / ``経過 3 分 05 秒``."""
    whole = int(seconds)
    if whole < 60:
        return f"経過 {whole} 秒"
    return f"経過 {whole // 60} 分 {whole % 60:02d} 秒"


class Heartbeat:
    """What a command is doing now, shown on stderr while it runs (see the module docstring)."""

    def __init__(self, status: str, *, stream: TextIO | None = None, every: float | None = None,
                 tty: bool | None = None) -> None:
        self.status = status
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty() if tty is None else tty
        self._every = every if every is not None else (REDRAW if self._tty else EVERY)
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = 0  # width of the line on screen (terminal)
        self._lock = threading.Lock()

    def start(self) -> Heartbeat:
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="converter-progress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._tty and self._drawn:
                self._write("\r" + " " * self._drawn + "\r")
                self._drawn = 0

    def line(self) -> str:
        return f"{self.status} ({elapsed(time.monotonic() - self._start)})"

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            with self._lock:
                text = self.line()
                if self._tty:
                    width = _width(text)
                    self._write("\r" + text + " " * max(self._drawn - width, 0))
                    self._drawn = width
                else:
                    self._write(text + "\n")

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: progress is not worth failing for
            self._stop.set()


def workbook_progress(beat: Heartbeat) -> Callable[[str, int, int], None]:
    """The review workbook's progress (:data:`~converter.review.workbook.WriteProgress`) on ``beat``."""

    def tell(sheet: str, done: int, total: int) -> None:
        if total:
            beat.status = f"確認用ブック: {sheet} {done:,}/{total:,} 行"
        else:
            beat.status = f"確認用ブック: {sheet}"

    return tell


@contextmanager
def heartbeat(status: str) -> Iterator[Heartbeat]:
    """A :class:`Heartbeat` for the ``with`` block (stopped, and its line cleared, on the way out)."""
    beat = Heartbeat(status).start()
    try:
        yield beat
    finally:
        beat.stop()
