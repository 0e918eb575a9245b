"""The line table every kind of debug information is read into, and the types it is made of."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

# Bounds on what hostile debug information can make SuperVM hold: more rows than this is refused.
MAX_ROWS = 2_000_000


@dataclass(frozen=True)
class SourceLocation:
    """A place in a source file: ``line`` and ``col`` are 1-based; ``col`` is 0 when unknown."""

    file: str
    line: int
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}" if self.col else f"{self.file}:{self.line}"


@dataclass(frozen=True)
class FunctionInfo:
    """A function of the module: ``low``/``high`` are the module offsets of its body's contents
    (after the body's size field, where wasmtime's ``func_offset`` 0 and DWARF's ``low_pc`` are)
    and just past its end. ``file``/``line`` are where its code begins, when known."""

    index: int
    name: str
    low: int
    high: int
    file: str | None = None
    line: int = 0


@dataclass
class LineTable:
    """Rows sorted by module offset. ``locs[i]`` holds from ``addrs[i]`` up to the next row;
    ``None`` ends a sequence (no mapping from there on). ``stmt[i]``: a statement start."""

    addrs: list[int] = field(default_factory=list)
    locs: list[SourceLocation | None] = field(default_factory=list)
    stmt: list[bool] = field(default_factory=list)
    # Directories a relative file name is resolved against, tried in order.
    base_dirs: dict[str, list[str]] = field(default_factory=dict)
    # Source text the debug information carries itself (a source map's ``sourcesContent``).
    contents: dict[str, str] = field(default_factory=dict)

    def add_sequence(self, rows: list[tuple[int, SourceLocation | None, bool]], end: int) -> None:
        """Append one contiguous sequence (rows ascending, ``end`` past its last byte); a row
        whose location is None maps the bytes up to the next row to nothing."""
        if not rows:
            return
        if self.addrs and rows[0][0] < self.addrs[-1]:
            raise ValueError("sequences must be added in ascending order")
        if len(self.addrs) + len(rows) >= MAX_ROWS:
            raise OverflowError(f"more than {MAX_ROWS:,} line rows")
        if self.addrs and self.locs[-1] is None and self.addrs[-1] == rows[0][0]:
            self._pop()  # this sequence starts where the previous one ended
        for addr, loc, stmt in rows:
            self.addrs.append(addr)
            self.locs.append(loc)
            self.stmt.append(stmt)
        self.addrs.append(end)
        self.locs.append(None)
        self.stmt.append(False)

    def _pop(self) -> None:
        self.addrs.pop()
        self.locs.pop()
        self.stmt.pop()

    def locate(self, offset: int, floor: int | None = None) -> SourceLocation | None:
        """The row holding at ``offset`` (the last row at or before it, as addr2line picks among
        rows at one address). With ``floor``, a row without a location is looked through to the
        last located row at or after ``floor``."""
        i = bisect_right(self.addrs, offset) - 1
        if i < 0:
            return None
        loc = self.locs[i]
        if loc is None and floor is not None:
            while i > 0 and loc is None and self.addrs[i - 1] >= floor:
                i -= 1
                loc = self.locs[i]
        return loc

    def line_rows(self) -> list[tuple[int, SourceLocation]]:
        """Statement rows where the (file, line) changes within a sequence."""
        out: list[tuple[int, SourceLocation]] = []
        prev: tuple[str, int] | None = None
        addrs, locs, n = self.addrs, self.locs, len(self.addrs)
        for i in range(n):
            loc = locs[i]
            if loc is None:
                prev = None
                continue
            # Of several rows at one address, the last is the one that holds there.
            if i + 1 < n and addrs[i + 1] == addrs[i] and locs[i + 1] is not None:
                continue
            key = (loc.file, loc.line)
            if self.stmt[i] and key != prev:
                out.append((addrs[i], loc))
                prev = key
        return out

    @property
    def files(self) -> list[str]:
        seen: dict[str, None] = {}
        for loc in self.locs:
            if loc is not None:
                seen.setdefault(loc.file, None)
        return list(seen)
