"""Seed modules for the mutated-module campaign, and the mutations applied to them.

Seeds are the samples and stress modules written here: extremes of size and shape, every value
type in exported and imported signatures, features SuperVM's engine refuses, declarations above
its limits, start functions that call the host. Mutations work on the binary: bytes, sections
and LEB128 numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .support import SAMPLES

HOST_IMPORTS = """
  (import "storage_api" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "storage_api" "storage_read_value" (func $read (param i32 i32) (result i32)))
  (import "storage_api" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "storage_api" "storage_delete" (func $del (param i32 i32) (result i32)))
  (import "chain_api" "block_number" (func $block (result i64)))
  (import "chain_api" "timestamp" (func $ts (result i64)))
  (import "chain_api" "emit_event" (func $emit (param i32 i32) (result i32)))
  (import "chain_api" "events_len" (func $events_len (result i32)))
  (import "chain_api" "read_event" (func $read_event (param i32 i32 i32) (result i32)))
"""


@dataclass(frozen=True)
class Seed:
    """A seed module: its name, binary, and what its unmutated form must do: None, any typed
    outcome; ``"ok"``, every call succeeds; else the error kind every call must end with."""

    name: str
    wasm: bytes
    expect: str | None = None
    wat: str | None = None


def _module(body: str, *, imports: bool = True, memory: str = '(memory (export "memory") 1)'
            ) -> str:
    return f"(module {HOST_IMPORTS if imports else ''} {memory} {body})"


def stress_sources() -> list[tuple[str, str, str | None]]:
    """(name, WAT, expected outcome of every call) of each stress module."""
    many_funcs = "\n".join(
        f'(func $f{i} (export "f{i}") (param i32) (result i32) '
        f'(i32.add (local.get 0) (i32.const {i})))' for i in range(300))
    many_callers = "\n".join(f"(func $g{i} (result i32) (call $g{i + 1}))" for i in range(200)) \
        + "\n(func $g200 (result i32) (i32.const 7))\n(func (export \"chain\") (result i32) " \
        "(call $g0))"
    locals_ = " ".join(["i64"] * 5000)
    many_locals = f"""(func (export "locals") (result i64) (local {locals_})
        (local.set 4999 (i64.const 3)) (i64.add (local.get 0) (local.get 4999)))"""
    depth = 300
    deep_blocks = '(func (export "deep") (result i32) ' + "(block " * depth + \
        "(br 0)" + ")" * depth + " (i32.const 1))"
    deep_ifs = '(func (export "ifs") (param i32) (result i32) ' + \
        "(if (local.get 0) (then " * 150 + "(nop)" + "))" * 150 + " (local.get 0))"
    deep_expr = '(func (export "expr") (result i32) ' + "(i32.add (i32.const 1) " * 400 + \
        "(i32.const 0)" + ")" * 400 + ")"
    big_data = '(data (i32.const 0) "' + "\\aa" * (1 << 20) + '")'
    many_exports = '(func $f (result i32) (i32.const 1))\n' + "\n".join(
        f'(export "e{i}" (func $f))' for i in range(1500)) + \
        '\n(global (export "g") i32 (i32.const 5))\n(table (export "t") 1 funcref)'
    many_imports = "\n".join(
        f'(import "chain_api" "block_number" (func $b{i} (result i64)))' for i in range(300))
    missing_imports = "\n".join(
        f'(import "env{i % 3}" "fn{i}" (func (param i32)))' for i in range(200))
    long_name = "x" * 20000
    many_types = "\n".join(
        f"(type (func (param {' '.join(['i32'] * (i % 40))}) (result i64)))" for i in range(800))
    many_params = "(func (export \"params\") (param " + " ".join(["i64"] * 900) + \
        ") (result i64) (local.get 899))"
    unicode_names = '(func (export "ünï\\u{1F600}") (result i32) (i32.const 1))' \
        '(func (export "") (result i32) (i32.const 2))' \
        '(func (export " sp ace") (result i32) (i32.const 3))' \
        '(func (export "\\00nul") (result i32) (i32.const 4))'
    return [
        ("many_funcs", _module(many_funcs, imports=False, memory=""), "ok"),
        ("many_callers", _module(many_callers, imports=False, memory=""), "ok"),
        ("many_locals", _module(many_locals, imports=False, memory=""), "ok"),
        ("deep_blocks", _module(deep_blocks + deep_ifs + deep_expr, imports=False, memory=""),
         "ok"),
        ("big_data", _module(big_data + """
            (func (export "event_at_limit") (result i32)
              (call $emit (i32.const 0) (i32.const 65536)))
            (func (export "event_over_limit") (result i32)
              (call $emit (i32.const 0) (i32.const 65537)))
            (func (export "value_at_limit") (result i32)
              (call $set (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 1048576)))
            (func (export "value_over_limit") (result i32)
              (call $set (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 1048577)))
            (func (export "key_over_limit") (result i32)
              (call $set (i32.const 0) (i32.const 1025) (i32.const 0) (i32.const 1)))""",
                             memory='(memory (export "memory") 17)'), None),
        ("many_exports", _module(many_exports, imports=False, memory=""), "ok"),
        ("many_imports", _module(many_imports + '(func (export "b") (result i64) (call $b7))',
                                 imports=False, memory=""), "ok"),
        ("missing_imports", _module(missing_imports + '(func (export "f"))', imports=False,
                                    memory=""), "missing_import"),
        ("wrong_import_type", _module(
            '(import "storage_api" "storage_get" (func (param i64) (result i32)))'
            '(import "chain_api" "timestamp" (global i64))'
            '(import "env" "memory" (memory 1))(func (export "f"))', imports=False, memory=""),
         "missing_import"),
        ("long_names", _module(f'(func (export "{long_name}") (result i32) (i32.const 1))'
                               + unicode_names, imports=False, memory=""), "ok"),
        ("many_types", _module(many_types + '(func (export "f") (type 5) (i64.const 1))',
                               imports=False, memory=""), "ok"),
        ("many_params", _module(many_params, imports=False, memory=""), None),
        ("table_above_limit", _module('(table 200000 funcref)(func (export "f"))',
                                      imports=False, memory=""), "limit"),
        ("table_above_limit_exported", _module(
            '(table (export "t") 100001 100001 funcref)(func (export "f") (result i32) '
            '(table.size 0))', imports=False, memory=""), "limit"),
        ("table_grow", _module(
            '(table 10 funcref)(func (export "grow") (result i32) '
            '(table.grow 0 (ref.null func) (i32.const 200000)))'
            '(func (export "grow_max") (result i32) '
            '(table.grow 0 (ref.null func) (i32.const -1)))', imports=False, memory=""), "ok"),
        ("start_host_call", _module("""
            (data (i32.const 0) "start")
            (func $init (drop (call $set (i32.const 0) (i32.const 5) (i32.const 0) (i32.const 5)))
              (drop (call $emit (i32.const 0) (i32.const 5))))
            (start $init)
            (func (export "read") (result i64) (call $get (i32.const 0) (i32.const 5)))"""),
         "ok"),
        ("start_block_number", _module("""
            (global $b (mut i64) (i64.const 0))
            (func $init (global.set $b (call $block)))
            (start $init)
            (func (export "block") (result i64) (global.get $b))"""), "ok"),
        ("start_traps", _module("(func $init unreachable) (start $init) (func (export \"f\"))",
                                imports=False, memory=""), "trap"),
        ("start_loops", _module("(func $init (loop (br 0))) (start $init) (func (export \"f\"))",
                                imports=False, memory=""), "out_of_fuel"),
        ("multi_value", _module("""
            (func (export "four") (param i32 i64 f32 f64) (result i32 i64 f32 f64)
              (local.get 0) (local.get 1) (local.get 2) (local.get 3))
            (func (export "swap") (param i64 i32) (result i32 i64) (local.get 1) (local.get 0))
            (func (export "many") (result i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
              (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4)
              (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8) (i32.const 9))
            (func (export "nan32") (result f32) (f32.div (f32.const 0) (f32.const 0)))
            (func (export "nan64") (result f64) (f64.div (f64.const 0) (f64.const 0)))""",
                                imports=False, memory=""), "ok"),
        ("v128_export_param", _module('(func (export "f") (param v128))', imports=False,
                                      memory=""), "bad_arguments"),
        ("v128_export_result", _module(
            '(func (export "f") (result v128) (v128.const i64x2 1 2))', imports=False,
            memory=""), "bad_arguments"),
        ("v128_import", _module(
            '(import "chain_api" "block_number" (func (param v128) (result i64)))'
            '(func (export "f"))', imports=False, memory=""), "missing_import"),
        ("v128_internal", _module("""
            (func (export "simd") (result i32)
              (i32x4.extract_lane 1 (i32x4.add (v128.const i32x4 1 2 3 4)
                                               (v128.const i32x4 10 20 30 40))))""",
                                  imports=False, memory=""), "ok"),
        ("ref_types_export", _module("""
            (func (export "ext") (param externref) (result externref) (local.get 0))
            (func (export "fn") (param funcref) (result funcref) (local.get 0))
            (func (export "null_ext") (result externref) (ref.null extern))
            (func (export "null_fn") (result funcref) (ref.null func))
            (func (export "takes_ext") (param externref i32) (result i32) (local.get 1))""",
                                     imports=False, memory=""), "bad_arguments"),
        ("ref_types_import", _module(
            '(import "storage_api" "storage_get" (func (param externref) (result i64)))'
            '(import "chain_api" "timestamp" (func (result funcref)))'
            '(func (export "f"))', imports=False, memory=""), "missing_import"),
        ("gc_ref_export", _module(
            '(func (export "any") (param anyref)) (func (export "i31") (result i31ref) '
            '(ref.i31 (i32.const 1))) (func (export "nonnull") (param (ref func)))',
            imports=False, memory=""), "bad_arguments"),
        ("gc_ref_import", _module(
            '(import "chain_api" "block_number" (func (param eqref) (result i64)))'
            '(func (export "f"))', imports=False, memory=""), "missing_import"),
        ("shared_memory", _module('(func (export "f"))', imports=False,
                                  memory='(memory (export "memory") 1 1 shared)'), None),
        ("memory64", _module('(func (export "f"))', imports=False,
                             memory='(memory (export "memory") i64 1)'), None),
        ("big_initial_memory", _module('(func (export "f"))', imports=False,
                                       memory='(memory (export "memory") 257)'), "limit"),
        ("huge_initial_memory", _module('(func (export "f"))', imports=False,
                                        memory='(memory (export "memory") 65536)'), "limit"),
        ("memory_max", _module("""
            (func (export "grow") (result i32) (memory.grow (i32.const 300)))
            (func (export "grow_all") (result i32) (memory.grow (i32.const -1)))
            (func (export "fill") (memory.fill (i32.const 0) (i32.const 0) (i32.const -1)))
            (func (export "copy") (memory.copy (i32.const 1) (i32.const 0) (i32.const 65536)))""",
                               imports=False, memory='(memory (export "memory") 1 65536)'), None),
        ("hidden_memory_host_call", _module(
            '(func (export "f") (result i32) (call $emit (i32.const 0) (i32.const 1)))',
            memory='(memory (export "mem") 1)'), "trap"),
        ("no_memory_host_call", _module(
            '(func (export "f") (result i32) (call $emit (i32.const 0) (i32.const 1)))',
            memory=""), "trap"),
        ("traps", _module("""
            (type $v (func))
            (table 2 funcref)
            (func (export "unreachable") unreachable)
            (func (export "div0") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
            (func (export "overflow") (result i32)
              (i32.div_s (i32.const 0x80000000) (i32.const -1)))
            (func (export "trunc") (result i32) (i32.trunc_f32_s (f32.const nan)))
            (func (export "oob") (result i32) (i32.load (i32.const 70000)))
            (func (export "oob_store") (i64.store (i32.const 65532) (i64.const 1)))
            (func (export "null_call") (call_indirect (type $v) (i32.const 0)))
            (func (export "oob_call") (call_indirect (type $v) (i32.const 99)))
            (func $rec (export "recurse") (param i32) (result i32)
              (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
            (func (export "spin") (loop (br 0)))""", imports=False), None),
        ("host_faults", _module("""
            (func (export "read_nothing") (result i32) (call $read (i32.const 0) (i32.const 8)))
            (func (export "event_oob") (result i32)
              (call $read_event (i32.const 5) (i32.const 0) (i32.const 8)))
            (func (export "event_negative") (result i32)
              (call $read_event (i32.const -1) (i32.const 0) (i32.const 8)))
            (func (export "wild_key") (result i32)
              (call $set (i32.const -100) (i32.const 8) (i32.const 0) (i32.const 1)))
            (func (export "wild_len") (result i64) (call $get (i32.const 0) (i32.const -1)))
            (func (export "wild_delete") (result i32) (call $del (i32.const 65535) (i32.const 2)))
            (func (export "wild_event") (result i32) (call $emit (i32.const 0) (i32.const 65537)))
            """), None),
        ("event_flood", _module("""
            (func (export "flood") (local $i i32)
              (loop $l (drop (call $emit (i32.const 0) (i32.const 1)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (i32.const 1100)))))"""), "limit"),
        ("storage_flood", _module("""
            (func (export "flood") (local $i i32)
              (loop $l
                (i32.store (i32.const 0) (local.get $i))
                (drop (call $set (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 1048576)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $l)))""", memory='(memory (export "memory") 17)'), "limit"),
        ("host_call_flood", _module("""
            (func (export "flood") (loop $l (drop (call $block)) (br $l)))"""), "out_of_fuel"),
        ("abort_import", """(module
            (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 4) "\\06\\00\\00\\00h\\00i\\00!\\00")
            (func (export "abort") (call $abort (i32.const 8) (i32.const 0) (i32.const 1)
              (i32.const 2)))
            (func (export "abort_wild") (call $abort (i32.const -8) (i32.const -1)
              (i32.const -1) (i32.const -1)))
            (func (export "abort_len") (call $abort (i32.const 65535) (i32.const 2)
              (i32.const 0) (i32.const 0))))""", None),
        ("globals_tables", _module("""
            (global $g (export "counter") (mut i64) (i64.const 0))
            (table $t (export "table") 4 funcref)
            (elem (i32.const 0) $a $a)
            (elem declare func $a)
            (func $a (result i32) (i32.const 3))
            (func (export "ref") (result i32) (ref.is_null (ref.func $a)))
            (func (export "bulk") (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 4))
              (data.drop 0))
            (data "abcd")""", imports=False), "ok"),
    ]


def compile_wat(source: str) -> bytes:
    import wasmtime

    return bytes(wasmtime.wat2wasm(source))


def seeds() -> list[Seed]:
    """Every sample compiled, and the stress modules."""
    out: list[Seed] = []
    for path in sorted(SAMPLES.glob("*.wat")):
        text = path.read_text(encoding="utf-8")
        out.append(Seed(f"samples/{path.name}", compile_wat(text), None, text))
    for path in sorted(SAMPLES.rglob("*.wasm")):
        out.append(Seed(str(path.relative_to(SAMPLES.parent)), path.read_bytes()))
    for name, source, expect in stress_sources():
        out.append(Seed(name, compile_wat(source), expect, source))
    return out


# --- the binary: sections and LEB128 --------------------------------------------------------


def read_leb(data: bytes, pos: int, limit: int = 10) -> tuple[int, int] | None:
    """(value, position after it) of the unsigned LEB128 at ``pos``, or None if malformed."""
    result = shift = 0
    for i in range(limit):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos + i + 1
    return None


def leb(value: int, width: int = 0) -> bytes:
    """``value`` as unsigned LEB128, padded to ``width`` bytes with continuation bytes."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            break
    while len(out) < width:
        out[-1] |= 0x80
        out.append(0)
    return bytes(out)


def sections(wasm: bytes) -> list[tuple[int, bytes]] | None:
    """The module's sections (id, payload), or None if the framing is broken."""
    if len(wasm) < 8:
        return None
    out: list[tuple[int, bytes]] = []
    pos = 8
    while pos < len(wasm):
        sid = wasm[pos]
        size = read_leb(wasm, pos + 1, 5)
        if size is None or size[1] + size[0] > len(wasm):
            return None
        out.append((sid, wasm[size[1]:size[1] + size[0]]))
        pos = size[1] + size[0]
    return out


def assemble(header: bytes, parts: list[tuple[int, bytes]]) -> bytes:
    return header + b"".join(bytes([sid]) + leb(len(p)) + p for sid, p in parts)


def leb_positions(wasm: bytes) -> list[tuple[int, int]]:
    """(start, end) of LEB128 numbers worth editing: section sizes, vector counts, and the
    limits of memories and tables."""
    found: list[tuple[int, int]] = []
    pos = 8
    while pos < len(wasm):
        size = read_leb(wasm, pos + 1, 5)
        if size is None:
            break
        found.append((pos + 1, size[1]))
        body = size[1]
        sid = wasm[pos]
        if sid in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12) and body < len(wasm):
            count = read_leb(wasm, body, 5)
            if count is not None:
                found.append((body, count[1]))
                if sid == 5 and count[0] and count[1] < len(wasm):
                    # flags, then min (and max if flags & 1)
                    limit = read_leb(wasm, count[1] + 1, 10)
                    if limit is not None:
                        found.append((count[1] + 1, limit[1]))
                        if wasm[count[1]] & 1:
                            maximum = read_leb(wasm, limit[1], 10)
                            if maximum is not None:
                                found.append((limit[1], maximum[1]))
                if sid == 4 and count[0] and count[1] + 1 < len(wasm):
                    limit = read_leb(wasm, count[1] + 2, 10)  # reftype, flags, min
                    if limit is not None:
                        found.append((count[1] + 2, limit[1]))
        pos = size[1] + size[0]
    return found


# --- mutations ------------------------------------------------------------------------------

_INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x40, 0x60, 0x70, 0x6F, 0x7B, 0x0B, 0x10]


def _flip(rng: random.Random, data: bytearray) -> str:
    if not data:
        return "flip(empty)"
    # The header and the first sections are where a bit flip changes most.
    pos = rng.randrange(min(len(data), 64)) if rng.random() < 0.3 else rng.randrange(len(data))
    choice = rng.random()
    if choice < 0.4:
        data[pos] ^= 1 << rng.randrange(8)
    elif choice < 0.7:
        data[pos] = rng.choice(_INTERESTING)
    else:
        data[pos] = rng.randrange(256)
    return f"flip@{pos}"


def _insert(rng: random.Random, data: bytearray) -> str:
    pos = rng.randrange(len(data) + 1)
    blob = bytes(rng.choice(_INTERESTING) if rng.random() < 0.5 else rng.randrange(256)
                 for _ in range(rng.choice([1, 1, 2, 4, 16, 200])))
    data[pos:pos] = blob
    return f"insert@{pos}+{len(blob)}"


def _delete(rng: random.Random, data: bytearray) -> str:
    if not data:
        return "delete(empty)"
    pos = rng.randrange(len(data))
    n = rng.choice([1, 1, 2, 4, 16, 300])
    del data[pos:pos + n]
    return f"delete@{pos}-{n}"


def _truncate(rng: random.Random, data: bytearray) -> str:
    n = rng.choice([0, 4, 8, 9, 10]) if rng.random() < 0.2 else rng.randrange(len(data) + 1)
    del data[n:]
    return f"truncate@{n}"


def _section_edit(rng: random.Random, data: bytearray) -> str:
    parts = sections(bytes(data))
    if not parts:
        return _flip(rng, data)
    header = bytes(data[:8])
    op = rng.choice(["drop", "duplicate", "swap", "retag", "custom", "resize", "move"])
    i = rng.randrange(len(parts))
    if op == "drop":
        del parts[i]
    elif op == "duplicate":
        parts.insert(rng.randrange(len(parts) + 1), parts[i])
    elif op == "swap" and len(parts) > 1:
        j = rng.randrange(len(parts))
        parts[i], parts[j] = parts[j], parts[i]
    elif op == "retag":
        parts[i] = (rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0x7F, 0xFF]),
                    parts[i][1])
    elif op == "custom":
        name = rng.choice([b"name", b"", b"\xff\xfe", b"producers", b"x" * 300])
        parts.insert(rng.randrange(len(parts) + 1),
                     (0, leb(len(name)) + name + bytes(rng.randrange(256)
                                                       for _ in range(rng.randrange(40)))))
    elif op == "move":
        part = parts.pop(i)
        parts.insert(rng.randrange(len(parts) + 1), part)
    else:  # resize: the payload's declared size no longer matches
        sid, payload = parts[i]
        out = assemble(header, parts[:i])
        delta = rng.choice([-1, 1, 2, -5, 1000, 1 << 31])
        out += bytes([sid]) + leb(max(0, len(payload) + delta)) + payload
        out += assemble(b"", parts[i + 1:])
        data[:] = out
        return f"section-resize#{i}{delta:+d}"
    data[:] = assemble(header, parts)
    return f"section-{op}#{i}"


def _leb_edit(rng: random.Random, data: bytearray) -> str:
    positions = leb_positions(bytes(data))
    if not positions:
        return _flip(rng, data)
    start, end = rng.choice(positions)
    value = read_leb(bytes(data), start, 10)
    old = value[0] if value else 0
    op = rng.choice(["overlong", "overlong6", "huge", "max32", "plus", "minus", "zero",
                     "unterminated"])
    if op == "overlong":
        new = leb(old, 5)
    elif op == "overlong6":
        new = leb(old, 6)
    elif op == "huge":
        new = leb(rng.choice([1 << 32, (1 << 35) - 1, 1 << 63, 65536, 65537, 100001]))
    elif op == "max32":
        new = leb(0xFFFF_FFFF)
    elif op == "plus":
        new = leb(old + rng.choice([1, 2, 100]))
    elif op == "minus":
        new = leb(max(0, old - 1))
    elif op == "zero":
        new = leb(0)
    else:
        new = bytes([0x80] * rng.choice([1, 5, 9]))
    data[start:end] = new
    return f"leb-{op}@{start}"


def _splice(rng: random.Random, data: bytearray, other: bytes) -> str:
    mine, theirs = sections(bytes(data)), sections(other)
    if not mine or not theirs:
        return _insert(rng, data)
    j = rng.randrange(len(theirs))
    i = rng.randrange(len(mine) + 1)
    mine.insert(i, theirs[j])
    if rng.random() < 0.5 and i + 1 < len(mine):
        del mine[i + 1]
    data[:] = assemble(bytes(data[:8]), mine)
    return f"splice#{j}->#{i}"


MUTATORS = [(_flip, 30), (_insert, 8), (_delete, 8), (_truncate, 6), (_section_edit, 18),
            (_leb_edit, 22)]


def mutate(rng: random.Random, seed: bytes, other: bytes) -> tuple[bytes, list[str]]:
    """``seed`` with one to four mutations (and sometimes a section of ``other``)."""
    data = bytearray(seed)
    done: list[str] = []
    funcs, weights = zip(*MUTATORS, strict=True)
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        if rng.random() < 0.05:
            done.append(_splice(rng, data, other))
        else:
            done.append(rng.choices(funcs, weights)[0](rng, data))
    return bytes(data), done


def mutate_text(rng: random.Random, text: str) -> tuple[bytes, list[str]]:
    """WebAssembly text with a few byte-level mutations (the text path of loading)."""
    data = bytearray(text.encode("utf-8"))
    done = []
    for _ in range(rng.choice([1, 2, 3])):
        op = rng.random()
        if op < 0.4 and data:
            pos = rng.randrange(len(data))
            data[pos] = rng.choice(b"()\"\\;$0x9 \n\xff\x00")
            done.append(f"text-byte@{pos}")
        elif op < 0.7:
            done.append(_delete(rng, data))
        elif op < 0.85:
            done.append(_truncate(rng, data))
        else:
            pos = rng.randrange(len(data) + 1)
            data[pos:pos] = rng.choice([b"(", b")", b"(module", b"\"", b";;", b"(;", b"\xc3",
                                        b" i32.const 99999999999999999999 ", b"v128"])
            done.append(f"text-insert@{pos}")
    return bytes(data), done
