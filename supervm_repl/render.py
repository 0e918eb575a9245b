"""Turning what the runtime returns into text: values, bytes, tables, hexdumps, errors.

Human output is a list of ``(style, text)`` fragments (prompt_toolkit's formatted text), so the
same rendering prints in colour in the shell and plain in scripts. The ``*_json`` helpers give
the ``--json`` forms.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from runtime import CallError, CallResult, ModuleInfo, StorageChange, SuperVMError, TrapError, Value
from runtime.sources import SourceFrame, source_frames
from runtime.trace import format_bytes
from runtime.values import format_number

from .screen import (
    cut_width,
    elide,
    fit_widths,
    output_width,
    rendering_width,
    wrap_to_width,
    wrap_words,
)
from .views import AUTO, Views

# Re-exported for the commands: what they render for.
__all__ = ["output_width", "rendering_width", "wrap_to_width"]

Fragments = list[tuple[str, str]]

#: Colours of the style classes used below (prompt_toolkit style syntax).
STYLE = {
    "error": "#ff5f5f bold",
    "warning": "#ffaf00",
    "ok": "#5fd75f",
    "muted": "#8a8a8a",
    "header": "bold underline",
    "type": "#5fafff",
    "number": "#d7af5f",
    "bytes": "#87d787",
    "name": "bold",
    "prompt": "#5fafff bold",
    "prompt.module": "#d787ff bold",
    "prompt.paused": "#ff5f5f bold",
    "prompt.history": "#ffaf00 bold",
    "bottom-toolbar": "noreverse #8a8a8a",
    "bottom-toolbar.text": "",
    "hint": "#8a8a8a",
    "hint.name": "#8a8a8a bold",
    "hint.current": "#5fafff bold underline",
}

#: Backtrace frames shown in text and in JSON (a stack overflow has thousands).
MAX_FRAMES = 12
MAX_JSON_FRAMES = 100

#: Longest rendering of a byte string in a table before it is cut (JSON output is never cut).
CELL_WIDTH = 64


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


class Out:
    """A builder of fragments, line by line."""

    def __init__(self) -> None:
        self.fragments: Fragments = []

    def add(self, text: str, style: str = "") -> Out:
        if not text.isprintable() and _CONTROL.search(text):
            # Text from a module or a file (names, paths) never reaches the terminal as
            # control characters: an escape sequence would act on the screen.
            text = _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)
        self.fragments.append((f"class:{style}" if style else "", text))
        return self

    def line(self, text: str = "", style: str = "") -> Out:
        if text:
            self.add(text, style)
        return self.add("\n")

    def extend(self, fragments: Fragments) -> Out:
        self.fragments.extend(fragments)
        return self


def plural(n: int, noun: str) -> str:
    """``1 key``, ``2 keys``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def plain(fragments: Fragments) -> str:
    """The text of ``fragments`` without styles."""
    return "".join([text for _, text in fragments])  # a list joins faster than a generator


# --- values and bytes ---------------------------------------------------------------------------


def value_text(value: Value) -> str:
    """``i32 42``, ``f32 nan:0x200000``: type and WAT literal."""
    return f"{value.type} {format_number(value)}"


def values_text(values: Sequence[Value]) -> str:
    return ", ".join(value_text(v) for v in values) if values else "(no results)"


def bytes_text(data: bytes | None, width: int | None = CELL_WIDTH) -> str:
    """``"text"`` when ``data`` is printable UTF-8, else ``0x…`` hex; cut to ``width``
    (in full under ``--wide``)."""
    return format_bytes(data, cut_width(width))


def bytes_json(data: bytes | None) -> dict[str, str] | None:
    """``{"hex": …, "text": …}`` (``text`` only when valid UTF-8); None stays None."""
    if data is None:
        return None
    out = {"hex": data.hex()}
    with contextlib.suppress(UnicodeDecodeError):
        out["text"] = data.decode("utf-8")
    return out


def value_json(value: Value) -> dict[str, Any]:
    return value.to_dict()


# --- tables and dumps ---------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[str]],
          styles: Sequence[str] | None = None, wrap_last: bool = False,
          minimums: Sequence[int] | None = None) -> Fragments:
    """Rows under headers, columns padded to their widest cell, fitted to the output's width
    (:func:`output_width`): the widest columns are narrowed and their cells elided with ``…``,
    or, with ``wrap_last``, the last column's text is wrapped onto indented lines. Headers
    all empty: no header row. ``minimums`` keeps the columns that matter at least that wide
    (by default a column keeps the width of its header, at least 4)."""
    rows = [list(map(str, r)) for r in rows]
    natural = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    widths = list(natural)
    columns = output_width()
    gaps = 2 * (len(headers) - 1)
    if columns is not None and sum(natural) + gaps > columns:
        if wrap_last:
            # The other columns keep their width; the last takes what is left (at least 20).
            widths[-1] = max(columns - gaps - sum(natural[:-1]), 20)
        else:
            wanted = minimums or [0] * len(headers)
            minimum = [min(n, max(len(h), 4, m))
                       for n, h, m in zip(natural, headers, wanted, strict=True)]
            widths = fit_widths(natural, minimum, columns - gaps)
    out = Out()
    last = len(headers) - 1
    indent = sum(widths[:-1]) + gaps
    cut = not wrap_last and widths != natural
    # Headers all empty: a listing without a header row (``:help``).
    heading = [("header", list(headers))] if any(headers) else []
    for row_style, row in [*heading, *(("", r) for r in rows)]:
        for i, cell in enumerate(row):
            style = row_style or (styles[i] if styles else "")
            if i == last and wrap_last and len(cell) > widths[i]:
                pieces = wrap_words(cell, widths[i])
                out.add(pieces[0], style)
                for piece in pieces[1:]:
                    out.add("\n" + " " * indent).add(piece, style)
                continue
            cell = elide(cell, widths[i])
            out.add(cell if i == last else cell.ljust(widths[i]), style)
            if i != last:
                out.add("  ")
        _trim(out.fragments)
        out.line()
    if cut:
        out.line("(cut to fit: --wide shows all)", "muted")
    return out.fragments


def _trim(fragments: Fragments) -> None:
    """Drop the blanks ending a table row (empty last cells)."""
    while fragments and fragments[-1][1] != "\n" and not fragments[-1][1].strip():
        fragments.pop()
    if fragments and fragments[-1][1] != "\n":
        style, text = fragments[-1]
        fragments[-1] = (style, text.rstrip(" "))


def hexdump(data: bytes, base: int) -> Fragments:
    """16 bytes a line: address, hex, and the printable ASCII."""
    out = Out()
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.add(f"{base + offset:08x}  ", "muted").add(f"{hexes:<47}  ").line(f"|{text}|", "muted")
    return out.fragments


# --- domain objects -----------------------------------------------------------------------------


def module_json(info: ModuleInfo, name: str) -> dict[str, Any]:
    memory = info.memory
    return {
        "name": name,
        "size": info.size,
        "sha256": info.sha256,
        "exports": [
            {"name": e.name, "kind": e.kind, "params": list(e.params), "results": list(e.results)}
            for e in info.exports
        ],
        "imports": [
            {"module": i.module, "name": i.name, "kind": i.kind, "params": list(i.params),
             "results": list(i.results), "provided": i.provided, "problem": i.problem}
            for i in info.imports
        ],
        "memory": None if memory is None else {
            "min_pages": memory.min_pages, "max_pages": memory.max_pages,
            "exported": memory.exported,
        },
    }


def module_summary(info: ModuleInfo, name: str) -> Fragments:
    """One line: what was loaded, and a warning line per import SuperVM lacks."""
    funcs = info.functions
    out = Out().add("loaded ").add(name, "name").add(
        f": {len(funcs)} export{'s' if len(funcs) != 1 else ''}"
    )
    if funcs:
        out.add(" (" + ", ".join(f.name for f in funcs[:8]) + (", …" if len(funcs) > 8 else "")
                + ")")
    out.line(f", {info.size} bytes")
    for imp in info.missing_imports:
        out.line(f"warning: {imp.qualname}: {imp.problem}; calls will fail", "warning")
    return out.fragments


def module_info(info: ModuleInfo, name: str) -> Fragments:
    """``:info``: exports with signatures, imports marked provided or not, memory."""
    out = Out().add("module ", "muted").add(name, "name").line(
        f"  {info.size} bytes  sha256 {info.sha256[:16]}…", "muted")
    out.line("exports", "header")
    for e in info.exports:
        if e.kind == "func":
            out.add("  ").add(e.name, "name").line(e.described, "type")
        else:
            out.add("  ").add(e.name, "name").line(f"  ({e.kind})", "muted")
    if not info.exports:
        out.line("  (none)", "muted")
    out.line("imports", "header")
    for i in info.imports:
        sig = f"({' '.join(i.params)})" + (f" -> {' '.join(i.results)}" if i.results else "")
        if i.provided:
            out.add("  ✓ ", "ok").add(i.qualname).line(" " + sig, "type")
        else:
            out.add("  ✗ ", "error").add(i.qualname).add(" " + sig, "type").line(
                f"  {i.problem}", "warning")
    if not info.imports:
        out.line("  (none)", "muted")
    out.add("memory", "header").add("  ")
    memory = info.memory
    if memory is None:
        out.line("none", "muted")
    else:
        maximum = "no maximum" if memory.max_pages is None else f"max {memory.max_pages}"
        where = "exported" if memory.exported else "imported"
        out.line(f"{memory.min_pages} page{'s' if memory.min_pages != 1 else ''} "
                 f"(64 KiB each), {maximum}, {where}")
    return out.fragments


def events_json(events: Sequence[bytes]) -> list[dict[str, Any]]:
    return [{"index": i, **(bytes_json(d) or {})} for i, d in enumerate(events)]


def changes_json(changes: Sequence[StorageChange]) -> list[dict[str, Any]]:
    return [{"key": bytes_json(c.key), "old": bytes_json(c.old), "new": bytes_json(c.new)}
            for c in changes]


def call_json(result: CallResult) -> dict[str, Any]:
    return {
        "call_id": result.call_id,
        "export": result.export,
        "args": [value_json(v) for v in result.args],
        "results": [value_json(v) for v in result.results],
        "fuel_used": result.fuel_used,
        "fuel_limit": result.fuel_limit,
        "elapsed_ms": round(result.elapsed * 1000, 3),
        "events": events_json(result.events),
        "storage_changes": changes_json(result.storage_changes),
        "committed": result.committed,
        "context": {"block_number": result.context.block_number,
                    "timestamp": result.context.timestamp},
    }


def change_text(key: bytes, old: bytes | None, new: bytes | None, views: Views = AUTO,
                width: int | None = 40) -> Fragments:
    """``"key": old → new``, the values as the key's view shows them."""
    return Out().add(bytes_text(key, width), "bytes").add(": ").add(
        views.text(key, old, width), "muted").add(" → ").add(
        views.text(key, new, width), "bytes").fragments


def call_result(result: CallResult, views: Views = AUTO) -> Fragments:
    """The typed results, then fuel, time, events and storage changes."""
    out = Out().add("→ ", "ok")
    if result.results:
        for i, v in enumerate(result.results):
            if i:
                out.add(", ")
            out.add(v.type + " ", "type").add(format_number(v), "number")
        out.line()
    else:
        out.line("(no results)", "muted")
    out.line(f"  fuel {result.fuel_used:,}  time {result.elapsed * 1000:.2f} ms"
             + ("  (dry run: nothing committed)" if result.dry_run else "")
             + ("  (run again: another process changed what it read)" if result.reruns
                else ""), "muted")
    if result.events:
        out.line(f"  events ({len(result.events)})", "header")
        for i, data in enumerate(result.events):
            out.add(f"    [{i}] ", "muted").line(bytes_text(data), "bytes")
    if result.storage_changes:
        out.line(f"  storage changes ({len(result.storage_changes)})", "header")
        for c in result.storage_changes:
            out.add("    ").extend(change_text(c.key, c.old, c.new, views)).line()
    return out.fragments


def error_json(error: SuperVMError) -> dict[str, Any]:
    data = error.to_dict()
    if len(data.get("backtrace") or ()) > MAX_JSON_FRAMES:
        # A stack overflow has thousands of identical frames; the innermost ones tell the story.
        data["backtrace_frames"] = len(data["backtrace"])
        data["backtrace"] = data["backtrace"][:MAX_JSON_FRAMES]
    if isinstance(error, CallError):
        data["fuel_used"] = error.fuel_used
        if error.export:
            data["export"] = error.export
        if error.frames:
            data["frames"] = [f.to_dict() for f in _source_frames(error, MAX_JSON_FRAMES)]
    return data


def _source_frames(error: CallError, limit: int) -> list[SourceFrame]:
    contract = error.outcome.contract if error.outcome is not None else None
    return source_frames(contract, error.frames, limit)


def error_text(error: SuperVMError) -> Fragments:
    """``error: …`` on one line; for a failed call also the trap code, backtrace and fuel."""
    if error.kind == "compile":
        # The compiler's own file:line:col lines, one per line as it printed them.
        out = Out().add("error: ", "error").line(
            f"{getattr(error, 'source', 'the source')} did not compile "
            f"({getattr(error, 'compiler', 'compiler')}):")
        for line in str(error).splitlines():
            out.line(f"  {line}")
        return out.fragments
    message = " ".join(str(error).split())  # messages from the engine may span lines
    out = Out().add("error: ", "error").line(message)
    if isinstance(error, TrapError):
        out.add("  code ", "muted").line(error.code)
        if error.host_function:
            out.add("  in host function ", "muted").line(error.host_function)
    if isinstance(error, CallError) and error.frames:
        frames = _source_frames(error, 50 * MAX_FRAMES)
        located = any(f.location is not None for f in frames)
        out.line("  backtrace:" if located else "  wasm backtrace:", "muted")
        i = groups = 0
        while i < len(frames) and groups < MAX_FRAMES:
            groups += 1
            frame, same = frames[i], 1
            # A deep recursion repeats one frame thousands of times: show it once.
            while i + same < len(frames) and frames[i + same] == frame:
                same += 1
            out.add(f"    #{i} ").add(frame.function, "name")
            if frame.location is not None:
                out.add(f"  {frame.location}", "bytes")
            out.line(f"  @ 0x{frame.module_offset:x}"
                     + (f"  (and {same - 1} more like it)" if same > 1 else ""), "muted")
            if frame.text:
                out.line(f"         {frame.text}", "muted")
            i += same
        if len(error.frames) > i:
            out.line(f"    … {len(error.frames) - i:,} more frames", "muted")
    if isinstance(error, CallError) and error.outcome is not None:
        # Only a call that ran has something it did not commit (a module over a limit at
        # load did not run). An interrupted call may not know its fuel (the engine reports
        # 0): say nothing then.
        fuel = f"fuel used {error.fuel_used:,}; " if error.fuel_used else ""
        out.line(f"  {fuel}nothing was committed", "muted")
    return out.fragments
