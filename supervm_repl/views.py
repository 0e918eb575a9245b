"""How stored bytes are shown: as text, as hex, or as the little-endian integer they hold.

By default (``auto``) printable UTF-8 is shown as text and other bytes as hex, and a value of 4
or 8 bytes also as its little-endian signed integer (``0x1900000000000000 (25)``), since
contracts usually store numbers that way. A view (``hex``, ``text``, ``i32``, ``u32``, ``i64``,
``u64``) can be chosen per command (``:storage --as u64``) or per key prefix for the session
(``:view "bal:" u64``); bytes that do not fit a view are shown as ``auto`` shows them.
"""

from __future__ import annotations

import re

from runtime.literals import parse_int, parse_integer
from runtime.trace import format_bytes

from .errors import UsageError
from .screen import cut_width

#: The views, and what each shows.
VIEWS: dict[str, str] = {
    "auto": "text if printable, else hex; 4 and 8 bytes also as their integer",
    "hex": "always 0x… hex",
    "text": "always text (bytes that are not UTF-8 as \\xhh)",
    "i32": "4 bytes as a little-endian signed integer",
    "u32": "4 bytes as a little-endian unsigned integer",
    "i64": "8 bytes as a little-endian signed integer",
    "u64": "8 bytes as a little-endian unsigned integer",
}

#: What ``:set KEY N`` writes for a bare integer N under a key with no integer view.
DEFAULT_INTEGER = "i64"

_WIDTHS = {"i32": 4, "u32": 4, "i64": 8, "u64": 8}


def check_view(name: str) -> str:
    """``name`` if it is a view, else a usage error listing them."""
    if name not in VIEWS:
        raise UsageError(f"no view {name[:40]!r}; views: {', '.join(VIEWS)}")
    return name


def _integer(data: bytes, signed: bool) -> str:
    return f"{int.from_bytes(data, 'little', signed=signed):,}".replace(",", "_")


def value_text(data: bytes | None, view: str = "auto", width: int | None = None) -> str:
    """``data`` as ``view`` shows it, cut to about ``width`` characters; a cut value says
    its size (``0x0102…  (1,024 bytes)``)."""
    if data is None:
        return "(absent)"
    width = cut_width(width)
    size = _WIDTHS.get(view)
    if size is not None and len(data) == size:
        return _integer(data, view.startswith("i"))
    if view == "text":
        shown = '"' + data.decode("utf-8", "backslashreplace").replace('"', '\\"') + '"'
        return _cut(shown, data, width)
    if view == "hex":
        return _cut("0x" + (data if width is None else data[: width // 2]).hex(), data, width)
    # Only what can be shown is converted: a value may be a megabyte long.
    shown = format_bytes(data, None if width is None else 4 * width + 16)
    if shown.startswith("0x") and len(data) in (4, 8):
        return f"{shown} ({_integer(data, True)})"
    return _cut(shown, data, width)


def _cut(shown: str, data: bytes, width: int | None) -> str:
    if width is None or len(shown) <= width:
        return shown
    note = f" ({len(data):,} bytes)"
    return shown[: max(width - len(note) - 1, 8)] + "…" + note


def integer_bytes(text: str, view: str) -> bytes | None:
    """A bare decimal integer as the bytes of ``view`` (an integer view, else
    :data:`DEFAULT_INTEGER`); None if ``text`` is not one (``0x…`` is hex bytes)."""
    if not re.fullmatch(r"[+-]?[0-9](?:_?[0-9])*", text):
        return None
    kind = view if view in _WIDTHS else DEFAULT_INTEGER
    size = _WIDTHS[kind]
    if kind.startswith("u"):
        value = parse_integer(text)
        if not 0 <= value < 1 << (8 * size):
            raise UsageError(f"{text[:40]} is out of range for {kind}")
        return value.to_bytes(size, "little")
    number = parse_int(text, "i32" if size == 4 else "i64")
    return (number & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


class Views:
    """The session's views by key prefix (the longest matching prefix wins)."""

    def __init__(self) -> None:
        self.by_prefix: dict[bytes, str] = {}

    def set(self, prefix: bytes, view: str) -> None:
        """Show keys starting with ``prefix`` as ``view`` (``auto`` removes the choice)."""
        if check_view(view) == "auto":
            self.by_prefix.pop(prefix, None)
        else:
            self.by_prefix[prefix] = view

    def view_for(self, key: bytes | None) -> str:
        if key is None or not self.by_prefix:
            return "auto"
        best = max((p for p in self.by_prefix if key.startswith(p)), key=len, default=None)
        return "auto" if best is None else self.by_prefix[best]

    def text(self, key: bytes | None, value: bytes | None, width: int | None = None,
             view: str | None = None) -> str:
        """``value`` stored under ``key``, in ``view`` or the key's view."""
        return value_text(value, view or self.view_for(key), width)


#: Views of a shell with no choices made (used where no session is at hand).
AUTO = Views()
