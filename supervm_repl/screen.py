"""How wide output is rendered: the screen's columns, and whether ``--wide`` asked for
everything in full. The shell sets both around each command; the renderers read them, so every
table and every shortened value fits without a command passing the width along."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

#: Columns of the screen; None: unlimited (scripts without ``COLUMNS``).
_WIDTH: ContextVar[int | None] = ContextVar("output_width", default=None)
#: ``--wide``: nothing is fitted or shortened.
_WIDE: ContextVar[bool] = ContextVar("output_wide", default=False)

#: Narrowest screen fitted to: below it lines are left to the terminal.
MIN_WIDTH = 20


def output_width() -> int | None:
    """The columns output is being rendered for (None: unlimited)."""
    return None if _WIDE.get() else _WIDTH.get()


def is_wide() -> bool:
    """Whether values are shown in full (``--wide``)."""
    return _WIDE.get()


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
