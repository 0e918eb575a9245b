"""Just enough of the WebAssembly binary format to find debug information.

Reads the section table, the function bodies' byte ranges (module offsets) and the ``name``
section's function names. Every read is bounds-checked: malformed input raises
:class:`WasmFormatError`, never ``IndexError`` and never an unbounded loop (each count is checked
against the bytes that remain).
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"\0asm\x01\0\0\0"
CODE, IMPORT = 10, 2


class WasmFormatError(ValueError):
    """The bytes are not the module structure they claim to be."""


@dataclass(frozen=True)
class Section:
    id: int
    name: str | None  # custom sections only
    start: int  # module offset of the payload (after the id and size; for custom, after the name)
    end: int


@dataclass(frozen=True)
class Body:
    index: int  # function index (imports come first)
    start: int  # module offset of the body's size field
    end: int  # module offset just past the body


def leb_u(data: bytes | memoryview, pos: int, end: int | None = None) -> tuple[int, int]:
    """An unsigned LEB128 at ``pos``: (value, position after it)."""
    end = len(data) if end is None else end
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise WasmFormatError(f"truncated or overlong LEB128 at 0x{pos:x}")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _name(data: bytes, pos: int, end: int) -> tuple[str, int]:
    length, pos = leb_u(data, pos, end)
    if pos + length > end:
        raise WasmFormatError(f"name past its section at 0x{pos:x}")
    return data[pos:pos + length].decode("utf-8", "replace"), pos + length


def sections(data: bytes) -> list[Section]:
    """The module's sections, in order."""
    if data[:8] != MAGIC:
        raise WasmFormatError("not a WebAssembly binary module")
    out: list[Section] = []
    pos = 8
    while pos < len(data):
        sid = data[pos]
        size, start = leb_u(data, pos + 1)
        end = start + size
        if end > len(data):
            raise WasmFormatError(f"section {sid} at 0x{pos:x} runs past the end")
        name = None
        if sid == 0:
            name, start = _name(data, start, end)
        out.append(Section(sid, name, start, end))
        pos = end
    return out


def custom(data: bytes, secs: list[Section], name: str) -> bytes | None:
    """The payload of the first custom section called ``name``."""
    for s in secs:
        if s.id == 0 and s.name == name:
            return data[s.start:s.end]
    return None


def code_section(secs: list[Section]) -> Section | None:
    return next((s for s in secs if s.id == CODE), None)


def imported_functions(data: bytes, secs: list[Section]) -> int:
    """How many functions the module imports (they take the first function indices)."""
    sec = next((s for s in secs if s.id == IMPORT), None)
    if sec is None:
        return 0
    count, pos = leb_u(data, sec.start, sec.end)
    functions = 0
    for _ in range(min(count, sec.end - pos)):
        _, pos = _name(data, pos, sec.end)
        _, pos = _name(data, pos, sec.end)
        if pos >= sec.end:
            raise WasmFormatError("truncated import")
        kind = data[pos]
        pos += 1
        if kind == 0:  # function: type index
            _, pos = leb_u(data, pos, sec.end)
            functions += 1
        elif kind == 1:  # table: reftype, limits
            pos = _limits(data, pos + 1, sec.end)
        elif kind == 2:  # memory: limits
            pos = _limits(data, pos, sec.end)
        elif kind == 3:  # global: valtype, mutability
            pos += 2
        elif kind == 4:  # tag: attribute, type index
            _, pos = leb_u(data, pos + 1, sec.end)
        else:
            raise WasmFormatError(f"unknown import kind {kind}")
    return functions


def _limits(data: bytes, pos: int, end: int) -> int:
    if pos >= end:
        raise WasmFormatError("truncated limits")
    flags = data[pos]
    _, pos = leb_u(data, pos + 1, end)
    if flags & 1:
        _, pos = leb_u(data, pos, end)
    return pos


def bodies(data: bytes, secs: list[Section]) -> list[Body]:
    """The function bodies, with their function indices and module offsets."""
    sec = code_section(secs)
    if sec is None:
        return []
    first = imported_functions(data, secs)
    count, pos = leb_u(data, sec.start, sec.end)
    out: list[Body] = []
    for i in range(min(count, sec.end - pos)):
        size, after = leb_u(data, pos, sec.end)
        if after + size > sec.end:
            raise WasmFormatError(f"function body {first + i} runs past the code section")
        out.append(Body(first + i, pos, after + size))
        pos = after + size
    return out


def function_names(data: bytes, secs: list[Section]) -> dict[int, str]:
    """Function names from the ``name`` section (subsection 1); empty if absent or malformed."""
    payload = custom(data, secs, "name")
    names: dict[int, str] = {}
    if payload is None:
        return names
    try:
        pos, end = 0, len(payload)
        while pos < end:
            sub = payload[pos]
            size, pos = leb_u(payload, pos + 1, end)
            sub_end = min(pos + size, end)
            if sub == 1:
                count, p = leb_u(payload, pos, sub_end)
                for _ in range(min(count, sub_end - p)):
                    index, p = leb_u(payload, p, sub_end)
                    names[index], p = _name(payload, p, sub_end)
            pos = sub_end
    except WasmFormatError:
        pass  # names are a convenience: keep what was read
    return names


def exported_functions(data: bytes, secs: list[Section]) -> dict[int, str]:
    """Function index -> export name (the first one, if exported twice)."""
    sec = next((s for s in secs if s.id == 7), None)
    out: dict[int, str] = {}
    if sec is None:
        return out
    count, pos = leb_u(data, sec.start, sec.end)
    for _ in range(min(count, sec.end - pos)):
        name, pos = _name(data, pos, sec.end)
        if pos >= sec.end:
            raise WasmFormatError("truncated export")
        kind = data[pos]
        index, pos = leb_u(data, pos + 1, sec.end)
        if kind == 0:
            out.setdefault(index, name)
    return out
