"""Loading modules: WAT and binary input, every kind of bad module, and :info's description."""

from __future__ import annotations

import pytest
import wasmtime

from runtime import (
    BadArgumentsError,
    InvalidModuleError,
    LimitExceededError,
    Limits,
    MemoryStorage,
    MissingImportError,
    Runtime,
    WatSyntaxError,
)
from tests.support import sample


def test_wat_syntax_error_has_line_and_column(rt: Runtime) -> None:
    with pytest.raises(WatSyntaxError) as err:
        rt.load('(module\n  (func (export "f")\n    i32.const)\n)', name="bad.wat")
    assert (err.value.line, err.value.col) == (3, 14)
    assert str(err.value).startswith("WAT syntax error: bad.wat 3:14: ")
    assert err.value.to_dict()["kind"] == "wat_syntax"


def test_unbalanced_parentheses(rt: Runtime) -> None:
    with pytest.raises(WatSyntaxError) as err:
        rt.load("(module (func")
    assert err.value.line == 1


def test_invalid_module_is_refused_with_the_validator_reason(rt: Runtime) -> None:
    wat = '(module (func (export "f") (result i32) i64.const 1))'
    with pytest.raises(InvalidModuleError, match="type mismatch"):
        rt.load(bytes(wasmtime.wat2wasm(wat)))


def test_binary_junk_is_not_a_module(rt: Runtime) -> None:
    with pytest.raises(InvalidModuleError, match="neither a WebAssembly binary"):
        rt.load(bytes(range(256)))
    with pytest.raises(InvalidModuleError):
        rt.load(b"\0asm\x01\0\0\0\xff\xff")
    with pytest.raises(InvalidModuleError, match="binary data"):
        rt.load("(module)\0junk")


def test_module_size_limit() -> None:
    rt = Runtime(MemoryStorage(), limits=Limits(max_module_size=100))
    with pytest.raises(LimitExceededError, match="max_module_size"):
        rt.load(sample("token.wat"))


def test_shared_memory_is_rejected_threads_are_off(rt: Runtime) -> None:
    with pytest.raises(InvalidModuleError):
        rt.load("(module (memory 1 1 shared))")


def test_relaxed_simd_is_rejected(rt: Runtime) -> None:
    wat = """(module (func (export "f") (param v128 v128 v128) (result v128)
        local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd))"""
    with pytest.raises(InvalidModuleError):
        rt.load(wat)


def test_info_describes_exports_imports_and_memory(rt: Runtime) -> None:
    contract = rt.load(sample("token.wat"), name="token.wat")
    info = contract.info
    transfer = info.function("transfer")
    assert transfer is not None
    assert (transfer.params, transfer.results) == (("i32", "i32", "i64"), ("i32",))
    assert transfer.signature == "(i32 i32 i64) -> (i32)"
    assert {i.qualname for i in info.imports} >= {"storage_api.storage_get",
                                                  "chain_api.emit_event"}
    assert all(i.provided for i in info.imports)
    assert info.memory is not None and info.memory.min_pages == 1 and info.memory.exported
    assert len(info.sha256) == 64 and info.size == len(contract.wasm)


def test_info_marks_unprovided_imports(rt: Runtime) -> None:
    wat = """(module (import "env" "memory" (memory 1))
        (import "chain_api" "timestamp" (func (result i64))))"""
    imports = rt.load(wat).info.imports
    assert [(i.qualname, i.provided) for i in imports] == [
        ("env.memory", False), ("chain_api.timestamp", True)]
    assert imports[0].problem is not None


def test_compiles_once_per_content(rt: Runtime) -> None:
    first = rt.load(sample("add.wat"))
    second = rt.load(sample("add.wat"))
    assert first.module is second.module


@pytest.mark.parametrize("wat", [
    '(module (func (export "f") (param v128)))',
    '(module (func (export "f") (result v128) (v128.const i32x4 0 0 0 0)))',
    '(module (import "env" "g" (func (param v128))) (func (export "f")))',
    '(module (func (export "f") (param anyref)))',
    '(module (func (export "f") (param i31ref)))',
    '(module (import "env" "g" (func (param (ref extern)))) (func (export "f")))',
])
@pytest.mark.parametrize("executor", ["fast", "public"])
def test_any_value_type_loads_and_is_refused_as_an_argument(
        wat: str, executor: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Describing such a module once aborted the process (wasmtime's type reflection)."""
    monkeypatch.setenv("SUPERVM_EXECUTOR", executor)
    rt = Runtime(MemoryStorage())
    contract = rt.load(wat)
    shown = {t for e in (*contract.info.exports, *contract.info.imports)
             for t in (*e.params, *e.results)}
    assert (shown and "anyref" not in shown) or "anyref" in wat
    with pytest.raises((BadArgumentsError, MissingImportError)):
        rt.call(contract, "f")


def test_externref_is_named_as_written() -> None:
    info = Runtime(MemoryStorage()).load('(module (func (export "f") (param externref)))').info
    assert info.function("f").params == ("externref",)


def test_parameter_names_come_from_the_name_section() -> None:
    info = Runtime(MemoryStorage()).load(
        '(module (func (export "mint") (param $to i32) (param $amount i64)))').info
    assert info.function("mint").param_names == ("to", "amount")
