"""SuperVM's WebAssembly binary reader: sections, types, imports, exports, code and names.

``parse(wasm)`` reads a core module's structure in one pass, linear in its size (a 100 KB module
in a few milliseconds); instructions are decoded on demand with ``WasmModule.instructions``. It
is a reader, not a validator: it accepts everything the engine's WebAssembly features can encode
(GC types, exceptions, memory64, multi-memory, ...) and leaves typing to wasmtime, but any byte
sequence it cannot read raises :class:`WasmBinaryError` (kind ``invalid_module``) with the
offset and the reason, and nothing else.

Offsets are module byte offsets, the ones wasmtime's trap frames report as ``module_offset``.
A malformed ``name`` section does not make the module invalid (the engine ignores it too): the
names are then empty and ``names.error`` says why.
"""

from __future__ import annotations

import re
from typing import Any

from .wasm_decode import (
    Instruction,
    WasmBinaryError,
    byte,
    count,
    name,
    skip_expr,
    u32,
    u64,
    valtype,
)
from .wasm_opcodes import I32_CONST, I64_CONST, REF_FUNC
from .wasm_structures import (
    Code,
    CompositeType,
    ConstExpr,
    Data,
    Element,
    Export,
    FuncType,
    Global,
    GlobalType,
    Import,
    Memory,
    Names,
    Section,
    Table,
    WasmModule,
)

__all__ = [
    "Code", "CompositeType", "ConstExpr", "Data", "Element", "Export", "FuncType", "Global",
    "GlobalType", "Import", "Instruction", "Memory", "Names", "Section", "Table", "WasmBinaryError",
    "WasmModule", "constants", "parse",
]

SECTION_NAMES = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
    7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount", 13: "tag",
}
# The order non-custom sections must come in (the tag section sits between memory and global,
# the data count section between element and code).
_ORDER = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}
EXTERNAL_KINDS = ("func", "table", "memory", "global", "tag")
_MAGIC = b"\0asm"


def parse(wasm: bytes | bytearray | memoryview) -> WasmModule:
    """Read a core WebAssembly module's structure (instructions are decoded on demand)."""
    data = bytes(wasm)
    if len(data) < 8 or data[:4] != _MAGIC:
        raise WasmBinaryError(0, "not a WebAssembly module (no \\0asm magic)")
    if data[4:8] != b"\x01\0\0\0":
        what = "a component, not a core module" if data[6:8] == b"\x01\0" else \
            f"unsupported version {data[4:8].hex()}"
        raise WasmBinaryError(4, what)
    return _Parser(data).run()


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.d = data
        self.m = WasmModule(data)

    def run(self) -> WasmModule:
        d, m, end = self.d, self.m, len(self.d)
        pos, last = 8, 0
        name_section: Section | None = None
        while pos < end:
            start, sid = pos, d[pos]
            size, p = u32(d, pos + 1, end)
            if size > end - p:
                raise WasmBinaryError(start, f"section {sid} of {size:,} bytes runs past the end "
                                      f"of the module ({end - p:,} left)")
            send = p + size
            if sid == 0:
                section_name, q = name(d, p, send)
                section = Section(0, section_name, start, p, size, q)
                if section_name == "name" and name_section is None:
                    name_section = section
            else:
                rank = _ORDER.get(sid)
                if rank is None:
                    raise WasmBinaryError(start, f"unknown section id {sid}")
                if rank <= last:
                    raise WasmBinaryError(start, f"{SECTION_NAMES[sid]} section out of order "
                                          "or repeated")
                last = rank
                section = Section(sid, SECTION_NAMES[sid], start, p, size, p)
                q = getattr(self, f"_{SECTION_NAMES[sid]}")(p, send)
                if q != send:
                    raise WasmBinaryError(q, f"{section.name} section has {send - q} bytes "
                                          "left over")
            m.sections.append(section)
            pos = send
        if len(m.code) != len(m.functions):
            raise WasmBinaryError(end, f"{len(m.functions)} functions declared but "
                                  f"{len(m.code)} bodies")
        if m.data_count is not None and m.data_count != len(m.data):
            raise WasmBinaryError(end, f"data count {m.data_count} but {len(m.data)} segments")
        if name_section is not None:
            m.names = _names(d, name_section.data_offset, name_section.end)
        return m

    # --- helpers ---

    def _expr(self, p: int, end: int) -> tuple[ConstExpr, int]:
        expr, _, q = self._expr_ops(p, end)
        return expr, q

    def _expr_ops(self, p: int, end: int) -> tuple[ConstExpr, list[tuple[int, Any, int]], int]:
        ops, q = skip_expr(self.d, p, end)
        value = None
        if len(ops) == 2 and ops[0][0] in (I32_CONST, I64_CONST):
            value = ops[0][1][0]
        return ConstExpr(p, q - p, value), ops, q

    def _limits(self, p: int, end: int, memory: bool) -> tuple[tuple[int, int | None, int], int]:
        flags = byte(self.d, p, end)
        allowed = 0x0F if memory else 0x07
        if flags & ~allowed:
            raise WasmBinaryError(p, f"invalid limits flags 0x{flags:02x}")
        read = u64 if flags & 0x04 else u32  # 64-bit memories and tables
        minimum, p = read(self.d, p + 1, end)
        maximum = None
        if flags & 0x01:
            maximum, p = read(self.d, p, end)
        return (minimum, maximum, flags), p

    def _table_type(self, p: int, end: int) -> tuple[Table, int]:
        reftype, p = valtype(self.d, p, end)
        (minimum, maximum, flags), p = self._limits(p, end, memory=False)
        return Table(reftype, minimum, maximum, bool(flags & 0x04)), p

    def _memory_type(self, p: int, end: int) -> tuple[Memory, int]:
        (minimum, maximum, flags), p = self._limits(p, end, memory=True)
        page = None
        if flags & 0x08:  # custom page sizes
            page, p = u32(self.d, p, end)
        return Memory(minimum, maximum, bool(flags & 0x02), bool(flags & 0x04), page), p

    def _global_type(self, p: int, end: int) -> tuple[GlobalType, int]:
        t, p = valtype(self.d, p, end)
        mut = byte(self.d, p, end)
        if mut > 1:
            raise WasmBinaryError(p, f"invalid global mutability 0x{mut:02x}")
        return GlobalType(t, bool(mut)), p + 1

    def _types(self, p: int, end: int, n: int) -> tuple[tuple[str, ...], int]:
        out = []
        for _ in range(n):
            t, p = valtype(self.d, p, end)
            out.append(t)
        return tuple(out), p

    # --- sections ---

    def _type(self, p: int, end: int) -> int:
        d, types = self.d, self.m.types
        n, p = count(d, p, end)
        for _ in range(n):
            if byte(d, p, end) == 0x4E:  # a recursive group of subtypes
                k, p = count(d, p + 1, end)
                for _ in range(k):
                    t, p = self._subtype(p, end, plain=False)
                    types.append(t)
            else:
                t, p = self._subtype(p, end, plain=True)
                types.append(t)
        return p

    def _subtype(self, p: int, end: int, plain: bool) -> tuple[FuncType | CompositeType, int]:
        d = self.d
        form = byte(d, p, end)
        if form in (0x50, 0x4F):  # sub / sub final, with supertypes
            k, p = count(d, p + 1, end)
            for _ in range(k):
                _, p = u32(d, p, end)
            plain = plain and form == 0x4F and k == 0
            form = byte(d, p, end)
        p += 1
        if form == 0x60:
            k, p = count(d, p, end)
            params, p = self._types(p, end, k)
            k, p = count(d, p, end)
            results, p = self._types(p, end, k)
            return FuncType(params, results, plain), p
        if form in (0x5F, 0x5E):
            k = 1
            if form == 0x5F:
                k, p = count(d, p, end, 2)
            fields = []
            for _ in range(k):
                b = byte(d, p, end)
                if b in (0x78, 0x77):  # packed i8 / i16
                    t, p = ("i8" if b == 0x78 else "i16"), p + 1
                else:
                    t, p = valtype(d, p, end)
                mut = byte(d, p, end)
                if mut > 1:
                    raise WasmBinaryError(p, f"invalid field mutability 0x{mut:02x}")
                fields.append((t, bool(mut)))
                p += 1
            return CompositeType("struct" if form == 0x5F else "array", tuple(fields), plain), p
        raise WasmBinaryError(p - 1, f"invalid type form 0x{form:02x}")

    def _import(self, p: int, end: int) -> int:
        d, m = self.d, self.m
        n, p = count(d, p, end, 4)
        for _ in range(n):
            at = p
            module, p = name(d, p, end)
            field_name, p = name(d, p, end)
            kind = byte(d, p, end)
            p += 1
            desc: Any
            if kind == 0:
                desc, p = u32(d, p, end)
            elif kind == 1:
                desc, p = self._table_type(p, end)
            elif kind == 2:
                desc, p = self._memory_type(p, end)
            elif kind == 3:
                desc, p = self._global_type(p, end)
            elif kind == 4:
                desc, p = self._tag_type(p, end)
            else:
                raise WasmBinaryError(p - 1, f"invalid import kind 0x{kind:02x}")
            m.imports.append(Import(module, field_name, EXTERNAL_KINDS[kind], desc, at))
            if kind == 0:
                m.func_imports.append(m.imports[-1])
        return p

    def _tag_type(self, p: int, end: int) -> tuple[int, int]:
        if byte(self.d, p, end) != 0:
            raise WasmBinaryError(p, "invalid tag attribute")
        return u32(self.d, p + 1, end)

    def _function(self, p: int, end: int) -> int:
        n, p = count(self.d, p, end)
        functions = self.m.functions
        for _ in range(n):
            t, p = u32(self.d, p, end)
            functions.append(t)
        return p

    def _table(self, p: int, end: int) -> int:
        d = self.d
        n, p = count(d, p, end)
        for _ in range(n):
            if byte(d, p, end) == 0x40:  # a table with an initialiser expression
                if byte(d, p + 1, end) != 0:
                    raise WasmBinaryError(p + 1, "invalid table encoding")
                table, p = self._table_type(p + 2, end)
                init, p = self._expr(p, end)
                table = Table(table.reftype, table.minimum, table.maximum, table.table64, init)
            else:
                table, p = self._table_type(p, end)
            self.m.tables.append(table)
        return p

    def _memory(self, p: int, end: int) -> int:
        n, p = count(self.d, p, end, 2)
        for _ in range(n):
            memory, p = self._memory_type(p, end)
            self.m.memories.append(memory)
        return p

    def _tag(self, p: int, end: int) -> int:
        n, p = count(self.d, p, end, 2)
        for _ in range(n):
            t, p = self._tag_type(p, end)
            self.m.tags.append(t)
        return p

    def _global(self, p: int, end: int) -> int:
        n, p = count(self.d, p, end, 3)
        for _ in range(n):
            gt, p = self._global_type(p, end)
            init, p = self._expr(p, end)
            self.m.globals.append(Global(gt.valtype, gt.mutable, init))
        return p

    def _export(self, p: int, end: int) -> int:
        d = self.d
        n, p = count(d, p, end, 3)
        for _ in range(n):
            export_name, p = name(d, p, end)
            kind = byte(d, p, end)
            if kind > 4:
                raise WasmBinaryError(p, f"invalid export kind 0x{kind:02x}")
            index, p = u32(d, p + 1, end)
            self.m.exports.append(Export(export_name, EXTERNAL_KINDS[kind], index))
        return p

    def _start(self, p: int, end: int) -> int:
        self.m.start, p = u32(self.d, p, end)
        return p

    def _element(self, p: int, end: int) -> int:
        d = self.d
        n, p = count(d, p, end)
        for _ in range(n):
            at = p
            flags, p = u32(d, p, end)
            if flags > 7:
                raise WasmBinaryError(at, f"invalid element segment flags {flags}")
            mode = "passive" if flags & 1 else "active"
            if flags & 3 == 3:
                mode = "declarative"
            table, offset_expr = (0 if mode == "active" else None), None
            if flags & 3 == 2:
                table, p = u32(d, p, end)
            if mode == "active":
                offset_expr, p = self._expr(p, end)
            reftype = "funcref"
            if flags & 3:  # an element kind or reference type is given
                if flags & 4:
                    reftype, p = valtype(d, p, end)
                else:
                    if byte(d, p, end) != 0:
                        raise WasmBinaryError(p, "invalid element kind")
                    p += 1
            k, p = count(d, p, end)
            funcs, offsets = [], []
            exprs: list[ConstExpr] | None = None
            if flags & 4:
                exprs = []
                for _ in range(k):
                    expr, ops, q = self._expr_ops(p, end)
                    for op, imm, off in ops:
                        if op == REF_FUNC:
                            funcs.append(imm[0])
                            offsets.append(off + 1)
                    exprs.append(expr)
                    p = q
            else:
                for _ in range(k):
                    offsets.append(p)
                    f, p = u32(d, p, end)
                    funcs.append(f)
            self.m.elements.append(Element(
                at, mode, reftype, table, offset_expr, tuple(funcs), tuple(offsets),
                None if exprs is None else tuple(exprs)))
        return p

    def _datacount(self, p: int, end: int) -> int:
        self.m.data_count, p = u32(self.d, p, end)
        return p

    def _code(self, p: int, end: int) -> int:
        d, m = self.d, self.m
        n, p = count(d, p, end)
        first = m.num_func_imports
        for i in range(n):
            size, p = u32(d, p, end)
            body_end = p + size
            if size > end - p:
                raise WasmBinaryError(p, f"function body of {size:,} bytes runs past the end "
                                      "of the code section")
            k, q = count(d, p, body_end, 2)
            groups = []
            for _ in range(k):
                c, q = u32(d, q, body_end)
                t, q = valtype(d, q, body_end)
                groups.append((c, t))
            if q >= body_end or d[body_end - 1] != 0x0B:
                raise WasmBinaryError(body_end - 1 if size else p,
                                      "the function body does not end with `end`")
            m.code.append(Code(first + i, p, size, tuple(groups), q, body_end - 1))
            p = body_end
        return p

    def _data(self, p: int, end: int) -> int:
        d = self.d
        n, p = count(d, p, end)
        for _ in range(n):
            at = p
            flags, p = u32(d, p, end)
            if flags > 2:
                raise WasmBinaryError(at, f"invalid data segment flags {flags}")
            memory, offset_expr = None, None
            if flags != 1:
                memory = 0
                if flags == 2:
                    memory, p = u32(d, p, end)
                offset_expr, p = self._expr(p, end)
            size, p = u32(d, p, end)
            if size > end - p:
                raise WasmBinaryError(p, f"data segment of {size:,} bytes runs past the end of "
                                      "the data section")
            self.m.data.append(Data(at, "passive" if flags == 1 else "active", memory,
                                    offset_expr, p, d[p:p + size]))
            p += size
        return p


def _names(d: bytes, p: int, end: int) -> Names:
    names = Names()
    try:
        while p < end:
            sub = d[p]
            size, p = u32(d, p + 1, end)
            if size > end - p:
                raise WasmBinaryError(p, "name subsection runs past the end of the section")
            send = p + size
            if sub == 0:
                names.module, q = name(d, p, send)
            elif sub in (1, 2):
                n, q = count(d, p, send, 2)
                for _ in range(n):
                    index, q = u32(d, q, send)
                    if sub == 1:
                        names.functions[index], q = name(d, q, send)
                        continue
                    k, q = count(d, q, send, 2)
                    local = names.locals.setdefault(index, {})
                    for _ in range(k):
                        li, q = u32(d, q, send)
                        local[li], q = name(d, q, send)
            else:  # label, type, global... names: not needed by SuperVM
                q = send
            if q != send:
                raise WasmBinaryError(q, "name subsection has bytes left over")
            p = send
    except WasmBinaryError as exc:
        return Names(error=exc.message)
    return names


# --- constants --------------------------------------------------------------------------------

#: At most this many values are taken from data segments (code constants are not limited).
MAX_DATA_CONSTANTS = 4096
_NUMERAL = re.compile(rb"-?[0-9]{1,20}")


def constants(module: WasmModule) -> set[int]:
    """The module's own integer constants, to seed fuzzers with.

    Taken: every ``i32.const``/``i64.const`` immediate in function bodies and constant
    expressions (as the signed value encoded), and from data segments up to
    ``MAX_DATA_CONSTANTS`` "integer-looking" values: ASCII decimal numerals (``"100"``) and the
    little-endian 32- and 64-bit words at 4- and 8-aligned memory addresses (segment-relative
    when the segment's offset is not a constant) that are not all printable text, as signed
    values.
    """
    found: set[int] = set()
    exprs = [g.init for g in module.globals]
    exprs += [e.offset_expr for e in module.elements if e.offset_expr]
    exprs += [x for e in module.elements for x in e.exprs or ()]
    exprs += [s.offset_expr for s in module.data if s.offset_expr]
    for body in (*module.code, *exprs):
        for ins in module.instructions(body):
            if ins.opcode == I32_CONST or ins.opcode == I64_CONST:
                found.add(ins.immediates[0])
    from_data: set[int] = set()
    for seg in module.data:
        if len(from_data) >= MAX_DATA_CONSTANTS:
            break
        _data_constants(seg, from_data)
    found.update(sorted(from_data, key=lambda v: (abs(v), v))[:MAX_DATA_CONSTANTS])
    return found


def _data_constants(seg: Data, out: set[int]) -> None:
    raw = seg.init
    for m in _NUMERAL.finditer(raw):
        out.add(int(m.group()))
    base = seg.offset_expr.value if seg.offset_expr and seg.offset_expr.value else 0
    for width in (4, 8):
        first = -base % width
        for i in range(first, len(raw) - width + 1, width):
            word = raw[i:i + width]
            if all(0x20 <= c < 0x7F for c in word):
                continue
            out.add(int.from_bytes(word, "little", signed=True))
            if len(out) >= 4 * MAX_DATA_CONSTANTS:
                return
