"""The SuperVM runtime: load contracts and call their exports, atomically, metered and traced."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import ChainContext, Limits, check_fuel
from .engine import EngineHandle, engine_for
from .errors import (
    BadArgumentsError,
    CallError,
    Frame,
    HostFaultError,
    NoSuchExportError,
    TrapError,
)
from .executor import Executor, make_executor
from .files import read_file
from .host import CallState, HostCallHook
from .modules import Contract, check_imports, compile_contract
from .storage import MemoryStorage, Storage
from .trace import HostCall, StorageChange
from .values import NUMERIC, ArgsConverter, Value, args_converter

#: What a module can be given as: WAT text, the binary's bytes, or a loaded contract.
Module = Contract | bytes | bytearray | memoryview | str

#: Modules given as bytes or text that the runtime keeps compiled for calls that name them again
#: (``execute_with_context(wasm, ...)`` in a loop); the oldest goes first.
SOURCES_KEPT = 32


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event in the runtime's log: emitted by call number ``call_id`` as its ``index``-th."""

    call_id: int
    index: int
    data: bytes


@dataclass(slots=True)
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
        self._engine: EngineHandle | None = None
        self._executor: Executor | None = None
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
        return self._engine

    def load(self, source: bytes | bytearray | memoryview | str,
             name: str = "<module>") -> Contract:
        """Compile a module (binary or WAT text). Raises a :class:`ModuleError` subclass."""
        return compile_contract(self.engine, source, name=name,
                                max_size=self.limits.max_module_size, cache_dir=self.cache_dir)

    def load_file(self, path: str | Path) -> Contract:
        """Load a ``.wat`` or ``.wasm`` file (:class:`FileError` if it cannot be read).

        WebAssembly text may be up to four times ``max_module_size``; the binary it gives is
        then checked against the limit itself.
        """
        data = read_file(path, limit=4 * self.limits.max_module_size, what="module")
        return self.load(data, name=str(path))

    def _contract(self, module: Module) -> Contract:
        if isinstance(module, Contract):
            return module
        if isinstance(module, bytearray | memoryview):
            module = bytes(module)
        elif not isinstance(module, bytes | str):
            raise TypeError(f"a module is bytes, WAT text or a Contract, not "
                            f"{type(module).__name__}")
        key = (self.limits.max_wasm_stack, module)
        sources = self._sources
        contract = sources.get(key)
        if contract is None:
            contract = self.load(module)
            if len(sources) >= SOURCES_KEPT:
                del sources[next(iter(sources))]  # the oldest
            sources[key] = contract
        return contract

    # --- calling ---------------------------------------------------------------------------

    def call(
        self,
        module: Module,
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
        convert = contract.converters.get(export)
        if convert is None:
            convert = contract.converters[export] = _prepare(contract, export)
        values = convert(args)
        limits = self.limits
        fuel_limit = limits.fuel if fuel is None else check_fuel(fuel)  # Limits checked its own
        ctx = context or self.context
        with self._lock:
            executor = self._get_executor()
            self.calls_made += 1
            call_id = self.calls_made
            state = CallState(self._storage, ctx, limits,
                              trace=self.trace if trace is None else trace, hook=hook)
            started = time.perf_counter()
            try:
                results = executor.run(contract, export, values, state, fuel_limit)
            except CallError as error:
                if isinstance(error, TrapError):
                    error.frames = _named(error.frames, contract.info.export_names)
                error.trace, error.trace_truncated = state.trace, state.trace_truncated
                error.fuel_used = state.fuel_used
                error.export = export
                error.memory = state.memory.snapshot() if keep_memory and state.memory else None
                raise
            finally:
                memory = state.memory.snapshot() if keep_memory and state.memory else None
                state.memory = None  # releases the store
            elapsed = time.perf_counter() - started
            changes = self._commit(state, call_id, dry_run)
            return CallResult(
                call_id, export, values, results, state.events, state.fuel_used, fuel_limit,
                changes, state.trace, state.trace_truncated, elapsed, ctx, not dry_run,
                memory,
            )

    def _get_executor(self) -> Executor:
        executor = self._executor
        if executor is None or executor.engine.settings["max_wasm_stack"] != \
                self.limits.max_wasm_stack:
            executor = self._executor = make_executor(self.engine)
        return executor

    def _commit(self, state: CallState, call_id: int, dry_run: bool) -> list[StorageChange]:
        if not state.writes and not state.events:
            return []
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

    def execute_add(self, wasm: Module, a: int, b: int) -> int:
        """Call the module's ``add(a, b)`` export and return its result (Demo 1)."""
        result = self.call(wasm, "add", (a, b)).value
        if not isinstance(result, int):
            raise BadArgumentsError("add must return one integer")
        return result

    def execute_with_context(
        self, wasm: Module, func: str, block_number: int, timestamp: int
    ) -> tuple[int | float | tuple[int | float, ...] | None, list[bytes], int, int]:
        """Call ``func`` in the given block; returns (result, events, block_number, timestamp)."""
        result = self.call(wasm, func, context=ChainContext(block_number, timestamp))
        return result.value, result.events, block_number, timestamp


def _prepare(contract: Contract, export: str) -> ArgsConverter:
    """Check once that ``export`` can be called, and build its argument converter."""
    info = contract.info.function(export)
    if info is None:
        raise NoSuchExportError(export, [f.name for f in contract.info.functions])
    check_imports(contract)
    for t in info.results:
        if t not in NUMERIC:
            raise BadArgumentsError(f"{export} returns {t}, which SuperVM cannot return")
    return args_converter(export, info.params)


def _named(frames: list[Frame], export_names: dict[int, str]) -> list[Frame]:
    """Frames with export names where the module's name section has none."""
    return [
        replace(f, func_name=export_names[f.func_index])
        if f.func_name is None and f.func_index in export_names else f
        for f in frames
    ]
