"""Storage as seen from some point in time: a store with an overlay of what differs there.

Time travel never copies the store: storage before a recorded step is the live store with the
few keys that differ then laid over it, so looking up a key or listing the first keys with a
prefix costs what changed, not the size of the store.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..storage import Storage

#: Keys listed at most when no limit is given (a view is for looking at, not exporting).
UNLIMITED = 2**62


class StorageView:
    """``base`` as it looks with ``overlay`` laid over it (a value of None: the key is absent)."""

    __slots__ = ("base", "overlay")

    def __init__(self, base: Storage, overlay: Mapping[bytes, bytes | None]) -> None:
        self.base, self.overlay = base, overlay

    def get(self, key: bytes) -> bytes | None:
        if key in self.overlay:
            return self.overlay[key]
        return self.base.get(key)

    def scan(self, prefix: bytes = b"", limit: int | None = None) -> list[tuple[bytes, bytes]]:
        """The pairs whose key starts with ``prefix``, in key order, at most ``limit``."""
        limit = UNLIMITED if limit is None else limit
        mine = sorted(k for k in self.overlay if k.startswith(prefix))
        if not mine:
            return self.base.scan(prefix, limit)
        # Keys the overlay deletes may hide as many of the base's: read that many more.
        rows = iter(self.base.scan(prefix, min(limit + len(mine), UNLIMITED)))
        out: list[tuple[bytes, bytes]] = []
        row = next(rows, None)
        i = 0
        while len(out) < limit and (row is not None or i < len(mine)):
            if row is not None and (i >= len(mine) or row[0] < mine[i]):
                out.append(row)
                row = next(rows, None)
                continue
            key = mine[i]
            i += 1
            if row is not None and row[0] == key:
                row = next(rows, None)
            value = self.overlay[key]
            if value is not None:
                out.append((key, value))
        return out
