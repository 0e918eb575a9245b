"""The event log: every event of every committed call, kept in the store's meta blobs.

A committed call that emitted events adds one meta blob, ``supervm/events/<call id>``, in the
same transaction as its storage writes, so the log and the storage never disagree, also after a
crash, and several processes sharing a SQLite store all add to the one log. The log is read from
the store when asked for; a process keeps no copy of its own.

Blob format: ``0x01``, the export name (u16 length + UTF-8), then each event as u32 length +
bytes, all little-endian. Logs written by SuperVM 0.2.0's shell (``repl/events/<id>``, JSON
``[call id, export, [hex, ...]]``) are read too.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .errors import StorageError
from .outcome import LoggedEvent

if TYPE_CHECKING:
    from .storage import Storage

PREFIX = "supervm/events/"
LEGACY_PREFIX = "repl/events/"
_FORMAT = 1
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


def row_name(call_id: int) -> str:
    """The meta name of a call's events (zero-padded, so names sort in call order)."""
    return f"{PREFIX}{call_id:012d}"


def encode(export: str, events: Sequence[bytes]) -> bytes:
    name = export.encode("utf-8", "surrogatepass")[:0xFFFF]
    parts = [bytes([_FORMAT]), _U16.pack(len(name)), name]
    for data in events:
        parts += (_U32.pack(len(data)), data)
    return b"".join(parts)


def decode(call_id: int, raw: bytes) -> list[LoggedEvent]:
    """A call's logged events from its blob (StorageError if it is not one)."""
    try:
        if raw[:1] != bytes([_FORMAT]):
            raise ValueError(f"unknown format {raw[:1].hex() or 'empty'}")
        (size,), pos = _U16.unpack_from(raw, 1), 3
        export = raw[pos:pos + size].decode("utf-8", "replace")
        pos += size
        events = []
        while pos < len(raw):
            (length,) = _U32.unpack_from(raw, pos)
            pos += 4
            if pos + length > len(raw):
                raise ValueError("an event runs past the end")
            events.append(LoggedEvent(call_id, len(events), raw[pos:pos + length], export))
            pos += length
        return events
    except (ValueError, struct.error) as exc:
        raise StorageError(f"the event log entry of call #{call_id} is unreadable: {exc}"
                           ) from None


def _decode_legacy(raw: bytes) -> list[LoggedEvent]:
    try:
        call_id, export, events = json.loads(raw)
        return [LoggedEvent(int(call_id), i, bytes.fromhex(e), str(export))
                for i, e in enumerate(events)]
    except (ValueError, TypeError, AttributeError, RecursionError, OverflowError) as exc:
        raise StorageError(f"a 0.2.0 event log entry is unreadable: {exc}") from None


def _call_id(name: str) -> int:
    digits = name.rpartition("/")[2]
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 18):
        raise StorageError(f"the event log entry {name[:60]!r} is damaged: not a call number")
    return int(digits)


class EventLog:
    """The event log of one store, read from it on demand."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __iter__(self) -> Iterator[LoggedEvent]:
        store = self._storage
        rows = [(_call_id(name), raw) for name, raw in store.meta_items(PREFIX)]
        legacy = [(_call_id(name), raw) for name, raw in store.meta_items(LEGACY_PREFIX)]
        if legacy:
            rows = sorted(rows + legacy, key=lambda row: row[0])
            legacy_ids = {call_id for call_id, _ in legacy}
        for call_id, raw in rows:
            if legacy and call_id in legacy_ids and raw[:1] == b"[":
                yield from _decode_legacy(raw)
            else:
                yield from decode(call_id, raw)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return bool(self._storage.meta_names(PREFIX) or self._storage.meta_names(LEGACY_PREFIX))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventLog | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"EventLog({list(self)!r})"

    def of_call(self, call_id: int) -> list[LoggedEvent]:
        """The events call ``call_id`` committed."""
        raw = self._storage.get_meta(row_name(call_id))
        return decode(call_id, raw) if raw is not None else []

    def last_call_id(self) -> int:
        """The highest call id with logged events (0 if none)."""
        names = self._storage.meta_names(PREFIX) + self._storage.meta_names(LEGACY_PREFIX)
        return max((_call_id(n) for n in names), default=0)

    def replacing(self, events: Sequence[LoggedEvent]) -> dict[str, bytes | None]:
        """Meta writes that make the log exactly ``events`` (for restoring a saved state)."""
        store = self._storage
        meta: dict[str, bytes | None] = {
            name: None for name in store.meta_names(PREFIX) + store.meta_names(LEGACY_PREFIX)}
        by_call: dict[int, list[LoggedEvent]] = {}
        for event in events:
            by_call.setdefault(event.call_id, []).append(event)
        for call_id, logged in by_call.items():
            meta[row_name(call_id)] = encode(logged[0].export, [e.data for e in logged])
        return meta
