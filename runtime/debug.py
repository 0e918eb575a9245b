"""The debugger's machinery: pausing a call inside host calls, and time travel through traces.

:class:`PausableCall` runs a call on a worker thread and pauses it before host calls (at
breakpoints, or every one when stepping). While paused, the worker thread itself serves
inspection requests, since a wasmtime store must only be touched by the thread running it.

:class:`History` keeps the session's calls; with the trace of each it rebuilds storage and
events as they were at any step, lists every access to a key, and re-runs a call from its
pre-call state to show memory at a step (checking the re-run reproduces the recorded trace).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import abi
from .breakpoints import Breakpoint, input_payloads
from .config import ChainContext
from .errors import CallError, CallInterruptedError, SuperVMError, UsageError
from .host import CallState
from .modules import Contract
from .rerun import ReplayDivergenceError, compare_traces, re_execute
from .runtime import CallResult, Runtime
from .storage import Storage
from .trace import EventEmit, HostCall, StorageChange, StorageWrite, events_at, writes_before

# --- pausing a live call ----------------------------------------------------------------------


@dataclass(frozen=True)
class Paused:
    """The call stopped before host call ``entry`` (its step number is ``entry.index``)."""

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
    """A call that pauses before host calls; drive it with :meth:`start`, :meth:`resume`.

    ``stepping`` pauses before the first host call; otherwise only breakpoints pause it.
    """

    def __init__(self, runtime: Runtime, contract: Contract, export: str, args: Sequence[Any],
                 *, breakpoints: Sequence[Breakpoint] = (), stepping: bool = False,
                 **call_options: Any) -> None:
        self.runtime, self.contract, self.export, self.args = runtime, contract, export, args
        # A list given is kept, not copied: breakpoints added while paused apply to the call.
        self.breakpoints = breakpoints if isinstance(breakpoints, list) else list(breakpoints)
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
        fn = _function(entry)
        inputs = read_inputs(state, entry)
        values: dict[str, bytes | int] = {name: arg for (name, _), arg in
                                          zip(fn.params, entry.args, strict=False)}
        values.update(inputs, fuel=entry.fuel, step=entry.index)
        hit = next((b for b in self.breakpoints if b.matches(entry, values)), None)
        if hit is None and not self.stepping:
            return
        if hit is not None:
            hit.hits += 1
        self._events.put(Paused(entry, inputs, hit))
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


def _function(entry: HostCall) -> abi.HostFunction:
    return abi.BY_QUALNAME[entry.func]


def read_inputs(state: CallState, entry: HostCall) -> dict[str, bytes]:
    """The byte strings host call ``entry`` is about to read from guest memory.

    Unreadable ranges (the guest's fault, reported when the call runs) are left out.
    """
    fn = _function(entry)
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


# --- time travel ------------------------------------------------------------------------------


@dataclass
class CallRecord:
    """One call of the session, or a direct storage edit (``contract`` None, ``edit`` says
    which: ``:set``, ``:restore``...)."""

    number: int
    contract: Contract | None
    export: str
    args: list[Any]
    context: ChainContext
    fuel_limit: int
    trace: list[HostCall]
    events: list[bytes]
    #: What the call committed; empty for failed calls and dry runs.
    changes: list[StorageChange] = field(default_factory=list)
    result: CallResult | None = None
    error: CallError | None = None
    elapsed: float = 0.0
    dry_run: bool = False
    #: The call's final linear memory (the session keeps it for its last call only).
    memory: bytes | None = field(default=None, repr=False)
    edit: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def is_call(self) -> bool:
        return self.contract is not None

    @property
    def call_id(self) -> int:
        return self.number

    @property
    def results(self) -> list[Any] | None:
        return None if self.result is None else self.result.results

    @property
    def fuel_used(self) -> int:
        if self.result is not None:
            return self.result.fuel_used
        return self.error.fuel_used if self.error is not None else 0

    @property
    def trace_truncated(self) -> bool:
        source = self.result if self.result is not None else self.error
        return bool(getattr(source, "trace_truncated", False))


@dataclass(frozen=True)
class KeyAccess:
    """A read or write of a key by a host call (or by a direct edit: ``step`` -1)."""

    call: int
    step: int
    func: str
    old: bytes | None
    new: bytes | None

    @property
    def is_write(self) -> bool:
        return self.step < 0 or self.func.endswith(("storage_set", "storage_delete"))

    @property
    def is_edit(self) -> bool:
        """A direct storage edit of the session (``:set``, ``:restore``...), not a host call."""
        return self.step < 0


class History:
    """The session's calls, and storage/events/memory as they were at any step of them."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.records: list[CallRecord] = []

    def add(self, record: CallRecord) -> CallRecord:
        self.records.append(record)
        return record

    def record(self, number: int) -> CallRecord:
        """The call numbered ``number`` (direct edits are not calls)."""
        for r in self.records:
            if r.number == number and r.is_call:
                return r
        raise UsageError(f"no call #{number} in this session")

    def _index(self, record: CallRecord) -> int:
        return next(i for i, r in enumerate(self.records) if r is record)

    def before(self, record: CallRecord) -> dict[bytes, bytes | None]:
        """Keys whose value before ``record`` differs from now: key → value then (None = absent)."""
        overlay: dict[bytes, bytes | None] = {}
        for later in reversed(self.records[self._index(record):]):
            for change in reversed(later.changes):
                overlay[change.key] = change.old
        return overlay

    def storage_at(self, record: CallRecord, step: int) -> dict[bytes, bytes]:
        """All of storage as the call saw it just before step ``step`` (``len(trace)``: after)."""
        data = self.storage.snapshot()
        for overlay in (self.before(record), writes_before(record.trace, step)):
            for key, value in overlay.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
        return dict(sorted(data.items()))

    def events_at(self, record: CallRecord, step: int) -> list[bytes]:
        return events_at(record.trace, step)

    def diff(self, record: CallRecord, a: int, b: int) -> tuple[list[StorageChange], list[bytes]]:
        """Storage changes and events between step ``a`` and step ``b`` of one call."""
        lo, hi = sorted((a, b))
        start = self.storage_at(record, lo)
        after = dict(start)
        events = []
        for entry in record.trace[lo:hi]:
            if isinstance(entry.effect, StorageWrite):
                if entry.effect.new is None:
                    after.pop(entry.effect.key, None)
                else:
                    after[entry.effect.key] = entry.effect.new
            elif isinstance(entry.effect, EventEmit):
                events.append(entry.effect.data)
        keys = sorted(set(start) | set(after))
        changes = [StorageChange(k, start.get(k), after.get(k)) for k in keys
                   if start.get(k) != after.get(k)]
        if a > b:
            changes = [StorageChange(c.key, c.new, c.old) for c in changes]
        return changes, events

    def key_history(self, key: bytes) -> list[KeyAccess]:
        """Every read and write of ``key`` by the session's calls, in order."""
        out = []
        for record in self.records:
            if not record.is_call:
                out += [KeyAccess(record.number, -1, record.edit or "edit", c.old, c.new)
                        for c in record.changes if c.key == key]
                continue
            for entry in record.trace:
                if entry.payloads.get("key") != key:
                    continue
                if isinstance(entry.effect, StorageWrite):
                    out.append(KeyAccess(record.number, entry.index, entry.func,
                                         entry.effect.old, entry.effect.new))
                else:
                    value = entry.payloads.get("value")
                    out.append(KeyAccess(record.number, entry.index, entry.func, value, value))
        return out

    def memory_at(self, runtime: Runtime, record: CallRecord, step: int) -> bytes:
        """Linear memory as it was when step ``step`` was entered (``len(trace)``: at the end).

        Re-runs the call deterministically from its pre-call state, without committing, and
        raises :class:`ReplayDivergenceError` if the re-run does not reproduce the trace.
        """
        if record.contract is None:
            raise UsageError(f"#{record.number} is not a call")
        rerun = re_execute(record.contract, record.export, record.args,
                           storage=self.storage_at(record, 0), context=record.context,
                           limits=runtime.limits, fuel=record.fuel_limit,
                           stop_at=step if step < len(record.trace) else None, keep_memory=True)
        divergence = compare_traces(record.trace, rerun.trace, upto=step)
        if divergence is not None:
            raise ReplayDivergenceError(
                f"re-running call #{record.number} diverged at {divergence}", divergence)
        return rerun.memory or b""
