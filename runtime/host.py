"""The host side of one call: its view of storage, its events, guest memory and the trace.

A :class:`CallState` exists for the duration of one call. Host functions (see :mod:`runtime.abi`)
read and write through it; nothing reaches the real storage until the runtime commits
``writes`` after the call returned normally.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING

from .config import ChainContext, Limits
from .errors import HostFaultError, LimitExceededError, SuperVMError, TrapError
from .storage import Storage
from .trace import HostCall

if TYPE_CHECKING:
    from .abi import HostFunction

#: Called before each host call runs, with the call state and the (not yet complete) entry.
HostCallHook = Callable[["CallState", HostCall], None]
#: Called at each probe of a debug build, with the call state and the probe's id.
ProbeHook = Callable[["CallState", int], None]

#: Fuel a debug build's probe costs (``i32.const`` 1 + ``call`` 1, measured with wasmtime 50).
PROBE_FUEL = 2


class GuestMemory:
    """Bounds-checked access to a guest's linear memory.

    ``Memory.read`` in the bindings clips out-of-range reads silently, so all access goes through
    a memoryview of the raw buffer, refreshed whenever the memory's size changes (growth may
    move it).
    """

    __slots__ = ("_length", "_memory", "_store", "_view")

    def __init__(self, memory: object, store: object) -> None:
        self._memory, self._store = memory, store
        self._length = -1
        self._view = memoryview(b"")

    def view(self) -> memoryview:
        """The current memory as a writable memoryview."""
        length = self._memory.data_len(self._store)  # type: ignore[attr-defined]
        if length != self._length:
            self._length = length
            if length == 0:
                self._view = memoryview(bytearray())
            else:
                ptr = self._memory.data_ptr(self._store)  # type: ignore[attr-defined]
                address = ctypes.addressof(ptr.contents)
                self._view = memoryview((ctypes.c_ubyte * length).from_address(address)).cast("B")
        return self._view

    def view_to(self, end: int) -> memoryview:
        """A view covering at least ``end`` bytes if memory is that large (the current view)."""
        return self.view()

    def size(self) -> int:
        return len(self.view())

    def snapshot(self) -> bytes:
        """A copy of the whole memory."""
        return bytes(self.view())


class CallState:
    """Everything one call can see and change; committed only if the call returns normally."""

    __slots__ = ("call_id", "calls", "context", "counting", "events", "failure", "fuel",
                 "fuel_used", "held", "hook", "last_value", "limits", "max_held", "max_trace",
                 "memory", "probe_hook", "reads", "refuel", "storage", "trace",
                 "trace_truncated", "tracing", "writes")

    def __init__(
        self,
        storage: Storage,
        context: ChainContext,
        limits: Limits,
        *,
        trace: bool = True,
        hook: HostCallHook | None = None,
    ) -> None:
        self.storage = storage
        #: The call's number (set by the runtime before it runs).
        self.call_id = 0
        self.context = context
        self.limits = limits
        self.max_trace = limits.max_trace
        #: Bytes this call holds, against ``limits.max_call_bytes`` (see :meth:`hold`).
        self.held = 0
        self.max_held = limits.max_call_bytes
        #: Host calls made so far, and whether the current one is among the first
        #: ``max_trace`` (whose payloads a trace keeps, and which are therefore counted).
        self.calls = 0
        self.counting = True
        self.writes: dict[bytes, bytes | None] = {}
        #: The value each key had in storage when the call first read it.
        self.reads: dict[bytes, bytes | None] = {}
        self.events: list[bytes] = []
        self.last_value: bytes | None = None
        self.tracing = trace
        self.trace: list[HostCall] = []
        self.trace_truncated = False
        self.hook = hook
        #: Called at each probe of a debug build (see :meth:`probe`).
        self.probe_hook: ProbeHook | None = None
        self.memory: GuestMemory | None = None
        self.fuel: Callable[[], int] = _no_fuel
        #: Sets the fuel left (the executor's; a probe gives back what it cost).
        self.refuel: Callable[[int], None] = _no_refuel
        self.fuel_used = 0
        #: The failure a host function ended the call with (it may surface as a wasm trap).
        self.failure: SuperVMError | None = None

    def release(self) -> None:
        """Let go of the call's instance (its store, linear memory and, under the pooling
        allocator, its slot) once the call has ended; what it recorded stays."""
        self.memory = None
        self.fuel, self.refuel = _no_fuel, _no_refuel

    # --- storage as this call sees it ----------------------------------------------------

    def read(self, key: bytes) -> bytes | None:
        """The value of ``key`` for the contract, seeing this call's own earlier writes.

        What the call reads from storage is remembered (:attr:`reads`): its commit checks that
        those keys still hold it.
        """
        if key in self.writes:
            return self.writes[key]
        value = self.storage.get(key)
        self.reads.setdefault(key, value)
        return value

    def write(self, key: bytes, value: bytes | None) -> bytes | None:
        """Record a write (``None`` deletes); returns the previous value (for the trace: the
        contract does not see it, so it is not a read)."""
        writes = self.writes
        old = writes[key] if key in writes else self.storage.get(key)
        writes[key] = value
        return old

    # --- guest memory --------------------------------------------------------------------

    def load(self, fn: HostFunction, args: tuple[int, ...], ptr: int, length: int,
             what: str) -> bytes:
        """Copy ``length`` bytes at ``ptr`` out of guest memory, or trap naming the call."""
        memory = self.memory
        if memory is not None:
            end = ptr + length
            view = memory.view_to(end)
            if end <= len(view):
                return bytes(view[ptr:end])
        raise self._outside(fn, args, ptr, length, what)

    def store(self, fn: HostFunction, args: tuple[int, ...], ptr: int, data: bytes,
              what: str) -> None:
        """Copy ``data`` into guest memory at ``ptr``, or trap naming the call."""
        memory = self.memory
        if memory is not None:
            end = ptr + len(data)
            view = memory.view_to(end)
            if end <= len(view):
                view[ptr:end] = data
                return
        raise self._outside(fn, args, ptr, len(data), what)

    def _outside(self, fn: HostFunction, args: tuple[int, ...], ptr: int, length: int,
                 what: str) -> TrapError:
        if self.memory is None:
            return self.fault(fn, args, "the module exports no memory named 'memory'")
        size = self.memory.size()
        return self.fault(
            fn, args, f"{what} 0x{ptr:x}..0x{ptr + length:x} is outside memory ({size} bytes)")

    # --- failures ------------------------------------------------------------------------

    def fault(self, fn: HostFunction, args: tuple[int, ...], reason: str) -> TrapError:
        """A trap caused by the guest inside host function ``fn``."""
        return TrapError("host", f"{fn.format_call(args)}: {reason}", host_function=fn.qualname)

    def hold(self, fn: HostFunction, args: tuple[int, ...], size: int) -> None:
        """Count ``size`` more bytes held by the call, or end it with ``max_call_bytes``.

        Called before the bytes are copied, so a call never holds more than the limit.
        """
        held = self.held + size
        if held > self.max_held:
            raise self.over_limit(fn, args, "max_call_bytes", held)
        self.held = held

    def over_limit(self, fn: HostFunction, args: tuple[int, ...], limit: str,
                   value: int) -> LimitExceededError:
        return LimitExceededError(limit, value, getattr(self.limits, limit),
                                  where=fn.format_call(args))

    # --- a debug build's probes --------------------------------------------------------

    def probe(self, probe_id: int) -> None:
        """A debug build reached probe ``probe_id``: give back the probe's fuel, so the call
        uses what the original module would, then tell :attr:`probe_hook`."""
        fuel = self.fuel()
        if fuel > 0:
            # Not at 0: wasmtime reads 0 after an overdraft, and a loop must still run out.
            self.refuel(fuel + PROBE_FUEL)
        if self.probe_hook is not None:
            self.probe_hook(self, probe_id)

    # --- dispatch ------------------------------------------------------------------------

    def dispatch(self, fn: HostFunction, args: tuple[int, ...]) -> int | None:
        """Run host function ``fn`` for the guest, recording it in the trace."""
        entry: HostCall | None = None
        self.calls += 1
        self.counting = self.calls <= self.max_trace
        if self.tracing:
            trace = self.trace
            if len(trace) < self.max_trace:
                entry = HostCall(len(trace), fn.qualname, args, self.fuel())
                trace.append(entry)
            else:
                self.trace_truncated = True
        try:
            if self.hook is not None:
                self.hook(self, entry or HostCall(-1, fn.qualname, args, self.fuel()))
            result = fn.impl(self, entry, *args)
        except SuperVMError as exc:
            if entry is not None:
                entry.error = exc.message
            self.failure = exc
            raise
        except Exception as exc:
            failure = HostFaultError(fn.qualname, exc)
            failure.__cause__ = exc
            if entry is not None:
                entry.error = failure.message
            self.failure = failure
            raise failure from exc
        if entry is not None:
            entry.result = result
        return result


def _no_fuel() -> int:
    return 0


def _no_refuel(fuel: int) -> None:
    pass
