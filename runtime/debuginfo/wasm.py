"""What the debug information refers to in a module's binary: its sections, the function
bodies' byte ranges (module offsets) and the function names, read by SuperVM's one binary
reader (:mod:`runtime.wasm_binary`) and given in the form the readers of DWARF and source maps
use. Malformed input raises :class:`WasmFormatError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..wasm_binary import WasmBinaryError, WasmModule
from ..wasm_binary import parse as parse_binary

CODE = 10


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
    low: int  # module offset just past the size field
    end: int  # module offset just past the body


class Binary:
    """A parsed module (parsed once, on first use) with the views debug readers need."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._module: WasmModule | None = None

    @property
    def module(self) -> WasmModule:
        if self._module is None:
            try:
                self._module = parse_binary(self.data)
            except WasmBinaryError as exc:
                raise WasmFormatError(exc.message) from None
        return self._module

    def sections(self) -> list[Section]:
        return [Section(s.id, s.name if s.id == 0 else None,
                        s.data_offset if s.id == 0 else s.offset, s.end)
                for s in self.module.sections]

    def custom(self, name: str) -> bytes | None:
        """The data of the first custom section called ``name`` (after its name)."""
        return self.module.custom(name)

    def code_section(self) -> Section | None:
        return next((s for s in self.sections() if s.id == CODE), None)

    def bodies(self) -> list[Body]:
        data = self.data
        out = []
        for code in self.module.code:
            # The size field ends where the body starts; the byte before it always ends a
            # LEB128 or an instruction (below 0x80), so its first byte is found walking back.
            start = code.offset - 1
            while data[start - 1] >= 0x80:
                start -= 1
            out.append(Body(code.func_index, start, code.offset, code.offset + code.size))
        return out

    def function_names(self) -> dict[int, str]:
        return dict(self.module.names.functions)

    def exported_functions(self) -> dict[int, str]:
        return self.module.export_names()


def sections(data: bytes) -> list[Section]:
    """The module's sections, in order."""
    return Binary(data).sections()


def code_section(secs: list[Section]) -> Section | None:
    return next((s for s in secs if s.id == CODE), None)


def custom(data: bytes, secs: list[Section], name: str) -> bytes | None:
    """The payload of the first custom section called ``name``."""
    return next((data[s.start:s.end] for s in secs if s.id == 0 and s.name == name), None)
