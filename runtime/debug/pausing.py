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
from .source import DebugBuild, Stop, Tracker


@dataclass(frozen=True)
class Paused:
    """The call stopped before host call ``entry`` (its step number is ``entry.index``), or,
    ``entry`` None, before the source line of ``stop`` (a call running on its debug build).

    ``inputs`` are the byte strings the host call is about to read (it has not run yet);
    ``stop`` says where in the source the call is (None without debug information).
    """

    call_id: int
    export: str
    entry: HostCall | None
    inputs: dict[str, bytes]
    breakpoint: Breakpoint | None
    stop: Stop | None = None

    @property
    def step(self) -> int:
        """The host call it is before (at a line: the number of host calls made so far)."""
        if self.entry is not None:
            return self.entry.index
        return self.stop.hosts_done if self.stop is not None else 0


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

    ``stepping`` pauses before the first host call (or, with a ``build``, the first source
    line); otherwise only ``breakpoints`` (consulted live, so breakpoints set while paused
    apply) pause it. With ``build`` (the contract's debug build) the call runs on it and can
    also pause at source lines: line and function breakpoints, and the line-stepping modes of
    :meth:`resume`.
    """

    def __init__(self, runtime: Runtime, contract: Contract, export: str, args: Sequence[Any],
                 *, breakpoints: Breakpoints | None = None, stepping: bool = False,
                 build: DebugBuild | None = None, **call_options: Any) -> None:
        self.runtime, self.contract, self.export, self.args = runtime, contract, export, args
        self.breakpoints = breakpoints if breakpoints is not None else Breakpoints()
        self.build = build
        self.tracker = Tracker(build) if build is not None else None
        # How the call goes on: "continue", "step" (to the next host call), or with a build
        # "into" (the next line), "next" (the next line in this function or a caller),
        # "finish" (the first line after this function returns).
        self.mode = ("into" if build is not None else "step") if stepping else "continue"
        self._from: Stop | None = None
        self._entered: int | None = None
        self.call_options = call_options
        #: Where each host call so far was made (with a build; the trace's own order).
        self.host_sites: list[Stop | None] = []
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
        """``continue`` to the next breakpoint or the end, ``step`` to the next host call, or
        (on a debug build) ``into``, ``next`` or ``finish`` by source lines."""
        if mode not in ("continue", "step", "into", "next", "finish"):
            raise ValueError(f"resume mode {mode!r}")
        if mode in ("into", "next", "finish") and self.build is None:
            raise UsageError("the call runs without debug information: line stepping needs "
                             "a contract with source lines (DWARF, a source map or WAT)")
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
            contract = self.build.contract if self.build is not None else self.contract
            result = self.runtime.call(
                contract, self.export, self.args, hook=self._hook,
                probe_hook=self._probe if self.build is not None else None,
                **self.call_options)
        except SuperVMError as exc:
            self._events.put(Finished(None, exc))
        except BaseException as exc:  # never lose the controlling thread's wait
            error = CallInterruptedError(f"debugged call failed: {type(exc).__name__}: {exc}")
            self._events.put(Finished(None, error))
        else:
            self._events.put(Finished(result, None))

    def _where(self, kind: str, state: CallState, host: int | None = None) -> Stop | None:
        tracker = self.tracker
        if tracker is None:
            return None
        return tracker.stop(kind, len(state.trace) - (kind == "host"), host)

    def _hook(self, state: CallState, entry: HostCall) -> None:
        fn = abi.BY_QUALNAME[entry.func]
        inputs = read_inputs(state, entry)
        site = self._where("host", state, entry.index)
        if site is not None:
            self.host_sites.append(site)
        hit = self.breakpoints.hit(entry, condition_values(fn, entry, inputs))
        # A stepped call stops at whatever comes first, a source line or a host call.
        first = self.mode == "into" and self._from is None
        if hit is None and self.mode != "step" and not first:
            return
        self._pause(state, Paused(state.call_id, self.export, entry, inputs, hit, site))

    def _probe(self, state: CallState, probe_id: int) -> None:
        tracker = self.tracker
        assert tracker is not None
        kind = tracker.on_probe(probe_id)
        if kind == "entry":
            self._entered = tracker.top.func_index if tracker.top is not None else None
            return
        if kind != "line":
            return
        entered, self._entered = self._entered, None
        probe = tracker.build.probes[probe_id]
        depth = tracker.depth
        values = {"fuel": state.fuel(), "step": len(state.trace), "depth": depth}
        hit = self.breakpoints.hit_place(probe.offset, entered, values) \
            if self.breakpoints.source_active else None
        if hit is None and not self._steps_here(depth, tracker.location):
            return
        self._pause(state, Paused(state.call_id, self.export, None, {}, hit,
                                  self._where("line", state)))

    def _steps_here(self, depth: int, location: Any) -> bool:
        """Whether the line-stepping mode stops at this line."""
        mode, start = self.mode, self._from
        if mode not in ("into", "next", "finish"):
            return False
        if start is None:
            return True
        if mode == "finish":
            return depth < start.depth
        moved = location != start.location and (
            location is None or start.location is None or location.line != start.location.line
            or location.file != start.location.file)
        if mode == "into":
            return moved or depth != start.depth
        return depth < start.depth or (depth == start.depth and moved)

    def _pause(self, state: CallState, paused: Paused) -> None:
        """Stop here: report ``paused`` and serve commands until told how to go on."""
        self._events.put(paused)
        while True:
            command, payload = self._commands.get()
            if command == "inspect":
                fn_, reply = payload
                try:
                    reply.put((True, fn_(state)))
                except BaseException as exc:
                    reply.put((False, exc))
            elif command == "abort":
                raise _Aborted(paused.step)
            else:
                self.mode, self._from = command, paused.stop
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
