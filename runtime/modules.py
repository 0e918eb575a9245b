"""Turning bytes or WebAssembly text into a loaded :class:`Contract`, and describing it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import wasmtime

from . import abi
from .debuginfo import source_map
from .engine import EngineHandle
from .errors import InvalidModuleError, LimitExceededError, MissingImportError, WatSyntaxError
from .wasm_binary import WasmBinaryError, WasmModule
from .wasm_binary import parse as parse_binary

if TYPE_CHECKING:
    from .values import Value

T = TypeVar("T")

_WASM_MAGIC = b"\0asm"
_WAT_LOCATION = re.compile(r"-->\s*(?P<src>[^:\n]*):(?P<line>\d+):(?P<col>\d+)")


@dataclass(frozen=True)
class ExportInfo:
    """An export: for functions, ``params``/``results`` are wasm type names."""

    name: str
    kind: str  # func, memory, global, table
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    #: Parameter names from the module's name section (empty if it names none).
    param_names: tuple[str | None, ...] = ()

    @property
    def signature(self) -> str:
        if self.kind != "func":
            return self.kind
        out = " ".join(self.params) or "()"
        return f"({out}) -> ({' '.join(self.results)})" if self.results else f"({out})"

    @property
    def parameters(self) -> tuple[str, ...]:
        """Each parameter as ``to: i32`` (its name from the name section), or ``i32``."""
        names = self.param_names or ()
        return tuple(f"{names[i]}: {t}" if i < len(names) and names[i] else t
                     for i, t in enumerate(self.params))

    @property
    def described(self) -> str:
        """``(to: i32, amount: i64) -> i64``: the signature with parameter names."""
        if self.kind != "func":
            return self.kind
        results = ", ".join(self.results)
        return f"({', '.join(self.parameters)})" + (f" -> {results}" if results else "")


@dataclass(frozen=True)
class ImportInfo:
    """An import, whether SuperVM provides it, and if not, why."""

    module: str
    name: str
    kind: str
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    provided: bool = False
    problem: str | None = None

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class MemoryInfo:
    """The module's linear memory (pages of 64 KiB)."""

    min_pages: int
    max_pages: int | None
    exported: bool
    memory64: bool = False
    shared: bool = False


@dataclass(frozen=True)
class ModuleInfo:
    """What ``:info`` shows: exports with signatures, imports, memory, size and hash."""

    exports: tuple[ExportInfo, ...]
    imports: tuple[ImportInfo, ...]
    memory: MemoryInfo | None
    size: int
    sha256: str
    #: Function index → export name, to name backtrace frames the name section leaves out.
    export_names: dict[int, str] = field(default_factory=dict)
    #: The module has a start function (it runs while an instance is being created).
    has_start: bool = False
    #: The module defines or imports a memory or a table (calls then set their limits).
    has_memory_or_table: bool = True
    #: The memory exported as ``memory``, which the host functions read and write.
    abi_memory: MemoryInfo | None = None

    @property
    def functions(self) -> tuple[ExportInfo, ...]:
        return tuple(e for e in self.exports if e.kind == "func")

    def function(self, name: str) -> ExportInfo | None:
        return next((e for e in self.functions if e.name == name), None)

    @property
    def missing_imports(self) -> tuple[ImportInfo, ...]:
        return tuple(i for i in self.imports if not i.provided)


@dataclass(eq=False)
class Contract:
    """A compiled contract module, ready to call. Create with :meth:`Runtime.load`."""

    name: str
    wasm: bytes
    info: ModuleInfo
    module: wasmtime.Module = field(repr=False)
    engine: EngineHandle = field(repr=False)
    wat: str | None = field(default=None, repr=False)
    #: Per-export argument converters, built on first call (the export is checked then).
    converters: dict[str, Callable[[Sequence[Any]], list[Value]]] = field(
        default_factory=dict, init=False, repr=False)
    #: The file it was loaded from (a ``.wat``, a ``.wasm``, or the source it was built from).
    path: Path | None = field(default=None, repr=False)
    #: How to read its debug information (set by the loader; see :attr:`source_map`).
    debug_info: Callable[[], Any] | None = field(default=None, repr=False)
    #: A debug build (see runtime.instrument): it may import the debug probe.
    debug_build: bool = field(default=False, repr=False)
    #: For a debug build: the contract it was built from (outcomes name that one), and how its
    #: module offsets map back to the original's.
    original: Contract | None = field(default=None, repr=False)
    original_offset: Callable[[int], int] | None = field(default=None, repr=False)
    _source_map: Any = field(default=None, init=False, repr=False)
    _source_map_read: bool = field(default=False, init=False, repr=False)
    #: What was built from it (its debug build, its coverage build), by kind: kept here, not
    #: in a table keyed by the contract, since each refers to it and would keep it alive.
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def derived(self, kind: str, make: Callable[[Contract], T]) -> T:
        """The ``kind`` of thing built from this contract by ``make``, made once."""
        built = self._derived.get(kind)
        if built is None:
            built = self._derived[kind] = make(self)
        return built  # type: ignore[no-any-return]

    @property
    def sha256(self) -> str:
        return self.info.sha256

    @property
    def source_map(self) -> Any:
        """Its :class:`~runtime.debuginfo.SourceMap` (DWARF, a source map, or its own WAT
        text), or None: read on first use, nothing is parsed before a location is asked for."""
        if not self._source_map_read:
            self._source_map_read = True
            if self.debug_info is not None:
                self._source_map = self.debug_info()
            else:
                # Without a file, the module's name names its text (token.wat typed in).
                self._source_map = source_map(
                    self.wasm, module_path=self.path or (Path(self.name) if self.wat else None),
                    wat_text=self.wat)
        return self._source_map


def to_wasm(
    source: bytes | bytearray | memoryview | str, name: str = ""
) -> tuple[bytes, str | None]:
    """The binary module for ``source`` (binary or WAT text) and the WAT text if there was one."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if data.startswith(_WASM_MAGIC):
            return data, None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidModuleError(
                f"{name or 'input'} is neither a WebAssembly binary (no \\0asm header) "
                "nor UTF-8 WebAssembly text"
            ) from None
    elif isinstance(source, str):
        text = source
    else:
        raise TypeError(f"a module is bytes or WAT text, not {type(source).__name__}")
    if "\0" in text:
        raise InvalidModuleError(f"{name or 'input'} is binary data, not WebAssembly text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WatSyntaxError(f"not valid text: an unpaired surrogate "
                             f"U+{ord(text[exc.start]):04X} at offset {exc.start}", 0, 0,
                             name) from None
    try:
        return bytes(wasmtime.wat2wasm(text)), text
    except wasmtime.WasmtimeError as exc:
        raise wat_error(str(exc), name) from None


def wat_error(message: str, name: str = "") -> WatSyntaxError:
    """A :class:`WatSyntaxError` from wasmtime's multi-line parser message."""
    reason = message.strip().splitlines()[0] if message.strip() else "cannot parse"
    match = _WAT_LOCATION.search(message)
    if match:
        return WatSyntaxError(reason, int(match["line"]), int(match["col"]), name)
    return WatSyntaxError(reason, 0, 0, name)


def compile_contract(engine: EngineHandle, source: bytes | str, *, name: str = "<module>",
                     max_size: int, cache_dir: Path | None = None) -> Contract:
    """Parse, validate, compile and describe a module."""
    if isinstance(source, str) and len(source) > 4 * max_size:
        raise LimitExceededError("max_module_size", len(source), max_size, where=name)
    wasm, wat = to_wasm(source, name)
    if len(wasm) > max_size:
        raise LimitExceededError("max_module_size", len(wasm), max_size, where=name)
    digest = hashlib.sha256(wasm).hexdigest()
    try:
        module = engine.compile(wasm, digest, cache_dir)
    except wasmtime.WasmtimeError as exc:
        first = str(exc).strip().splitlines()
        pooled = "pooling allocator" in str(exc)
        raise InvalidModuleError(
            f"{name}: invalid module: {first[0] if first else 'rejected by the engine'}"
            + (f" ({first[-1].strip()})" if len(first) > 1 else "")
            + ("; SUPERVM_POOLING=0 allocates instances on demand, without this bound"
               if pooled else "")
        ) from None
    info = engine.described.get(digest)
    if info is None:
        try:
            binary = parse_binary(wasm)
        except WasmBinaryError as exc:
            raise InvalidModuleError(f"{name}: invalid module: {exc.message}") from None
        info = engine.described.put(digest, describe(binary, len(wasm), digest))
    return Contract(name, wasm, info, module, engine, wat)


def describe(binary: WasmModule, size: int, digest: str) -> ModuleInfo:
    """Exports, imports (checked against the host ABI) and memory of a module, read from its
    binary (wasmtime's type reflection aborts the process on some value types, ``v128``
    among them)."""
    memories = [i.desc for i in binary.imports if i.kind == "memory"] + list(binary.memories)
    imported_memories = sum(1 for i in binary.imports if i.kind == "memory")
    exports: list[ExportInfo] = []
    memory: MemoryInfo | None = None
    abi_memory: MemoryInfo | None = None
    for export in binary.exports:
        if export.kind == "func":
            t = binary.func_type(export.index)
            names = tuple(binary.param_names(export.index))
            exports.append(ExportInfo(export.name, "func", t.params, t.results,
                                      names if any(names) else ()))
            continue
        exports.append(ExportInfo(export.name, export.kind))
        if export.kind == "memory" and export.index < len(memories):
            m = memories[export.index]
            described = MemoryInfo(m.minimum, m.maximum, True, m.memory64, m.shared)
            memory = memory or described
            if export.name == "memory" and abi_memory is None:
                abi_memory = described
    imports: list[ImportInfo] = []
    for imp in binary.imports:
        params: tuple[str, ...] = ()
        results: tuple[str, ...] = ()
        if imp.kind == "func":
            t = binary.types[imp.desc]
            params, results = t.params, t.results  # type: ignore[union-attr]
        provided, problem = _check_import(imp.module, imp.name, imp.kind, params, results)
        imports.append(ImportInfo(imp.module, imp.name, imp.kind, params, results, provided,
                                  problem))
    if memory is None and imported_memories:
        m = memories[0]
        memory = MemoryInfo(m.minimum, m.maximum, False, m.memory64, m.shared)
    return ModuleInfo(tuple(exports), tuple(imports), memory, size, digest,
                      binary.export_names(), binary.start is not None,
                      binary.has_memory_or_table(), abi_memory)


def _check_import(module: str, name: str, kind: str, params: tuple[str, ...],
                  results: tuple[str, ...]) -> tuple[bool, str | None]:
    fn = abi.BY_QUALNAME.get(f"{module}.{name}")
    if fn is None:
        return False, "SuperVM provides no such import"
    if kind != "func":
        return False, f"SuperVM provides a function here, not a {kind}"
    if params != fn.param_types or results != fn.results:
        wanted = " ".join(params) or "-"
        return False, (f"type mismatch: SuperVM's is {fn.signature}, the module wants "
                       f"(param {wanted}) (result {' '.join(results) or '-'})")
    return True, None


def check_imports(contract: Contract) -> None:
    """Raise :class:`MissingImportError` for the first import SuperVM does not provide."""
    for imp in contract.info.missing_imports:
        if contract.debug_build and imp.qualname == abi.DEBUG_PROBE.qualname:
            continue  # a debug build's probe: linked, but not part of the ABI
        raise MissingImportError(
            imp.module, imp.name, [f.qualname for f in abi.HOST_FUNCTIONS],
            detail=f" ({imp.problem})" if imp.problem else "",
        )
