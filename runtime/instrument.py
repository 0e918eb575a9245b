"""Debug builds of a module: probe calls injected at chosen instructions.

A running wasm call can only pause inside a host call, so to pause at a source line SuperVM runs
a rewritten module that calls a host function there. ``instrument(wasm, lines=..., entries=...,
exits=...)`` adds the import ``supervm_debug.probe (param i32)`` and inserts
``i32.const <probe id>; call $probe`` before each requested instruction. The probe id says which
:class:`Probe` fired.

The import is appended after the existing function imports, so every defined function's index
grows by one; everything that holds a function index is renumbered (calls, ``return_call``,
``ref.func`` in code, globals, tables and element expressions, element segments, exports, the
start function and the function, local and label maps of the ``name`` section). Custom sections
that describe the original code by offset or function index (``.debug_*``, ``sourceMappingURL``,
``external_debug_info``, ``metadata.code.*``, ``reloc.*``, ``linking``) are dropped: map
instrumented offsets back with :meth:`Instrumented.original_offset` and use the original
module's debug information. Other custom sections are kept as they are.

Fuel: a probe costs ``PROBE_FUEL`` units (``i32.const`` 1, ``call`` 1; the host call itself is
free). The probe gives them back by setting the store's fuel to
``fuel_after_probe(store.get_fuel())``. With that, a debug build differs from the original only
in these ways (measured with wasmtime 50):

- near exhaustion (a probe running with 1 or 2 units left), see :func:`fuel_after_probe`;
  wasmtime detects out-of-fuel only at function entries and loop headers (the trap frame then
  points at the function's locals or at the ``loop``), and after running out ``get_fuel()``
  reads 0, so ``fuel_used`` at exhaustion is the limit in both;
- after a trap other than ``unreachable`` or out-of-fuel, wasmtime reports only the fuel it
  saved at the last call, return or ``unreachable`` (it keeps the counter in a register); the
  debug build saves at every probe, so it reports more, up to what was really used;
- a probe call makes native frames larger, so deep recursion overflows the stack at a smaller
  depth (for ``samples/loop.wat`` ``recurse``, about 3/4 of the original depth).

Exits: an exit probe runs before every ``return``, ``return_call``, ``return_call_indirect``
and ``return_call_ref`` and before the function's final ``end``. A function that leaves by
branching to its outermost label skips its final ``end``, so such a body is wrapped in a
``block`` (free in fuel) whose end is followed by the exit probe. Leaving by a trap or an
exception runs no exit probe.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import SuperVMError
from .wasm_binary import Code, ConstExpr, FuncType, Section, WasmModule, parse
from .wasm_decode import Instruction, WasmBinaryError, count, name, u32
from .wasm_encode import (
    VALTYPE_CODES,
    Output,
    encode_func_type,
    encode_name,
    encode_valtype,
    patched,
    sleb,
    uleb,
)
from .wasm_opcodes import (
    BLOCK_OP,
    BLOCK_STARTS,
    BR_ON_CAST,
    CALL,
    END,
    LABEL,
    OPCODES,
    REF_FUNC,
    RETURN,
    RETURN_CALL,
    RETURN_CALL_INDIRECT,
    RETURN_CALL_REF,
    TRY_TABLE_OP,
)

PROBE_MODULE = "supervm_debug"
PROBE_NAME = "probe"
#: Fuel wasmtime 50 charges for one probe: ``i32.const`` 1 + ``call`` 1 (measured).
PROBE_FUEL = 2

_DROPPED_PREFIXES = (".debug_", "metadata.code.", "reloc.")
_DROPPED_NAMES = frozenset(("sourceMappingURL", "external_debug_info", "linking"))
_EXIT_OPCODES = frozenset((RETURN, RETURN_CALL, RETURN_CALL_INDIRECT, RETURN_CALL_REF))
_LABEL_OPS = frozenset(op for op, (_, kind) in OPCODES.items() if kind == LABEL)
_BR_ON_CAST_OPS = frozenset(op for op, (_, kind) in OPCODES.items() if kind == BR_ON_CAST)
_BR_TABLE_OP = 0x0E
_FUNC_INDEX_OPS = frozenset((CALL, RETURN_CALL, REF_FUNC))


class InstrumentError(SuperVMError):
    """The module cannot be instrumented as asked (``offsets``: the offending offsets)."""

    kind = "instrument"

    def __init__(self, message: str, offsets: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.offsets = list(offsets)


def fuel_after_probe(fuel: int) -> int:
    """What a probe sets the store's fuel to, given ``store.get_fuel()`` read inside it.

    ``fuel + PROBE_FUEL`` when ``fuel > 0``: the call then consumes exactly the fuel of the
    original module. wasmtime checks fuel only at function entries and loop headers, so a call
    can run past zero between checks; ``get_fuel()`` then reads 0 and the overdraft is not
    visible. In that case the probe leaves 0 (adding ``PROBE_FUEL`` there would let a loop with
    a probe in it never run out). Consequence: a call whose original had 3 or more units left
    at every probe behaves and consumes exactly like the original; one that reached a probe
    with 1 or 2 units left may run out of fuel at an earlier check point than the original
    (never a later one), or, if it completes, report up to ``PROBE_FUEL`` more fuel used.
    """
    return fuel + PROBE_FUEL if fuel > 0 else 0


@dataclass(slots=True, frozen=True)
class Probe:
    """What a probe id stands for: ``kind`` is ``line``, ``entry`` or ``exit``; ``func_index``
    and ``offset`` (the instruction it runs before) are in the original module."""

    kind: str
    func_index: int
    offset: int


@dataclass(slots=True)
class Instrumented:
    """An instrumented module: ``wasm``, its ``probes`` by id and the probe import's index."""

    wasm: bytes
    probes: dict[int, Probe]
    probe_func_index: int
    _starts: list[int] = field(default_factory=list, repr=False)
    _origins: list[int] = field(default_factory=list, repr=False)
    _linear: list[bool] = field(default_factory=list, repr=False)

    def original_offset(self, offset: int) -> int:
        """The original module offset of an instrumented module offset.

        Exact for every byte copied from the original (instructions, locals, data); injected
        probe instructions map to the instruction they run before, rewritten headers to the
        original item they replace.
        """
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0:
            return offset
        origin = self._origins[i]
        return origin + (offset - self._starts[i]) if self._linear[i] else origin

    def original_func_index(self, func_index: int) -> int | None:
        """The original index of an instrumented module's function (None for the probe)."""
        if func_index < self.probe_func_index:
            return func_index
        return None if func_index == self.probe_func_index else func_index - 1

    def instrumented_func_index(self, func_index: int) -> int:
        """The instrumented module's index of an original function."""
        return func_index if func_index < self.probe_func_index else func_index + 1


def instrument(wasm: bytes | bytearray | memoryview, *, lines: Iterable[int] = (),
               entries: bool = False, exits: bool = False) -> Instrumented:
    """A debug build of ``wasm`` with probes before the instructions at ``lines`` (original
    module offsets of instruction starts), at every function's entry and before every exit.

    Probe ids count from 0 in module order (entry, then line, then exit at the same
    instruction). The output is a function of the arguments only. Raises
    ``WasmBinaryError`` for a malformed module and :class:`InstrumentError` for an offset
    that is not the start of an instruction in a function body, or a module that already
    imports from ``supervm_debug``.
    """
    module = parse(wasm)
    if any(i.module == PROBE_MODULE for i in module.imports):
        raise InstrumentError(f"the module already imports from {PROBE_MODULE!r} "
                              "(instrumented twice?)")
    return _Instrumenter(module, set(lines), entries, exits).run()


# --- the rewrite ----------------------------------------------------------------------------------


class _Instrumenter:
    def __init__(self, module: WasmModule, lines: set[int], entries: bool, exits: bool) -> None:
        self.m, self.d = module, module.wasm
        self.lines, self.entries, self.exits = lines, entries, exits
        self.imports = module.num_func_imports
        self.probe_index = self.imports
        self.probes: dict[int, Probe] = {}
        self.probe_call = uleb(self.probe_index)
        self.new_types: list[bytes] = []
        self.type_index: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
        for i, t in enumerate(module.types):
            if isinstance(t, FuncType) and t.plain:
                self.type_index.setdefault((t.params, t.results), i)
        self.probe_type = self._type((("i32",), ()))

    def _type(self, sig: tuple[tuple[str, ...], tuple[str, ...]]) -> int:
        index = self.type_index.get(sig)
        if index is None:
            index = self.type_index[sig] = len(self.m.types) + len(self.new_types)
            self.new_types.append(encode_func_type(*sig))
        return index

    def _func(self, index: int, width: int = 0) -> bytes:
        return uleb(index + 1 if index >= self.imports else index, width)

    def _index_patch(self, offset: int) -> tuple[int, int, bytes]:
        """Renumber the function index whose LEB128 starts at ``offset``."""
        index, end = u32(self.d, offset, len(self.d))
        return offset, end - offset, self._func(index, end - offset)

    def _expr_patches(self, expr: ConstExpr | None) -> list[tuple[int, int, bytes]]:
        if expr is None:
            return []
        return [self._index_patch(i.offset + 1) for i in self.m.instructions(expr)
                if i.opcode == REF_FUNC]

    def run(self) -> Instrumented:
        m, d = self.m, self.d
        code = self._code_section() if m.code else None
        missing = sorted(self.lines)
        if missing:
            raise InstrumentError(
                f"{len(missing)} offset(s) are not instruction starts in a function body: "
                + ", ".join(f"0x{o:x}" for o in missing[:8]), missing)
        out = Output()
        out.copy(d, 0, 8)
        done_types = done_imports = False
        for s in m.sections:
            if not done_types and s.id not in (0, 1):
                self._types_section(out, None)
                done_types = True
            if not done_imports and s.id not in (0, 1, 2) and done_types:
                self._import_section(out, None)
                done_imports = True
            if s.id == 1:
                self._types_section(out, s)
                done_types = True
            elif s.id == 2:
                self._import_section(out, s)
                done_imports = True
            elif s.id == 0:
                if s.name == "name":
                    names = self._name_section(s) if m.names.error is None else None
                    if names is not None:  # a malformed name section is dropped
                        out.section(0, names, s.start)
                elif not (s.name in _DROPPED_NAMES or s.name.startswith(_DROPPED_PREFIXES)):
                    out.copy(d, s.start, s.end)
            elif s.id == 10 and code is not None:
                out.section(10, code, s.start)
            else:
                patches = self._patches(s.id, s.offset, s.end)
                if patches:
                    out.section(s.id, patched(d, s.offset, s.end, patches), s.start)
                else:
                    out.copy(d, s.start, s.end)
        if not done_types:
            self._types_section(out, None)
        if not done_imports:
            self._import_section(out, None)
        starts, origins, linear = [], [], []
        for s, o, lin in out.map:
            starts.append(s)
            origins.append(o)
            linear.append(lin)
        return Instrumented(b"".join(out.parts), self.probes, self.probe_index,
                            starts, origins, linear)

    # --- sections ---

    def _types_section(self, out: Output, s: Section | None) -> None:
        d, content = self.d, Output()
        n = len(self.m.types) + len(self.new_types)
        if s is None:
            if not self.new_types:
                return
            content.put(uleb(n), len(d))
            content.put(b"".join(self.new_types), len(d))
            out.section(1, content, len(d))
            return
        if not self.new_types:
            out.copy(d, s.start, s.end)
            return
        _, p = u32(d, s.offset, s.end)
        content.put(uleb(n), s.offset)
        content.copy(d, p, s.end)
        content.put(b"".join(self.new_types), s.end)
        out.section(1, content, s.start)

    def _import_section(self, out: Output, s: Section | None) -> None:
        d, content = self.d, Output()
        entry = (encode_name(PROBE_MODULE) + encode_name(PROBE_NAME) + b"\x00"
                 + uleb(self.probe_type))
        if s is None:
            content.put(b"\x01" + entry, len(d))
            out.section(2, content, len(d))
            return
        n, p = u32(d, s.offset, s.end)
        content.put(uleb(n + 1), s.offset)
        content.copy(d, p, s.end)
        content.put(entry, s.end)
        out.section(2, content, s.start)

    def _patches(self, sid: int, start: int, end: int) -> list[tuple[int, int, bytes]]:
        d, m = self.d, self.m
        patches: list[tuple[int, int, bytes]] = []
        if sid == 4:
            for t in m.tables:
                patches += self._expr_patches(t.init)
        elif sid == 6:
            for g in m.globals:
                patches += self._expr_patches(g.init)
        elif sid == 7:
            n, p = count(d, start, end)
            for _ in range(n):
                _, p = name(d, p, end)
                kind, p = d[p], p + 1
                if kind == 0:
                    patches.append(self._index_patch(p))
                _, p = u32(d, p, end)
        elif sid == 8:
            patches.append(self._index_patch(start))
        elif sid == 9:
            for e in m.elements:
                patches += [self._index_patch(o) for o in e.function_offsets]
                patches += self._expr_patches(e.offset_expr)
        return [p for p in patches if p[2] != d[p[0]:p[0] + p[1]]]

    def _name_section(self, s: Section) -> Output | None:
        try:
            return self._names(s)
        except WasmBinaryError:
            return None

    def _names(self, s: Section) -> Output:
        d = self.d
        end = s.end
        content = Output()
        content.copy(d, s.offset, s.data_offset)
        p = s.data_offset
        while p < end:
            sub = d[p]
            size, q = u32(d, p + 1, end)
            send = q + size
            if sub in (1, 2, 3):  # function names, local names, label names: keyed by function
                patches = []
                n, r = u32(d, q, send)
                for _ in range(n):
                    patches.append(self._index_patch(r))
                    _, r = u32(d, r, send)
                    if sub == 1:
                        _, r = name(d, r, send)
                        continue
                    k, r = u32(d, r, send)
                    for _ in range(k):
                        _, r = u32(d, r, send)
                        _, r = name(d, r, send)
                content.section(sub, patched(d, q, send, patches), p)
            else:
                content.copy(d, p, send)
            p = send
        return content

    # --- code ---

    def _code_section(self) -> Output:
        m, d = self.m, self.d
        section = next(s for s in m.sections if s.id == 10)
        content = Output()
        _, p = u32(d, section.offset, section.end)
        content.copy(d, section.offset, p)
        for code in m.code:
            body = self._body(code)
            size_at = code.offset - len(uleb(code.size))
            content.put(uleb(body.size), size_at)
            content.nest(body)
        return content

    def _probe(self, out: Output, kind: str, func: int, offset: int) -> None:
        pid = len(self.probes)
        self.probes[pid] = Probe(kind, func, offset)
        out.put(b"\x41" + sleb(pid) + b"\x10" + self.probe_call, offset)

    def _body(self, code: Code) -> Output:
        d, lines, exits = self.d, self.lines, self.exits
        func = code.func_index
        head, inner = Output(), Output()
        head.copy(d, code.offset, code.code_offset)
        if self.entries:
            self._probe(head, "entry", func, code.code_offset)
        depth, wrap = 0, False
        pending = code.code_offset  # start of bytes not yet copied to ``inner``
        for ins in self.m.instructions(code):
            at, op = ins.offset, ins.opcode
            if at in lines or (exits and op in _EXIT_OPCODES) or op in _FUNC_INDEX_OPS \
                    or at == code.end_offset:
                inner.copy(d, pending, at)
                pending = at
                if at in lines:
                    lines.discard(at)
                    self._probe(inner, "line", func, at)
                if exits and (op in _EXIT_OPCODES or (at == code.end_offset and not wrap)):
                    self._probe(inner, "exit", func, at)
                if op in _FUNC_INDEX_OPS and ins.immediates[0] >= self.imports:
                    raw = bytes((op,)) + self._func(ins.immediates[0], ins.size - 1)
                    inner.put(raw, at, linear=len(raw) == ins.size)
                    pending = ins.next_offset
            if exits and not wrap:
                wrap = _branches_out(ins, depth)
            if op in BLOCK_STARTS:
                depth += 1
            elif op == END:
                depth -= 1
        inner.copy(d, pending, code.offset + code.size)
        if wrap:
            results = self.m.func_type(func).results
            if not results:
                block_type = b"\x40"
            elif len(results) == 1 and results[0] in VALTYPE_CODES:
                block_type = encode_valtype(results[0])
            else:
                block_type = sleb(self._type(((), results)))
            head.put(bytes((BLOCK_OP,)) + block_type, code.code_offset)
            self._probe(inner, "exit", func, code.end_offset)
            inner.put(bytes((END,)), code.end_offset)
        head.nest(inner)
        return head


def _branches_out(ins: Instruction, depth: int) -> bool:
    """Whether an instruction can branch to the function's outermost label."""
    op, imm = ins.opcode, ins.immediates
    if op in _LABEL_OPS:
        return imm[0] == depth
    if op == _BR_TABLE_OP:
        return imm[1] == depth or depth in imm[0]
    if op in _BR_ON_CAST_OPS:
        return imm[1] == depth
    if op == TRY_TABLE_OP:  # catch labels count from outside the try_table
        return any(label == depth for _, _, label in imm[1])
    return False

