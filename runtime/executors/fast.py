"""The fast call path: an :class:`~runtime.executor.Executor` on wasmtime's C API.

This is the only module of SuperVM that goes below wasmtime's public Python API. It calls the C
functions of the library the ``wasmtime`` package ships (through ctypes, with its own lean
function prototypes) and behaves exactly like :class:`~runtime.executor.PublicExecutor`: same
results, errors, fuel, events, storage changes and traces; ``tests/runtime/test_fastpath.py``
checks that call by call. Per call it costs a few microseconds where the public API costs
~100 µs (see ``tests/benchmark.py``):

* host functions are bound once per executor with ``wasmtime_linker_define_func_unchecked``:
  one C callback per host function reads the raw i32 arguments from the ``wasmtime_val_raw_t``
  buffer (unsigned), runs ``CallState.dispatch`` and writes the result back;
* each contract is pre-instantiated once (``wasmtime_linker_instantiate_pre``); each export's
  signature is checked once (numeric types only, so the raw buffer is safe) and its argument and
  result layout compiled to a :class:`struct.Struct`;
* each call gets a fresh store and instance (contract state lives only in storage), fuel, an
  epoch deadline (it stays expired after an interrupt, so it is set every call) and the memory
  and table limits (skipped for a module that has neither), then runs through
  ``wasmtime_func_call_unchecked``: floats keep their exact bits, NaN payloads included;
* guest memory is a bounds-checked memoryview refreshed when the memory grows
  (:class:`FastMemory`, the methods of :class:`~runtime.host.GuestMemory` plus ``view_to``,
  which skips the size query while the cached view covers the bytes asked for);
* ctypes objects for C arguments, out-parameters and raw value buffers are made once (per
  executor, export or call) and passed as they are; short C calls keep the GIL.

Safety: a Python exception never escapes into C. A callback catches everything; the failure
becomes the call's error exactly as on the public path (``CallState.dispatch`` already records
SuperVM errors and wraps other exceptions in :class:`HostFaultError` with the original as
``__cause__``); the callback returns a trap so wasm unwinds. Callbacks stay registered until
wasmtime finalizes their definition; a store stays alive while anything that can reach it (the
call's memory view, ``state.fuel``) is alive; instance pres are freed with their contract.

One improvement over the public path: when a host function ends the call with a
:class:`TrapError` (a guest fault such as a wild pointer), the trap wasmtime reports carries the
wasm backtrace of the guest code that made the host call; the fast path puts it in the error's
``frames`` (the public path's bindings re-raise the Python exception and lose it).

Choosing the executor: :func:`runtime.executor.make_executor` uses :class:`FastExecutor` when it
constructs and passes its self-check, and otherwise falls back to the public path (logged once
at DEBUG level). The environment variable ``SUPERVM_EXECUTOR`` forces a choice: ``public`` (the
portable path), ``fast`` (this one; failing loudly if it cannot work) or ``auto`` (the default).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import struct
import sys
import weakref
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import wasmtime
from wasmtime import _ffi as ffi

from .. import abi
from ..config import WASM_PAGE, ChainContext, Limits
from ..engine import EngineHandle
from ..errors import CallError, Frame, HostFaultError, SuperVMError
from ..host import CallState
from ..modules import Contract, compile_contract
from ..storage import MemoryStorage
from ..values import Value
from .failures import enter_wasm
from .public import valtype

__all__ = ["FastExecutor", "FastMemory", "FastPathUnavailable"]

_VP = ctypes.c_void_p
_U64 = ctypes.c_uint64
_I64 = ctypes.c_int64
_SIZE = ctypes.c_size_t

_EXTERN_FUNC = 0
_EXTERN_MEMORY = 3
_WIDE = {"i32": False, "f32": False, "i64": True, "f64": True}
_MASK32 = 0xFFFF_FFFF
_MASK64 = 0xFFFF_FFFF_FFFF_FFFF
_SLOTS = 8  # raw values a pooled call buffer holds; larger signatures get their own

# The process's address space as one byte view. Only ever indexed at addresses wasmtime hands a
# callback (its raw argument buffer): unpacking there is ~3x cheaper than a ctypes object per
# argument, and no less safe than ``from_address``.
_RAW = memoryview((ctypes.c_ubyte * sys.maxsize).from_address(0))


class FastPathUnavailable(RuntimeError):
    """The installed wasmtime lacks something the fast path needs, or its self-check failed."""


class _Handle(ctypes.c_void_p):
    """A C pointer returned as a ctypes object (not an int), to pass back without conversion."""


class _Api:
    """The C functions the fast path calls, with lean prototypes of its own.

    Fresh function pointers, so the bindings' own prototypes are untouched. Hot functions have
    no ``argtypes``: every argument is passed as a ready ctypes object (never a bare int, which
    ctypes would pass as a C ``int``), which saves ~40 % per call. Functions that may run wasm
    (instantiation runs the start function, calls) release the GIL so another thread can
    interrupt them; the others hold it, which is cheaper.
    """

    #: name: (releases the GIL, restype, argtypes or None for "ready ctypes objects only")
    _SIGNATURES: ClassVar[dict[str, tuple[bool, Any, list[Any] | None]]] = {
        "wasmtime_store_new": (False, _Handle, None),
        "wasmtime_store_context": (False, _Handle, None),
        "wasmtime_store_delete": (False, None, None),
        "wasmtime_store_limiter": (False, None, None),
        "wasmtime_context_set_fuel": (False, _VP, None),
        "wasmtime_context_get_fuel": (False, _VP, None),
        "wasmtime_context_set_epoch_deadline": (False, None, None),
        "wasmtime_instance_pre_instantiate": (True, _VP, None),
        "wasmtime_instance_export_get": (False, ctypes.c_bool, None),
        "wasmtime_caller_export_get": (False, ctypes.c_bool, None),
        "wasmtime_func_call_unchecked": (True, _VP, None),
        "wasmtime_memory_data": (False, _VP, None),
        "wasmtime_memory_data_size": (False, _SIZE, None),
        "wasmtime_trap_new": (False, _VP, [ctypes.c_char_p, _SIZE]),
        "wasmtime_linker_define_func_unchecked": (
            False, _VP, [_VP, ctypes.c_char_p, _SIZE, ctypes.c_char_p, _SIZE, _VP, _VP, _VP, _VP]),
        "wasmtime_error_wasm_trace": (False, None, [_VP, _VP]),
    }

    def __init__(self) -> None:
        releasing = ffi.dll
        holding = ctypes.PyDLL(ffi.dll._name)
        for name, (release, restype, argtypes) in self._SIGNATURES.items():
            try:
                func = (releasing if release else holding)[name]
            except (AttributeError, OSError) as exc:
                raise FastPathUnavailable(f"the wasmtime library has no {name}") from exc
            func.restype, func.argtypes = restype, argtypes
            setattr(self, name.removeprefix("wasmtime_"), func)
        self._library = holding
        # Layouts the bindings describe; checked so that a change surfaces as a fallback.
        if ctypes.sizeof(ffi.wasmtime_val_raw_t) != 16 or ffi.wasmtime_extern_t.of.offset != 8 \
                or ctypes.sizeof(ffi.wasmtime_instance_t) != 16 \
                or ctypes.sizeof(ffi.wasmtime_extern_t) != 32:
            raise FastPathUnavailable("unexpected layout of wasmtime's C structures")
        self.callback_type = ctypes.CFUNCTYPE(_SIZE, _VP, _VP, _VP, _SIZE)
        self.trap_ptr_type = ctypes.POINTER(ffi.wasm_trap_t)
        self.error_ptr_type = ctypes.POINTER(ffi.wasmtime_error_t)
        self.no_limit = _I64(-1)
        self.one = _U64(1)
        self.memory_name = ctypes.create_string_buffer(b"memory")
        self.memory_name_len = _SIZE(6)


_API: _Api | None = None


def _api() -> _Api:
    global _API
    if _API is None:
        _API = _Api()
    return _API


# --- host-function callbacks -------------------------------------------------------------------

#: Callbacks by the id wasmtime holds as their ``env``; dropped when wasmtime finalizes them.
_CALLBACKS: dict[int, Any] = {}
_IDS = itertools.count(1)


@ctypes.CFUNCTYPE(None, _VP)
def _release(env: int | None, _callbacks: dict[int, Any] = _CALLBACKS) -> None:
    # Bound as a default: at interpreter shutdown the module's globals are already gone.
    _callbacks.pop(env or 0, None)


class _Current:
    """What the callbacks of one executor see: the running call's state."""

    __slots__ = ("escaped", "pending_memory", "state")

    def __init__(self) -> None:
        self.state: CallState | None = None
        #: The memory of a call whose instance is being created (a start function is running):
        #: bound through the caller by the first host call that needs it.
        self.pending_memory: FastMemory | None = None
        #: The exception a callback caught, to be classified after the call like the public
        #: path classifies the exception its bindings re-raise.
        self.escaped: BaseException | None = None


def _layout(types: Sequence[str]) -> struct.Struct:
    """The raw-value-buffer layout of ``types``: one 16-byte ``wasmtime_val_raw_t`` each."""
    return struct.Struct("<" + "".join("Q8x" if _WIDE[t] else "I12x" for t in types))


def _host_callback(fn: abi.HostFunction, current: _Current, trap_new: Any) -> Callable[..., int]:
    """The C callback of host function ``fn``: raw arguments in, dispatch, raw result out."""
    unpack = _layout(fn.param_types).unpack_from
    has_result = bool(fn.results)
    mask = _MASK64 if has_result and _WIDE[fn.results[0]] else _MASK32
    pack = struct.Struct("<Q").pack_into
    raw = _RAW
    message = f"supervm: host function {fn.qualname} failed".encode()
    probe = fn is abi.DEBUG_PROBE

    def callback(env: int, caller: int, values: int, count: int) -> int:
        try:
            state = current.state
            if state.memory is None and current.pending_memory is not None:  # type: ignore[union-attr]
                state.memory = current.pending_memory.bind_from_caller(caller)  # type: ignore[union-attr]
            if probe:  # a debug build's probe: not a host call of the trace
                state.probe(unpack(raw, values)[0])  # type: ignore[union-attr]
                return 0
            # Unsigned by construction: the ABI's pointers and lengths are unsigned i32s.
            result = state.dispatch(fn, unpack(raw, values))  # type: ignore[union-attr]
            if has_result:
                # Zero-extended into the 8-byte slot, as wasmtime writes an i32 itself.
                pack(raw, values, result & mask)
            return 0
        except BaseException as exc:  # nothing may unwind into C: it would crash the process
            with contextlib.suppress(BaseException):
                current.escaped = exc
                state = current.state
                if isinstance(exc, Exception) and state is not None and state.failure is None:
                    if isinstance(exc, SuperVMError):  # a probe's (dispatch records its own)
                        state.failure = exc
                    else:
                        failure = HostFaultError(fn.qualname, exc)
                        failure.__cause__ = exc
                        state.failure = failure
            return trap_new(message, len(message)) or 0

    return callback


# --- stores, call buffers and memory -----------------------------------------------------------


_STORE_DATA = ctypes.c_ubyte * 64  # instance (16 bytes), fuel out-parameter (8), memory extern (32)


class _Store:
    """One call's store and instance, deleted when the last thing that can reach it goes away."""

    __slots__ = ("_api", "_fuel", "_fuel_ref", "ctx", "data", "instance_ref", "ptr")

    def __init__(self, api: _Api, engine: _Handle) -> None:
        self._api = api
        self.ptr = api.store_new(engine, None, None)
        if not self.ptr:
            raise MemoryError("wasmtime_store_new failed")
        self.ctx = api.store_context(self.ptr)
        self.data = data = _STORE_DATA()
        self.instance_ref = ctypes.byref(data)
        self._fuel = _U64.from_buffer(data, 16)
        self._fuel_ref = ctypes.byref(data, 16)

    def fuel(self) -> int:
        """The fuel left (cheap: one C call into a preallocated out-parameter)."""
        self._api.context_get_fuel(self.ctx, self._fuel_ref)
        return self._fuel.value

    def set_fuel(self, fuel: int) -> None:
        self._api.context_set_fuel(self.ctx, _U64(fuel))

    def __del__(self) -> None:
        # getattr: __init__ may have been interrupted (Ctrl-C) before the store existed.
        ptr = getattr(self, "ptr", None)
        self.ptr = None
        if ptr:
            self._api.store_delete(ptr)


class _CallBuffers:
    """The trap out-parameter, the export's extern and the raw value buffer of one call.

    Pooled per executor (a call nested in a host call takes another one).
    """

    __slots__ = ("func", "func_of_ref", "func_ref", "slots", "trap", "trap_ref", "values",
                 "values_ref")

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.trap = _VP()
        self.trap_ref = ctypes.byref(self.trap)
        self.func = ffi.wasmtime_extern_t()
        self.func_ref = ctypes.byref(self.func)
        self.func_of_ref = ctypes.byref(self.func, 8)
        self.values = (ctypes.c_ubyte * (16 * max(slots, 1)))()
        self.values_ref = ctypes.byref(self.values)


class FastMemory:
    """Bounds-checked access to a guest's exported linear memory through the C API.

    Same methods as :class:`~runtime.host.GuestMemory`, plus :meth:`view_to`. The export is
    looked up on first use; the view is refreshed whenever the memory's size changes (growth may
    move it); each view keeps the store alive.
    """

    __slots__ = ("_length", "_memory_ref", "_stays", "_store", "_view")

    def __init__(self, store: _Store, stays: bool = False) -> None:
        self._store = store
        self._stays = stays
        self._memory_ref: Any = None
        self._length = -1
        self._view = _EMPTY

    def _find(self) -> Any:
        store = self._store
        api = store._api
        data = store.data
        if api.instance_export_get(store.ctx, store.instance_ref, api.memory_name,
                                   api.memory_name_len, ctypes.byref(data, 24)) \
                and data[24] == _EXTERN_MEMORY:
            self._memory_ref = ctypes.byref(data, 32)
        else:  # unreachable: the plan saw the export; an empty view refuses every access
            self._memory_ref = False
        return self._memory_ref

    def bind_from_caller(self, caller: int) -> FastMemory | None:
        """Find the memory through a host call's caller (before the instance exists); self, or
        None if the module exports no memory."""
        store = self._store
        api = store._api
        if api.caller_export_get(_VP(caller), api.memory_name, api.memory_name_len,
                                 ctypes.byref(store.data, 24)) and store.data[24] == _EXTERN_MEMORY:
            # The same memory the instance exports afterwards: the binding stays valid.
            self._memory_ref = ctypes.byref(store.data, 32)
            return self
        return None

    def view(self) -> memoryview:
        """The current memory as a writable memoryview."""
        memory = self._memory_ref or self._find()
        if memory is False:
            return self._view
        store = self._store
        length = store._api.memory_data_size(store.ctx, memory)
        if length != self._length:
            self._length = length
            if length == 0:
                self._view = _EMPTY
            else:
                base = store._api.memory_data(store.ctx, memory)
                array = (ctypes.c_ubyte * length).from_address(base)
                array._owner = store  # type: ignore[attr-defined]  # keeps the store alive
                self._view = memoryview(array).cast("B")
        return self._view

    def view_to(self, end: int) -> memoryview:
        """A view at least ``end`` bytes long if the memory is; the cached one if it already is.

        Saves the C call of :meth:`view` when the memory provably never moves (a 32-bit memory
        on an engine checked once to grow memories in place up to 4 GiB): then a view taken
        before a growth stays valid for the bytes it covers. Otherwise the same as ``view()``.
        """
        view = self._view
        if end <= len(view) and self._stays:
            return view
        return self.view()

    def size(self) -> int:
        return len(self.view())

    def snapshot(self) -> bytes:
        """A copy of the whole memory."""
        return bytes(self.view())


_EMPTY = memoryview(bytearray())


# --- per contract and export -------------------------------------------------------------------


class _Export:
    """An export checked once: its name for lookup and its raw-buffer layouts."""

    __slots__ = ("arg_layout", "name", "name_len", "params", "pooled", "result_layout", "results",
                 "slots", "slots_arg")

    def __init__(self, name: str, params: tuple[str, ...], results: tuple[str, ...]) -> None:
        for t in params + results:
            if t not in _WIDE:
                raise TypeError(f"export {name!r} has a {t} in its signature")
        encoded = name.encode()
        self.name = ctypes.create_string_buffer(encoded)
        self.name_len = _SIZE(len(encoded))
        self.params, self.results = params, results
        self.slots = max(len(params), len(results))
        self.slots_arg = _SIZE(self.slots)
        self.pooled = self.slots <= _SLOTS
        self.arg_layout = _layout(params)
        self.result_layout = _layout(results)


class _ContractRef(weakref.ref):  # type: ignore[type-arg]
    __slots__ = ("key",)


class _Plan:
    """A contract pre-instantiated with the executor's linker, and its checked exports."""

    __slots__ = ("contract", "exports", "has_memory", "has_start", "memory_stays",
                 "needs_limits", "pre", "pre_ptr", "signatures")

    def __init__(self, linker: wasmtime.Linker, contract: Contract, forget: Any,
                 memories_stay: bool) -> None:
        self.contract = _ContractRef(contract, forget)
        self.contract.key = id(contract)
        self.pre = linker.instantiate_pre(contract.module)
        self.pre_ptr = ctypes.cast(self.pre.ptr(), _VP)
        info = contract.info
        # From SuperVM's own reading of the binary: wasmtime's type reflection aborts the
        # process on some value types (v128).
        self.signatures = {e.name: (e.params, e.results) for e in info.functions}
        memory = info.abi_memory
        self.has_memory = memory is not None
        self.has_start = info.has_start
        self.memory_stays = memories_stay and memory is not None and not memory.memory64 \
            and not memory.shared
        # Memory and table limits only matter to a module that has a memory or a table.
        self.needs_limits = info.has_memory_or_table
        self.exports: dict[str, _Export] = {}

    def export(self, name: str) -> _Export | None:
        entry = self.exports.get(name)
        if entry is None and name in self.signatures:
            entry = self.exports[name] = _Export(name, *self.signatures[name])
        return entry


class FastExecutor:
    """Runs calls through wasmtime's C API; behaves exactly like ``PublicExecutor``."""

    name = "fast"

    def __init__(self, engine: EngineHandle, *, self_check: bool = True) -> None:
        self.engine = engine
        api = self._api = _api()
        self._engine_ptr = ctypes.cast(engine.engine.ptr(), _Handle)
        self._current = _Current()
        self._pool: list[_CallBuffers] = []
        self._limits: Limits | None = None
        self._limit_args: tuple[Any, ...] = ()
        self._fuel, self._fuel_arg = -1, _U64(0)
        linker = wasmtime.Linker(engine.engine)
        linker_ptr = ctypes.cast(linker.ptr(), _VP).value
        self._types = []
        for fn in abi.LINKED:
            functype = wasmtime.FuncType([valtype(t) for t in fn.param_types],
                                         [valtype(t) for t in fn.results])
            self._types.append(functype)
            callback = api.callback_type(_host_callback(fn, self._current, api.trap_new))
            key = next(_IDS)
            _CALLBACKS[key] = callback
            module, name = fn.module.encode(), fn.name.encode()
            error = api.linker_define_func_unchecked(
                linker_ptr, module, len(module), name, len(name),
                ctypes.cast(functype.ptr(), _VP).value,
                ctypes.cast(callback, _VP).value, key, ctypes.cast(_release, _VP).value)
            if error:
                _CALLBACKS.pop(key, None)
                raise wasmtime.WasmtimeError._from_ptr(ctypes.cast(error, api.error_ptr_type))
        self._linker = linker
        # Plans by id(contract); an entry goes when its contract is collected.
        plans: dict[int, _Plan] = {}
        self._plans = plans

        def forget(ref: _ContractRef) -> None:
            if (plan := plans.get(ref.key)) is not None and plan.contract is ref:
                del plans[ref.key]

        self._forget = forget
        if self_check:
            _self_check(self)

    def _plan(self, contract: Contract) -> _Plan:
        plan = self._plans.get(id(contract))
        if plan is None or plan.contract() is not contract:
            plan = self._plans[id(contract)] = _Plan(self._linker, contract, self._forget,
                                                     _MEMORIES_STAY.get(self.engine, False))
        return plan

    def run(self, contract: Contract, export: str, args: Sequence[Value], state: CallState,
            fuel: int) -> list[Value]:
        plan = self._plans.get(id(contract))
        if plan is None or plan.contract() is not contract:
            plan = self._plan(contract)
        entry = plan.exports.get(export) or plan.export(export)
        api = self._api
        store = _Store(api, self._engine_ptr)
        ctx = store.ctx
        if plan.needs_limits:
            if state.limits is not self._limits:
                self._use_limits(state.limits)
            api.store_limiter(store.ptr, *self._limit_args)
        if fuel != self._fuel:
            self._fuel, self._fuel_arg = fuel, _U64(fuel)
        error = api.context_set_fuel(ctx, self._fuel_arg)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(ctypes.cast(error, api.error_ptr_type))
        # The deadline must be set before every call: it stays expired after an interrupt.
        api.context_set_epoch_deadline(ctx, api.one)
        state.fuel, state.refuel = store.fuel, store.set_fuel
        pool = self._pool
        if pool and (entry is None or entry.pooled):
            buffers = pool.pop()
        else:
            buffers = _CallBuffers(max(entry.slots if entry is not None else 0, _SLOTS))
        current = self._current
        outer, outer_escaped, outer_pending = current.state, current.escaped, \
            current.pending_memory
        current.state, current.escaped = state, None
        memory = FastMemory(store, plan.memory_stays) if plan.has_memory else None
        current.pending_memory = memory if plan.has_start else None
        trap = buffers.trap
        try:
            with enter_wasm(state, fuel):
                error = api.instance_pre_instantiate(plan.pre_ptr, ctx, store.instance_ref,
                                                     buffers.trap_ref)
                current.pending_memory = None
                if not error and not trap.value:
                    if memory is not None:
                        state.memory = memory  # type: ignore[assignment]
                    if entry is None or not api.instance_export_get(
                            ctx, store.instance_ref, entry.name, entry.name_len,
                            buffers.func_ref) or buffers.func.kind != _EXTERN_FUNC:
                        raise KeyError(export)
                    if args:
                        entry.arg_layout.pack_into(buffers.values, 0,  # type: ignore[union-attr]
                                                   *[v.bits for v in args])
                    error = api.func_call_unchecked(  # type: ignore[union-attr]
                        ctx, buffers.func_of_ref, buffers.values_ref, entry.slots_arg,
                        buffers.trap_ref)
                if error or trap.value:
                    raise self._carrier(error, trap.value, state)
            bits = entry.result_layout.unpack_from(buffers.values)  # type: ignore[union-attr]
        finally:
            state.fuel_used = fuel - store.fuel()
            current.state, current.escaped, current.pending_memory = outer, outer_escaped, \
                outer_pending
            trap.value = None
            if buffers.slots == _SLOTS:
                pool.append(buffers)
        return [_value(t, b) for t, b in zip(entry.results, bits, strict=True)]  # type: ignore[union-attr]

    def _use_limits(self, limits: Limits) -> None:
        no_limit = self._api.no_limit
        self._limits = limits
        self._limit_args = (_I64(limits.max_memory_pages * WASM_PAGE),
                            _I64(limits.max_table_elements), no_limit, no_limit, no_limit)

    def _carrier(self, error: int | None, trap_ptr: int | None,
                 state: CallState) -> BaseException:
        """What ended a call that returned ``error`` or ``trap_ptr``, as the public path would
        see it raised (:func:`enter_wasm` classifies it)."""
        api = self._api
        carrier: BaseException
        frames: list[Frame]
        if trap_ptr:
            carrier = wasmtime.Trap._from_ptr(ctypes.cast(trap_ptr, api.trap_ptr_type))
            frames = [Frame(f.func_index, f.func_name, f.module_offset)
                      for f in carrier.frames]
        else:
            carrier = wasmtime.WasmtimeError._from_ptr(ctypes.cast(error, api.error_ptr_type))
            frames = _error_frames(api, error)
        failure = state.failure
        if isinstance(failure, CallError) and not failure.frames and frames:
            # The host function's trap unwound through wasm: wasmtime recorded where.
            failure.frames = frames
        escaped = self._current.escaped
        return escaped if escaped is not None else carrier


_new_value = Value.__new__
_set_type = Value.type.__set__  # type: ignore[attr-defined]
_set_bits = Value.bits.__set__  # type: ignore[attr-defined]


def _value(type_: str, bits: int) -> Value:
    """``Value(type_, bits)`` in half the time (the frozen dataclass's ``__init__`` is slow)."""
    value = _new_value(Value)
    _set_type(value, type_)
    _set_bits(value, bits)
    return value


def _error_frames(api: _Api, error: int | None) -> list[Frame]:
    """The wasm backtrace attached to a ``wasmtime_error_t``, if any."""
    if not error:
        return []
    vec = ffi.wasm_frame_vec_t(0, None)
    api.error_wasm_trace(error, ctypes.addressof(vec))
    try:
        frames = []
        for i in range(vec.size):
            ptr = vec.data[i]
            name = ffi.wasmtime_frame_func_name(ptr)
            frames.append(Frame(ffi.wasm_frame_func_index(ptr),
                                ffi.to_str(name.contents) if name else None,
                                ffi.wasm_frame_module_offset(ptr)))
        return frames
    finally:
        ffi.wasm_frame_vec_delete(ctypes.byref(vec))


# --- self-check --------------------------------------------------------------------------------

_SELF_CHECK_WAT = """
(module
  (import "chain_api" "block_number" (func $block (result i64)))
  (func (export "check") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    local.get 3 local.get 2
    (i64.add (local.get 1) (call $block))
    local.get 0))
"""

_GROWTH_CHECK_WAT = """
(module
  (import "chain_api" "block_number" (func $mark (result i64)))
  (memory (export "memory") 1)
  (func (export "grow") (result i32)
    (drop (call $mark))
    (drop (memory.grow (i32.const 65535)))
    (drop (call $mark))
    (memory.size)))
"""

_VERIFIED: weakref.WeakKeyDictionary[EngineHandle, bool] = weakref.WeakKeyDictionary()
#: Engines seen to grow a 32-bit memory to 4 GiB in place (so cached views stay valid).
_MEMORIES_STAY: weakref.WeakKeyDictionary[EngineHandle, bool] = weakref.WeakKeyDictionary()


def _self_check(executor: FastExecutor) -> None:
    """Run one call with odd bits and a host call; raise :class:`FastPathUnavailable` if wrong."""
    if _VERIFIED.get(executor.engine):
        return
    contract = compile_contract(executor.engine, _SELF_CHECK_WAT, name="<fast path self-check>",
                                max_size=1 << 16)
    args = [Value("i32", 0xFFFF_FFFE), Value("i64", 0x8000_0000_0000_0001),
            Value("f32", 0x7FA0_0001), Value("f64", 0xFFF0_0000_0000_0F0F)]
    state = CallState(MemoryStorage(), ChainContext(block_number=2), Limits())
    try:
        results = executor.run(contract, "check", args, state, 1000)
    except Exception as exc:
        raise FastPathUnavailable(f"self-check call failed: {exc}") from exc
    expected = [Value("f64", 0xFFF0_0000_0000_0F0F), Value("f32", 0x7FA0_0001),
                Value("i64", 0x8000_0000_0000_0003), Value("i32", 0xFFFF_FFFE)]
    if results != expected or len(state.trace) != 1 or state.fuel_used <= 0:
        raise FastPathUnavailable(f"self-check returned {results}, expected {expected}")
    # The check's store goes first: under the pooling allocator it holds an instance slot.
    del state
    _MEMORIES_STAY[executor.engine] = _memories_stay(executor)
    _VERIFIED[executor.engine] = True


def _memories_stay(executor: FastExecutor) -> bool:
    """Whether this engine grows a 32-bit memory to 4 GiB without moving it (virtual only)."""
    contract = compile_contract(executor.engine, _GROWTH_CHECK_WAT,
                                name="<fast path growth check>", max_size=1 << 16)
    bases: list[int] = []

    def base(state: CallState, entry: Any) -> None:
        memory = state.memory
        store = memory._store  # type: ignore[union-attr]
        ref = memory._memory_ref or memory._find()  # type: ignore[union-attr]
        bases.append(store._api.memory_data(store.ctx, ref) if ref else 0)

    state = CallState(MemoryStorage(), ChainContext(), Limits(max_memory_pages=65536),
                      hook=base)
    try:
        size = executor.run(contract, "grow", [], state, 1 << 40)
    except Exception:
        return False
    finally:
        state.release()
    return size == [Value("i32", 65536)] and len(bases) == 2 and bases[0] == bases[1] != 0
