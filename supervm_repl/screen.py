"""How wide output is rendered: the screen's columns, and whether ``--wide`` asked for
everything in full. The shell sets both around each command; the renderers read them, so every
table and every shortened value fits without a command passing the width along. Also the
text-fitting helpers the renderer uses: column widths, elision, breaking lines at spaces."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

#: prompt_toolkit's formatted text: ``(style, text)`` pairs.
Fragments = list[tuple[str, str]]

#: Columns of the screen; None: unlimited (scripts without ``COLUMNS``).
_WIDTH: ContextVar[int | None] = ContextVar("output_width", default=None)
#: ``--wide``: nothing is fitted or shortened.
_WIDE: ContextVar[bool] = ContextVar("output_wide", default=False)

#: Narrowest screen fitted to: below it lines are left to the terminal.
MIN_WIDTH = 20


def output_width() -> int | None:
    """The columns output is being rendered for (None: unlimited)."""
    return None if _WIDE.get() else _WIDTH.get()


def cut_width(width: int | None) -> int | None:
    """``width`` for shortening a value, or None (in full) under ``--wide``."""
    return None if _WIDE.get() else width


@contextlib.contextmanager
def rendering_width(columns: int | None, wide: bool | None = None) -> Iterator[None]:
    """Render for a screen ``columns`` wide (None: unlimited) inside the block; ``wide``
    (if given) says whether values are shown in full."""
    width_token = _WIDTH.set(columns if columns is None else max(columns, MIN_WIDTH))
    wide_token = _WIDE.set(wide) if wide is not None else None
    try:
        yield
    finally:
        _WIDTH.reset(width_token)
        if wide_token is not None:
            _WIDE.reset(wide_token)


# --- fitting text to a width -----------------------------------------------------------------


def fit_widths(natural: Sequence[int], minimum: Sequence[int], room: int) -> list[int]:
    """Column widths within ``room`` characters: the widest columns are narrowed first, to
    one common width, none below its minimum (if even that does not fit, the minimums)."""
    if sum(natural) <= room:
        return list(natural)

    def total(level: int) -> int:
        return sum(min(w, max(level, m)) for w, m in zip(natural, minimum, strict=True))

    low, high = 0, max(natural)
    while low < high:  # the widest level that fits
        mid = (low + high + 1) // 2
        if total(mid) <= room:
            low = mid
        else:
            high = mid - 1
    widths = [min(w, max(low, m)) for w, m in zip(natural, minimum, strict=True)]
    # What the common level leaves over goes to the narrowed columns from the right: the last
    # columns (an effect, an outcome) are the ones read most.
    spare = room - sum(widths)
    for i in reversed(range(len(widths))):
        if spare <= 0:
            break
        if widths[i] < natural[i]:
            extra = min(spare, natural[i] - widths[i])
            widths[i] += extra
            spare -= extra
    return widths


_NOTE = re.compile(r" \([^()]*\)$")


def elide(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with ``…``; a closing note such as ``(25)`` or
    ``(1,024 bytes)`` is kept (it says what the cut part held)."""
    if len(text) <= width:
        return text
    before, arrow, after = text.rpartition(" → ")
    if arrow:
        # A change: the new value is kept whole if it fits, the old side is cut instead; a
        # note would otherwise end up beside the old side.
        room = width - len(arrow) - len(after)
        if room >= 8:
            return elide(before, room) + arrow + after
        return text[: max(width - 1, 0)] + "…"
    note = _NOTE.search(text)
    if note is not None and len(note[0]) <= width - 6:
        return text[: width - len(note[0]) - 1] + "…" + note[0]
    return text[: max(width - 1, 0)] + "…"


def wrap_words(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces where possible."""
    lines: list[str] = []
    while len(text) > width:
        cut = text.rfind(" ", 1, width + 1)
        if cut <= 0:
            cut = width
        lines.append(text[:cut].rstrip())
        text = text[cut:].lstrip(" ")
    lines.append(text)
    return lines


def wrap_to_width(fragments: Fragments, width: int | None) -> Fragments:
    """Lines longer than ``width`` broken at spaces (a word longer than a line is cut), the
    rest of a line indented under its start: the screen never wraps mid-word."""
    if width is None:
        return fragments
    width = max(width, MIN_WIDTH)
    out: Fragments = []
    line: Fragments = []
    for style, text in fragments:
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                out.extend(_wrap_line(line, width))
                out.append((style, "\n"))
                line = []
            if part:
                line.append((style, part))
    out.extend(_wrap_line(line, width))
    return out


def _wrap_line(line: Fragments, width: int) -> Fragments:
    text = "".join(t for _, t in line)
    if len(text) <= width:
        return line
    lead = len(text) - len(text.lstrip(" "))
    indent = " " * min(lead + 2, width // 2)
    # Where each new line starts in ``text``, and how much of the old line it drops (a space).
    breaks: list[tuple[int, int]] = []
    start, room = 0, width
    while len(text) - start > room:
        cut = text.rfind(" ", start + 1, start + room + 1)
        if cut <= start + (lead if not breaks else 0):
            breaks.append((start + room, 0))
            start += room
        else:
            breaks.append((cut, 1))
            start = cut + 1
        room = width - len(indent)
    out: Fragments = []
    position = 0
    pending = breaks[::-1]  # popped from the end: in order
    for style, part in line:
        end = position + len(part)
        offset = 0
        while pending and pending[-1][0] < end:
            at, skip = pending.pop()
            out.append((style, part[offset : at - position]))
            out.append(("", "\n" + indent))
            offset = at - position + skip
        out.append((style, part[offset:]))
        position = end
    return [f for f in out if f[1]]
