"""Running one call on wasmtime: the executors, and the choice between them.

An :class:`Executor` is the only thing that talks to wasmtime while a call runs: it
instantiates the contract fresh, binds the host ABI, runs the export and classifies how it
ended (through :func:`~runtime.executors.failures.enter_wasm`). :mod:`.public` implements it
on wasmtime's public Python API, :mod:`.fast` on its C API; :func:`make_executor` picks one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Protocol

from ..engine import EngineHandle
from ..host import CallState
from ..modules import Contract
from ..values import Value
from .public import PublicExecutor

log = logging.getLogger(__name__)

__all__ = ["Executor", "PublicExecutor", "make_executor"]


class Executor(Protocol):
    """Runs calls for one engine."""

    engine: EngineHandle
    #: A short name for diagnostics and benchmarks ("public", "fast").
    name: str

    def run(self, contract: Contract, export: str, args: Sequence[Value], state: CallState,
            fuel: int) -> list[Value]:
        """Run ``export`` on a fresh instance; set ``state.fuel_used`` and ``state.memory``.

        Raises a :class:`CallError` subclass (with nothing committed) if the call fails.
        """
        ...


_FALLBACK_LOGGED: set[str] = set()


def make_executor(engine: EngineHandle) -> Executor:
    """The fastest executor that works with the installed wasmtime.

    :class:`runtime.fastpath.FastExecutor` if it can be built and passes its self-check, else
    :class:`PublicExecutor` (said once at DEBUG level). ``SUPERVM_EXECUTOR=public`` or ``fast``
    forces one (``fast`` raises if the fast path cannot work); ``auto`` or unset chooses.
    """
    choice = os.environ.get("SUPERVM_EXECUTOR", "auto").strip().lower() or "auto"
    if choice not in ("auto", "public", "fast"):
        if choice not in _FALLBACK_LOGGED:
            _FALLBACK_LOGGED.add(choice)
            log.warning("SUPERVM_EXECUTOR=%r is not public, fast or auto; choosing automatically",
                        choice)
        choice = "auto"
    if choice == "public":
        return PublicExecutor(engine)
    try:
        from .fast import FastExecutor

        return FastExecutor(engine)
    except Exception as exc:
        if choice == "fast":
            raise
        reason = f"{type(exc).__name__}: {exc}"
        if reason not in _FALLBACK_LOGGED:
            _FALLBACK_LOGGED.add(reason)
            log.debug("fast call path unavailable (%s); using wasmtime's public API", reason)
        return PublicExecutor(engine)
