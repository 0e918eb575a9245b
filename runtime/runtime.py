"""The SuperVM runtime: load contracts and call their exports, atomically, metered and traced.

The runtime owns every call: it numbers it (call ids come from the store, so they are unique
across processes sharing a SQLite file), runs it on a fresh instance, commits its writes and
events in one transaction (re-running it if another process changed a key it read), logs its
events, and tells its observers (the debugger's history) how it ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import event_log
from .config import ChainContext, Limits, check_fuel
from .engine import EngineHandle, engine_for
from .errors import (
    BadArgumentsError,
    CallError,
    Frame,
    HostFaultError,
    InvalidModuleError,
    NoSuchExportError,
    TrapError,
)
from .event_log import EventLog
from .executors import Executor, make_executor
from .executors.failures import detached
from .files import check_path, read_file
from .host import CallState, HostCallHook, ProbeHook
from .modules import Contract, check_imports, compile_contract
from .outcome import CallOutcome, CallResult, LoggedEvent
from .storage import MemoryStorage, Storage
from .toolchains import build, buildable
from .trace import StorageChange
from .values import NUMERIC, ArgsConverter, args_converter

__all__ = ["CallOutcome", "CallResult", "Edit", "LoggedEvent", "Runtime"]

#: What a module can be given as: WAT text, the binary's bytes, or a loaded contract.
Module = Contract | bytes | bytearray | memoryview | str

#: Modules given as bytes or text that the runtime keeps compiled for calls that name them again
#: (``execute_with_context(wasm, ...)`` in a loop); the oldest goes first.
SOURCES_KEPT = 32


@dataclass(frozen=True, slots=True)
class Edit:
    """A direct change of the state, not by a call: ``label`` says which (``:set``,
    ``:restore before``...); ``changes`` are the storage changes it made."""

    label: str
    changes: list[StorageChange]


#: Told of every finished call (its outcome, failed ones too) and every direct edit.
Observer = Callable[[CallResult | Edit], None]


class Runtime:
    """Runs contract exports against a :class:`Storage`, one fresh instance per call.

    A call's storage writes and events are committed, in one transaction, only if it returns
    normally. The runtime numbers calls, keeps the event log (:attr:`event_log`) and tells its
    :attr:`observers` about every finished call. Calls on one runtime are serialised;
    :meth:`interrupt` may be called from any thread.
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
        self.event_log = EventLog(self._storage)
        #: Told of every finished call and direct edit, in order (see :data:`Observer`).
        self.observers: list[Observer] = []
        self._lock = threading.RLock()
        self._engine: EngineHandle | None = None
        self._executor: Executor | None = None
        self._sources: dict[tuple[int, str | bytes], Contract] = {}
        #: Contracts compiled again for another engine: (stack, id) → (contract, compiled).
        self._recompiled: dict[tuple[int, int], tuple[Contract, Contract]] = {}
        #: The call running now, for :meth:`progress` (read from other threads).
        self._running: _Run | None = None
        # Ids continue after every call this store has logged (a store written by 0.2.0 has
        # no counter yet).
        self._storage.skip_call_ids(self.event_log.last_call_id())

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
        """Load a module file: ``.wat`` or ``.wasm``, or a contract source (``.ts``, ``.c``,
        ``.rs``, a ``Cargo.toml``) compiled first with debug information (see
        :mod:`runtime.toolchains`; builds are cached). Raises :class:`FileError` if it cannot be
        read, :class:`~runtime.toolchains.CompileError` or
        :class:`~runtime.toolchains.ToolchainError` if it cannot be built.

        WebAssembly text may be up to four times ``max_module_size``; the binary it gives is
        then checked against the limit itself.
        """
        path = Path(check_path(path, "module"))
        if buildable(path):
            built = build(path)
            contract = self.load(built.wasm, name=str(path))
            contract.debug_info = built.source_map
        else:
            data = read_file(path, limit=4 * self.limits.max_module_size, what="module")
            if path.suffix.lower() == ".wasm" and not data.startswith(b"\0asm"):
                # A .wasm file is read as a binary: text in it is a misnamed file, not WAT.
                raise InvalidModuleError(f"{path} is not a wasm binary ({_looks_like(data)})")
            contract = self.load(data, name=str(path))
        contract.path = path
        return contract

    def _contract(self, module: Module) -> Contract:
        if isinstance(module, Contract):
            if module.engine is self.engine:
                return module
            return self._for_engine(module)
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

    def _for_engine(self, contract: Contract) -> Contract:
        """``contract`` compiled for the current engine: a contract loaded before
        ``max_wasm_stack`` changed cannot be instantiated on the new one (wasmtime refuses
        modules of another engine). The same contract, with its name, file and debug
        information; compiled once per engine."""
        key = (self.limits.max_wasm_stack, id(contract))
        known = self._recompiled.get(key)
        if known is not None and known[0] is contract:
            return known[1]
        fresh = self.load(contract.wasm, name=contract.name)
        again = replace(contract, module=fresh.module, engine=fresh.engine)
        again.debug_info, again._source_map, again._source_map_read = (
            contract.debug_info, contract._source_map, contract._source_map_read)
        if len(self._recompiled) >= SOURCES_KEPT:
            del self._recompiled[next(iter(self._recompiled))]
        self._recompiled[key] = (contract, again)
        return again

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
        probe_hook: ProbeHook | None = None,
        meta: Mapping[str, bytes | None] | None = None,
        call_id: int | None = None,
    ) -> CallResult:
        """Call ``export`` on a fresh instance of ``module`` and commit what it did.

        ``context`` defaults to :attr:`context`, ``fuel`` to ``limits.fuel``. With ``dry_run``
        nothing is committed. ``keep_memory`` copies the final linear memory into the result.
        ``hook`` runs before every host call (the debugger pauses there), ``probe_hook`` at
        every probe of a debug build. ``meta`` are the embedder's meta writes, committed in the
        same transaction as the call. ``call_id`` reuses a number this store gave out (the
        debugger running again a call it showed). Raises
        :class:`CallError` subclasses for calls that fail (nothing committed; the error's
        ``outcome`` describes the call), and :class:`NoSuchExportError`,
        :class:`BadArgumentsError` or a module error before running.
        """
        contract = self._contract(module)
        convert = contract.converters.get(export)
        if convert is None:
            convert = contract.converters[export] = _prepare(contract, export)
        values = convert(args)
        limits = self.limits
        fuel_limit = limits.fuel if fuel is None else check_fuel(fuel)  # Limits checked its own
        run = _Run(self, contract, export, values, context or self.context, fuel_limit,
                   self.trace if trace is None else trace, keep_memory, hook, probe_hook)
        with self._lock:
            number = call_id if call_id is not None else self._storage.next_call_id()
            self._running = run
            try:
                outcome = run.once(number, changes=dry_run)
            finally:
                self._running = None
            outcome.dry_run = dry_run
            if outcome.ok and not dry_run and (outcome.events or run.state.writes or meta):
                self._commit(run, outcome, meta or {})
            self._notify(outcome)
        if outcome.error is not None:
            raise outcome.error
        return outcome

    def _commit(self, run: _Run, outcome: CallResult, meta: Mapping[str, bytes | None]) -> None:
        """Commit the call's writes and events; if another process changed what it read, run
        it again holding the store (so the second run commits), and update ``outcome``."""
        storage = self._storage
        try:
            changes = storage.commit(run.state.writes, _with_events(outcome, meta),
                                     run.state.reads)
            if changes is None:
                with storage.locked():
                    again = run.once(outcome.call_id, changes=False)
                    changes = [] if not again.ok else storage.commit(
                        run.state.writes, _with_events(again, meta))
                for name in CallResult.__slots__:
                    setattr(outcome, name, getattr(again, name))
                outcome.reruns = 1
                if outcome.error is not None:
                    outcome.error.outcome = outcome
                    return
        except Exception as exc:  # storage I/O: the call is not committed
            outcome.error = _commit_failed(outcome, exc)
            outcome.results = None
            return
        outcome.storage_changes = changes or []
        outcome.committed = True

    def _notify(self, event: CallResult | Edit) -> None:
        for observer in self.observers:
            observer(event)

    def _get_executor(self) -> Executor:
        executor = self._executor
        if executor is None or executor.engine.settings["max_wasm_stack"] != \
                self.limits.max_wasm_stack:
            executor = self._executor = make_executor(self.engine)
        return executor

    # --- changing the state directly ---------------------------------------------------------

    def edit(self, writes: Mapping[bytes, bytes | None], *, label: str,
             meta: Mapping[str, bytes | None] | None = None) -> list[StorageChange]:
        """Write keys directly (``None`` deletes), not through a contract, in one transaction
        with ``meta``; returns the changes and tells the observers."""
        with self._lock:
            changes = self._storage.commit(writes, meta or {}) or []
            self._notify(Edit(label, changes))
        return changes

    def replace_state(self, storage: Mapping[bytes, bytes], events: Sequence[LoggedEvent], *,
                      label: str, meta: Mapping[str, bytes | None] | None = None
                      ) -> list[StorageChange]:
        """Make storage exactly ``storage`` and the event log exactly ``events`` (restoring a
        saved state), in one transaction with ``meta``."""
        with self._lock, self._storage.locked():
            current = self._storage.snapshot()
            writes: dict[bytes, bytes | None] = {k: None for k in current if k not in storage}
            writes.update((k, v) for k, v in storage.items() if current.get(k) != v)
            log_meta = self.event_log.replacing(events)
            self._storage.skip_call_ids(max((e.call_id for e in events), default=0))
            changes = self._storage.commit(writes, {**log_meta, **(meta or {})}) or []
            self._notify(Edit(label, changes))
        return changes

    def progress(self) -> CallProgress | None:
        """How far the running call is (None when no call runs); safe from any thread. Its
        fuel is known as of its last host call (the engine's counter is read only by the
        thread running it)."""
        run = self._running
        state = getattr(run, "state", None) if run is not None else None
        if run is None or state is None:
            return None
        trace = state.trace
        last = trace[-1] if trace else None
        return CallProgress(run.export, state.calls,
                            None if last is None else max(run.fuel - last.fuel, 0))

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
    for t in info.params:
        if t not in NUMERIC:
            raise BadArgumentsError(f"{export} takes a parameter of type {t}: SuperVM calls "
                                    "exports with i32, i64, f32 and f64 arguments only")
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


@dataclass(frozen=True)
class CallProgress:
    """A running call as another thread sees it: its export, the host calls it has made, and
    the fuel it had used when it made the last one it recorded (None before any)."""

    export: str
    host_calls: int
    fuel_used: int | None


class _Run:
    """One call, ready to run (and to run again if its commit meets a conflict)."""

    __slots__ = ("args", "context", "contract", "export", "fuel", "hook", "keep_memory",
                 "probe_hook", "runtime", "state", "trace")

    def __init__(self, runtime: Runtime, contract: Contract, export: str, args: list[Any],
                 context: ChainContext, fuel: int, trace: bool, keep_memory: bool,
                 hook: HostCallHook | None, probe_hook: ProbeHook | None) -> None:
        self.runtime, self.contract, self.export, self.args = runtime, contract, export, args
        self.context, self.fuel, self.trace = context, fuel, trace
        self.keep_memory, self.hook, self.probe_hook = keep_memory, hook, probe_hook
        self.state: CallState

    def _as_original(self, error: CallError, state: CallState) -> tuple[CallError, int]:
        """A debug build's failed call, as the contract itself fails it.

        The debug build fails the same way, but wasmtime reports the fuel of some traps only
        as of the last probe or call, and a deep recursion overflows the stack sooner with
        probe frames: the original is run once more (nothing is committed either way) and its
        error, fuel and places are the call's. If it does not fail, the debug build's error
        stands, its places mapped back to the original's offsets.
        """
        original = self.contract.original
        assert original is not None
        plain = CallState(self.runtime.storage, self.context, self.runtime.limits, trace=False)
        plain.call_id = state.call_id
        try:
            self.runtime._get_executor().run(original, self.export, self.args, plain, self.fuel)
        except CallError as again:
            detached(again)
            if isinstance(again, TrapError):
                again.frames = _named(again.frames, original.info.export_names)
            return again, plain.fuel_used
        finally:
            plain.release()
        to_original = self.contract.original_offset or (lambda offset: offset)
        error.frames = [replace(f, module_offset=to_original(f.module_offset))
                        for f in error.frames]
        return error, state.fuel_used

    def once(self, call_id: int, *, changes: bool) -> CallResult:
        """Run the call; its outcome (failed ones carry their error, not raised). With
        ``changes``, the storage changes it would make are worked out (a dry run's)."""
        runtime = self.runtime
        executor = runtime._get_executor()
        state = self.state = CallState(runtime.storage, self.context, runtime.limits,
                                       trace=self.trace, hook=self.hook)
        state.call_id = call_id
        state.probe_hook = self.probe_hook
        started = time.perf_counter()
        results = error = memory = None
        try:
            results = executor.run(self.contract, self.export, self.args, state, self.fuel)
        except CallError as exc:
            error = detached(exc)
            if isinstance(exc, TrapError):
                exc.frames = _named(exc.frames, self.contract.info.export_names)
        finally:
            if self.keep_memory and state.memory is not None:
                memory = state.memory.snapshot()
            state.release()
        original = self.contract.original
        fuel_used = state.fuel_used
        if original is not None and error is not None:
            error, fuel_used = self._as_original(error, state)
        outcome = CallResult(
            call_id=call_id, export=self.export, args=self.args, context=self.context,
            fuel_limit=self.fuel, fuel_used=fuel_used,
            elapsed=time.perf_counter() - started, results=results, error=error,
            events=state.events, trace=state.trace, trace_truncated=state.trace_truncated,
            contract=original or self.contract, memory=memory)
        if error is not None:
            _attach(error, outcome)
        elif changes and state.writes:
            # What the dry run would have changed (a commit works this out inside its
            # transaction, against what is stored then).
            storage = runtime.storage
            outcome.storage_changes = [
                StorageChange(key, old, new) for key, new in state.writes.items()
                if (old := storage.get(key)) != new]
        return outcome


def _attach(error: CallError, outcome: CallResult) -> None:
    error.outcome = outcome
    error.trace, error.trace_truncated = outcome.trace, outcome.trace_truncated
    error.fuel_used, error.export, error.memory = outcome.fuel_used, outcome.export, \
        outcome.memory


def _with_events(outcome: CallResult, meta: Mapping[str, bytes | None]
                 ) -> Mapping[str, bytes | None]:
    if not outcome.events:
        return meta
    return {**meta, event_log.row_name(outcome.call_id): event_log.encode(outcome.export,
                                                                           outcome.events)}


def _commit_failed(outcome: CallResult, exc: Exception) -> CallError:
    error = HostFaultError("commit", exc)
    error.__cause__ = exc
    _attach(error, outcome)
    return error


def _looks_like(data: bytes) -> str:
    """What a file that should be a wasm binary seems to be, for the error message."""
    # The first 4 KiB may end inside a character: only a bad byte before the end counts.
    text = data[:4096].decode("utf-8", "replace").rstrip("\ufffd").lstrip()
    if "\ufffd" in text:
        return "it does not start with \\0asm"
    if text.startswith(("(module", "(", ";;")):
        return "it looks like WAT text: name it .wat to load it as text"
    return "it does not start with \\0asm; it looks like a text file" if text else "it is empty"
