"""The structures SuperVM's WebAssembly reader produces (see ``runtime.wasm_binary``).

All offsets are module byte offsets; function indices count imported functions first.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .wasm_decode import Instruction, WasmBinaryError, code_instructions, name


@dataclass(slots=True, frozen=True)
class Section:
    """A section: ``start`` is its id byte, ``offset``/``size`` its payload (for a custom section
    the payload begins with the name; its own data begins at ``data_offset``)."""

    id: int
    name: str
    start: int
    offset: int
    size: int
    data_offset: int

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(slots=True, frozen=True)
class FuncType:
    """A function type. ``plain``: declared as a lone ``func`` (not in a GC rec group or with
    supertypes), so it equals every other function type of the same signature."""

    params: tuple[str, ...]
    results: tuple[str, ...]
    plain: bool = True


@dataclass(slots=True, frozen=True)
class CompositeType:
    """A GC ``struct`` or ``array`` type; ``fields`` are ``(storage type, mutable)`` pairs."""

    kind: str
    fields: tuple[tuple[str, bool], ...]
    plain: bool = True


@dataclass(slots=True, frozen=True)
class ConstExpr:
    """A constant expression at ``offset`` (``size`` bytes, its ``end`` included). ``value`` is
    the constant when the expression is a lone ``i32.const``/``i64.const``, else None."""

    offset: int
    size: int
    value: int | None = None


@dataclass(slots=True, frozen=True)
class Table:
    reftype: str
    minimum: int
    maximum: int | None
    table64: bool = False
    init: ConstExpr | None = None


@dataclass(slots=True, frozen=True)
class Memory:
    minimum: int
    maximum: int | None
    shared: bool = False
    memory64: bool = False
    page_size_log2: int | None = None


@dataclass(slots=True, frozen=True)
class GlobalType:
    valtype: str
    mutable: bool


@dataclass(slots=True, frozen=True)
class Global:
    valtype: str
    mutable: bool
    init: ConstExpr


@dataclass(slots=True, frozen=True)
class Import:
    """``desc`` is the type index for a ``func`` or ``tag``, else a Table, Memory or GlobalType."""

    module: str
    name: str
    kind: str
    desc: Any
    offset: int


@dataclass(slots=True, frozen=True)
class Export:
    name: str
    kind: str
    index: int


@dataclass(slots=True, frozen=True)
class Element:
    """An element segment. ``mode`` is ``active``/``passive``/``declarative``; ``functions`` are
    the function indices it references (plain index vectors and ``ref.func`` items) and
    ``function_offsets`` the module offsets of those indices' LEB128 encodings."""

    offset: int
    mode: str
    reftype: str
    table: int | None
    offset_expr: ConstExpr | None
    functions: tuple[int, ...]
    function_offsets: tuple[int, ...]
    exprs: tuple[ConstExpr, ...] | None  # None when the segment lists plain function indices


@dataclass(slots=True, frozen=True)
class Data:
    """A data segment; ``init`` starts at module offset ``data_offset``."""

    offset: int
    mode: str
    memory: int | None
    offset_expr: ConstExpr | None
    data_offset: int
    init: bytes


@dataclass(slots=True, frozen=True)
class Code:
    """A defined function's body: ``offset``/``size`` span the body after its size; ``locals``
    are ``(count, type)`` groups; ``code_offset`` is its first instruction and ``end_offset``
    its final ``end``."""

    func_index: int
    offset: int
    size: int
    locals: tuple[tuple[int, str], ...]
    code_offset: int
    end_offset: int


@dataclass(slots=True)
class Names:
    """The ``name`` section: module name, function names and local names by function index."""

    module: str | None = None
    functions: dict[int, str] = field(default_factory=dict)
    locals: dict[int, dict[int, str]] = field(default_factory=dict)
    error: str | None = None


@dataclass(slots=True, eq=False)
class WasmModule:
    """A parsed core module. Function indices count imported functions first."""

    wasm: bytes
    sections: list[Section] = field(default_factory=list)
    types: list[FuncType | CompositeType] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    functions: list[int] = field(default_factory=list)  # defined functions' type indices
    tables: list[Table] = field(default_factory=list)
    memories: list[Memory] = field(default_factory=list)
    tags: list[int] = field(default_factory=list)  # defined tags' type indices
    globals: list[Global] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    start: int | None = None
    elements: list[Element] = field(default_factory=list)
    data_count: int | None = None
    code: list[Code] = field(default_factory=list)
    data: list[Data] = field(default_factory=list)
    names: Names = field(default_factory=Names)
    func_imports: list[Import] = field(default_factory=list)
    _code_starts: list[int] = field(default_factory=list, repr=False)

    @property
    def num_func_imports(self) -> int:
        return len(self.func_imports)

    @property
    def num_functions(self) -> int:
        """Imported plus defined functions."""
        return self.num_func_imports + len(self.functions)

    def func_type(self, func_index: int) -> FuncType:
        """The type of a function, imported or defined (IndexError-free: raises
        WasmBinaryError for an index or type that does not exist)."""
        if 0 <= func_index < self.num_func_imports:
            type_index = self.func_imports[func_index].desc
        elif self.num_func_imports <= func_index < self.num_functions:
            type_index = self.functions[func_index - self.num_func_imports]
        else:
            raise WasmBinaryError(0, f"no function {func_index}")
        t = self.types[type_index] if 0 <= type_index < len(self.types) else None
        if not isinstance(t, FuncType):
            raise WasmBinaryError(0, f"function {func_index} has no function type")
        return t

    def export_names(self) -> dict[int, str]:
        """Function index → its first export name."""
        names: dict[int, str] = {}
        for e in self.exports:
            if e.kind == "func":
                names.setdefault(e.index, e.name)
        return names

    def has_memory_or_table(self) -> bool:
        """Whether the module defines or imports a memory or a table."""
        return bool(self.memories or self.tables) or any(
            i.kind in ("memory", "table") for i in self.imports)

    @property
    def code_section_payload_offset(self) -> int | None:
        """Where the code section's payload starts (DWARF addresses count from here)."""
        for s in self.sections:
            if s.id == 10:
                return s.offset
        return None

    def custom(self, section_name: str) -> bytes | None:
        """The data of the first custom section called ``section_name`` (after its name)."""
        for s in self.sections:
            if s.id == 0 and s.name == section_name:
                return self.wasm[s.data_offset:s.end]
        return None

    def source_mapping_url(self) -> str | None:
        """The ``sourceMappingURL`` custom section's URL (AssemblyScript ``--sourceMap``), or
        None if absent or malformed."""
        raw = self.custom("sourceMappingURL")
        if raw is None:
            return None
        try:
            url, end = name(raw, 0, len(raw))
        except WasmBinaryError:
            return None
        return url if end == len(raw) else None

    def customs(self) -> list[Section]:
        """The custom sections, in order."""
        return [s for s in self.sections if s.id == 0]

    def param_names(self, func_index: int) -> list[str | None]:
        """The function's parameter names from the name section (None where unnamed)."""
        local = self.names.locals.get(func_index, {})
        return [local.get(i) for i in range(len(self.func_type(func_index).params))]

    def code_for(self, func_index: int) -> Code:
        """The body of a defined function."""
        i = func_index - self.num_func_imports
        if not 0 <= i < len(self.code):
            raise WasmBinaryError(0, f"function {func_index} is not a defined function")
        return self.code[i]

    def code_at(self, offset: int) -> Code | None:
        """The body containing a module offset, if any."""
        if len(self._code_starts) != len(self.code):
            self._code_starts[:] = [c.offset for c in self.code]
        i = bisect.bisect_right(self._code_starts, offset) - 1
        if i >= 0:
            c = self.code[i]
            if c.offset <= offset < c.offset + c.size:
                return c
        return None

    def instructions(self, func: int | Code | ConstExpr) -> Iterator[Instruction]:
        """Decode a function (its index or Code) or a constant expression, ``end`` included.

        The offsets tile the code exactly; the last instruction is the final ``end``.
        """
        if isinstance(func, int):
            func = self.code_for(func)
        if isinstance(func, Code):
            return code_instructions(self.wasm, func.code_offset, func.offset + func.size)
        return code_instructions(self.wasm, func.offset, func.offset + func.size,
                                 "constant expression")
