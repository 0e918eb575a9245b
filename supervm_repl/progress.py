"""A status line for a call that runs longer than a moment: how long it has run, its fuel so
far, and that Ctrl-C stops it. Shown by the interactive shell only, and erased when the call
ends (scripts print nothing of it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from runtime.runtime import CallProgress

#: Seconds a call runs before the status line appears, and between its updates.
SHOW_AFTER = 1.0
EVERY = 0.25


def status_text(progress: CallProgress, elapsed: float) -> str:
    """``running spin: 3.2 s, 12 host calls, fuel used 1,234 at the last one; Ctrl-C stops
    it``."""
    if progress.fuel_used is None:
        fuel = "no host call yet" if not progress.host_calls else \
            f"{progress.host_calls:,} host calls"
    else:
        fuel = (f"{progress.host_calls:,} host call{'s' if progress.host_calls != 1 else ''}, "
                f"fuel used {progress.fuel_used:,} at the last one")
    return f"running {progress.export}: {elapsed:.1f} s, {fuel}; Ctrl-C stops it"


class Ticker:
    """While the block runs, a thread shows the running call's status (``progress`` says
    what it is, None when no call runs) through ``write`` on one line, redrawn in place."""

    def __init__(self, progress: Callable[[], CallProgress | None], write: Callable[[str], None],
                 width: Callable[[], int | None] = lambda: None, after: float = SHOW_AFTER,
                 every: float = EVERY) -> None:
        self._progress, self._write, self._width = progress, write, width
        self._after, self._every = after, every
        self._done = threading.Event()
        self._shown = False
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Ticker:
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="supervm-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if self._shown:
            self._write("\r\x1b[K")  # the results are printed where the status line was

    def _run(self) -> None:
        if self._done.wait(self._after):
            return
        while not self._done.is_set():
            progress = self._progress()
            if progress is not None:
                text = status_text(progress, time.monotonic() - self._started)
                width = self._width()
                if width is not None and len(text) >= width:
                    text = text[: max(width - 2, 0)] + "…"
                self._write("\r" + text + "\x1b[K")
                self._shown = True
            if self._done.wait(self._every):
                return
