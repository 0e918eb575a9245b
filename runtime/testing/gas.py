"""Fuel reports and snapshots: per export, how much fuel calls used; a snapshot file of that,
and the check of a later run against it (a regression is more fuel than the snapshot's plus a
tolerance).

A snapshot is text, one export a line, sorted, so that it diffs well in version control::

    # supervm fuel snapshot: export calls min median max
    mint 1 283 283 283
    transfer 3 90 342 342
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import FileError
from ..files import read_file, write_file

HEADER = "# supervm fuel snapshot: export calls min median max"
#: Largest snapshot file read.
MAX_SNAPSHOT = 16 * 1024 * 1024
STATS = ("min", "median", "max")


@dataclass(frozen=True)
class GasRow:
    """The fuel of one export's calls: how many, how many failed, min/median/max."""

    export: str
    calls: int
    failed: int
    min: int
    median: int
    max: int

    def stat(self, name: str) -> int:
        return int(getattr(self, name))


def gas_rows(calls: Iterable[tuple[str, int, bool]]) -> list[GasRow]:
    """Rows by export (sorted) from ``(export, fuel_used, ok)`` of each call."""
    fuel: dict[str, list[int]] = {}
    failed: dict[str, int] = {}
    for export, used, ok in calls:
        fuel.setdefault(export, []).append(used)
        failed[export] = failed.get(export, 0) + (not ok)
    return [GasRow(e, len(v), failed[e], min(v), int(statistics.median_low(v)), max(v))
            for e, v in sorted(fuel.items())]


def snapshot_text(rows: Iterable[GasRow]) -> str:
    """The snapshot file's text."""
    lines = [HEADER]
    lines += [f"{r.export} {r.calls} {r.min} {r.median} {r.max}" for r in rows]
    return "\n".join(lines) + "\n"


def write_snapshot(path: str | Path, rows: Iterable[GasRow]) -> None:
    """Write a snapshot file; raises :class:`FileError`."""
    write_file(path, snapshot_text(rows).encode("utf-8"), what="fuel snapshot")


def read_snapshot(path: str | Path) -> list[GasRow]:
    """Read a snapshot file; raises :class:`FileError` naming the bad line."""
    data = read_file(path, limit=MAX_SNAPSHOT, what="fuel snapshot")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileError(str(path), "not a fuel snapshot (not UTF-8 text)") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        words = line.split()
        try:
            if len(words) != 5:
                raise ValueError
            calls, low, mid, high = (int(w) for w in words[1:])
            if calls < 1 or not 0 <= low <= mid <= high:
                raise ValueError
        except ValueError:
            raise FileError(str(path), f"line {number} is not 'EXPORT CALLS MIN MEDIAN MAX'"
                            ) from None
        rows.append(GasRow(words[0], calls, 0, low, mid, high))
    return rows


@dataclass(frozen=True)
class GasChange:
    """One statistic of one export that differs from the snapshot."""

    export: str
    stat: str
    old: int
    new: int
    regression: bool

    @property
    def percent(self) -> float:
        return 100.0 * (self.new - self.old) / self.old if self.old else float("inf")

    def __str__(self) -> str:
        sign = "+" if self.new >= self.old else ""
        pct = f"{sign}{self.percent:.1f}%" if self.old else "new"
        return f"{self.export} {self.stat}: {self.old:,} → {self.new:,} ({pct})"


@dataclass(frozen=True)
class GasCheck:
    """A run's fuel against a snapshot: what changed, what is missing or new."""

    changes: list[GasChange]
    missing: list[str]
    added: list[str]
    tolerance: float

    @property
    def regressions(self) -> list[GasChange]:
        return [c for c in self.changes if c.regression]

    @property
    def ok(self) -> bool:
        return not self.regressions

    def lines(self) -> list[str]:
        """A readable diff: ``-`` the snapshot, ``+`` this run, one line per change."""
        out = []
        for c in self.changes:
            mark = "REGRESSION" if c.regression else (
                "improved" if c.new < c.old else "within tolerance")
            out.append(f"{mark}: {c}")
        out += [f"missing: {e} (in the snapshot, not called in this run)" for e in self.missing]
        out += [f"new: {e} (not in the snapshot)" for e in self.added]
        return out


def check(snapshot: Iterable[GasRow], rows: Iterable[GasRow], *,
          tolerance: float = 0.0) -> GasCheck:
    """Compare a run's rows with a snapshot's: a statistic above the snapshot's by more than
    ``tolerance`` percent is a regression."""
    old = {r.export: r for r in snapshot}
    new = {r.export: r for r in rows}
    changes = []
    for export in sorted(old.keys() & new.keys()):
        for stat in STATS:
            a, b = old[export].stat(stat), new[export].stat(stat)
            if a != b:
                changes.append(GasChange(export, stat, a, b, b > a * (1 + tolerance / 100)))
    return GasCheck(changes, sorted(old.keys() - new.keys()), sorted(new.keys() - old.keys()),
                    tolerance)
