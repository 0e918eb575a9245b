"""The portable executor: one call on wasmtime's public Python API only."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import wasmtime

from .. import abi
from ..config import WASM_PAGE
from ..engine import EngineHandle
from ..host import CallState, GuestMemory
from ..modules import Contract
from ..values import Value
from .failures import enter_wasm


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
        for fn in abi.LINKED:
            functype = wasmtime.FuncType(
                [valtype(t) for t in fn.param_types], [valtype(t) for t in fn.results]
            )
            linker.define_func(fn.module, fn.name, functype, self._callback(fn),
                               access_caller=True)
        self._linker = linker
        self._pres: weakref.WeakKeyDictionary[Contract, wasmtime.InstancePre] = (
            weakref.WeakKeyDictionary()
        )

    def _callback(self, fn: abi.HostFunction) -> Callable[..., int | None]:
        if fn is abi.DEBUG_PROBE:
            def probe(caller: wasmtime.Caller, probe_id: int) -> None:
                self._state.probe(probe_id & 0xFFFF_FFFF)  # type: ignore[union-attr]
            return probe

        def callback(caller: wasmtime.Caller, *args: int) -> int | None:
            state = self._state
            assert state is not None
            # The bindings hand i32s over signed; the ABI's pointers and lengths are unsigned.
            unsigned = tuple(a & 0xFFFF_FFFF for a in args)
            temporary = False
            if state.memory is None and self._instantiating:
                # A start function runs before the instance (and its exports) exists: its
                # host calls reach memory through the caller, valid for this host call only.
                memory = caller.get("memory")
                if isinstance(memory, wasmtime.Memory):
                    state.memory, temporary = GuestMemory(memory, caller), True
            try:
                return state.dispatch(fn, unsigned)
            finally:
                if temporary:
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
        state.fuel, state.refuel = store.get_fuel, store.set_fuel
        outer, self._state = self._state, state
        outer_instantiating = self._instantiating
        try:
            with enter_wasm(state, fuel):
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
        finally:
            state.fuel_used = fuel - store.get_fuel()
            self._state = outer
        types = contract.info.function(export).results  # type: ignore[union-attr]
        if not types:
            return []
        values = raw if len(types) > 1 else [raw]
        return [Value.of(t, v) for t, v in zip(types, values, strict=True)]



def valtype(name: str) -> wasmtime.ValType:
    """wasmtime's value type of a numeric type name (host functions have numeric types)."""
    return {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64,
            "f32": wasmtime.ValType.f32, "f64": wasmtime.ValType.f64}[name]()
