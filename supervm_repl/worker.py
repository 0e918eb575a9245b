"""Running calls so that Ctrl-C stops them, at as little cost per call as possible.

While wasm runs, the interpreter cannot run a Python signal handler on the thread running it.
On the main thread, calls run right there: the C-level signal handler writes the signal number
to a wakeup pipe, and a watcher thread reading that pipe interrupts the runtime at once. Off
the main thread (where signals cannot be caught), calls go to one long-lived worker thread and
the calling thread waits, answering KeyboardInterrupt by interrupting the runtime.

A script runs many calls in a row: :meth:`Worker.handling_ctrl_c` installs the handler once
for all of them (swapping it around every call cost about a tenth of a short call); Ctrl-C
between two calls then stops the script as usual.
"""

from __future__ import annotations

import _signal
import contextlib
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_SIGINT = int(signal.SIGINT)


class _Job:
    """One piece of work for the worker thread, and its outcome."""

    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class Worker:
    """Runs work so that Ctrl-C calls ``interrupt`` while it runs."""

    def __init__(self, interrupt: Callable[[], None]) -> None:
        self._interrupt = interrupt
        self._jobs: queue.SimpleQueue[_Job | None] | None = None
        self._wakeup: tuple[int, int] | None = None
        self._running = False
        self._installed = False
        self._watcher: threading.Thread | None = None

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` and return its result (or raise its error).

        Ctrl-C while it runs calls ``interrupt``; the work ends as it ends (for a call, with
        CallInterruptedError; a call that had already finished keeps its result).
        """
        if threading.current_thread() is threading.main_thread():
            return self._run_here(work)
        return self._run_in_thread(work)

    def _run_here(self, work: Callable[[], T]) -> T:
        if not self._installed:  # a script installs the handler once for all its calls
            with self.handling_ctrl_c():
                return self._run_here(work)
        self._running = True
        try:
            return work()
        finally:
            self._running = False

    @contextlib.contextmanager
    def handling_ctrl_c(self) -> Iterator[None]:
        """Ctrl-C interrupts the calls run inside (on the main thread), and raises
        KeyboardInterrupt between them, as it would without this."""
        if self._installed or threading.current_thread() is not threading.main_thread():
            yield
            return
        if self._wakeup is None:
            read_fd, write_fd = os.pipe()
            os.set_blocking(write_fd, False)
            self._wakeup = (read_fd, write_fd)
            self._watcher = threading.Thread(target=self._watch, args=(read_fd,),
                                             name="supervm-ctrl-c", daemon=True)
            self._watcher.start()
        # While a call runs the Python-level handler only swallows the signal: the watcher
        # has interrupted the call already, and the call reports that itself.
        # _signal rather than signal: the latter's enum conversions cost more than a call.
        previous_handler = _signal.signal(_SIGINT, self._on_sigint)
        previous_fd = _signal.set_wakeup_fd(self._wakeup[1], warn_on_full_buffer=False)
        self._installed = True
        try:
            yield
        finally:
            self._installed = False
            _signal.set_wakeup_fd(previous_fd)
            _signal.signal(_SIGINT, previous_handler)

    def _on_sigint(self, signum: int, frame: object) -> None:
        if not self._running:
            raise KeyboardInterrupt

    def _watch(self, read_fd: int) -> None:
        try:
            while data := os.read(read_fd, 64):  # b"": close() closed the writing end
                if _SIGINT in data and self._running:
                    self._interrupt()
        except OSError:
            pass
        finally:
            # This thread closes its own end: closed under a blocked read, the number could
            # be reused for a new pipe, and this thread would read (and lose) its signals.
            os.close(read_fd)

    def _run_in_thread(self, work: Callable[[], T]) -> T:
        if self._jobs is None:
            self._jobs = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(self._jobs,), name="supervm-calls",
                             daemon=True).start()
        job = _Job(work)
        self._jobs.put(job)
        while True:
            try:
                # A short timeout, so a pending Ctrl-C is seen within 50 ms even when the
                # signal landed on the worker thread and did not wake this one.
                if job.done.wait(0.05):
                    break
            except KeyboardInterrupt:
                self._interrupt()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def close(self) -> None:
        """Let the threads end (they are daemons: an unclosed worker keeps no process alive)."""
        if self._jobs is not None:
            self._jobs.put(None)
            self._jobs = None
        if self._wakeup is not None:
            os.close(self._wakeup[1])  # the watcher sees the end of its pipe and goes
            self._wakeup = None
            if self._watcher is not None:
                # It holds the session (through ``interrupt``): let it go before returning.
                self._watcher.join(timeout=1.0)
                self._watcher = None


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not None:
        try:
            job.result = job.work()
        except BaseException as exc:
            job.error = exc
        finally:
            job.done.set()
