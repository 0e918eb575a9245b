"""Turning bytes or WebAssembly text into a loaded :class:`Contract`, and describing it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import wasmtime

from . import abi
from .engine import EngineHandle
from .errors import InvalidModuleError, LimitExceededError, MissingImportError, WatSyntaxError

if TYPE_CHECKING:
    from .values import Value

_WASM_MAGIC = b"\0asm"
_WAT_LOCATION = re.compile(r"-->\s*(?P<src>[^:\n]*):(?P<line>\d+):(?P<col>\d+)")


@dataclass(frozen=True)
class ExportInfo:
    """An export: for functions, ``params``/``results`` are wasm type names."""

    name: str
    kind: str  # func, memory, global, table
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        if self.kind != "func":
            return self.kind
        out = " ".join(self.params) or "()"
        return f"({out}) -> ({' '.join(self.results)})" if self.results else f"({out})"


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

    @property
    def sha256(self) -> str:
        return self.info.sha256


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
        raise InvalidModuleError(
            f"{name}: invalid module: {first[0] if first else 'rejected by the engine'}"
            + (f" ({first[-1].strip()})" if len(first) > 1 else "")
        ) from None
    info = engine.described.get(digest)
    if info is None:
        info = engine.described.put(digest, describe(module, len(wasm), digest,
                                                     exported_functions(wasm)))
    return Contract(name, wasm, info, module, engine, wat)


def _types(valtypes: list[wasmtime.ValType]) -> tuple[str, ...]:
    return tuple(str(t) for t in valtypes)


def describe(module: wasmtime.Module, size: int, digest: str,
             export_names: dict[int, str] | None = None) -> ModuleInfo:
    """Exports, imports (checked against the host ABI) and memory of a compiled module."""
    exports: list[ExportInfo] = []
    memory: MemoryInfo | None = None
    for export in module.exports:
        kind, params, results = _kind(export.type)
        exports.append(ExportInfo(export.name, kind, params, results))
        if kind == "memory" and memory is None:
            limits = export.type.limits  # type: ignore[union-attr]
            memory = MemoryInfo(limits.min, limits.max, True)
    imports: list[ImportInfo] = []
    for imp in module.imports:
        kind, params, results = _kind(imp.type)
        name = imp.name or ""
        provided, problem = _check_import(imp.module, name, kind, params, results)
        imports.append(ImportInfo(imp.module, name, kind, params, results, provided, problem))
        if kind == "memory" and memory is None:
            limits = imp.type.limits  # type: ignore[union-attr]
            memory = MemoryInfo(limits.min, limits.max, False)
    return ModuleInfo(tuple(exports), tuple(imports), memory, size, digest, export_names or {})


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def exported_functions(wasm: bytes) -> dict[int, str]:
    """Function index → first export name, read from the binary's export section.

    Only called on modules wasmtime has validated, so the section is well formed.
    """
    names: dict[int, str] = {}
    pos = 8
    while pos < len(wasm):
        section, pos = wasm[pos], pos + 1
        size, pos = _leb(wasm, pos)
        if section == 7:
            count, p = _leb(wasm, pos)
            for _ in range(count):
                length, p = _leb(wasm, p)
                name = wasm[p:p + length].decode("utf-8", errors="replace")
                kind, (index, p) = wasm[p + length], _leb(wasm, p + length + 1)
                if kind == 0:
                    names.setdefault(index, name)
            break
        pos += size
    return names


def _kind(t: object) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    if isinstance(t, wasmtime.FuncType):
        return "func", _types(t.params), _types(t.results)
    if isinstance(t, wasmtime.MemoryType):
        return "memory", (), ()
    if isinstance(t, wasmtime.GlobalType):
        return "global", (), ()
    if isinstance(t, wasmtime.TableType):
        return "table", (), ()
    return type(t).__name__.lower(), (), ()


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
        raise MissingImportError(
            imp.module, imp.name, [f.qualname for f in abi.HOST_FUNCTIONS],
            detail=f" ({imp.problem})" if imp.problem else "",
        )
