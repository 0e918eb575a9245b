"""The WebAssembly opcode table SuperVM's binary reader decodes.

``OPCODES`` maps an opcode to ``(name, immediates)``. A plain opcode is its byte; a prefixed one
is ``prefix << 16 | sub-opcode`` (``memory.init`` is ``0xFC0008``, ``i8x16.shuffle`` is
``0xFD000D``). ``immediates`` names the immediate layout the decoder reads (see
``runtime.wasm_decode``).

Covered: the MVP, sign extension, non-trapping float-to-int, bulk memory, reference types, multi
value, SIMD and relaxed SIMD, tail calls, threads (atomics), exception handling (``try_table``),
typed function references, GC and wide arithmetic: every instruction set the wasmtime 50 engine
SuperVM uses can accept. Not covered (rejected as unknown opcodes): the legacy exception
instructions (``try``/``catch``/``delegate``/``rethrow``), stack switching, shared-everything
threads.
"""

from __future__ import annotations

# Immediate layouts.
NONE = 0
BLOCK = 1  # block type
LABEL = 2  # u32 label depth
BR_TABLE = 3  # vec(label) default
FUNC = 4  # u32 function index
CALL_INDIRECT = 5  # u32 type index, u32 table index
TYPE = 6  # u32 type index
LOCAL = 7
GLOBAL = 8
TABLE = 9  # u32 table index
MEMARG = 10  # align flags (bit 6: memory index follows), [memory], offset
MEMORY = 11  # u32 memory index
I32 = 12  # s32
I64 = 13  # s64
F32 = 14  # 4 bytes, returned as the raw little-endian bits (an int)
F64 = 15  # 8 bytes, likewise
SELECT_T = 16  # vec(valtype)
HEAP_TYPE = 17  # heap type (ref.null, ref.test, ref.cast)
DATA = 18  # u32 data index
ELEM = 19  # u32 element index
DATA_MEMORY = 20  # data index, memory index (memory.init)
MEMORY_MEMORY = 21  # two memory indices (memory.copy)
ELEM_TABLE = 22  # element index, table index (table.init)
TABLE_TABLE = 23  # two table indices (table.copy)
V128 = 24  # 16 bytes
SHUFFLE = 25  # 16 lane bytes
LANE = 26  # one lane byte
MEMARG_LANE = 27  # memarg, lane byte
FENCE = 28  # one reserved byte (atomic.fence)
TAG = 29  # u32 tag index
TRY_TABLE = 30  # block type, vec(catch clause)
TYPE_FIELD = 31  # type index, field index (struct.get/set)
TYPE_TYPE = 32  # two type indices (array.copy)
TYPE_COUNT = 33  # type index, u32 count (array.new_fixed)
TYPE_DATA = 34  # type index, data index
TYPE_ELEM = 35  # type index, element index
BR_ON_CAST = 36  # flags byte, label, heap type, heap type

FC = 0xFC << 16
FD = 0xFD << 16
FE = 0xFE << 16
FB = 0xFB << 16

# Opcodes SuperVM's tools treat specially.
UNREACHABLE, BLOCK_OP, LOOP, IF, ELSE, TRY_TABLE_OP, END = 0x00, 0x02, 0x03, 0x04, 0x05, 0x1F, 0x0B
RETURN, CALL, CALL_INDIRECT_OP, RETURN_CALL, RETURN_CALL_INDIRECT = 0x0F, 0x10, 0x11, 0x12, 0x13
RETURN_CALL_REF = 0x15
I32_CONST, I64_CONST, REF_FUNC = 0x41, 0x42, 0xD2

OPCODES: dict[int, tuple[str, int]] = {
    0x00: ("unreachable", NONE), 0x01: ("nop", NONE), 0x02: ("block", BLOCK),
    0x03: ("loop", BLOCK), 0x04: ("if", BLOCK), 0x05: ("else", NONE),
    0x08: ("throw", TAG), 0x0A: ("throw_ref", NONE), 0x0B: ("end", NONE),
    0x0C: ("br", LABEL), 0x0D: ("br_if", LABEL), 0x0E: ("br_table", BR_TABLE),
    0x0F: ("return", NONE), 0x10: ("call", FUNC), 0x11: ("call_indirect", CALL_INDIRECT),
    0x12: ("return_call", FUNC), 0x13: ("return_call_indirect", CALL_INDIRECT),
    0x14: ("call_ref", TYPE), 0x15: ("return_call_ref", TYPE),
    0x1A: ("drop", NONE), 0x1B: ("select", NONE), 0x1C: ("select", SELECT_T),
    0x1F: ("try_table", TRY_TABLE),
    0x20: ("local.get", LOCAL), 0x21: ("local.set", LOCAL), 0x22: ("local.tee", LOCAL),
    0x23: ("global.get", GLOBAL), 0x24: ("global.set", GLOBAL),
    0x25: ("table.get", TABLE), 0x26: ("table.set", TABLE),
    0x3F: ("memory.size", MEMORY), 0x40: ("memory.grow", MEMORY),
    0x41: ("i32.const", I32), 0x42: ("i64.const", I64),
    0x43: ("f32.const", F32), 0x44: ("f64.const", F64),
    0xD0: ("ref.null", HEAP_TYPE), 0xD1: ("ref.is_null", NONE), 0xD2: ("ref.func", FUNC),
    0xD3: ("ref.eq", NONE), 0xD4: ("ref.as_non_null", NONE),
    0xD5: ("br_on_null", LABEL), 0xD6: ("br_on_non_null", LABEL),
}


def _add(base: int, first: int, names: str, kind: int = NONE) -> None:
    """Register consecutive opcodes from a space-separated list ('-' skips a code)."""
    for i, name in enumerate(names.split()):
        if name != "-":
            OPCODES[base | (first + i)] = (name, kind)


_add(0, 0x28, """i32.load i64.load f32.load f64.load i32.load8_s i32.load8_u i32.load16_s
    i32.load16_u i64.load8_s i64.load8_u i64.load16_s i64.load16_u i64.load32_s i64.load32_u
    i32.store i64.store f32.store f64.store i32.store8 i32.store16 i64.store8 i64.store16
    i64.store32""", MEMARG)


def _numeric() -> str:
    cmp = "eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u"
    fcmp = "eq ne lt gt le ge"
    ibin = "clz ctz popcnt add sub mul div_s div_u rem_s rem_u and or xor shl shr_s shr_u rotl rotr"
    fbin = "abs neg ceil floor trunc nearest sqrt add sub mul div min max copysign"
    parts = ["i32.eqz", *(f"i32.{c}" for c in cmp.split()), "i64.eqz",
             *(f"i64.{c}" for c in cmp.split()), *(f"f32.{c}" for c in fcmp.split()),
             *(f"f64.{c}" for c in fcmp.split()), *(f"i32.{c}" for c in ibin.split()),
             *(f"i64.{c}" for c in ibin.split()), *(f"f32.{c}" for c in fbin.split()),
             *(f"f64.{c}" for c in fbin.split())]
    return " ".join(parts)


_add(0, 0x45, _numeric())
_add(0, 0xA7, """i32.wrap_i64 i32.trunc_f32_s i32.trunc_f32_u i32.trunc_f64_s i32.trunc_f64_u
    i64.extend_i32_s i64.extend_i32_u i64.trunc_f32_s i64.trunc_f32_u i64.trunc_f64_s
    i64.trunc_f64_u f32.convert_i32_s f32.convert_i32_u f32.convert_i64_s f32.convert_i64_u
    f32.demote_f64 f64.convert_i32_s f64.convert_i32_u f64.convert_i64_s f64.convert_i64_u
    f64.promote_f32 i32.reinterpret_f32 i64.reinterpret_f64 f32.reinterpret_i32
    f64.reinterpret_i64 i32.extend8_s i32.extend16_s i64.extend8_s i64.extend16_s
    i64.extend32_s""")

# 0xFC: saturating truncation, bulk memory, reference-type table instructions, wide arithmetic.
_add(FC, 0, """i32.trunc_sat_f32_s i32.trunc_sat_f32_u i32.trunc_sat_f64_s i32.trunc_sat_f64_u
    i64.trunc_sat_f32_s i64.trunc_sat_f32_u i64.trunc_sat_f64_s i64.trunc_sat_f64_u""")
OPCODES.update({
    FC | 8: ("memory.init", DATA_MEMORY), FC | 9: ("data.drop", DATA),
    FC | 10: ("memory.copy", MEMORY_MEMORY), FC | 11: ("memory.fill", MEMORY),
    FC | 12: ("table.init", ELEM_TABLE), FC | 13: ("elem.drop", ELEM),
    FC | 14: ("table.copy", TABLE_TABLE), FC | 15: ("table.grow", TABLE),
    FC | 16: ("table.size", TABLE), FC | 17: ("table.fill", TABLE),
})
_add(FC, 19, "i64.add128 i64.sub128 i64.mul_wide_s i64.mul_wide_u")

# 0xFD: SIMD, then relaxed SIMD from 0x100.
_add(FD, 0x00, """v128.load v128.load8x8_s v128.load8x8_u v128.load16x4_s v128.load16x4_u
    v128.load32x2_s v128.load32x2_u v128.load8_splat v128.load16_splat v128.load32_splat
    v128.load64_splat v128.store""", MEMARG)
OPCODES[FD | 0x0C] = ("v128.const", V128)
OPCODES[FD | 0x0D] = ("i8x16.shuffle", SHUFFLE)
_add(FD, 0x0E, "i8x16.swizzle i8x16.splat i16x8.splat i32x4.splat i64x2.splat f32x4.splat "
     "f64x2.splat")
_add(FD, 0x15, """i8x16.extract_lane_s i8x16.extract_lane_u i8x16.replace_lane
    i16x8.extract_lane_s i16x8.extract_lane_u i16x8.replace_lane i32x4.extract_lane
    i32x4.replace_lane i64x2.extract_lane i64x2.replace_lane f32x4.extract_lane
    f32x4.replace_lane f64x2.extract_lane f64x2.replace_lane""", LANE)
_ICMP = ("eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u")
_FCMP = ("eq", "ne", "lt", "gt", "le", "ge")
_add(FD, 0x23, " ".join(
    [f"{shape}.{c}" for shape in ("i8x16", "i16x8", "i32x4") for c in _ICMP]
    + [f"{shape}.{c}" for shape in ("f32x4", "f64x2") for c in _FCMP]
    + ["v128.not", "v128.and", "v128.andnot", "v128.or", "v128.xor", "v128.bitselect",
       "v128.any_true"]))
_add(FD, 0x54, """v128.load8_lane v128.load16_lane v128.load32_lane v128.load64_lane
    v128.store8_lane v128.store16_lane v128.store32_lane v128.store64_lane""", MEMARG_LANE)
_add(FD, 0x5C, "v128.load32_zero v128.load64_zero", MEMARG)
_add(FD, 0x5E, """f32x4.demote_f64x2_zero f64x2.promote_low_f32x4
    i8x16.abs i8x16.neg i8x16.popcnt i8x16.all_true i8x16.bitmask i8x16.narrow_i16x8_s
    i8x16.narrow_i16x8_u f32x4.ceil f32x4.floor f32x4.trunc f32x4.nearest i8x16.shl i8x16.shr_s
    i8x16.shr_u i8x16.add i8x16.add_sat_s i8x16.add_sat_u i8x16.sub i8x16.sub_sat_s
    i8x16.sub_sat_u f64x2.ceil f64x2.floor i8x16.min_s i8x16.min_u i8x16.max_s i8x16.max_u
    f64x2.trunc i8x16.avgr_u i16x8.extadd_pairwise_i8x16_s i16x8.extadd_pairwise_i8x16_u
    i32x4.extadd_pairwise_i16x8_s i32x4.extadd_pairwise_i16x8_u
    i16x8.abs i16x8.neg i16x8.q15mulr_sat_s i16x8.all_true i16x8.bitmask i16x8.narrow_i32x4_s
    i16x8.narrow_i32x4_u i16x8.extend_low_i8x16_s i16x8.extend_high_i8x16_s
    i16x8.extend_low_i8x16_u i16x8.extend_high_i8x16_u i16x8.shl i16x8.shr_s i16x8.shr_u
    i16x8.add i16x8.add_sat_s i16x8.add_sat_u i16x8.sub i16x8.sub_sat_s i16x8.sub_sat_u
    f64x2.nearest i16x8.mul i16x8.min_s i16x8.min_u i16x8.max_s i16x8.max_u - i16x8.avgr_u
    i16x8.extmul_low_i8x16_s i16x8.extmul_high_i8x16_s i16x8.extmul_low_i8x16_u
    i16x8.extmul_high_i8x16_u
    i32x4.abs i32x4.neg - i32x4.all_true i32x4.bitmask - - i32x4.extend_low_i16x8_s
    i32x4.extend_high_i16x8_s i32x4.extend_low_i16x8_u i32x4.extend_high_i16x8_u i32x4.shl
    i32x4.shr_s i32x4.shr_u i32x4.add - - i32x4.sub - - - i32x4.mul i32x4.min_s i32x4.min_u
    i32x4.max_s i32x4.max_u i32x4.dot_i16x8_s - i32x4.extmul_low_i16x8_s
    i32x4.extmul_high_i16x8_s i32x4.extmul_low_i16x8_u i32x4.extmul_high_i16x8_u
    i64x2.abs i64x2.neg - i64x2.all_true i64x2.bitmask - - i64x2.extend_low_i32x4_s
    i64x2.extend_high_i32x4_s i64x2.extend_low_i32x4_u i64x2.extend_high_i32x4_u i64x2.shl
    i64x2.shr_s i64x2.shr_u i64x2.add - - i64x2.sub - - - i64x2.mul i64x2.eq i64x2.ne
    i64x2.lt_s i64x2.gt_s i64x2.le_s i64x2.ge_s i64x2.extmul_low_i32x4_s
    i64x2.extmul_high_i32x4_s i64x2.extmul_low_i32x4_u i64x2.extmul_high_i32x4_u
    f32x4.abs f32x4.neg - f32x4.sqrt f32x4.add f32x4.sub f32x4.mul f32x4.div f32x4.min
    f32x4.max f32x4.pmin f32x4.pmax f64x2.abs f64x2.neg - f64x2.sqrt f64x2.add f64x2.sub
    f64x2.mul f64x2.div f64x2.min f64x2.max f64x2.pmin f64x2.pmax i32x4.trunc_sat_f32x4_s
    i32x4.trunc_sat_f32x4_u f32x4.convert_i32x4_s f32x4.convert_i32x4_u
    i32x4.trunc_sat_f64x2_s_zero i32x4.trunc_sat_f64x2_u_zero f64x2.convert_low_i32x4_s
    f64x2.convert_low_i32x4_u""")
_add(FD, 0x100, """i8x16.relaxed_swizzle i32x4.relaxed_trunc_f32x4_s i32x4.relaxed_trunc_f32x4_u
    i32x4.relaxed_trunc_f64x2_s_zero i32x4.relaxed_trunc_f64x2_u_zero f32x4.relaxed_madd
    f32x4.relaxed_nmadd f64x2.relaxed_madd f64x2.relaxed_nmadd i8x16.relaxed_laneselect
    i16x8.relaxed_laneselect i32x4.relaxed_laneselect i64x2.relaxed_laneselect
    f32x4.relaxed_min f32x4.relaxed_max f64x2.relaxed_min f64x2.relaxed_max
    i16x8.relaxed_q15mulr_s i16x8.relaxed_dot_i8x16_i7x16_s
    i32x4.relaxed_dot_i8x16_i7x16_add_s""")

# 0xFE: threads.
_add(FE, 0x00, "memory.atomic.notify memory.atomic.wait32 memory.atomic.wait64", MEMARG)
OPCODES[FE | 0x03] = ("atomic.fence", FENCE)
_add(FE, 0x10, """i32.atomic.load i64.atomic.load i32.atomic.load8_u i32.atomic.load16_u
    i64.atomic.load8_u i64.atomic.load16_u i64.atomic.load32_u i32.atomic.store
    i64.atomic.store i32.atomic.store8 i32.atomic.store16 i64.atomic.store8
    i64.atomic.store16 i64.atomic.store32""", MEMARG)
_add(FE, 0x1E, " ".join(
    f"{w}.atomic.rmw{n}.{op}{u}"
    for op in ("add", "sub", "and", "or", "xor", "xchg", "cmpxchg")
    for w, n, u in (("i32", "", ""), ("i64", "", ""), ("i32", "8", "_u"), ("i32", "16", "_u"),
                    ("i64", "8", "_u"), ("i64", "16", "_u"), ("i64", "32", "_u"))), MEMARG)

# 0xFB: GC.
OPCODES.update({
    FB | 0: ("struct.new", TYPE), FB | 1: ("struct.new_default", TYPE),
    FB | 2: ("struct.get", TYPE_FIELD), FB | 3: ("struct.get_s", TYPE_FIELD),
    FB | 4: ("struct.get_u", TYPE_FIELD), FB | 5: ("struct.set", TYPE_FIELD),
    FB | 6: ("array.new", TYPE), FB | 7: ("array.new_default", TYPE),
    FB | 8: ("array.new_fixed", TYPE_COUNT), FB | 9: ("array.new_data", TYPE_DATA),
    FB | 10: ("array.new_elem", TYPE_ELEM), FB | 11: ("array.get", TYPE),
    FB | 12: ("array.get_s", TYPE), FB | 13: ("array.get_u", TYPE),
    FB | 14: ("array.set", TYPE), FB | 15: ("array.len", NONE),
    FB | 16: ("array.fill", TYPE), FB | 17: ("array.copy", TYPE_TYPE),
    FB | 18: ("array.init_data", TYPE_DATA), FB | 19: ("array.init_elem", TYPE_ELEM),
    FB | 20: ("ref.test", HEAP_TYPE), FB | 21: ("ref.test null", HEAP_TYPE),
    FB | 22: ("ref.cast", HEAP_TYPE), FB | 23: ("ref.cast null", HEAP_TYPE),
    FB | 24: ("br_on_cast", BR_ON_CAST), FB | 25: ("br_on_cast_fail", BR_ON_CAST),
    FB | 26: ("any.convert_extern", NONE), FB | 27: ("extern.convert_any", NONE),
    FB | 28: ("ref.i31", NONE), FB | 29: ("i31.get_s", NONE), FB | 30: ("i31.get_u", NONE),
})

#: Opcodes that open a block closed by ``end``.
BLOCK_STARTS = frozenset((BLOCK_OP, LOOP, IF, TRY_TABLE_OP))


def opcode_name(opcode: int) -> str:
    """The text-format name of an opcode (``"0x.."`` if SuperVM does not know it)."""
    entry = OPCODES.get(opcode)
    return entry[0] if entry else f"0x{opcode:x}"
