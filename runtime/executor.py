"""Executing one call on wasmtime: instantiate fresh, bind the host ABI, run, classify failures.

An :class:`Executor` is the only place that talks to wasmtime while a call runs. This module
holds the portable implementation on wasmtime's public Python API; :mod:`runtime.fastpath`
implements the same interface below it, and :func:`make_executor` picks one.
"""

from __future__ import annotations

import logging
import os
import re
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import wasmtime

from . import abi
from .config import WASM_PAGE
from .engine import EngineHandle
from .errors import (
    CallError,
    CallInterruptedError,
    Frame,
    HostFaultError,
    LimitExceededError,
    OutOfFuelError,
    SuperVMError,
    TrapError,
)
from .host import CallState, GuestMemory
from .modules import Contract
from .values import Value

log = logging.getLogger(__name__)

_MEMORY_MINIMUM = re.compile(r"minimum size of (\d+) pages exceeds memory limits")
_CHAIN_NUMBER = re.compile(r"^\d+:\s*")
# Lines of the backtrace part: "error while executing at wasm backtrace:", "0: 0x27 - <unknown>!…"
_BACKTRACE_LINE = re.compile(
    r"^(?:error while executing|\d+:\s+0x[0-9a-f]+ - |note: |wasm backtrace)")
_TABLE_MINIMUM = re.compile(r"table minimum size of (\d+) elements exceeds table limits")


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


class PublicExecutor:
    """The portable path: wasmtime's public Python API only.

    One difference from the fast path: the bindings pass floats as Python floats, which turns
    a signalling NaN argument or result into the quiet NaN of the same payload (the fast path
    keeps every bit).
    """

    name = "public"

    def __init__(self, engine: EngineHandle) -> None:
        self.engine = engine
        self._state: CallState | None = None
        self._instantiating = False
        linker = wasmtime.Linker(engine.engine)
        for fn in abi.HOST_FUNCTIONS:
            functype = wasmtime.FuncType(
                [_valtype(t) for t in fn.param_types], [_valtype(t) for t in fn.results]
            )
            linker.define_func(fn.module, fn.name, functype, self._callback(fn),
                               access_caller=True)
        self._linker = linker
        self._pres: weakref.WeakKeyDictionary[Contract, wasmtime.InstancePre] = (
            weakref.WeakKeyDictionary()
        )

    def _callback(self, fn: abi.HostFunction) -> Callable[..., int | None]:
        def callback(caller: wasmtime.Caller, *args: int) -> int | None:
            state = self._state
            assert state is not None
            # The bindings hand i32s over signed; the ABI's pointers and lengths are unsigned.
            unsigned = tuple(a & 0xFFFF_FFFF for a in args)
            if state.memory is not None or not self._instantiating:
                return state.dispatch(fn, unsigned)
            # A start function runs before the instance (and its exports) exists: its host
            # calls reach memory through the caller, valid for this host call only.
            memory = caller.get("memory")
            if not isinstance(memory, wasmtime.Memory):
                return state.dispatch(fn, unsigned)
            state.memory = GuestMemory(memory, caller)
            try:
                return state.dispatch(fn, unsigned)
            finally:
                state.memory = None
        return callback

    def run(self, contract: Contract, export: str, args: Sequence[Value], state: CallState,
            fuel: int) -> list[Value]:
        pre = self._pres.get(contract)
        if pre is None:
            pre = self._pres[contract] = self._linker.instantiate_pre(contract.module)
        limits = state.limits
        store = wasmtime.Store(self.engine.engine)
        store.set_limits(memory_size=limits.max_memory_pages * WASM_PAGE,
                         table_elements=limits.max_table_elements)
        store.set_fuel(fuel)
        # The deadline must be set before every call: it stays expired after an interrupt.
        store.set_epoch_deadline(1)
        state.fuel = store.get_fuel
        outer, self._state = self._state, state
        outer_instantiating = self._instantiating
        try:
            self._instantiating = True
            try:
                instance = pre.instantiate(store)
            finally:
                self._instantiating = outer_instantiating
            exports = instance.exports(store)
            memory = exports.get("memory")
            if isinstance(memory, wasmtime.Memory):
                state.memory = GuestMemory(memory, store)
            raw = exports[export](store, *[v.value for v in args])  # type: ignore[operator]
        except BaseException as exc:
            error = classify(exc, state, fuel, _trap_facts)
            if error is exc:
                raise
            raise error from (exc if isinstance(error, HostFaultError) else None)
        finally:
            state.fuel_used = fuel - store.get_fuel()
            self._state = outer
        types = contract.info.function(export).results  # type: ignore[union-attr]
        if not types:
            return []
        values = raw if len(types) > 1 else [raw]
        return [Value.of(t, v) for t, v in zip(types, values, strict=True)]


def _valtype(name: str) -> wasmtime.ValType:
    return {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64,
            "f32": wasmtime.ValType.f32, "f64": wasmtime.ValType.f64}[name]()


def _trap_facts(trap: Any) -> tuple[str | None, str, list[Frame]]:
    code = trap.trap_code
    frames = [Frame(f.func_index, f.func_name, f.module_offset) for f in trap.frames]
    return (code.name.lower() if code is not None else None), trap.message, frames


def classify(exc: BaseException, state: CallState, fuel_limit: int,
             trap_facts: Callable[[Any], tuple[str | None, str, list[Frame]]]) -> CallError:
    """The SuperVM error for whatever ended a call (shared by every executor).

    ``trap_facts`` extracts (trap code name, message, frames) from the executor's trap object.
    """
    if isinstance(exc, CallError):
        return exc
    if state.failure is not None:
        # A host function ended the call; the trap wasmtime reports is only its carrier.
        return state.failure if isinstance(state.failure, CallError) else \
            HostFaultError("runtime", state.failure)
    if isinstance(exc, SuperVMError):
        return HostFaultError("runtime", exc)
    if isinstance(exc, wasmtime.Trap):
        code, message, frames = trap_facts(exc)
        if code == "out_of_fuel":
            return OutOfFuelError(fuel_limit)
        if code == "interrupt":
            return CallInterruptedError()
        return TrapError(code or "unknown", trap_reason(message), frames)
    if isinstance(exc, wasmtime.WasmtimeError):
        return instantiation_error(str(exc), state)
    if isinstance(exc, KeyboardInterrupt):
        return CallInterruptedError()
    if isinstance(exc, Exception):
        return HostFaultError("runtime", exc)
    raise exc


def instantiation_error(text: str, state: CallState) -> CallError:
    """A failure to instantiate: a limit the module's declarations exceed, or another error."""
    match = _MEMORY_MINIMUM.search(text)
    if match:
        return LimitExceededError("max_memory_pages", int(match[1]),
                                  state.limits.max_memory_pages, where="instantiation")
    match = _TABLE_MINIMUM.search(text)
    if match:
        return LimitExceededError("max_table_elements", int(match[1]),
                                  state.limits.max_table_elements, where="instantiation")
    first = text.strip().splitlines()[0] if text.strip() else "instantiation failed"
    return TrapError("instantiate", first)


def trap_reason(message: str) -> str:
    """The cause of wasmtime's trap message, without the backtrace: ``out of bounds memory
    access (memory fault at wasm address 0x11170 in linear memory of size 0x10000)``.

    The message ends with a ``Caused by:`` chain (``0: detail``, ``1: wasm trap: cause``), or is
    the cause alone.
    """
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if "Caused by:" in lines:
        lines = lines[lines.index("Caused by:") + 1:]
    causes = [_CHAIN_NUMBER.sub("", line).removeprefix("wasm trap: ") for line in lines
              if not _BACKTRACE_LINE.match(line)]
    if not causes:
        return "trap"
    cause, details = causes[-1], causes[:-1]
    return f"{cause} ({'; '.join(details)})" if details else cause


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
        from .fastpath import FastExecutor

        return FastExecutor(engine)
    except Exception as exc:
        if choice == "fast":
            raise
        reason = f"{type(exc).__name__}: {exc}"
        if reason not in _FALLBACK_LOGGED:
            _FALLBACK_LOGGED.add(reason)
            log.debug("fast call path unavailable (%s); using wasmtime's public API", reason)
        return PublicExecutor(engine)
