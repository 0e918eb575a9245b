"""Worker processes for campaigns.

Workers are started with the ``spawn`` method: a process forked after a wasmtime engine exists
inherits the engine's threads' locks in whatever state they were, and can hang. The pool is
kept for the life of the process once started (starting one costs a fresh interpreter and the
runtime's imports per worker) and replaced when a campaign asks for more workers.
"""

from __future__ import annotations

import atexit
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ..errors import SuperVMError

T = TypeVar("T")

#: Most worker processes a campaign may use.
MAX_WORKERS = 64

_pool: ProcessPoolExecutor | None = None
_pool_size = 0


class WorkerError(SuperVMError):
    """A campaign's worker process could not be started, or died."""

    kind = "worker"


def check_workers(workers: int) -> None:
    """Refuse a worker count that is not between 1 and :data:`MAX_WORKERS`."""
    if isinstance(workers, bool) or not isinstance(workers, int) or \
            not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")


def pool(workers: int) -> ProcessPoolExecutor:
    """The process pool, with at least ``workers`` processes."""
    global _pool, _pool_size
    if _pool is None or _pool_size < workers:
        close_pool()
        _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_ignore_sigint)
        _pool_size = workers
    return _pool


def close_pool() -> None:
    """Stop the worker processes (done at exit)."""
    global _pool, _pool_size
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool, _pool_size = None, 0


atexit.register(close_pool)


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and stops the pool.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_shards(fn: Callable[[Any], T], tasks: Sequence[Any], workers: int) -> list[T]:
    """``fn`` over ``tasks`` in ``workers`` processes, results in task order."""
    try:
        return list(pool(workers).map(fn, tasks))
    except BrokenProcessPool as exc:
        close_pool()
        raise WorkerError(f"a worker process died: {exc}") from None
    except KeyboardInterrupt:
        close_pool()
        raise
