"""Low-level decoding for SuperVM's WebAssembly reader: integers, types and instructions.

Every reader takes ``(data, pos, end)`` and returns ``(value, new_pos)``; ``end`` is the end of
the enclosing section or body, never past it. Malformed input raises :class:`WasmBinaryError`
with the byte offset; no reader loops more than once per input byte, and LEB128 integers are
capped at their spec length (5 bytes for 32 bits, 10 for 64).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import SuperVMError
from .wasm_opcodes import (
    BLOCK,
    BLOCK_STARTS,
    BR_ON_CAST,
    BR_TABLE,
    CALL_INDIRECT,
    DATA,
    DATA_MEMORY,
    ELEM,
    ELEM_TABLE,
    END,
    F32,
    F64,
    FENCE,
    FUNC,
    GLOBAL,
    HEAP_TYPE,
    I32,
    I64,
    LABEL,
    LANE,
    LOCAL,
    MEMARG,
    MEMARG_LANE,
    MEMORY,
    MEMORY_MEMORY,
    NONE,
    OPCODES,
    SELECT_T,
    SHUFFLE,
    TABLE,
    TABLE_TABLE,
    TAG,
    TRY_TABLE,
    TYPE,
    TYPE_COUNT,
    TYPE_DATA,
    TYPE_ELEM,
    TYPE_FIELD,
    TYPE_TYPE,
    V128,
    opcode_name,
)


class WasmBinaryError(SuperVMError):
    """The bytes are not a well-formed WebAssembly module; ``offset`` is where it went wrong."""

    kind = "invalid_module"

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"invalid WebAssembly binary at byte 0x{offset:x}: {reason}")
        self.offset, self.reason = offset, reason

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "offset": self.offset, "reason": self.reason}


def _eof(pos: int, what: str) -> WasmBinaryError:
    return WasmBinaryError(pos, f"unexpected end of {what}")


# --- integers ---------------------------------------------------------------------------------


def _uleb(data: bytes, pos: int, end: int, bits: int) -> tuple[int, int]:
    start, result, shift, limit = pos, 0, 0, (bits + 6) // 7
    while True:
        if pos >= end:
            raise _eof(pos, "data while reading an integer")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if pos - start >= limit:
            raise WasmBinaryError(start, f"integer representation longer than {limit} bytes")
    if result >> bits:
        raise WasmBinaryError(start, f"integer too large for {bits} bits")
    return result, pos


def u32(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """An unsigned 32-bit LEB128 integer."""
    if pos < end:
        byte = data[pos]
        if byte < 0x80:
            return byte, pos + 1
        if pos + 1 < end:  # two bytes: most indices and sizes
            second = data[pos + 1]
            if second < 0x80:
                return (byte & 0x7F) | second << 7, pos + 2
    return _uleb(data, pos, end, 32)


def u64(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """An unsigned 64-bit LEB128 integer."""
    if pos < end:
        byte = data[pos]
        if byte < 0x80:
            return byte, pos + 1
    return _uleb(data, pos, end, 64)


def sleb(data: bytes, pos: int, end: int, bits: int) -> tuple[int, int]:
    """A signed LEB128 integer of ``bits`` bits (32, 33 or 64)."""
    if pos < end:
        byte = data[pos]
        if byte < 0x40:
            return byte, pos + 1
        if byte < 0x80:
            return byte - 0x80, pos + 1
    start, result, shift, limit = pos, 0, 0, (bits + 6) // 7
    while True:
        if pos >= end:
            raise _eof(pos, "data while reading an integer")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
        if pos - start >= limit:
            raise WasmBinaryError(start, f"integer representation longer than {limit} bytes")
    if byte & 0x40:
        result -= 1 << shift
    if not -(1 << (bits - 1)) <= result < 1 << (bits - 1):
        raise WasmBinaryError(start, f"integer too large for {bits} signed bits")
    return result, pos


def count(data: bytes, pos: int, end: int, min_size: int = 1) -> tuple[int, int]:
    """A vector length, refused when the remaining bytes cannot hold that many entries."""
    n, p = u32(data, pos, end)
    if n * min_size > end - p:
        raise WasmBinaryError(pos, f"vector of {n:,} entries does not fit in {end - p:,} bytes")
    return n, p


def byte(data: bytes, pos: int, end: int) -> int:
    """The byte at ``pos`` (the caller advances by one)."""
    if pos >= end:
        raise _eof(pos, "data")
    return data[pos]


def name(data: bytes, pos: int, end: int) -> tuple[str, int]:
    """A length-prefixed UTF-8 string."""
    n, p = u32(data, pos, end)
    if n > end - p:
        raise WasmBinaryError(pos, f"name of {n:,} bytes runs past the end ({end - p:,} left)")
    try:
        return data[p:p + n].decode("utf-8"), p + n
    except UnicodeDecodeError as exc:
        raise WasmBinaryError(p + exc.start, "name is not valid UTF-8") from None


# --- types ------------------------------------------------------------------------------------

VALTYPES = {
    0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128",
    0x70: "funcref", 0x6F: "externref", 0x6E: "anyref", 0x6D: "eqref", 0x6C: "i31ref",
    0x6B: "structref", 0x6A: "arrayref", 0x69: "exnref", 0x71: "nullref",
    0x73: "nullfuncref", 0x72: "nullexternref", 0x74: "nullexnref",
}
HEAP_TYPES = {
    0x70: "func", 0x6F: "extern", 0x6E: "any", 0x6D: "eq", 0x6C: "i31", 0x6B: "struct",
    0x6A: "array", 0x69: "exn", 0x71: "none", 0x73: "nofunc", 0x72: "noextern", 0x74: "noexn",
}
_REF_NULL, _REF = 0x63, 0x64


def heap_type(data: bytes, pos: int, end: int) -> tuple[str | int, int]:
    """An abstract heap type's name (``"func"``) or a type index."""
    b = byte(data, pos, end)
    if b in HEAP_TYPES:
        return HEAP_TYPES[b], pos + 1
    index, p = sleb(data, pos, end, 33)
    if index < 0:
        raise WasmBinaryError(pos, f"invalid heap type 0x{b:02x}")
    return index, p


def valtype(data: bytes, pos: int, end: int) -> tuple[str, int]:
    """A value type's text name: ``i32`` ... ``externref``, ``(ref null 3)``, ``(ref func)``."""
    b = byte(data, pos, end)
    name_ = VALTYPES.get(b)
    if name_ is not None:
        return name_, pos + 1
    if b in (_REF_NULL, _REF):
        heap, p = heap_type(data, pos + 1, end)
        return f"(ref {'null ' if b == _REF_NULL else ''}{heap})", p
    raise WasmBinaryError(pos, f"invalid value type 0x{b:02x}")


def block_type(data: bytes, pos: int, end: int) -> tuple[str | int | None, int]:
    """None (no values), a value type name (one result) or a type index (multi value)."""
    b = byte(data, pos, end)
    if b == 0x40:
        return None, pos + 1
    if b in VALTYPES or b in (_REF_NULL, _REF):
        return valtype(data, pos, end)
    index, p = sleb(data, pos, end, 33)
    if index < 0:
        raise WasmBinaryError(pos, f"invalid block type 0x{b:02x}")
    return index, p


# --- instructions -----------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Instruction:
    """One decoded instruction: ``offset`` in the module, ``size`` in bytes, ``opcode`` (a byte,
    or ``prefix << 16 | sub-opcode``) and its ``immediates``:

    block/loop/if ``(block_type,)``; br/br_if ``(depth,)``; br_table ``(targets, default)``;
    call/return_call/ref.func ``(func,)``; call_indirect ``(type, table)``; local/global/table/
    memory/data/elem/tag instructions ``(index,)``; loads and stores ``(align, offset, memory)``
    (``align`` as log2, lane accesses add ``lane``); ``*.const`` ``(value,)`` (floats as their
    raw bits); typed select ``(types,)``; ``v128.const`` ``(bytes,)``; ``i8x16.shuffle``
    ``(lanes,)``; try_table ``(block_type, ((kind, tag, label), ...))``; two-index instructions
    ``(a, b)`` in encoding order.
    """

    offset: int
    opcode: int
    immediates: tuple[Any, ...]
    size: int

    @property
    def name(self) -> str:
        """The instruction's text-format name (``"i32.add"``)."""
        return opcode_name(self.opcode)

    @property
    def next_offset(self) -> int:
        return self.offset + self.size


_ONE_INDEX = frozenset((LOCAL, GLOBAL, FUNC, LABEL, TYPE, TABLE, MEMORY, DATA, ELEM, TAG))
_TWO_INDICES = frozenset((CALL_INDIRECT, DATA_MEMORY, MEMORY_MEMORY, ELEM_TABLE, TABLE_TABLE,
                          TYPE_FIELD, TYPE_TYPE, TYPE_COUNT, TYPE_DATA, TYPE_ELEM))


def _memarg(data: bytes, p: int, end: int) -> tuple[tuple[int, int, int], int]:
    flags, p = u32(data, p, end)
    memory = 0
    if flags & 0x40:  # multi-memory: an explicit memory index follows the flags
        memory, p = u32(data, p, end)
        flags &= ~0x40
    offset, p = u64(data, p, end)
    return (flags, offset, memory), p


def decode(data: bytes, pos: int, end: int) -> tuple[int, tuple[Any, ...], int]:
    """The instruction at ``pos``: ``(opcode, immediates, next_pos)``."""
    b = data[pos] if pos < end else byte(data, pos, end)
    p = pos + 1
    if 0xFB <= b <= 0xFE:
        sub, p = u32(data, p, end)
        op = b << 16 | sub
    else:
        op = b
    entry = OPCODES.get(op)
    if entry is None:
        what = f"0x{b:02x} 0x{op & 0xFFFF:x}" if op > 0xFF else f"0x{b:02x}"
        raise WasmBinaryError(pos, f"unknown or unsupported opcode {what}")
    kind = entry[1]
    if kind == NONE:
        return op, (), p
    if kind in _ONE_INDEX:
        index, p = u32(data, p, end)
        return op, (index,), p
    if kind == I32:
        value, p = sleb(data, p, end, 32)
        return op, (value,), p
    if kind == MEMARG:
        memarg, p = _memarg(data, p, end)
        return op, memarg, p
    if kind == BLOCK:
        bt, p = block_type(data, p, end)
        return op, (bt,), p
    if kind == I64:
        value, p = sleb(data, p, end, 64)
        return op, (value,), p
    if kind in _TWO_INDICES:
        a, p = u32(data, p, end)
        c, p = u32(data, p, end)
        return op, (a, c), p
    if kind == BR_TABLE:
        n, p = count(data, p, end)
        targets = []
        for _ in range(n):
            label, p = u32(data, p, end)
            targets.append(label)
        default, p = u32(data, p, end)
        return op, (tuple(targets), default), p
    if kind in (F32, F64):
        width = 4 if kind == F32 else 8
        if end - p < width:
            raise _eof(end, "code in a float constant")
        return op, (int.from_bytes(data[p:p + width], "little"),), p + width
    if kind in (V128, SHUFFLE):
        if end - p < 16:
            raise _eof(end, "code in a 16-byte immediate")
        raw = bytes(data[p:p + 16])
        return op, ((raw,) if kind == V128 else (tuple(raw),)), p + 16
    if kind == LANE:
        return op, (byte(data, p, end),), p + 1
    if kind == MEMARG_LANE:
        memarg, p = _memarg(data, p, end)
        return op, (*memarg, byte(data, p, end)), p + 1
    if kind == SELECT_T:
        n, p = count(data, p, end)
        types = []
        for _ in range(n):
            t, p = valtype(data, p, end)
            types.append(t)
        return op, (tuple(types),), p
    if kind == HEAP_TYPE:
        heap, p = heap_type(data, p, end)
        return op, (heap,), p
    if kind == FENCE:
        if byte(data, p, end) != 0:
            raise WasmBinaryError(p, "atomic.fence expects a zero byte")
        return op, (), p + 1
    if kind == TRY_TABLE:
        bt, p = block_type(data, p, end)
        n, p = count(data, p, end, 2)
        catches = []
        for _ in range(n):
            catch_kind, tag = byte(data, p, end), None
            if catch_kind > 3:
                raise WasmBinaryError(p, f"invalid catch clause kind {catch_kind}")
            p += 1
            if catch_kind < 2:  # catch and catch_ref name a tag
                tag, p = u32(data, p, end)
            label, p = u32(data, p, end)
            catches.append((catch_kind, tag, label))
        return op, (bt, tuple(catches)), p
    if kind == BR_ON_CAST:
        flags = byte(data, p, end)
        label, p = u32(data, p + 1, end)
        heap1, p = heap_type(data, p, end)
        heap2, p = heap_type(data, p, end)
        return op, (flags, label, heap1, heap2), p
    raise AssertionError(f"immediate layout {kind} of {entry[0]} not handled")


def code_instructions(data: bytes, start: int, end: int, what: str = "function body"
                      ) -> Iterator[Instruction]:
    """The instructions from ``start`` up to and including the ``end`` that closes the code.

    Raises if that ``end`` is not exactly the last byte before ``end`` (the range's end).
    """
    pos, depth = start, 0
    while pos < end:
        op, imm, nxt = decode(data, pos, end)
        yield Instruction(pos, op, imm, nxt - pos)
        if op in BLOCK_STARTS:
            depth += 1
        elif op == END:
            if not depth:
                if nxt != end:
                    raise WasmBinaryError(nxt, f"bytes after the final `end` of the {what}")
                return
            depth -= 1
        pos = nxt
    raise WasmBinaryError(end, f"the {what} does not end with `end`")


def skip_expr(data: bytes, pos: int, end: int) -> tuple[list[tuple[int, tuple[Any, ...], int]],
                                                        int]:
    """A constant expression at ``pos``: its ``(opcode, immediates, offset)`` list and the
    position after its ``end``. Any instruction is accepted: validating it is the engine's job.
    """
    ops, depth = [], 0
    while True:
        op, imm, nxt = decode(data, pos, end)
        ops.append((op, imm, pos))
        if op in BLOCK_STARTS:
            depth += 1
        elif op == END:
            if not depth:
                return ops, nxt
            depth -= 1
        pos = nxt
