"""Where in the contract's source a module offset is: frames of backtraces and call sites,
with the function (names demangled), ``file:line:col`` and the line's text.

Everything here reads the contract's :attr:`~runtime.modules.Contract.source_map`, which is read
from the module's debug information on first use: a contract without debug information gets
its wasm-level names and offsets only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .debuginfo import SourceLocation
from .errors import Frame
from .modules import Contract


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """A place in a running contract: its function, module offset, and source location."""

    function: str
    module_offset: int
    location: SourceLocation | None = None
    text: str | None = None

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location is not None else ""
        return f"{self.function}{where} @ 0x{self.module_offset:x}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"function": self.function, "offset": self.module_offset,
                               "source": None}
        if self.location is not None:
            loc = self.location
            out["source"] = {"file": loc.file, "line": loc.line, "col": loc.col}
            if self.text is not None:
                out["source"]["text"] = self.text
        return out


def locate(contract: Contract | None, module_offset: int, name: str | None = None,
           index: int | None = None) -> SourceFrame:
    """The source frame of one module offset (``name``/``index``: what wasm calls its
    function, used when the debug information does not say)."""
    sm = contract.source_map if contract is not None else None
    function = name
    location = text = None
    if sm is not None and sm.error is None:
        info = sm.function_at(module_offset)
        if info is not None:
            function = info.name
        location = sm.locate(module_offset)
        if location is not None:
            text = sm.source_line(location)
            text = text.strip() if text is not None else None
    if function is None and contract is not None and index is not None:
        function = contract.info.export_names.get(index)
    return SourceFrame(function or (f"func[{index}]" if index is not None else "?"),
                       module_offset, location, text)


def source_frames(contract: Contract | None, frames: Sequence[Frame],
                  limit: int | None = None) -> list[SourceFrame]:
    """A backtrace's frames (innermost first, at most ``limit``) with their source places."""
    chosen = frames if limit is None else frames[:limit]
    return [locate(contract, f.module_offset, f.func_name, f.func_index) for f in chosen]
