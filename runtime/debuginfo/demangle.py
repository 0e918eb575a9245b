"""Rust symbol names, demangled.

rustc 1.63 emits the legacy scheme: ``_ZN`` + length-prefixed path elements + ``E``, the last
element a hash ``h`` + 16 hex digits (dropped here, as ``rustc-demangle``'s alternate form
does), with ``$LT$``-style escapes inside elements. The PyPI demanglers for Rust are either
unmaintained (``rust-demangler``, last released 2021) or native bindings that would be a
compiled dependency for one small function, so this is SuperVM's own, tested against
``rustc-demangle``'s documented outputs. Names in other schemes (v0 ``_R…``, C++) come back
unchanged.
"""

from __future__ import annotations

import re

_ESCAPES = {"SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(", "RP": ")", "C": ","}
_ESCAPE = re.compile(r"\$([A-Z]{1,2}|u[0-9a-f]{1,6})\$")
_HASH = re.compile(r"h[0-9a-f]{16}")


def demangle(name: str) -> str:
    """``_ZN5token7account17h0123456789abcdefE`` -> ``token::account``; others unchanged."""
    for prefix in ("_ZN", "__ZN", "ZN"):
        if name.startswith(prefix):
            out = _legacy(name[len(prefix):])
            return name if out is None else out
    return name


def _legacy(rest: str) -> str | None:
    elements: list[str] = []
    pos = 0
    while True:
        if pos >= len(rest):
            return None
        if rest[pos] == "E":
            tail = rest[pos + 1:]
            # A suffix LLVM adds to local copies (".llvm.123") is not part of the name.
            if tail and not tail.startswith("."):
                return None
            break
        digits = pos
        while pos < len(rest) and rest[pos].isdigit():
            pos += 1
        if digits == pos:
            return None
        length = int(rest[digits:pos])
        if length == 0 or pos + length > len(rest):
            return None
        elements.append(rest[pos:pos + length])
        pos += length
    if not elements:
        return None
    if len(elements) > 1 and _HASH.fullmatch(elements[-1]):
        elements.pop()
    parts = [_element(e) for e in elements]
    return None if any(p is None for p in parts) else "::".join(p for p in parts if p is not None)


def _element(element: str) -> str | None:
    if element.startswith("_$"):
        element = element[1:]
    out: list[str] = []
    pos = 0
    while pos < len(element):
        ch = element[pos]
        if ch == ".":
            if element.startswith("..", pos):
                out.append("::")
                pos += 2
            else:
                out.append(".")
                pos += 1
        elif ch == "$":
            m = _ESCAPE.match(element, pos)
            if m is None:
                return None
            code = m.group(1)
            if code.startswith("u"):
                try:
                    out.append(chr(int(code[1:], 16)))
                except (ValueError, OverflowError):
                    return None
            elif code in _ESCAPES:
                out.append(_ESCAPES[code])
            else:
                return None
            pos = m.end()
        else:
            out.append(ch)
            pos += 1
    return "".join(out)
