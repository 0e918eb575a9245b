"""The fast call path: the same calls through both executors give the same outcome.

Every case runs on two runtimes, one forced onto wasmtime's public API
(``SUPERVM_EXECUTOR=public``) and one onto the fast path (``SUPERVM_EXECUTOR=fast``), and
compares everything a caller can see: result bits, error type/kind/code/message, fuel used,
events, storage changes, storage and event log afterwards, and the host-call trace. The one
intended difference: a guest fault detected inside a host function carries the wasm backtrace
on the fast path (the public path cannot see it).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runtime.executors as executor_module
import runtime.executors.fast as fastpath
from runtime import (
    AbortError,
    CallError,
    CallInterruptedError,
    HostFaultError,
    LimitExceededError,
    Limits,
    MemoryStorage,
    OutOfFuelError,
    Runtime,
    TrapError,
    Value,
)
from runtime.executors import PublicExecutor, make_executor
from runtime.executors.fast import FastExecutor, FastPathUnavailable
from tests.support import contract, sample

# --- contracts --------------------------------------------------------------------------------

NUMERIC = """
(module
  (memory (export "memory") 1)
  (func (export "id_i32") (param i32) (result i32) local.get 0)
  (func (export "id_i64") (param i64) (result i64) local.get 0)
  (func (export "id_f32") (param f32) (result f32) local.get 0)
  (func (export "id_f64") (param f64) (result f64) local.get 0)
  (func (export "reverse") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    local.get 3 local.get 2 local.get 1 local.get 0)
  (func (export "multi") (result i32 i64 f32 f64)
    i32.const -1 i64.const -2 f32.const 1.5 f64.const -0.25)
  (func (export "nothing"))
  (func (export "add_f64") (param f64 f64) (result f64) (f64.add (local.get 0) (local.get 1)))
  (func (export "nan_f32") (result f32) (f32.div (f32.const 0) (f32.const 0)))
  (func (export "nan_f64") (result f64) (f64.div (f64.const 0) (f64.const 0)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "crash") unreachable)
  (func (export "oob") (result i32) (i32.load (i32.const 0xFFFFFFF0)))
)
"""

HOSTS = contract(
    """
  (func (export "negative_len") (result i64) (call $get (i32.const 0) (i32.const -1)))
  (func (export "read_nothing") (result i32) (call $read_value (i32.const 0) (i32.const 8)))
  (func (export "read_event_5") (result i32)
    (call $read_event (i32.const 5) (i32.const 0x100) (i32.const 8)))
  (func (export "read_event_negative") (result i32)
    (drop (call $emit (i32.const 0) (i32.const 3)))
    (call $read_event (i32.const -1) (i32.const 0x100) (i32.const 8)))
  (func (export "big_value") (result i32)
    (call $set (i32.const 0) (i32.const 3) (i32.const 0x10) (i32.const 9)))
  (func (export "three_events") (result i32)
    (drop (call $emit (i32.const 0) (i32.const 3)))
    (drop (call $emit (i32.const 0x10) (i32.const 5)))
    (call $emit (i32.const 0) (i32.const 1)))
  (func (export "everything") (param $n i64) (result i64)
    (drop (call $set (i32.const 0) (i32.const 3) (i32.const 0x10) (i32.const 5)))
    (drop (call $get (i32.const 0) (i32.const 3)))
    (drop (call $read_value (i32.const 0x40) (i32.const 16)))
    (drop (call $emit (i32.const 0x40) (i32.const 5)))
    (drop (call $read_event (i32.const 0) (i32.const 0x80) (i32.const 3)))
    (drop (call $delete (i32.const 0x20) (i32.const 4)))
    (drop (call $set (i32.const 0x20) (i32.const 4) (i32.const 0x80) (i32.const 3)))
    (i64.add (i64.add (call $block_number) (call $timestamp))
             (i64.add (local.get $n) (i64.extend_i32_u (call $events_len)))))
  (func (export "grow_then_emit") (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.store (i32.const 0x10000) (i32.const 0x64636261))
    (call $emit (i32.const 0x10000) (i32.const 4)))
  (func (export "emit_bits") (param i32 i32) (result i32)
    (call $emit (local.get 0) (local.get 1)))
""",
    data='(data (i32.const 0) "keyvalue") (data (i32.const 0x10) "hello, world")'
         '(data (i32.const 0x20) "gone")',
)

BIG_MEMORY = '(module (memory (export "memory") 10) (func (export "f") (result i32) i32.const 1))'

START_CALLS_HOST = contract(
    '(global $block (mut i64) (i64.const 0))'
    '(func $start (global.set $block (call $block_number))) (start $start)'
    '(func (export "block") (result i64) (global.get $block))'
)

START_EMITS = contract(
    '(func $start (drop (call $emit (i32.const 0) (i32.const 2)))) (start $start)'
    '(func (export "count") (result i32) (call $events_len))',
    data='(data (i32.const 0) "hi")',
)

START_TRAPS = '(module (func $start unreachable) (start $start) (func (export "f")))'


# --- running both paths -----------------------------------------------------------------------


@pytest.fixture
def both(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``both(**runtime_kwargs)`` -> (public runtime, fast runtime)."""

    def make(**kwargs: Any) -> tuple[Runtime, Runtime]:
        pair = []
        storages = {c: kwargs.pop(f"storage_{c}", None) for c in ("public", "fast")}
        for choice in ("public", "fast"):
            monkeypatch.setenv("SUPERVM_EXECUTOR", choice)
            rt = Runtime(storages[choice] or MemoryStorage(), **kwargs)
            rt.call(sample("add.wat"), "add", (1, 2))  # creates the executor while forced
            assert executor_of(rt).name == choice
            pair.append(rt)
        monkeypatch.delenv("SUPERVM_EXECUTOR")
        return pair[0], pair[1]

    yield make


def executor_of(rt: Runtime) -> Any:
    return rt._executor  # the executor a runtime chose (private: only to check the choice)


def trace_of(entries: list[Any]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in entries]


def outcome(rt: Runtime, module: str, export: str, args: tuple[Any, ...] = (),
            **kwargs: Any) -> dict[str, Any]:
    """Everything a caller can observe about one call."""
    seen: dict[str, Any]
    try:
        result = rt.call(module, export, args, **kwargs)
    except CallError as error:
        seen = {
            "error": type(error).__name__, "kind": error.kind, "message": error.message,
            "code": getattr(error, "code", None), "fuel": error.fuel_used,
            "trace": trace_of(error.trace), "truncated": error.trace_truncated,
            "cause": type(error.__cause__).__name__ if error.__cause__ else None,
            "frames": [str(f) for f in getattr(error, "frames", [])],
            "dict": {k: v for k, v in error.to_dict().items() if k != "backtrace"},
            "memory": error.memory,
        }
    else:
        seen = {
            "results": [(v.type, v.bits) for v in result.results],
            "events": result.events, "fuel": result.fuel_used,
            "changes": [(c.key, c.old, c.new) for c in result.storage_changes],
            "trace": trace_of(result.trace), "truncated": result.trace_truncated,
            "memory": result.memory, "committed": result.committed,
        }
    seen["storage"] = rt.storage.snapshot()
    seen["log"] = [(e.call_id, e.index, e.data) for e in rt.event_log]
    return seen


def same(public: Runtime, fast: Runtime, module: str, export: str, args: tuple[Any, ...] = (),
         **kwargs: Any) -> dict[str, Any]:
    """Run the call on both paths, assert identical outcomes, return the fast one."""
    a = outcome(public, module, export, args, **kwargs)
    b = outcome(fast, module, export, args, **kwargs)
    if a.get("code") == "host":
        assert b["frames"], "a host trap on the fast path carries the wasm backtrace"
    if a.get("frames") == [] and b.get("frames"):
        # The documented improvement: the fast path knows where in wasm a host call that
        # ended the call was made (the bindings' callbacks lose wasmtime's trap).
        a["frames"] = b["frames"] = None
    assert a == b
    return b


# --- values -----------------------------------------------------------------------------------

F32 = [0.0, -0.0, 1.5, -3.25, 3.4028234663852886e38, float("inf"), float("-inf"), 1e-45]
F64 = [0.0, -0.0, 2.5, -1e300, 5e-324, float("inf"), float("-inf"), 0.1]


@pytest.mark.parametrize("export,args", [
    *[("id_i32", (v,)) for v in (0, 1, -1, 2**31 - 1, -(2**31), 0xFFFF_FFFF)],
    *[("id_i64", (v,)) for v in (0, -1, 2**63 - 1, -(2**63), 0xFFFF_FFFF_FFFF_FFFF)],
    *[("id_f32", (v,)) for v in F32],
    *[("id_f64", (v,)) for v in F64],
    ("reverse", (-7, 2**40, 0.5, -1e-300)),
    ("multi", ()), ("nothing", ()), ("add_f64", (0.1, 0.2)),
])
def test_numeric_results_are_identical(both: Any, export: str, args: tuple[Any, ...]) -> None:
    public, fast = both()
    seen = same(public, fast, NUMERIC, export, args)
    assert "results" in seen


def test_multi_value_bits() -> None:
    rt = Runtime()
    assert rt.call(NUMERIC, "multi").results == [
        Value("i32", 0xFFFF_FFFF), Value("i64", 0xFFFF_FFFF_FFFF_FFFE),
        Value("f32", 0x3FC0_0000), Value("f64", 0xBFD0_0000_0000_0000)]


@pytest.mark.parametrize("export,bits", [("nan_f32", 0x7FC0_0000),
                                         ("nan_f64", 0x7FF8_0000_0000_0000)])
def test_nan_is_canonical(both: Any, export: str, bits: int) -> None:
    public, fast = both()
    seen = same(public, fast, NUMERIC, export)
    assert seen["results"][0][1] == bits


def test_nan_payloads_pass_through_exactly_on_the_fast_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERVM_EXECUTOR", "fast")
    rt = Runtime()
    signalling = Value("f32", 0x7FA0_0001)
    assert rt.call(NUMERIC, "id_f32", (signalling,)).results == [signalling]
    negative = Value("f64", 0xFFF0_0000_0000_0F0F)
    assert rt.call(NUMERIC, "id_f64", (negative,)).results == [negative]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1),
       st.integers(0, 2**64 - 1))
def test_reverse_returns_exact_bits(a: int, b: int, c: int, d: int) -> None:
    result = _fast_runtime().call(
        NUMERIC, "reverse", (Value("i32", a), Value("i64", b), Value("f32", c), Value("f64", d)))
    assert [(v.type, v.bits) for v in result.results] == [
        ("f64", d), ("f32", c), ("i64", b), ("i32", a)]


_FAST: list[Runtime] = []


def _fast_runtime() -> Runtime:
    if not _FAST:
        rt = Runtime()
        rt._executor = FastExecutor(rt.engine)  # hypothesis forbids function-scoped fixtures
        _FAST.append(rt)
    return _FAST[0]


def test_determinism(both: Any) -> None:
    public, fast = both()
    first = same(public, fast, HOSTS, "everything", (5,), dry_run=True)
    second = same(public, fast, HOSTS, "everything", (5,), dry_run=True)
    assert first == second
    assert len(first["trace"]) == 10


# --- traps ------------------------------------------------------------------------------------


@pytest.mark.parametrize("module,export,args,code", [
    (NUMERIC, "crash", (), "unreachable"),
    (NUMERIC, "div", (1, 0), "integer_division_by_zero"),
    (NUMERIC, "div", (-(2**31), -1), "integer_overflow"),
    (NUMERIC, "oob", (), "memory_out_of_bounds"),
    (sample("loop.wat"), "recurse", (0,), "stack_overflow"),
    (START_TRAPS, "f", (), "unreachable"),
])
def test_traps_are_identical(both: Any, module: str, export: str, args: tuple[Any, ...],
                             code: str) -> None:
    public, fast = both()
    seen = same(public, fast, module, export, args)
    assert seen["error"] == "TrapError" and seen["code"] == code
    assert seen["frames"], "wasm traps carry their backtrace on both paths"


# --- host faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("module,export,needle", [
    (sample("loop.wat"), "bad_pointer", "key 0xffffff9c..0xffffffa4 is outside memory"),
    (HOSTS, "negative_len", "key_len is negative (-1)"),
    (HOSTS, "read_nothing", "no value cached"),
    (HOSTS, "read_event_5", "event index 5 out of range (events: 0)"),
    (HOSTS, "read_event_negative", "event index -1 out of range (events: 1)"),
])
def test_host_faults_are_identical(both: Any, module: str, export: str, needle: str) -> None:
    public, fast = both()
    storage_before = fast.storage.snapshot()
    seen = same(public, fast, module, export)
    assert seen["error"] == "TrapError" and seen["code"] == "host"
    assert needle in seen["message"]
    assert seen["storage"] == storage_before and seen["log"] == []


def test_host_trap_carries_the_wasm_backtrace_on_the_fast_path(both: Any) -> None:
    _, fast = both()
    with pytest.raises(TrapError) as caught:
        fast.call(sample("loop.wat"), "bad_pointer")
    assert caught.value.host_function == "storage_api.storage_set"
    assert [f.func_name for f in caught.value.frames] == ["bad_pointer"]


def test_abort_is_identical(both: Any) -> None:
    public, fast = both()
    seen = same(public, fast, sample("abort.wat"), "fail")
    assert seen["error"] == "AbortError"
    assert seen["dict"]["reason"] == "insufficient balance"
    assert seen["storage"] == {} and len(seen["trace"]) == 2


# --- limits and fuel --------------------------------------------------------------------------


def test_max_value_size(both: Any) -> None:
    public, fast = both(limits=Limits(max_value_size=4))
    seen = same(public, fast, HOSTS, "big_value")
    assert seen["error"] == "LimitExceededError" and seen["dict"]["limit"] == "max_value_size"


def test_max_events(both: Any) -> None:
    public, fast = both(limits=Limits(max_events=2))
    seen = same(public, fast, HOSTS, "three_events")
    assert seen["error"] == "LimitExceededError" and seen["dict"]["limit"] == "max_events"
    assert seen["log"] == [] and seen["storage"] == {}


def test_memory_pages_at_instantiation(both: Any) -> None:
    public, fast = both(limits=Limits(max_memory_pages=5))
    seen = same(public, fast, BIG_MEMORY, "f")
    assert seen["error"] == "LimitExceededError"
    assert seen["dict"]["limit"] == "max_memory_pages" and seen["dict"]["value"] == 10


def test_memory_grow_beyond_the_limit_returns_minus_one(both: Any) -> None:
    public, fast = both(limits=Limits(max_memory_pages=3))
    assert same(public, fast, sample("loop.wat"), "grow_by", (2,))["results"] == [("i32", 1)]
    refused = same(public, fast, sample("loop.wat"), "grow_by", (3,))
    assert refused["results"] == [("i32", 0xFFFF_FFFF)]
    assert same(public, fast, sample("loop.wat"), "grow")["results"] == [("i32", 0xFFFF_FFFF)]


HIDDEN_MEMORY = ('(module (memory 1)'
                 ' (func (export "grow") (result i32) (memory.grow (i32.const 9))))')
BIG_TABLE = '(module (table 5000 funcref) (func (export "f") (result i32) (table.size)))'


def test_limits_apply_to_unexported_memories_and_tables(both: Any) -> None:
    public, fast = both(limits=Limits(max_memory_pages=5, max_table_elements=1000))
    assert same(public, fast, HIDDEN_MEMORY, "grow")["results"] == [("i32", 0xFFFF_FFFF)]
    seen = same(public, fast, BIG_TABLE, "f")
    assert seen["error"] == "LimitExceededError"
    public, fast = both(limits=Limits(max_table_elements=5000))
    assert same(public, fast, BIG_TABLE, "f")["results"] == [("i32", 5000)]


def test_max_trace_truncates_identically(both: Any) -> None:
    public, fast = both(limits=Limits(max_trace=3))
    seen = same(public, fast, HOSTS, "everything", (1,))
    assert seen["truncated"] and len(seen["trace"]) == 3


def test_out_of_fuel(both: Any) -> None:
    public, fast = both()
    seen = same(public, fast, sample("loop.wat"), "spin", fuel=20_000)
    assert seen["error"] == "OutOfFuelError" and seen["fuel"] == 20_000


@pytest.mark.parametrize("fuel", [1, 5, 9, 10, 11, 30])
def test_fuel_boundaries(both: Any, fuel: int) -> None:
    public, fast = both()
    same(public, fast, HOSTS, "everything", (2,), fuel=fuel)


# --- storage, events, context, memory ---------------------------------------------------------


def test_storage_events_and_context(both: Any) -> None:
    from runtime import ChainContext

    public, fast = both(context=ChainContext(block_number=12345, timestamp=1704067200))
    for module, export in ((sample("events.wat"), "run"), (sample("events.wat"), "events_count"),
                           (sample("events.wat"), "echo_first_event"),
                           (sample("counter.wat"), "increment"),
                           (sample("counter.wat"), "increment"), (sample("counter.wat"), "get"),
                           (sample("counter.wat"), "reset"), (HOSTS, "everything")):
        same(public, fast, module, export, (7,) if export == "everything" else ())
    assert fast.storage.snapshot() == public.storage.snapshot() != {}


def test_start_function_host_calls(both: Any) -> None:
    from runtime import ChainContext

    public, fast = both(context=ChainContext(block_number=77))
    seen = same(public, fast, START_CALLS_HOST, "block")
    assert seen["results"] == [("i64", 77)] and len(seen["trace"]) == 1
    # While the start function runs the instance does not exist yet: memory is reached
    # through the host call's caller, on both paths.
    seen = same(public, fast, START_EMITS, "count")
    assert seen["results"] == [("i32", 1)] and seen["events"] == [b"hi"]


def test_memory_growth_refreshes_the_view(both: Any) -> None:
    public, fast = both()
    seen = same(public, fast, HOSTS, "grow_then_emit", keep_memory=True)
    assert seen["events"] == [b"abcd"] and len(seen["memory"]) == 2 * 65536


GROW_BETWEEN_HOST_CALLS = contract(
    '(func (export "f") (result i64) (drop (call $block_number))'
    ' (drop (memory.grow (i32.const 1))) (call $block_number))',
    data='(data (i32.const 0) "first page")',
)


def test_view_to_reuses_the_cached_view_only_while_it_covers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERVM_EXECUTOR", "fast")
    rt = Runtime()
    seen: list[Any] = []

    def hook(state: Any, entry: Any) -> None:
        memory = state.memory
        if not seen:
            seen.append(memory.view_to(10))
        else:
            again = memory.view_to(10)
            seen.extend([again, memory.view_to(65536 + 4), memory.size()])

    rt.call(GROW_BETWEEN_HOST_CALLS, "f", hook=hook)
    first, again, grown, size = seen
    assert fastpath._MEMORIES_STAY.get(rt.engine) is True
    assert again is first and len(first) == 65536  # no C call while the view covers the range
    assert len(grown) == size == 2 * 65536 and bytes(grown[:10]) == b"first page"


def test_view_to_without_the_guarantee_is_view(monkeypatch: pytest.MonkeyPatch) -> None:
    rt = Runtime()
    rt._executor = executor = FastExecutor(rt.engine)
    monkeypatch.setitem(fastpath._MEMORIES_STAY, rt.engine, False)
    executor._plans.clear()
    lengths: list[int] = []
    rt.call(GROW_BETWEEN_HOST_CALLS, "f",
            hook=lambda state, entry: lengths.append(len(state.memory.view_to(10))))
    assert lengths == [65536, 2 * 65536]


def test_keep_memory_on_failure(both: Any) -> None:
    public, fast = both()
    seen = same(public, fast, sample("abort.wat"), "fail", keep_memory=True)
    assert seen["memory"] is not None and len(seen["memory"]) == 65536


def test_pointers_are_unsigned(both: Any) -> None:
    public, fast = both()
    seen = same(public, fast, HOSTS, "emit_bits", (-100, 4))
    assert "data_ptr=0xffffff9c" in seen["message"]


# --- exceptions from user code inside a host call ---------------------------------------------


class BrokenStorage(MemoryStorage):
    """A user-defined storage whose reads fail."""

    def get(self, key: bytes) -> bytes | None:
        raise OSError(f"disk on fire reading {key!r}")


def test_storage_exception_becomes_host_fault(both: Any) -> None:
    public, fast = both(storage_public=BrokenStorage(), storage_fast=BrokenStorage())
    seen = same(public, fast, sample("counter.wat"), "increment")
    assert seen["error"] == "HostFaultError" and seen["cause"] == "OSError"
    assert "disk on fire" in seen["message"]
    with pytest.raises(HostFaultError) as caught:
        fast.call(sample("counter.wat"), "increment")
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.original is caught.value.__cause__
    assert fast.call(sample("add.wat"), "add", (2, 3)).value == 5  # the process goes on


def test_hook_exception_becomes_host_fault(both: Any) -> None:
    public, fast = both()

    def hook(state: Any, entry: Any) -> None:
        if entry.func.endswith("emit_event"):
            raise ValueError("debugger hook failed")

    seen = same(public, fast, sample("events.wat"), "run", hook=hook)
    assert seen["error"] == "HostFaultError" and seen["cause"] == "ValueError"
    assert seen["storage"] == {} and seen["log"] == []


def test_keyboard_interrupt_in_a_hook_interrupts_the_call(both: Any) -> None:
    public, fast = both()

    def hook(state: Any, entry: Any) -> None:
        raise KeyboardInterrupt

    seen = same(public, fast, sample("events.wat"), "run", hook=hook)
    assert seen["error"] == "CallInterruptedError"


def test_hook_sees_fuel_and_memory(both: Any) -> None:
    public, fast = both()
    seen: dict[str, list[Any]] = {"public": [], "fast": []}
    for name, rt in (("public", public), ("fast", fast)):

        def hook(state: Any, entry: Any, name: str = name) -> None:
            seen[name].append((state.fuel(), state.memory.size(), state.memory.view()[0:10]
                               .tobytes()))

        rt.call(sample("events.wat"), "run", hook=hook)
    assert seen["public"] == seen["fast"] and len(seen["fast"]) == 5


def test_nested_call_from_a_hook(both: Any) -> None:
    public, fast = both()
    for rt in (public, fast):
        inner: list[Any] = []

        def hook(state: Any, entry: Any, rt: Runtime = rt, inner: list[Any] = inner) -> None:
            if not inner:
                inner.append(rt.call(sample("counter.wat"), "increment", dry_run=True).value)

        result = rt.call(sample("events.wat"), "run", hook=hook)
        assert result.events == [b"UserAction", b"BlockProcessed"] and inner == [1]
    assert public.storage.snapshot() == fast.storage.snapshot()


# --- interrupt --------------------------------------------------------------------------------


@pytest.mark.parametrize("choice", ["public", "fast"])
def test_interrupt_stops_an_infinite_loop(monkeypatch: pytest.MonkeyPatch, choice: str) -> None:
    monkeypatch.setenv("SUPERVM_EXECUTOR", choice)
    rt = Runtime()
    spin = rt.load(sample("loop.wat"))
    outcome_: dict[str, Any] = {}
    done = threading.Event()

    def worker() -> None:
        try:
            rt.call(spin, "spin", fuel=10**15)
        except CallError as error:
            outcome_["error"] = error
        finally:
            outcome_["ended"] = time.perf_counter()
            done.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    time.sleep(0.1)
    assert not done.is_set(), "the loop is still running"
    asked = time.perf_counter()
    rt.interrupt()
    assert done.wait(5.0)
    thread.join(1.0)
    assert isinstance(outcome_["error"], CallInterruptedError)
    assert executor_of(rt).name == choice
    # Target 100 ms; the bound is generous because shared CI machines are noisy.
    assert outcome_["ended"] - asked < 1.0
    # The deadline is set again for the next call.
    assert rt.call(sample("add.wat"), "add", (1, 1)).value == 2


# --- choosing the executor --------------------------------------------------------------------


def test_default_is_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPERVM_EXECUTOR", raising=False)
    assert make_executor(Runtime().engine).name == "fast"


def test_env_forces_the_public_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERVM_EXECUTOR", "public")
    assert isinstance(make_executor(Runtime().engine), PublicExecutor)


def test_fallback_when_a_symbol_is_missing(monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    signatures = {**fastpath._Api._SIGNATURES, "wasmtime_no_such_function": (False, None, None)}
    monkeypatch.setattr(fastpath._Api, "_SIGNATURES", signatures)
    monkeypatch.setattr(fastpath, "_API", None)
    monkeypatch.setattr(executor_module, "_FALLBACK_LOGGED", set())
    monkeypatch.delenv("SUPERVM_EXECUTOR", raising=False)
    engine = Runtime().engine
    with caplog.at_level(logging.DEBUG, logger="runtime.executors"):
        first = make_executor(engine)
        second = make_executor(engine)
    assert isinstance(first, PublicExecutor) and isinstance(second, PublicExecutor)
    notes = [r for r in caplog.records if "fast call path unavailable" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.DEBUG
    assert "wasmtime_no_such_function" in notes[0].getMessage()
    monkeypatch.setenv("SUPERVM_EXECUTOR", "fast")
    with pytest.raises(FastPathUnavailable):
        make_executor(engine)
    # A runtime still works, on the public path.
    monkeypatch.delenv("SUPERVM_EXECUTOR")
    assert Runtime().call(sample("add.wat"), "add", (7, 8)).value == 15


def test_fallback_when_the_self_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(executor: Any) -> None:
        raise FastPathUnavailable("self-check returned the wrong bits")

    monkeypatch.setattr(fastpath, "_self_check", broken)
    monkeypatch.setattr(executor_module, "_FALLBACK_LOGGED", set())
    monkeypatch.delenv("SUPERVM_EXECUTOR", raising=False)
    assert isinstance(make_executor(Runtime().engine), PublicExecutor)


def test_fallback_on_a_ctypes_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def bad_cast(*args: Any) -> Any:
        raise ctypes.ArgumentError("wrong type")

    monkeypatch.setattr(fastpath.ctypes, "cast", bad_cast)
    monkeypatch.delenv("SUPERVM_EXECUTOR", raising=False)
    assert isinstance(make_executor(Runtime().engine), PublicExecutor)


# --- lifetime ---------------------------------------------------------------------------------


def test_stores_are_freed_when_the_call_is_done() -> None:
    rt = Runtime()
    rt._executor = executor = FastExecutor(rt.engine)
    counter = rt.load(sample("counter.wat"))
    alive: list[Any] = []
    original = fastpath._Store.__del__

    def tracked_del(self: Any) -> None:
        if id(self) in alive:  # stores of earlier tests may go now too
            alive.remove(id(self))
        original(self)

    original_init = fastpath._Store.__init__

    def tracked_init(self: Any, *args: Any) -> None:
        original_init(self, *args)
        alive.append(id(self))

    try:
        fastpath._Store.__init__ = tracked_init  # type: ignore[method-assign]
        fastpath._Store.__del__ = tracked_del  # type: ignore[method-assign]
        for _ in range(20):
            rt.call(counter, "increment")
        with pytest.raises(TrapError):
            rt.call(sample("loop.wat"), "bad_pointer")
        gc.collect()
        assert alive == []
    finally:
        fastpath._Store.__init__ = original_init  # type: ignore[method-assign]
        fastpath._Store.__del__ = original  # type: ignore[method-assign]
    assert executor.name == "fast"


def test_memory_view_outlives_the_call_safely() -> None:
    rt = Runtime()
    rt._executor = FastExecutor(rt.engine)
    kept: list[memoryview] = []
    rt.call(sample("events.wat"), "run",
            hook=lambda state, entry: kept.append(state.memory.view()))
    gc.collect()
    assert bytes(kept[-1][0x10:0x1A]) == b"UserAction"  # the view keeps its store alive


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_no_leak_across_100k_calls() -> None:
    rt = Runtime(trace=True)
    rt._executor = FastExecutor(rt.engine)
    add, events = rt.load(sample("add.wat")), rt.load(sample("events.wat"))
    loop = rt.load(sample("loop.wat"))

    def burst(n: int) -> None:
        for i in range(n):
            if i % 10 == 0:
                rt.call(events, "events_count", dry_run=True)
            elif i % 101 == 0:
                with pytest.raises(TrapError):
                    rt.call(loop, "bad_pointer")
            else:
                rt.call(add, "add", (i, 1))

    burst(10_000)
    gc.collect()
    before = _rss()
    burst(100_000)
    gc.collect()
    grown = _rss() - before
    assert grown < 16 * 1024 * 1024, f"RSS grew by {grown:,} bytes over 100,000 calls"


def test_callback_registry_is_released() -> None:
    before = len(fastpath._CALLBACKS)
    rt = Runtime()
    executor = FastExecutor(rt.engine)
    assert len(fastpath._CALLBACKS) == before + len(executor._types)
    del executor
    gc.collect()
    assert len(fastpath._CALLBACKS) == before


# --- odd inputs to the executor ---------------------------------------------------------------


def test_errors_keep_their_types(both: Any) -> None:
    public, fast = both(limits=Limits(max_memory_pages=2))
    for rt in (public, fast):
        with pytest.raises(OutOfFuelError):
            rt.call(sample("loop.wat"), "spin", fuel=1000)
        with pytest.raises(AbortError):
            rt.call(sample("abort.wat"), "fail_no_file")
        with pytest.raises(LimitExceededError):
            rt.call(BIG_MEMORY, "f")


def test_struct_layouts_match_wasmtime() -> None:
    assert struct.calcsize("<I12x") == 16 == ctypes.sizeof(fastpath.ffi.wasmtime_val_raw_t)
