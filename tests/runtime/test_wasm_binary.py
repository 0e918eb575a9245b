"""The WebAssembly binary reader (runtime.wasm_binary): agrees with wasmtime, decodes every
instruction set the engine accepts, and fails only with WasmBinaryError, in linear time.

Set ``SUPERVM_THOROUGH=1`` to run the mutation test for a minute instead of two seconds.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections.abc import Iterator

import pytest
import wasmtime

from runtime import wasm_opcodes as op
from runtime.wasm_binary import (
    Code,
    FuncType,
    Memory,
    WasmBinaryError,
    WasmModule,
    constants,
    parse,
)
from tests.runtime.wasm_modules import FEATURES_WAT, random_program, sample_modules, supervm_engine

THOROUGH = bool(os.environ.get("SUPERVM_THOROUGH"))
ENGINE = supervm_engine()
SAMPLES = sample_modules()
FEATURES = wasmtime.wat2wasm(FEATURES_WAT)
MODULES = {**SAMPLES, "features": FEATURES,
           **{f"random{s}": wasmtime.wat2wasm(random_program(s)) for s in range(5)}}
KINDS = {wasmtime.FuncType: "func", wasmtime.MemoryType: "memory",
         wasmtime.TableType: "table", wasmtime.GlobalType: "global"}


def decode_all(m: WasmModule) -> int:
    """Decode every body and constant expression; the number of instructions."""
    n = sum(1 for c in m.code for _ in m.instructions(c))
    exprs = [g.init for g in m.globals] + [t.init for t in m.tables if t.init]
    exprs += [e.offset_expr for e in m.elements if e.offset_expr]
    exprs += [x for e in m.elements for x in e.exprs or ()]
    exprs += [d.offset_expr for d in m.data if d.offset_expr]
    return n + sum(1 for x in exprs for _ in m.instructions(x))


@pytest.mark.parametrize("name", list(MODULES))
def test_agrees_with_wasmtime(name: str) -> None:
    wasm = MODULES[name]
    m, module = parse(wasm), wasmtime.Module(ENGINE, wasm)
    assert [(e.name, e.kind) for e in m.exports] == [
        (e.name, KINDS[type(e.type)]) for e in module.exports]
    assert [(i.module, i.name, i.kind) for i in m.imports] == [
        (i.module, i.name, KINDS[type(i.type)]) for i in module.imports]
    for e in module.exports:
        if isinstance(e.type, wasmtime.FuncType):
            index = next(x.index for x in m.exports if x.name == e.name)
            t = m.func_type(index)
            assert t.params == tuple(str(p) for p in e.type.params)
            assert t.results == tuple(str(r) for r in e.type.results)
    for i, imp in enumerate(module.imports):
        if isinstance(imp.type, wasmtime.FuncType):
            assert m.func_type(i).params == tuple(str(p) for p in imp.type.params)
    # sections tile the module after its header
    ends = [8] + [s.end for s in m.sections]
    assert [s.start for s in m.sections] == ends[:-1] and ends[-1] == len(wasm)


@pytest.mark.parametrize("name", list(MODULES))
def test_instructions_tile_every_body(name: str) -> None:
    m = parse(MODULES[name])
    for code in m.code:
        instructions = list(m.instructions(code))
        assert instructions[0].offset == code.code_offset
        assert all(a.next_offset == b.offset for a, b in itertools.pairwise(instructions))
        assert instructions[-1].offset == code.end_offset
        assert instructions[-1].name == "end"
        assert code.end_offset + 1 == code.offset + code.size
    assert decode_all(m) > 0 or not m.code


def test_names_and_parameter_names() -> None:
    assert parse(SAMPLES["add.wat"]).param_names(0) == ["a", "b"]
    loop = parse(SAMPLES["loop.wat"])
    assert loop.param_names(loop.exports[2].index) == ["n"]
    assert loop.param_names(0) == [None, None, None, None]  # storage_set: unnamed params
    m = parse(FEATURES)
    assert m.names.module == "features"
    fact = next(e.index for e in m.exports if e.name == "fact")
    assert m.names.functions[fact] == "fact" and m.param_names(fact) == ["n", "unused"]
    assert m.names.functions[0] == "log" and m.names.error is None
    assert m.export_names()[fact] == "fact"


def test_custom_sections() -> None:
    url = b"\x0bcounter.map"
    raw = b"\x10sourceMappingURL" + url
    wasm = SAMPLES["add.wat"] + bytes([0, len(raw)]) + raw
    m = parse(wasm)
    assert m.custom("sourceMappingURL") == url and m.source_mapping_url() == "counter.map"
    assert [s.name for s in m.customs()] == ["name", "sourceMappingURL"]
    assert m.custom(".debug_line") is None
    assert parse(SAMPLES["add.wat"]).source_mapping_url() is None


def test_a_malformed_name_section_is_ignored_like_wasmtime_does() -> None:
    wasm = bytearray(SAMPLES["add.wat"])
    section = next(s for s in parse(bytes(wasm)).sections if s.name == "name")
    wasm[section.end - 1] = 0xFF  # the last name byte: invalid UTF-8
    wasmtime.Module(ENGINE, bytes(wasm))
    m = parse(bytes(wasm))
    assert m.names.functions == {} and "UTF-8" in (m.names.error or "")


def test_features_module_structure() -> None:
    m = parse(FEATURES)
    assert m.num_func_imports == 1 and m.imports[1].kind == "global"
    assert [e.mode for e in m.elements] == ["active", "active", "passive", "declarative"]
    fn = {n: f for f, n in m.names.functions.items()}
    assert m.elements[0].functions == (fn["add"], fn["sub"], fn["mul"], fn["div"])
    assert m.elements[1].functions == (fn["add"], fn["fact"])
    assert m.elements[1].exprs is not None and len(m.elements[1].exprs) == 3
    for e in m.elements:  # each offset is the LEB128 of the index
        for f, at in zip(e.functions, e.function_offsets, strict=True):
            assert FEATURES[at] == f
    assert m.start == fn["init"]
    assert [d.mode for d in m.data] == ["active", "passive"] and m.data_count == 2
    assert m.data[0].offset_expr is not None and m.data[0].offset_expr.value == 16
    assert m.data[1].init == b"passive-data"
    assert FEATURES[m.data[1].data_offset:][:12] == b"passive-data"
    assert [g.valtype for g in m.globals] == ["i32", "funcref", "i64"]
    assert m.globals[2].init.value == -1234567890123 and m.globals[0].mutable
    assert [t.minimum for t in m.tables] == [8, 2] and m.memories == [Memory(1, None)]
    assert m.has_memory_or_table()
    assert not parse(SAMPLES["add.wat"]).has_memory_or_table()
    imported = wasmtime.wat2wasm('(module (import "env" "memory" (memory 1)))')
    assert parse(imported).has_memory_or_table()
    assert m.types[1] == FuncType((), ("i32", "i32"))
    code = m.code_for(fn["fact"])
    assert isinstance(code, Code) and m.code_at(code.code_offset + 2) is code
    assert m.code_at(0) is None
    assert m.code_section_payload_offset == next(s.offset for s in m.sections if s.id == 10)


def test_instruction_immediates() -> None:
    m = parse(FEATURES)
    names = {n: f for f, n in m.names.functions.items()}
    by_name: dict[str, list[tuple]] = {}
    for c in m.code:
        for i in m.instructions(c):
            by_name.setdefault(i.name, []).append(i.immediates)
    assert ((0, 1, 2), 3) in by_name["br_table"]
    assert (0, 0) in by_name["call_indirect"] and (0, 1) in by_name["call_indirect"]
    assert (names["sum_to"],) in by_name["return_call"]
    assert (names["div"],) in by_name["ref.func"] and (0,) in by_name["call_ref"]
    assert (1,) in by_name["block"] and (2,) in by_name["block"]  # type-index block types
    assert by_name["i32.load"] == [(2, 0, 0), (2, 0, 0)]  # log2 alignment, offset, memory
    assert by_name["memory.init"] == [(1, 0)] and by_name["table.init"] == [(2, 0)]
    assert by_name["elem.drop"] == [(2,)]


EXTENSIONS_WAT = r"""
(module
  (type $s (struct (field i32) (field (mut i64))))
  (type $a (array (mut i8)))
  (rec (type $r1 (func (param (ref null $r2)))) (type $r2 (struct (field (ref null $r1)))))
  (tag $e (param i32))
  (memory $m0 1) (memory $m1 1)
  (func (export "f") (param i32) (result i32)
    (drop (i8x16.shuffle 0 17 2 19 4 5 6 7 8 9 10 11 12 13 14 31
             (v128.const i32x4 1 2 3 4) (v128.const i64x2 -1 0)))
    (drop (v128.load8_lane offset=5 3 (i32.const 0) (v128.const i32x4 0 0 0 0)))
    (drop (i32.load $m1 offset=8 (i32.const 0)))
    (drop (i32x4.extract_lane 2 (v128.const f32x4 1.5 2 3 4)))
    (drop (struct.new $s (i32.const 1) (i64.const 2)))
    (drop (ref.test (ref $s) (ref.null any)))
    (drop (block $l (result anyref) (br_on_cast $l anyref eqref (ref.null any))))
    (drop (i64.add128 (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4)))
    (drop)
    (block $outer
      (drop (block $h (result i32)
        (try_table (catch $e $h) (catch_all $outer) (throw $e (local.get 0)))
        (i32.const 0))))
    (memory.copy $m1 $m0 (i32.const 0) (i32.const 0) (i32.const 0))
    (local.get 0)))
"""


def test_simd_gc_exceptions_and_multi_memory_decode() -> None:
    wasm = wasmtime.wat2wasm(EXTENSIONS_WAT)
    wasmtime.Module(ENGINE, wasm)
    m = parse(wasm)
    assert m.types[0].kind == "struct" and m.types[0].fields == (("i32", False), ("i64", True))
    assert not m.types[2].plain and m.types[2].params == ("(ref null 3)",)
    assert m.tags == [m.tags[0]] and len(m.memories) == 2
    ins: dict[str, tuple] = {}
    for i in m.instructions(m.code[0]):
        ins.setdefault(i.name, i.immediates)
    assert ins["i8x16.shuffle"] == ((0, 17, 2, 19, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 31),)
    assert ins["v128.const"][0] == bytes.fromhex("01000000020000000300000004000000")
    assert ins["v128.load8_lane"] == (0, 5, 0, 3)
    assert ins["i32.load"] == (2, 8, 1)
    assert ins["i32x4.extract_lane"] == (2,)
    assert ins["ref.test"] == (0,) and ins["br_on_cast"][1:] == (0, "any", "eq")
    assert ins["try_table"] == (None, ((0, 0, 0), (2, None, 1)))
    assert ins["memory.copy"] == (1, 0)
    assert "i64.add128" in ins


def test_every_opcode_in_the_table_matches_the_text_format() -> None:
    """Assemble each instruction by name with wasmtime.wat2wasm and decode it back."""
    imm = {op.LABEL: "0", op.BR_TABLE: "0 0", op.FUNC: "0", op.CALL_INDIRECT: "(type 0)",
           op.TYPE: "0", op.LOCAL: "0", op.GLOBAL: "0", op.TABLE: "0", op.I32: "1",
           op.I64: "1", op.F32: "1.5", op.F64: "1.5", op.SELECT_T: "(result i32)",
           op.HEAP_TYPE: "func", op.DATA: "0", op.ELEM: "0", op.DATA_MEMORY: "0",
           op.ELEM_TABLE: "0", op.V128: "i32x4 1 2 3 4",
           op.SHUFFLE: " ".join(map(str, range(16))), op.LANE: "1", op.MEMARG_LANE: "1",
           op.TAG: "0", op.TYPE_FIELD: "1 0", op.TYPE_TYPE: "2 2", op.TYPE_COUNT: "2 3",
           op.TYPE_DATA: "2 0", op.TYPE_ELEM: "2 0", op.BR_ON_CAST: "0 anyref eqref"}
    bodies = []
    for code, (name, kind) in sorted(op.OPCODES.items()):
        text, arg = name.split()[0], imm.get(kind, "")
        if name in ("ref.test", "ref.cast"):
            arg = "(ref func)"
        elif name.endswith(" null"):
            arg = "nullfuncref"
        if kind in (op.BLOCK, op.TRY_TABLE):
            bodies.append((code, f"{text} end"))
        elif name == "else":
            bodies.append((code, "i32.const 0 if else end"))
        elif name != "end":
            bodies.append((code, f"{text} {arg}"))
    funcs = " ".join(f"(func (local i32 v128) {body})" for _, body in bodies)
    wasm = wasmtime.wat2wasm(
        "(module (type (func)) (type (struct (field i32) (field (mut i32))))"
        " (type (array (mut i32))) (memory 1 1 shared) (table 1 funcref)"
        ' (global (mut i32) (i32.const 0)) (tag) (elem func 0) (data "") ' + funcs + ")")
    m = parse(wasm)
    for (code, body), fn in zip(bodies, m.code, strict=True):
        assert code in [i.opcode for i in m.instructions(fn)], body
    assert len(op.OPCODES) > 560


def test_constants() -> None:
    found = constants(parse(FEATURES))
    assert {-1234567890123, 16, 1, 100, 42, -1, 12345}.issubset(found)
    token = constants(parse(SAMPLES["token.wat"]))
    assert {0x200, 0x100, 10}.issubset(token)
    assert constants(parse(SAMPLES["add.wat"])) == set()


# --- malformed input --------------------------------------------------------------------------

HEADER = b"\0asm\x01\0\0\0"


@pytest.mark.parametrize(("wasm", "offset", "reason"), [
    (b"", 0, "magic"),
    (b"\0asm\x0d\0\x01\0", 4, "component"),
    (b"\0asm\x02\0\0\0", 4, "version"),
    (HEADER + b"\x01", 9, "end of data"),
    (HEADER + b"\x01\x05\x01", 8, "runs past the end"),
    (HEADER + b"\x01\x05\xff\xff\xff\xff\x0f", 10, "does not fit"),
    (HEADER + b"\x01\x07\x80\x80\x80\x80\x80\x80\x00", 10, "longer than 5 bytes"),
    (HEADER + b"\x01\x05\xff\xff\xff\xff\x7f", 10, "too large"),
    (HEADER + b"\x0e\x00", 8, "unknown section"),
    (HEADER + b"\x03\x01\x00\x01\x01\x00", 11, "out of order"),
    (HEADER + b"\x01\x05\x01\x60\x00\x00\x00", 14, "left over"),
    (HEADER + b"\x01\x04\x01\x60\x01\x55", 13, "invalid value type"),
    (HEADER + b"\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00", 18, "1 functions declared"),
    (HEADER + b"\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x04\x01\x02\x00\x00", 23,
     "does not end with"),
    (HEADER + b"\x00\x02\x05a", 10, "name of 5 bytes runs past"),
    (HEADER + b"\x00\x03\x02\xff\xfe", 11, "UTF-8"),
])
def test_malformed_modules(wasm: bytes, offset: int, reason: str) -> None:
    with pytest.raises(WasmBinaryError) as err:
        parse(wasm)
    assert err.value.offset == offset and reason in err.value.reason, err.value
    assert err.value.kind == "invalid_module" and err.value.to_dict()["offset"] == offset


def _module_with_body(body: bytes, locals_: bytes = b"\x00") -> bytes:
    code = locals_ + body
    size = _leb(len(code))
    section = b"\x01" + size + code
    return (HEADER + b"\x01\x04\x01\x60\x00\x00" + b"\x03\x02\x01\x00"
            + b"\x0a" + _leb(len(section)) + section)


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


@pytest.mark.parametrize(("body", "reason"), [
    (b"\x06\x40\x0b\x0b", "unknown or unsupported opcode 0x06"),  # legacy try
    (b"\xfc\x63\x0b", "0xfc 0x63"),
    (b"\x41\x80\x80\x80\x80\x80\x0b", "longer than 5 bytes"),
    (b"\x0b\x01\x0b", "bytes after the final `end`"),
    (b"\x02\x40\x0b", "does not end"),
    (b"\x0e\xff\xff\xff\xff\x0f\x0b", "does not fit"),
    (b"\x44\x00\x00\x0b", "float constant"),
    (b"\x02\x55\x0b\x0b", "invalid block type"),
])
def test_malformed_code_fails_when_decoded(body: bytes, reason: str) -> None:
    m = parse(_module_with_body(body))
    with pytest.raises(WasmBinaryError, match=reason):
        list(m.instructions(m.code[0]))


def test_deep_nesting_and_huge_counts_stay_linear() -> None:
    depth = 200_000
    m = parse(_module_with_body(b"\x02\x40" * depth + b"\x0b" * (depth + 1)))
    started = time.perf_counter()
    assert sum(1 for _ in m.instructions(m.code[0])) == 2 * depth + 1
    assert time.perf_counter() - started < 5
    m = parse(_module_with_body(b"\x0b", locals_=b"\x01\xff\xff\xff\xff\x0f\x7f"))
    assert m.code[0].locals == ((2**32 - 1, "i32"),)  # counted, never expanded


def _mutants(seeds: list[bytes], rng: random.Random) -> Iterator[bytes]:
    while True:
        wasm = bytearray(rng.choice(seeds))
        how = rng.randrange(6)
        at = rng.randrange(len(wasm))
        if how == 0:
            wasm[at] = rng.randrange(256)
        elif how == 1:
            wasm[at] ^= 1 << rng.randrange(8)
        elif how == 2:
            del wasm[at:]
        elif how == 3:
            wasm[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif how == 4:
            del wasm[at:at + rng.randint(1, 8)]
        else:
            for _ in range(rng.randint(2, 6)):
                wasm[rng.randrange(len(wasm))] = rng.choice((0, 0x7F, 0x80, 0xFF, 0x0B))
        yield bytes(wasm)


def test_mutated_modules_fail_cleanly_and_valid_ones_parse() -> None:
    budget = 60.0 if THOROUGH else 2.0
    rng = random.Random(20240601)
    seeds = [*MODULES.values(), wasmtime.wat2wasm(EXTENSIONS_WAT)]
    tried = valid = rejected = 0
    deadline = time.perf_counter() + budget
    for wasm in _mutants(seeds, rng):
        if time.perf_counter() > deadline and tried >= 500:
            break
        tried += 1
        try:
            m = parse(wasm)
            decode_all(m)
            constants(m)
            ok = True
        except WasmBinaryError:
            ok = False
            rejected += 1
        try:
            wasmtime.Module.validate(ENGINE, wasm)
        except wasmtime.WasmtimeError:
            continue
        valid += 1
        assert ok, f"wasmtime accepts a module the reader rejects: {wasm.hex()}"
    assert rejected > 0 and valid > 0


def test_parsing_is_fast() -> None:
    wasm = wasmtime.wat2wasm(random_program(7, functions=700))
    assert len(wasm) > 100_000
    started = time.perf_counter()
    m = parse(wasm)
    elapsed = time.perf_counter() - started
    assert len(m.code) == 700 and elapsed < 0.05, elapsed  # a few ms on these machines
