"""Runtime: the v0.1.0 API, the general call API, atomic calls and determinism."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import (
    AbortError,
    BadArgumentsError,
    CallInterruptedError,
    ChainContext,
    HostFaultError,
    LimitExceededError,
    Limits,
    MemoryStorage,
    MissingImportError,
    NoSuchExportError,
    OutOfFuelError,
    Runtime,
    StorageWrite,
    TrapError,
    Value,
)
from tests.support import MyStorage, contract, sample

ADD_WAT = """
(module
  (func $add (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add)
)
"""

GREET_WAT = """
(module
  (import "chain_api" "emit_event" (func $emit_event (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Hello, World!")

  (func (export "greet") (result i32)
    i32.const 0
    i32.const 13
    call $emit_event
    drop
    i32.const 42
  )
)
"""


def state_of(rt: Runtime) -> tuple[dict[bytes, bytes], list]:
    """Everything a failed call must leave as it was."""
    return rt.storage.snapshot(), list(rt.event_log)


# --- the six tests of v0.1.0 ------------------------------------------------------------------


def test_execute_add_via_wat() -> None:
    runtime = Runtime(MemoryStorage())
    assert runtime.execute_add(ADD_WAT, 7, 8) == 15


def test_storage() -> None:
    """A contract writes, reads back and deletes through storage_api."""
    rt = Runtime(MemoryStorage())
    wat = contract(
        """
        (func (export "put") (result i32)
          (call $set (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5)))
        (func (export "get") (result i64)
          (drop (call $get (i32.const 0) (i32.const 3)))
          (i64.extend_i32_u (call $read_value (i32.const 32) (i32.const 64))))
        (func (export "del") (result i32) (call $delete (i32.const 0) (i32.const 3)))
        """,
        data='(data (i32.const 0) "key") (data (i32.const 16) "value")',
    )
    assert rt.call(wat, "put").value == 0
    assert rt.storage.get(b"key") == b"value"
    result = rt.call(wat, "get", keep_memory=True)
    assert result.value == 5
    assert result.memory[32:37] == b"value"
    rt.call(wat, "del")
    assert rt.storage.get(b"key") is None


def test_host_functions() -> None:
    """block_number and timestamp return the call's chain context."""
    rt = Runtime(MemoryStorage())
    wat = contract("""
        (func (export "ctx") (result i64 i64) (call $block_number) (call $timestamp))
    """)
    result = rt.call(wat, "ctx", context=ChainContext(12345, 1704067200))
    assert result.value == (12345, 1704067200)
    rt.context = ChainContext(7, 8)
    assert rt.call(wat, "ctx").value == (7, 8)


def test_emit_event() -> None:
    rt = Runtime(MemoryStorage())
    wat = contract(
        """
        (func (export "emit_and_read") (result i32)
          (drop (call $emit (i32.const 0) (i32.const 5)))
          (drop (call $emit (i32.const 5) (i32.const 6)))
          (drop (call $read_event (i32.const 1) (i32.const 100) (i32.const 3)))
          (call $events_len))
        """,
        data='(data (i32.const 0) "first second")',
    )
    result = rt.call(wat, "emit_and_read", keep_memory=True)
    assert result.value == 2
    assert result.events == [b"first", b" secon"]
    assert result.memory[100:103] == b" se"


def test_execute_with_context() -> None:
    runtime = Runtime(MemoryStorage())
    result, events, block, timestamp = runtime.execute_with_context(
        GREET_WAT, "greet", 12345, 1704067200
    )
    assert result == 42
    assert events == [b"Hello, World!"]
    assert (block, timestamp) == (12345, 1704067200)


# --- seed parity beyond the six tests ---------------------------------------------------------


def test_user_storage_plugs_in() -> None:
    storage = MyStorage()
    rt = Runtime(storage)
    assert rt.storage is storage
    rt.call(sample("counter.wat"), "increment")
    rt.call(sample("counter.wat"), "increment")
    assert int.from_bytes(storage.data[b"counter"], "little") == 2


def test_wasm_binary_and_wat_are_the_same(rt: Runtime) -> None:
    import wasmtime

    binary = wasmtime.wat2wasm(ADD_WAT)
    assert rt.execute_add(bytes(binary), 2, 3) == 5
    assert rt.execute_add(ADD_WAT.encode(), 2, 3) == 5


# --- the general call API ---------------------------------------------------------------------


def test_arguments_are_checked_against_the_signature(rt: Runtime) -> None:
    wat = """(module (func (export "f") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
        local.get 3 local.get 2 local.get 1 local.get 0))"""
    result = rt.call(wat, "f", (0xFFFF_FFFF, -(2**63), 1.5, 2))
    assert [v.type for v in result.results] == ["f64", "f32", "i64", "i32"]
    assert result.value == (2.0, 1.5, -(2**63), -1)
    with pytest.raises(BadArgumentsError, match="takes 4 arguments"):
        rt.call(wat, "f", (1, 2))
    with pytest.raises(BadArgumentsError, match="out of range for i32"):
        rt.call(wat, "f", (2**32, 0, 0.0, 0.0))
    with pytest.raises(BadArgumentsError, match="expected an integer"):
        rt.call(wat, "f", (1.5, 0, 0.0, 0.0))
    with pytest.raises(BadArgumentsError, match="expected a number"):
        rt.call(wat, "f", ("1", 0, 0.0, 0.0))
    with pytest.raises(BadArgumentsError, match="out of range for f32"):
        rt.call(wat, "f", (0, 0, 1e39, 0.0))
    # Rejected arguments never start a call: no call number was used.
    assert rt.call(wat, "f", (0, 0, 0.0, 0.0)).call_id == result.call_id + 1


def test_typed_values_keep_their_bits(rt: Runtime) -> None:
    wat = '(module (func (export "id") (param f64) (result f64) local.get 0))'
    result = rt.call(wat, "id", (Value("f64", 0x4000_0000_0000_0000),))
    assert result.results == [Value("f64", 0x4000_0000_0000_0000)]
    with pytest.raises(BadArgumentsError, match="got a i32 value"):
        rt.call(wat, "id", (Value("i32", 1),))


def test_no_such_export_lists_the_exports(rt: Runtime) -> None:
    with pytest.raises(NoSuchExportError) as err:
        rt.call(sample("counter.wat"), "incremnt")
    assert sorted(err.value.exports) == ["add", "get", "increment", "reset"]
    assert "increment" in str(err.value)


def test_result_carries_everything(rt: Runtime) -> None:
    result = rt.call(sample("events.wat"), "run", context=ChainContext(12345, 1704067200))
    assert result.value == 1704079545
    assert result.events == [b"UserAction", b"BlockProcessed"]
    assert [c.key for c in result.storage_changes] == [b"last_block"]
    assert result.storage_changes[0].old is None
    assert result.storage_changes[0].new == (12345).to_bytes(8, "little")
    assert 0 < result.fuel_used < result.fuel_limit
    assert [e.name for e in result.trace] == [
        "block_number", "storage_set", "emit_event", "emit_event", "block_number", "timestamp"
    ] or len(result.trace) >= 3
    assert result.elapsed > 0
    assert result.committed


def test_each_call_gets_a_fresh_instance(rt: Runtime) -> None:
    wat = """(module (global $n (mut i32) (i32.const 0))
        (func (export "bump") (result i32)
          (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))"""
    assert [rt.call(wat, "bump").value for _ in range(3)] == [1, 1, 1]


def test_dry_run_commits_nothing(rt: Runtime) -> None:
    token = sample("token.wat")
    result = rt.call(token, "mint", (0, 100), dry_run=True)
    assert result.value == 100 and not result.committed
    assert result.storage_changes  # reported, not applied
    assert state_of(rt) == ({}, [])


def test_reads_see_the_calls_own_writes(rt: Runtime) -> None:
    counter = sample("counter.wat")
    wat = contract(
        """
        (func (export "write_then_read") (result i64)
          (drop (call $set (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 3)))
          (call $get (i32.const 0) (i32.const 1)))
        """,
        data='(data (i32.const 0) "k") (data (i32.const 8) "abc")',
    )
    assert rt.call(wat, "write_then_read").value == 3
    assert rt.call(counter, "add", (5,)).value == 5


def test_missing_import_names_it_and_lists_host_functions(rt: Runtime) -> None:
    wat = '(module (import "chain_api" "gas_left" (func (result i64))) (func (export "f")))'
    contract_ = rt.load(wat)
    assert [i.provided for i in contract_.info.imports] == [False]
    with pytest.raises(MissingImportError) as err:
        rt.call(contract_, "f")
    assert "chain_api.gas_left" in str(err.value)
    assert "storage_api.storage_get" in err.value.available


def test_import_with_wrong_type_is_refused(rt: Runtime) -> None:
    wat = '(module (import "chain_api" "block_number" (func (result i32))) (func (export "f")))'
    with pytest.raises(MissingImportError, match="type mismatch"):
        rt.call(wat, "f")


# --- atomicity --------------------------------------------------------------------------------

FAILING = contract(
    """
    (func $write_and_emit
      (drop (call $set (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 3)))
      (drop (call $emit (i32.const 8) (i32.const 3))))
    (func (export "trap") (call $write_and_emit) unreachable)
    (func (export "spin") (call $write_and_emit) (loop br 0))
    (func (export "wild") (call $write_and_emit)
      (drop (call $set (i32.const 0xFFFFFF9C) (i32.const 5) (i32.const 0) (i32.const 1))))
    (func (export "negative") (call $write_and_emit)
      (drop (call $set (i32.const 0) (i32.const -1) (i32.const 0) (i32.const 1))))
    (func (export "huge_value") (call $write_and_emit)
      (drop (call $set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 65536))))
    (func (export "no_cache") (call $write_and_emit)
      (drop (call $get (i32.const 16) (i32.const 7)))
      (drop (call $read_value (i32.const 0) (i32.const 4))))
    (func (export "bad_event") (call $write_and_emit)
      (drop (call $read_event (i32.const 5) (i32.const 0) (i32.const 4))))
    (func (export "recurse") (call $write_and_emit) (call $r))
    (func $r (call $r))
    (func (export "div") (result i32)
      (call $write_and_emit) (i32.div_u (i32.const 1) (i32.const 0)))
    """,
    data='(data (i32.const 0) "k") (data (i32.const 8) "new") (data (i32.const 16) "missing")',
)


@pytest.mark.parametrize(
    ("export", "error", "message"),
    [
        ("trap", TrapError, "unreachable"),
        ("spin", OutOfFuelError, "out of fuel"),
        ("wild", TrapError, "storage_api.storage_set(key_ptr=0xffffff9c, key_len=5"),
        ("negative", TrapError, "key_len is negative (-1)"),
        ("huge_value", LimitExceededError, "max_value_size exceeded: 65,536 > 1,024"),
        ("no_cache", TrapError, "storage_api.storage_read_value(ptr=0x0, len=4): no value"),
        ("bad_event", TrapError, "event index 5 out of range"),
        ("recurse", TrapError, "stack_overflow"),
        ("div", TrapError, "integer divide by zero"),
    ],
)
def test_failed_calls_change_nothing(export: str, error: type, message: str) -> None:
    rt = Runtime(MemoryStorage(), limits=Limits(fuel=100_000, max_value_size=1024))
    rt.storage.set(b"k", b"old")
    rt.call(sample("greet.wat"), "greet")
    before = state_of(rt)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        rt.call(FAILING, export)
    assert state_of(rt) == before
    # The failed call's trace shows what it did before failing, with its effects.
    assert err.value.trace[0].effect == StorageWrite(b"k", b"old", b"new")
    assert err.value.fuel_used > 0


def test_trap_has_code_and_backtrace_with_names(rt: Runtime) -> None:
    with pytest.raises(TrapError) as err:
        rt.call(FAILING, "trap")
    assert err.value.code == "unreachable"
    assert err.value.frames[0].func_name == "trap"
    assert err.value.to_dict()["backtrace"][0].startswith("trap @ 0x")


def test_host_fault_keeps_the_original_and_changes_nothing() -> None:
    class Broken(MyStorage):
        def get(self, key: bytes) -> bytes | None:
            raise OSError("disk on fire")

    rt = Runtime(Broken())
    with pytest.raises(HostFaultError) as err:
        rt.call(sample("counter.wat"), "increment")
    assert isinstance(err.value.__cause__, OSError)
    assert err.value.host_function == "storage_api.storage_get"
    assert rt.storage.data == {} and rt.event_log == []


def test_abort_carries_message_and_location(rt: Runtime) -> None:
    with pytest.raises(AbortError) as err:
        rt.call(sample("abort.wat"), "fail")
    assert (err.value.reason, err.value.file, err.value.line, err.value.col) == (
        "insufficient balance", "assembly/index.ts", 42, 7)
    assert "insufficient balance at assembly/index.ts:42:7" in str(err.value)
    assert state_of(rt) == ({}, [])


def test_token_transfer_with_insufficient_funds_rolls_back(rt: Runtime) -> None:
    token = sample("token.wat")
    rt.call(token, "mint", (0, 100))
    before = state_of(rt)
    with pytest.raises(TrapError):
        rt.call(token, "transfer", (0, 1, 101))
    assert state_of(rt) == before
    assert rt.call(token, "transfer", (0, 1, 60)).value == 1
    assert rt.call(token, "balance_of", (1,)).value == 60


def test_memory_bomb_is_contained() -> None:
    rt = Runtime(MemoryStorage(), limits=Limits(max_memory_pages=16))
    assert rt.call(sample("loop.wat"), "grow").value == -1
    big = '(module (memory (export "memory") 17) (func (export "f")))'
    with pytest.raises(LimitExceededError, match="max_memory_pages"):
        rt.call(big, "f")


def test_event_limits() -> None:
    rt = Runtime(MemoryStorage(), limits=Limits(max_events=2, max_event_size=4))
    wat = contract("""
        (func (export "three") (drop (call $emit (i32.const 0) (i32.const 1)))
          (drop (call $emit (i32.const 0) (i32.const 1)))
          (drop (call $emit (i32.const 0) (i32.const 1))))
        (func (export "big") (drop (call $emit (i32.const 0) (i32.const 5))))
    """)
    with pytest.raises(LimitExceededError, match="max_events"):
        rt.call(wat, "three")
    with pytest.raises(LimitExceededError, match=r"chain_api\.emit_event.*max_event_size"):
        rt.call(wat, "big")
    assert rt.event_log == []


def test_interrupt_from_another_thread_stops_a_call_quickly(rt: Runtime) -> None:
    rt.limits = Limits(fuel=10**15)
    timer = threading.Timer(0.2, rt.interrupt)
    timer.start()
    started = time.perf_counter()
    with pytest.raises(CallInterruptedError):
        rt.call(FAILING, "spin")
    stopped = time.perf_counter() - started
    timer.join()
    # Stops within 100 ms of the interrupt (generous bound for a loaded machine).
    assert stopped < 0.2 + 1.0
    assert state_of(rt) == ({}, [])
    assert rt.call(ADD_WAT, "add", (1, 2)).value == 3  # the next call is not interrupted


def test_determinism_same_call_same_everything() -> None:
    def run() -> tuple:
        rt = Runtime(MemoryStorage())
        rt.call(sample("token.wat"), "mint", (0, 500))
        r = rt.call(sample("token.wat"), "transfer", (0, 2, 123))
        return (r.results, r.events, r.fuel_used, r.storage_changes,
                [e.to_dict() for e in r.trace])

    assert run() == run()


def test_nan_is_canonical(rt: Runtime) -> None:
    wat = '(module (func (export "nan") (result f32) (f32.div (f32.const 0) (f32.const 0))))'
    assert rt.call(wat, "nan").results[0].bits == 0x7FC00000


def test_trace_is_bounded_and_flags_truncation() -> None:
    rt = Runtime(MemoryStorage(), limits=Limits(max_trace=2))
    result = rt.call(sample("token.wat"), "mint", (0, 10))
    assert len(result.trace) == 2 and result.trace_truncated
    assert not rt.call(sample("token.wat"), "mint", (0, 10), trace=False).trace


# --- property: random calls and traps against a model ----------------------------------------

MODEL_WAT = contract(
    """
    ;; put(key, value, then_trap): write one byte key -> 8-byte value, emit it, maybe trap.
    (func (export "put") (param $k i32) (param $v i64) (param $trap i32)
      (i32.store8 (i32.const 0) (local.get $k))
      (i64.store (i32.const 8) (local.get $v))
      (drop (call $set (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 8)))
      (drop (call $emit (i32.const 8) (i32.const 8)))
      (if (local.get $trap) (then unreachable)))
    (func (export "del") (param $k i32) (param $trap i32)
      (i32.store8 (i32.const 0) (local.get $k))
      (drop (call $delete (i32.const 0) (i32.const 1)))
      (if (local.get $trap) (then unreachable)))
    """
)

operations = st.lists(
    st.tuples(st.sampled_from(["put", "del"]), st.integers(0, 7), st.integers(-5, 5),
              st.booleans()),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_calls_and_traps_match_a_model(ops: list[tuple[str, int, int, bool]]) -> None:
    rt = Runtime(MemoryStorage())
    contract_ = rt.load(MODEL_WAT)
    model: dict[bytes, bytes] = {}
    events: list[bytes] = []
    for op, key, value, trap in ops:
        args = (key, value, int(trap)) if op == "put" else (key, int(trap))
        try:
            rt.call(contract_, op, args)
        except TrapError:
            assert trap
        else:
            assert not trap
            if op == "put":
                model[bytes([key])] = value.to_bytes(8, "little", signed=True)
                events.append(model[bytes([key])])
            else:
                model.pop(bytes([key]), None)
        assert rt.storage.snapshot() == dict(sorted(model.items()))
        assert [e.data for e in rt.event_log] == events


@pytest.mark.parametrize("fuel", [2**64, 2**64 + 5, 0, -1, 1.5, True])
def test_fuel_beyond_the_engine_is_bad_arguments(rt: Runtime, fuel: object) -> None:
    """Fuel never wraps: 2^64 + 5 would otherwise run with 5 units."""
    loop = rt.load(sample("loop.wat"))
    with pytest.raises(BadArgumentsError, match="fuel must be"):
        rt.call(loop, "spin", fuel=fuel)
    with pytest.raises(BadArgumentsError, match="fuel must be"):
        Limits(fuel=fuel)
    assert rt.call(rt.load(sample("add.wat")), "add", (1, 2), fuel=2**64 - 1).value == 3


def test_modules_as_bytearray_memoryview_text_or_contract(rt: Runtime) -> None:
    """The seed's own usage: parse WAT, pass the bytes (wat2wasm returns a bytearray)."""
    import wasmtime

    wasm = wasmtime.wat2wasm(sample("add.wat"))
    assert isinstance(wasm, bytearray)
    for module in (wasm, memoryview(wasm), bytes(wasm), sample("add.wat"), rt.load(wasm)):
        assert rt.execute_add(module, 7, 8) == 15
        assert rt.call(module, "add", (1, 2)).value == 3
    with pytest.raises(TypeError, match="not int"):
        rt.call(7, "add", (1, 2))  # type: ignore[arg-type]


def test_the_module_map_stays_bounded(rt: Runtime) -> None:
    from runtime.runtime import SOURCES_KEPT

    for n in range(SOURCES_KEPT + 10):
        text = f'(module (func (export "add") (param i32 i32) (result i32) (i32.const {n})))'
        assert rt.execute_add(text, 0, 0) == n
    assert len(rt._sources) == SOURCES_KEPT


@pytest.mark.parametrize("executor", ["fast", "public"])
def test_a_start_function_reaches_exported_memory(executor: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERVM_EXECUTOR", executor)
    rt = Runtime(MemoryStorage())
    wat = contract('(func $init (drop (call $emit (i32.const 0) (i32.const 2)))) (start $init)'
                   ' (func (export "f") (drop (call $emit (i32.const 0) (i32.const 2))))',
                   data='(data (i32.const 0) "hi")')
    assert rt.call(wat, "f").events == [b"hi", b"hi"]


@pytest.mark.parametrize("executor", ["fast", "public"])
def test_instantiation_limits_and_trap_reasons(executor: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERVM_EXECUTOR", executor)
    rt = Runtime(MemoryStorage())
    with pytest.raises(LimitExceededError) as table:
        rt.call('(module (table 200000 funcref) (func (export "f")))', "f")
    assert (table.value.limit, table.value.value) == ("max_table_elements", 200_000)
    with pytest.raises(TrapError) as oob:
        rt.call('(module (memory 1) (func (export "f") (drop (i32.load (i32.const 70000)))))',
                "f")
    assert oob.value.code == "memory_out_of_bounds"
    assert oob.value.reason == ("out of bounds memory access (memory fault at wasm address "
                                "0x11170 in linear memory of size 0x10000)")


BIG_WRITES = contract("""
  (func (export "same_key") (param $n i32)
    (loop $again
      (drop (call $set (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0x100000)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $again (i32.gt_s (local.get $n) (i32.const 0)))))
  (func (export "distinct_keys") (param $n i32)
    (loop $again
      (i32.store (i32.const 0) (local.get $n))
      (drop (call $set (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0x100000)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $again (i32.gt_s (local.get $n) (i32.const 0)))))
  (func (export "events") (param $n i32)
    (loop $again
      (drop (call $emit (i32.const 0) (i32.const 0x10000)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $again (i32.gt_s (local.get $n) (i32.const 0)))))
""", memory=17)


@pytest.mark.parametrize(("export", "count"), [("same_key", 6000), ("distinct_keys", 2000),
                                               ("events", 1024)])
@pytest.mark.parametrize("trace", [True, False])
def test_a_call_holding_too_many_bytes_ends_with_a_limit(export: str, count: int,
                                                        trace: bool) -> None:
    import tracemalloc

    rt = Runtime(MemoryStorage({b"k": b"v"}), trace=trace)
    module = rt.load(BIG_WRITES)
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceededError) as caught:
            rt.call(module, export, (count,), dry_run=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = caught.value
    assert error.limit == "max_call_bytes" and error.maximum == 32 * 1024 * 1024
    assert error.where.startswith(("storage_api.storage_set(", "chain_api.emit_event("))
    assert peak < 80 * 1024 * 1024  # the limit plus the trace, not gigabytes
    with pytest.raises(LimitExceededError):
        rt.call(module, export, (count,))
    assert rt.storage.snapshot() == {b"k": b"v"} and rt.event_log == []


def test_the_call_byte_limit_is_configurable(rt: Runtime) -> None:
    rt.limits = rt.limits.with_(max_call_bytes=4 * 1024 * 1024)
    with pytest.raises(LimitExceededError, match="max_call_bytes exceeded"):
        rt.call(BIG_WRITES, "events", (65,))
    rt.limits = rt.limits.with_(max_call_bytes=64 * 1024 * 1024)
    assert len(rt.call(BIG_WRITES, "events", (600,)).events) == 600


def test_a_contract_loaded_before_the_stack_limit_changed_still_runs() -> None:
    runtime = Runtime(MemoryStorage())
    token = runtime.load(sample("token.wat"), name="token.wat")
    runtime.limits = runtime.limits.with_(max_wasm_stack=64 * 1024)
    assert runtime.call(token, "mint", (0, 100)).value == 100
    assert runtime.call(token, "mint", (0, 1)).value == 101  # compiled once for the engine
    runtime.limits = runtime.limits.with_(max_wasm_stack=512 * 1024)
    assert runtime.call(token, "total_supply").value == 101
