"""The host ABI: every host function, its guest faults, and the table everything derives from."""

from __future__ import annotations

import pytest

from runtime import (
    HOST_FUNCTIONS,
    EventEmit,
    LimitExceededError,
    Limits,
    MemoryStorage,
    Runtime,
    StorageWrite,
    TrapError,
    abi,
)
from tests.support import contract

DATA = '(data (i32.const 0) "key") (data (i32.const 16) "value")'


def test_table_matches_the_documented_abi() -> None:
    sigs = {f.qualname: f.signature for f in HOST_FUNCTIONS}
    assert sigs == {
        "storage_api.storage_get": "(param i32 i32) (result i64)",
        "storage_api.storage_read_value": "(param i32 i32) (result i32)",
        "storage_api.storage_set": "(param i32 i32 i32 i32) (result i32)",
        "storage_api.storage_delete": "(param i32 i32) (result i32)",
        "chain_api.block_number": "(result i64)",
        "chain_api.timestamp": "(result i64)",
        "chain_api.emit_event": "(param i32 i32) (result i32)",
        "chain_api.events_len": "(result i32)",
        "chain_api.read_event": "(param i32 i32 i32) (result i32)",
        "env.abort": "(param i32 i32 i32 i32)",
    }
    assert abi.find("storage_set") is abi.STORAGE_SET
    assert abi.find("chain_api.timestamp") is abi.TIMESTAMP
    assert abi.find("nope") is None


def test_every_host_function_is_linked() -> None:
    """A module importing every function in the table loads and runs."""
    imports = "".join(
        f'(import "{f.module}" "{f.name}" (func {f.signature}))' for f in HOST_FUNCTIONS
    )
    rt = Runtime(MemoryStorage())
    result = rt.call(f'(module {imports} (memory (export "memory") 1) (func (export "f")))', "f")
    assert result.trace == []


def test_storage_get_caches_and_read_value_copies_at_most_len() -> None:
    rt = Runtime(MemoryStorage())
    rt.storage.set(b"key", b"value")
    wat = contract("""
        (func (export "f") (result i64 i32)
          (call $get (i32.const 0) (i32.const 3))
          (call $read_value (i32.const 100) (i32.const 2)))
    """, data=DATA)
    result = rt.call(wat, "f", keep_memory=True)
    assert result.value == (5, 2)
    assert result.memory[100:103] == b"va\0"
    assert result.trace[0].payloads == {"key": b"key", "value": b"value"}
    assert result.trace[1].payloads == {"value": b"va"}


def test_absent_key_clears_the_cache() -> None:
    rt = Runtime(MemoryStorage())
    rt.storage.set(b"key", b"value")
    wat = contract("""
        (func (export "f") (result i32)
          (drop (call $get (i32.const 0) (i32.const 3)))
          (drop (call $get (i32.const 16) (i32.const 5)))
          (call $read_value (i32.const 100) (i32.const 2)))
    """, data=DATA)
    with pytest.raises(TrapError, match="no value cached"):
        rt.call(wat, "f")


def test_empty_value_returns_zero_and_reads_nothing() -> None:
    rt = Runtime(MemoryStorage())
    rt.storage.set(b"key", b"")
    wat = contract("""
        (func (export "f") (result i64 i32)
          (call $get (i32.const 0) (i32.const 3)) (call $read_value (i32.const 0) (i32.const 9)))
    """, data=DATA)
    assert rt.call(wat, "f").value == (0, 0)


def test_trace_records_effects() -> None:
    rt = Runtime(MemoryStorage())
    wat = contract("""
        (func (export "f")
          (drop (call $set (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5)))
          (drop (call $delete (i32.const 0) (i32.const 3)))
          (drop (call $emit (i32.const 16) (i32.const 5))))
    """, data=DATA)
    trace = rt.call(wat, "f").trace
    assert [e.effect for e in trace] == [
        StorageWrite(b"key", None, b"value"),
        StorageWrite(b"key", b"value", None),
        EventEmit(0, b"value"),
    ]
    assert trace[0].fuel > trace[1].fuel > trace[2].fuel
    assert trace[0].args == (0, 3, 16, 5) and trace[0].result == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("(call $set (i32.const 65534) (i32.const 3) (i32.const 0) (i32.const 1))",
         "key 0xfffe..0x10001 is outside memory (65536 bytes)"),
        ("(call $set (i32.const 0) (i32.const 1) (i32.const -1) (i32.const 1))",
         "value_ptr=0xffffffff"),
        ("(call $emit (i32.const 0) (i32.const -2))", "data_len is negative (-2)"),
        ("(call $read_event (i32.const -1) (i32.const 0) (i32.const 1))",
         "event index -1 out of range"),
        ("(call $read_value (i32.const 0) (i32.const 1))", "no value cached"),
    ],
)
def test_guest_faults_trap_naming_the_call(call: str, message: str) -> None:
    rt = Runtime(MemoryStorage())
    wat = contract(f'(func (export "f") (drop {call}))', data=DATA)
    with pytest.raises(TrapError) as err:
        rt.call(wat, "f")
    assert message in str(err.value)
    assert err.value.code == "host"
    assert err.value.host_function.startswith(("storage_api.", "chain_api."))
    assert rt.storage.snapshot() == {} and rt.event_log == []


def test_key_size_limit() -> None:
    rt = Runtime(MemoryStorage(), limits=Limits(max_key_size=2))
    wat = contract('(func (export "f") (drop (call $get (i32.const 0) (i32.const 3))))',
                   data=DATA)
    with pytest.raises(LimitExceededError) as err:
        rt.call(wat, "f")
    assert (err.value.limit, err.value.value, err.value.maximum) == ("max_key_size", 3, 2)
    assert "storage_api.storage_get(key_ptr=0x0, key_len=3)" in str(err.value)


def test_module_without_memory_traps_on_pointer_functions() -> None:
    wat = """(module (import "chain_api" "emit_event" (func $e (param i32 i32) (result i32)))
        (func (export "f") (drop (call $e (i32.const 0) (i32.const 0)))))"""
    with pytest.raises(TrapError, match="exports no memory"):
        Runtime(MemoryStorage()).call(wat, "f")


def test_markdown_table_lists_every_function() -> None:
    table = abi.markdown_table()
    assert all(f"`{f.qualname}`" in table for f in HOST_FUNCTIONS)
