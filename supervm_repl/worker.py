"""Running calls in a worker thread, so that Ctrl-C in the shell's thread can stop them.

While wasm runs, the interpreter cannot deliver a KeyboardInterrupt to the thread running it; the
thread that waits here can, and answers it by interrupting the runtime.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class _Job:
    """One piece of work for the worker thread, and its outcome."""

    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class Worker:
    """One long-lived thread that runs work handed to it (a thread per call would cost more
    than many calls). ``interrupt`` is called when Ctrl-C arrives while work runs."""

    def __init__(self, interrupt: Callable[[], None]) -> None:
        self._interrupt = interrupt
        self._jobs: queue.SimpleQueue[_Job | None] | None = None

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` in the worker thread and return its result (or raise its error).

        A KeyboardInterrupt in the calling thread calls ``interrupt`` and keeps waiting: the
        work ends as it ends (for a call, with CallInterruptedError; a call that had already
        finished keeps its result).
        """
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
        """Let the thread end (it is a daemon: an unclosed worker does not keep the process)."""
        if self._jobs is not None:
            self._jobs.put(None)
            self._jobs = None


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not None:
        try:
            job.result = job.work()
        except BaseException as exc:
            job.error = exc
        finally:
            job.done.set()
