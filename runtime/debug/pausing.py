"""Pausing a running call inside its host calls.

:class:`PausableCall` runs a call on a thread of its own and pauses it before host calls: at
breakpoints, or before every one while stepping. While it is paused that thread serves
inspection requests (a wasmtime store must only be touched by the thread running it), and the
caller decides how it goes on: continue, step, or abort.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import abi
from ..errors import CallInterruptedError, SuperVMError, UsageError
from ..host import CallState
from ..modules import Contract
from ..outcome import CallResult
from ..runtime import Runtime
from ..trace import HostCall
from .breakpoints import Breakpoint, Breakpoints, condition_values, input_payloads


@dataclass(frozen=True)
class Paused:
    """The call stopped before host call ``entry`` (its step number is ``entry.index``).

    ``inputs`` are the byte strings the host call is about to read (it has not run yet).
    """

    call_id: int
    export: str
    entry: HostCall
    inputs: dict[str, bytes]
    breakpoint: Breakpoint | None


@dataclass(frozen=True)
class Finished:
    """The call ended: ``result`` if it returned normally, else ``error`` (a
    :class:`CallError`, or another :class:`SuperVMError` if it could not start, e.g. a
    missing import)."""

    result: CallResult | None
    error: SuperVMError | None


class _Aborted(CallInterruptedError):
    def __init__(self, step: int) -> None:
        super().__init__(f"call aborted in the debugger at step {step}; nothing was committed")


class PausableCall:
    """A call that pauses before host calls; drive it with :meth:`start` and :meth:`resume`.

    ``stepping`` pauses before the first host call; otherwise only ``breakpoints`` (consulted
    live, so breakpoints set while paused apply) pause it.
    """

    def __init__(self, runtime: Runtime, contract: Contract, export: str, args: Sequence[Any],
                 *, breakpoints: Breakpoints | None = None, stepping: bool = False,
                 **call_options: Any) -> None:
        self.runtime, self.contract, self.export, self.args = runtime, contract, export, args
        self.breakpoints = breakpoints if breakpoints is not None else Breakpoints()
        self.stepping = stepping
        self.call_options = call_options
        self.paused: Paused | None = None
        self.finished: Finished | None = None
        self._events: queue.Queue[Paused | Finished] = queue.Queue()
        self._commands: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> Paused | Finished:
        """Run until the first pause or the end."""
        self._thread = threading.Thread(target=self._run, name="supervm-debug-call", daemon=True)
        self._thread.start()
        return self._next()

    def resume(self, mode: str = "continue") -> Paused | Finished:
        """``continue`` to the next breakpoint or the end, or ``step`` to the next host call."""
        if mode not in ("continue", "step"):
            raise ValueError(f"resume mode {mode!r}")
        self._send(mode, None)
        return self._next()

    def abort(self) -> Finished:
        """End the paused call as failed; nothing is committed."""
        self._send("abort", None)
        outcome = self._next()
        assert isinstance(outcome, Finished)
        return outcome

    def inspect(self, fn: Callable[[CallState], Any]) -> Any:
        """Run ``fn(state)`` on the paused call's own thread and return what it returns."""
        reply: queue.Queue[tuple[bool, Any]] = queue.Queue()
        self._send("inspect", (fn, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value

    def interrupt(self) -> None:
        """Stop the running (not paused) call, e.g. on Ctrl-C."""
        self.runtime.interrupt()

    def _send(self, command: str, payload: Any) -> None:
        if self.paused is None:
            raise UsageError("the call is not paused")
        self._commands.put((command, payload))

    def _next(self) -> Paused | Finished:
        while True:
            try:
                # A timeout, so that a KeyboardInterrupt (Ctrl-C) is seen while the call runs:
                # it interrupts the call, which then finishes as interrupted.
                outcome = self._events.get(timeout=0.05)
                break
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                self.interrupt()
        self.paused = outcome if isinstance(outcome, Paused) else None
        if isinstance(outcome, Finished):
            self.finished = outcome
            if self._thread is not None:
                self._thread.join()
        return outcome

    def _run(self) -> None:
        try:
            result = self.runtime.call(self.contract, self.export, self.args, hook=self._hook,
                                       **self.call_options)
        except SuperVMError as exc:
            self._events.put(Finished(None, exc))
        except BaseException as exc:  # never lose the controlling thread's wait
            error = CallInterruptedError(f"debugged call failed: {type(exc).__name__}: {exc}")
            self._events.put(Finished(None, error))
        else:
            self._events.put(Finished(result, None))

    def _hook(self, state: CallState, entry: HostCall) -> None:
        fn = abi.BY_QUALNAME[entry.func]
        inputs = read_inputs(state, entry)
        hit = self.breakpoints.hit(entry, condition_values(fn, entry, inputs))
        if hit is None and not self.stepping:
            return
        self._events.put(Paused(state.call_id, self.export, entry, inputs, hit))
        while True:
            command, payload = self._commands.get()
            if command == "inspect":
                fn_, reply = payload
                try:
                    reply.put((True, fn_(state)))
                except BaseException as exc:
                    reply.put((False, exc))
            elif command == "abort":
                raise _Aborted(entry.index)
            else:
                self.stepping = command == "step"
                return


def read_inputs(state: CallState, entry: HostCall) -> dict[str, bytes]:
    """The byte strings host call ``entry`` is about to read from guest memory.

    Unreadable ranges (the guest's fault, reported when the call runs) are left out.
    """
    fn = abi.BY_QUALNAME[entry.func]
    out = {}
    view = state.memory.view() if state.memory is not None else memoryview(b"")
    for name, (p, n) in input_payloads(fn).items():
        ptr, length = entry.args[p], entry.args[n]
        if ptr + length <= len(view):
            out[name] = bytes(view[ptr:ptr + length])
    return out


def live_storage(state: CallState) -> dict[bytes, bytes]:
    """Storage as the paused call sees it (committed state plus its own writes), key order."""
    data = state.storage.snapshot()
    for key, value in state.writes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return dict(sorted(data.items()))
