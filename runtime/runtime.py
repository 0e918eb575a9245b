"""The SuperVM runtime: load contracts and call their exports, atomically, metered and traced."""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from . import abi
from .config import WASM_PAGE, ChainContext, Limits
from .engine import EngineHandle, engine_for
from .errors import (
    BadArgumentsError,
    CallError,
    CallInterruptedError,
    Frame,
    HostFaultError,
    LimitExceededError,
    NoSuchExportError,
    OutOfFuelError,
    SuperVMError,
    TrapError,
)
from .host import CallState, GuestMemory, HostCallHook
from .modules import Contract, check_imports, compile_contract
from .storage import MemoryStorage, Storage
from .trace import HostCall
from .values import NUMERIC, Value, convert_args

_MEMORY_MINIMUM = re.compile(r"minimum size of (\d+) pages exceeds memory limits")


@dataclass(frozen=True, slots=True)
class StorageChange:
    """A key the call changed: ``old`` → ``new`` (``None`` = absent)."""

    key: bytes
    old: bytes | None
    new: bytes | None


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event in the runtime's log: emitted by call number ``call_id`` as its ``index``-th."""

    call_id: int
    index: int
    data: bytes


@dataclass
class CallResult:
    """The outcome of a call that returned normally."""

    call_id: int
    export: str
    args: list[Value]
    results: list[Value]
    events: list[bytes]
    fuel_used: int
    fuel_limit: int
    storage_changes: list[StorageChange]
    trace: list[HostCall]
    trace_truncated: bool
    elapsed: float
    context: ChainContext
    committed: bool
    memory: bytes | None = field(default=None, repr=False)

    @property
    def value(self) -> int | float | tuple[int | float, ...] | None:
        """The single result as a Python number, a tuple for multi-value, ``None`` for none."""
        if not self.results:
            return None
        if len(self.results) == 1:
            return self.results[0].value
        return tuple(v.value for v in self.results)


class Runtime:
    """Runs contract exports against a :class:`Storage`, one fresh instance per call.

    A call's storage writes and events are committed only if it returns normally. The runtime
    also keeps the session's event log (:attr:`event_log`). Calls on one runtime are
    serialised; :meth:`interrupt` may be called from any thread.
    """

    def __init__(
        self,
        storage: Storage | None = None,
        *,
        limits: Limits | None = None,
        context: ChainContext | None = None,
        trace: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        self._storage = storage if storage is not None else MemoryStorage()
        self.limits = limits or Limits()
        self.context = context or ChainContext()
        self.trace = trace
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.event_log: list[LoggedEvent] = []
        self.calls_made = 0
        self._lock = threading.RLock()
        self._state: CallState | None = None
        self._engine: EngineHandle | None = None
        self._linker: wasmtime.Linker | None = None
        self._pres: weakref.WeakKeyDictionary[Contract, wasmtime.InstancePre] = (
            weakref.WeakKeyDictionary()
        )
        self._sources: dict[tuple[int, str | bytes], Contract] = {}

    @property
    def storage(self) -> Storage:
        """The storage backend calls read and commit to."""
        return self._storage

    # --- loading ---------------------------------------------------------------------------

    @property
    def engine(self) -> EngineHandle:
        if self._engine is None or self._engine.settings["max_wasm_stack"] != \
                self.limits.max_wasm_stack:
            self._engine = engine_for(self.limits.max_wasm_stack)
            self._linker = None
        return self._engine

    def load(self, source: bytes | str, name: str = "<module>") -> Contract:
        """Compile a module (binary or WAT text). Raises a :class:`ModuleError` subclass."""
        return compile_contract(self.engine, source, name=name,
                                max_size=self.limits.max_module_size, cache_dir=self.cache_dir)

    def load_file(self, path: str | Path) -> Contract:
        """Load a ``.wat`` or ``.wasm`` file (``OSError`` if it cannot be read)."""
        path = Path(path)
        size = path.stat().st_size
        if size > 4 * self.limits.max_module_size:
            raise LimitExceededError("max_module_size", size, self.limits.max_module_size,
                                     where=str(path))
        return self.load(path.read_bytes(), name=str(path))

    def _contract(self, module: Contract | bytes | str) -> Contract:
        if isinstance(module, Contract):
            return module
        key = (self.limits.max_wasm_stack, module)
        contract = self._sources.get(key)
        if contract is None:
            contract = self._sources[key] = self.load(module)
        return contract

    def _instance_pre(self, contract: Contract) -> wasmtime.InstancePre:
        pre = self._pres.get(contract)
        if pre is None:
            if contract.engine is not self.engine:
                # The limits changed the engine since the contract was loaded.
                contract = self.load(contract.wasm, contract.name)
            pre = self._pres[contract] = self._get_linker().instantiate_pre(contract.module)
        return pre

    def _get_linker(self) -> wasmtime.Linker:
        if self._linker is None:
            linker = wasmtime.Linker(self.engine.engine)
            for fn in abi.HOST_FUNCTIONS:
                functype = wasmtime.FuncType(
                    [_valtype(t) for t in fn.param_types], [_valtype(t) for t in fn.results]
                )
                linker.define_func(fn.module, fn.name, functype, self._callback(fn))
            self._linker = linker
        return self._linker

    def _callback(self, fn: abi.HostFunction) -> Any:
        def callback(*args: int) -> int | None:
            # The bindings hand i32s over signed; the ABI's pointers and lengths are unsigned.
            return self._state.dispatch(fn, tuple(a & 0xFFFF_FFFF for a in args))  # type: ignore[union-attr]
        return callback

    # --- calling ---------------------------------------------------------------------------

    def call(
        self,
        module: Contract | bytes | str,
        export: str,
        args: Sequence[Any] = (),
        *,
        context: ChainContext | None = None,
        fuel: int | None = None,
        dry_run: bool = False,
        trace: bool | None = None,
        keep_memory: bool = False,
        hook: HostCallHook | None = None,
    ) -> CallResult:
        """Call ``export`` on a fresh instance of ``module``.

        ``context`` defaults to :attr:`context`, ``fuel`` to ``limits.fuel``. With ``dry_run``
        nothing is committed. ``keep_memory`` copies the final linear memory into the result.
        ``hook`` runs before every host call (the debugger pauses there). Raises
        :class:`CallError` subclasses for calls that fail (nothing committed), and
        :class:`NoSuchExportError`, :class:`BadArgumentsError` or a module error before running.
        """
        contract = self._contract(module)
        info = contract.info.function(export)
        if info is None:
            raise NoSuchExportError(export, [f.name for f in contract.info.functions])
        check_imports(contract)
        values = convert_args(export, info.params, args)
        for t in info.results:
            if t not in NUMERIC:
                raise BadArgumentsError(f"{export} returns {t}, which SuperVM cannot return")
        limits = self.limits
        fuel_limit = limits.fuel if fuel is None else fuel
        if isinstance(fuel_limit, bool) or not isinstance(fuel_limit, int) or fuel_limit < 1:
            raise BadArgumentsError(f"fuel must be a positive integer, got {fuel_limit!r}")
        ctx = context or self.context
        with self._lock:
            pre = self._instance_pre(contract)
            self.calls_made += 1
            call_id = self.calls_made
            state = CallState(self._storage, ctx, limits,
                              trace=self.trace if trace is None else trace, hook=hook)
            store = wasmtime.Store(self.engine.engine)
            store.set_limits(memory_size=limits.max_memory_pages * WASM_PAGE,
                             table_elements=limits.max_table_elements)
            store.set_fuel(fuel_limit)
            store.set_epoch_deadline(1)
            state.fuel = store.get_fuel
            outer, self._state = self._state, state
            started = time.perf_counter()
            try:
                raw = self._run(pre, store, state, export, values)
            except BaseException as exc:
                error = _call_error(exc, state, fuel_limit, limits)
                error.trace, error.trace_truncated = state.trace, state.trace_truncated
                error.fuel_used = fuel_limit - store.get_fuel()
                error.export = export
                error.memory = state.memory.snapshot() if keep_memory and state.memory else None
                if error is exc:
                    raise
                raise error from (exc if isinstance(error, HostFaultError) else None)
            finally:
                self._state = outer
            elapsed = time.perf_counter() - started
            results = _results(info.results, raw)
            memory = state.memory.snapshot() if keep_memory and state.memory else None
            changes = self._commit(state, call_id, dry_run)
            return CallResult(
                call_id, export, values, results, state.events,
                fuel_limit - store.get_fuel(), fuel_limit, changes, state.trace,
                state.trace_truncated, elapsed, ctx, not dry_run, memory,
            )

    def _run(self, pre: wasmtime.InstancePre, store: wasmtime.Store, state: CallState,
             export: str, values: list[Value]) -> Any:
        instance = pre.instantiate(store)
        exports = instance.exports(store)
        memory = exports.get("memory")
        if isinstance(memory, wasmtime.Memory):
            state.memory = GuestMemory(memory, store)
        func = exports[export]
        return func(store, *[v.value for v in values])  # type: ignore[operator]

    def _commit(self, state: CallState, call_id: int, dry_run: bool) -> list[StorageChange]:
        changes = []
        for key, new in state.writes.items():
            old = self._storage.get(key)
            if old != new:
                changes.append(StorageChange(key, old, new))
        if not dry_run:
            try:
                self._storage.apply([(c.key, c.new) for c in changes])
            except Exception as exc:
                error = HostFaultError("commit", exc)
                error.trace = state.trace
                raise error from exc
            self.event_log.extend(LoggedEvent(call_id, i, d) for i, d in enumerate(state.events))
        return changes

    def interrupt(self) -> None:
        """Stop the running call (from any thread) with :class:`CallInterruptedError`.

        It takes effect within a few milliseconds of wasm execution; a call blocked in a host
        function stops when it returns to wasm. Calls of other runtimes sharing the engine
        (same ``max_wasm_stack``) are interrupted too.
        """
        self.engine.engine.increment_epoch()

    # --- the v0.1.0 API --------------------------------------------------------------------

    def execute_add(self, wasm: bytes | str, a: int, b: int) -> int:
        """Call the module's ``add(a, b)`` export and return its result (Demo 1)."""
        result = self.call(wasm, "add", (a, b)).value
        if not isinstance(result, int):
            raise BadArgumentsError("add must return one integer")
        return result

    def execute_with_context(
        self, wasm: bytes | str, func: str, block_number: int, timestamp: int
    ) -> tuple[int | float | tuple[int | float, ...] | None, list[bytes], int, int]:
        """Call ``func`` in the given block; returns (result, events, block_number, timestamp)."""
        result = self.call(wasm, func, context=ChainContext(block_number, timestamp))
        return result.value, result.events, block_number, timestamp


def _valtype(name: str) -> wasmtime.ValType:
    return {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64,
            "f32": wasmtime.ValType.f32, "f64": wasmtime.ValType.f64}[name]()


def _results(types: tuple[str, ...], raw: Any) -> list[Value]:
    if not types:
        return []
    values = raw if len(types) > 1 else [raw]
    return [Value.of(t, v) for t, v in zip(types, values, strict=True)]


def _call_error(exc: BaseException, state: CallState, fuel_limit: int,
                limits: Limits) -> CallError:
    """The SuperVM error for whatever ended a call."""
    if isinstance(exc, CallError):
        return exc
    if isinstance(exc, SuperVMError):
        # Raised by a host function but not a call error: report it as the host's fault.
        return HostFaultError("runtime", exc)
    if isinstance(exc, wasmtime.Trap):
        if state.failure is not None:
            return state.failure  # type: ignore[return-value]
        code = exc.trap_code
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return OutOfFuelError(fuel_limit)
        if code == wasmtime.TrapCode.INTERRUPT:
            return CallInterruptedError()
        frames = [Frame(f.func_index, f.func_name, f.module_offset) for f in exc.frames]
        return TrapError(code.name.lower() if code is not None else "unknown",
                         _trap_reason(exc.message), frames)
    if isinstance(exc, wasmtime.WasmtimeError):
        text = str(exc)
        match = _MEMORY_MINIMUM.search(text)
        if match:
            return LimitExceededError("max_memory_pages", int(match[1]),
                                      limits.max_memory_pages, where="instantiation")
        if "table" in text and "exceeds" in text:
            return LimitExceededError("max_table_elements", 0, limits.max_table_elements,
                                      where=text.strip().splitlines()[0])
        return TrapError("instantiate", text.strip().splitlines()[0])
    if isinstance(exc, KeyboardInterrupt):
        return CallInterruptedError()
    if isinstance(exc, Exception):
        return HostFaultError("runtime", exc)
    raise exc


def _trap_reason(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "trap"
    return last.removeprefix("wasm trap: ")

