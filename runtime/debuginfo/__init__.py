"""Source-level debug information of a module: which source line a module offset is.

>>> from runtime.debuginfo import source_map
>>> sm = source_map(open("samples/c/token.wasm", "rb").read(), module_path="samples/c/token.wasm")
>>> sm.kind, sm.files
('dwarf', ['token.c'])

Read, not guessed, from whichever the module has (in this order):

- **DWARF** line tables in the ``.debug_*`` custom sections (C through clang, Rust through
  rustc; :mod:`.dwarf`);
- a **source map** (v3, as AssemblyScript writes it; :mod:`.sourcemap`): the file the module's
  ``sourceMappingURL`` custom section names, else ``<module>.map`` beside the module;
- for **WebAssembly text**, the text's own lines (:mod:`.wat`, through ``wasm-tools``).

Offsets are *module offsets* (bytes from the start of the module), as in wasmtime's trap frames.
:func:`source_map` is cheap: it looks at the section headers only; the debug information is read
on the first question (for the Rust sample's 2 MB of DWARF, ~0.1–0.3 s). Debug information that
cannot be read gives no mappings (``None``, empty lists) and sets :attr:`SourceMap.error`;
nothing raised by a parser escapes.
"""

from __future__ import annotations

import posixpath
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from pathlib import Path

from ..errors import SuperVMError
from . import dwarf, sourcemap, wasm, wat
from .demangle import demangle
from .table import FunctionInfo, LineTable, SourceLocation

__all__ = ["DebugInfoError", "FunctionInfo", "SourceLocation", "SourceMap", "demangle",
           "source_map"]

MAX_SOURCE_BYTES = 8 << 20  # a source file bigger than this is not shown


class DebugInfoError(SuperVMError):
    """The module's debug information could not be read (``source`` says which kind)."""

    kind = "debug_info"

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source


class SourceMap:
    """Offsets of one module mapped to source locations; build it with :func:`source_map`."""

    def __init__(self, binary: wasm.Binary, kind: str,
                 module_path: Path | None, wat_text: str | None = None,
                 map_location: str | None = None, source_dir: Path | None = None) -> None:
        self.kind = kind  # "dwarf", "sourcemap" or "wat"
        self._binary = binary
        self._wasm = binary.data
        self._module_path, self._wat_text, self._map_location = module_path, wat_text, map_location
        self._source_dir = source_dir
        self._lock = threading.Lock()
        self._table: LineTable | None = None
        self._error: DebugInfoError | None = None
        self._functions: list[FunctionInfo] | None = None
        self._lines: dict[str, list[str] | None] = {}

    # ---- loading ---------------------------------------------------------------------------

    def _load(self) -> LineTable:
        table = self._table
        if table is not None:
            return table
        with self._lock:
            if self._table is None:
                try:
                    self._table = self._read()
                # Every reader raises a ValueError subclass (DwarfError, SourceMapError,
                # WatMapError, WasmFormatError) or OverflowError for too many rows.
                except (ValueError, OverflowError) as e:
                    self._error = DebugInfoError(f"{self.kind} debug information: {e}", self.kind)
                    self._table = LineTable()
            return self._table

    def _read(self) -> LineTable:
        if self.kind == "dwarf":
            return dwarf.load(self._binary)
        module_dir = self._module_path.parent if self._module_path else None
        if self.kind == "sourcemap":
            found = sourcemap.read_map(self._map_location or "", module_dir)
            if found is None:
                raise sourcemap.SourceMapError(f"cannot read {self._map_location}")
            code = self._binary.code_section()
            return sourcemap.parse(found[0], found[1], code.end if code else len(self._wasm))
        name = self._module_path.name if self._module_path else "<wat>"
        return wat.load(self._wat_text or "", self._wasm, name)

    @property
    def error(self) -> DebugInfoError | None:
        """Why the debug information could not be read, or None (reads it if not yet read)."""
        self._load()
        return self._error

    # ---- offsets and lines -----------------------------------------------------------------

    def locate(self, module_offset: int, *, exact: bool = False) -> SourceLocation | None:
        """The source location of the row covering this offset, or None.

        Code a compiler generated without a location of its own (DWARF line 0, a source map's
        one-field segment: e.g. AssemblyScript's ``env.abort`` call of a failed ``assert``) is
        attributed to the last located row before it in the same function, the statement being
        executed; ``exact=True`` gives None there instead."""
        table = self._load()
        if exact:
            return table.locate(module_offset)
        func = self.function_at(module_offset)
        return table.locate(module_offset, func.low if func else None)

    def line_rows(self) -> Sequence[tuple[int, SourceLocation]]:
        """Statement starts, by ascending module offset: one row where each line's code begins
        (for line stepping, breakpoints and coverage)."""
        return self._load().line_rows()

    @property
    def files(self) -> Sequence[str]:
        """The source files the mapping names, in first-seen order."""
        return self._load().files

    def match_file(self, file: str) -> str | None:
        """The file of the mapping that ``file`` names (exactly, by path suffix, else by
        basename), or None if it names none or several."""
        found = _match_files(file, self.files)
        return found[0] if len(found) == 1 else None

    def offsets_for_line(self, file: str, line: int) -> list[int]:
        """Module offsets where code of ``file:line`` begins (empty if that line has none).
        ``file`` is matched exactly, else by path suffix, else by basename."""
        files = set(_match_files(file, self.files))
        return [off for off, loc in self.line_rows() if loc.line == line and loc.file in files]

    # ---- functions -------------------------------------------------------------------------

    def functions(self) -> Sequence[FunctionInfo]:
        """The module's defined functions by ascending offset, names demangled."""
        if self._functions is None:
            self._functions = self._read_functions()
        return self._functions

    def function_at(self, module_offset: int) -> FunctionInfo | None:
        """The function whose body holds this offset."""
        funcs = self.functions()
        i = bisect_right([f.low for f in funcs], module_offset) - 1
        if i >= 0 and funcs[i].low <= module_offset < funcs[i].high:
            return funcs[i]
        return None

    def _read_functions(self) -> list[FunctionInfo]:
        try:
            bodies = self._binary.bodies()
            exports = self._binary.exported_functions()
        except wasm.WasmFormatError:
            return []
        names = self._binary.function_names()
        table = self._load()
        out: list[FunctionInfo] = []
        for b in bodies:
            low = b.low  # past the body's size field
            name = names.get(b.index) or exports.get(b.index) or f"func[{b.index}]"
            first = next((loc for loc in _locs_in(table, low, b.end) if loc is not None), None)
            out.append(FunctionInfo(b.index, demangle(name), low, b.end,
                                    first.file if first else None, first.line if first else 0))
        return out

    # ---- source text -----------------------------------------------------------------------

    def source_line(self, location: SourceLocation) -> str | None:
        """The text of that line (no newline), or None if the file cannot be found. The text
        the debug information carries (a source map's ``sourcesContent``, a ``.wat``'s own
        text) comes first, as it is what was compiled; else the file, relative to the module's
        directory (or the map's)."""
        if location.file not in self._lines:
            self._lines[location.file] = self._read_source(location.file)
        lines = self._lines[location.file]
        if lines is None or not 1 <= location.line <= len(lines):
            return None
        return lines[location.line - 1]

    def source_path(self, file: str) -> Path | None:
        """Where a source file the debug information names is on disk, if it can be found."""
        for path in self._candidates(file, self._load()):
            if path.is_file():
                return path.resolve()
        return None

    def _read_source(self, file: str) -> list[str] | None:
        table = self._load()
        text = table.contents.get(file)
        if text is None:
            text = _read_text(self._candidates(file, table))
        return None if text is None else text.splitlines()

    def _candidates(self, file: str, table: LineTable) -> list[Path]:
        path = Path(file)
        if path.is_absolute():
            return [path]
        dirs = [Path(d) for d in table.base_dirs.get(file, [])]
        if self._source_dir is not None:
            dirs.append(self._source_dir)
        if self._module_path is not None:
            dirs.append(self._module_path.parent)
        return [d / path for d in dirs]


def _locs_in(table: LineTable, low: int, high: int) -> list[SourceLocation | None]:
    i = bisect_left(table.addrs, low)
    out = []
    while i < len(table.addrs) and table.addrs[i] < high:
        out.append(table.locs[i])
        i += 1
    return out


def _match_files(query: str, files: Sequence[str]) -> list[str]:
    q = posixpath.normpath(query.replace("\\", "/"))
    exact = [f for f in files if f == q]
    if exact:
        return exact
    suffix = [f for f in files if f.endswith("/" + q) or q.endswith("/" + f)]
    if suffix:
        return suffix
    base = posixpath.basename(q)
    return [f for f in files if posixpath.basename(f) == base]


def _read_text(candidates: list[Path]) -> str | None:
    for path in candidates:
        try:
            with path.open("rb") as f:
                raw = f.read(MAX_SOURCE_BYTES + 1)
        except OSError:
            continue
        if len(raw) <= MAX_SOURCE_BYTES:
            return raw.decode("utf-8", "replace")
    return None


def _source_mapping_url(binary: wasm.Binary) -> str | None:
    payload = binary.custom("sourceMappingURL")
    if payload is None:
        return None
    length = shift = pos = 0  # the payload is a length-prefixed string
    while pos < min(len(payload), 5):
        byte = payload[pos]
        length |= (byte & 0x7F) << shift
        shift, pos = shift + 7, pos + 1
        if byte < 0x80:
            return payload[pos:pos + length].decode("utf-8", "replace").strip() or None
    return None


def source_map(wasm_bytes: bytes, *, module_path: Path | str | None = None,
               wat_text: str | None = None,
               source_dir: Path | str | None = None) -> SourceMap | None:
    """The source mapping of a module, or None if it has no debug information of any kind.

    ``wasm_bytes`` is the binary SuperVM runs. ``module_path`` is where it came from (a
    ``.wasm``, or the ``.wat`` it was converted from): source files and ``<module>.map`` are
    found beside it. For WebAssembly text pass ``wat_text`` (read from a ``.wat``
    ``module_path`` if omitted). Reads section headers only; everything else waits for the
    first question.
    """
    path = Path(module_path) if module_path is not None else None
    src = Path(source_dir) if source_dir is not None else None
    binary = wasm.Binary(bytes(wasm_bytes))
    try:
        secs = binary.sections()
    except wasm.WasmFormatError:
        return None
    if dwarf.has_dwarf(secs):
        return SourceMap(binary, "dwarf", path, source_dir=src)
    location = _source_mapping_url(binary)
    if location:
        return SourceMap(binary, "sourcemap", path, map_location=location, source_dir=src)
    if path is not None and path.suffix == ".wasm" and Path(f"{path}.map").is_file():
        return SourceMap(binary, "sourcemap", path, map_location=f"{path.name}.map",
                         source_dir=src)
    if wat_text is None and path is not None and path.suffix == ".wat":
        wat_text = _read_text([path])
    if wat_text is not None:
        return SourceMap(binary, "wat", path, wat_text=wat_text, source_dir=src)
    return None
