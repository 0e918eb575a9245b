"""The key-value store contracts see, and its in-memory backend.

Keys and values are byte strings, ordered by their bytes (as ``bytes`` compares them). A backend
implements :class:`Storage`'s four abstract methods; everything else has a default built on them,
which a backend may override to be faster, atomic or shared between processes.

Besides the contract's keys a store holds named *meta* blobs for the runtime and its embedder
(the event log, the call counter, the shell's chain context and snapshots). A call is committed
with :meth:`Storage.commit`: its writes and meta writes together, and only if the keys it read
still hold what it read (another process sharing the store may have changed them since).
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from sortedcontainers import SortedDict

from .errors import StorageError
from .trace import StorageChange

#: The meta blob holding the last call number given out (8 bytes, little-endian).
CALL_COUNTER = "supervm/calls"


def decode_counter(raw: bytes | None) -> int:
    """The call counter blob as a number (0 if there is none); StorageError if damaged."""
    if raw is None:
        return 0
    if len(raw) != 8:
        raise StorageError(f"the store's call counter ({CALL_COUNTER}) is damaged: "
                           f"{len(raw)} bytes, not 8")
    return int.from_bytes(raw, "little")


def encode_counter(number: int) -> bytes:
    if not 0 <= number < 2**63:
        raise StorageError(f"the store's call counter would pass 2^63 ({number})")
    return number.to_bytes(8, "little")


Change = tuple[bytes, bytes | None]
"""One write of a batch: ``(key, value)``, where a value of ``None`` deletes the key."""


def as_bytes(data: object, what: str) -> bytes:
    """``data`` as immutable ``bytes``; bytes-like input is copied, anything else is a TypeError."""
    if type(data) is bytes:
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise TypeError(
        f"storage {what} must be bytes, bytearray or memoryview, not {type(data).__name__}"
    )


def check_limit(limit: object) -> int:
    """``limit`` if it is a non-negative int; a TypeError or ValueError otherwise."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"scan limit must be an int, not {type(limit).__name__}")
    if limit < 0:
        raise ValueError(f"scan limit must be non-negative, got {limit}")
    return limit


def normalize_pairs(data: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    """``data`` as a dict of ``bytes`` to ``bytes``, in its own order; None values are rejected."""
    result: dict[bytes, bytes] = {}
    for key, value in data.items():
        if value is None:
            raise TypeError(f"storage value of key {key!r} must be bytes, not None")
        result[as_bytes(key, "key")] = as_bytes(value, "value")
    return result


def normalize_changes(changes: Iterable[tuple[bytes, bytes | None]]) -> list[Change]:
    """The batch as a list of ``(bytes, bytes | None)``, checked before anything is written."""
    result: list[Change] = []
    for index, change in enumerate(changes):
        if not isinstance(change, tuple | list) or len(change) != 2:
            raise TypeError(
                f"change #{index} must be a (key, value) pair, not {type(change).__name__}"
            )
        key, value = change
        result.append(
            (as_bytes(key, "key"), None if value is None else as_bytes(value, "value"))
        )
    return result


class Storage(ABC):
    """A pluggable, ordered key-value store of byte strings.

    Subclasses implement :meth:`get`, :meth:`set`, :meth:`delete` and :meth:`scan`; the other
    methods work on top of those and may be overridden.
    """

    @abstractmethod
    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or ``None`` if there is none."""

    @abstractmethod
    def set(self, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key``, replacing any previous value."""

    @abstractmethod
    def delete(self, key: bytes) -> None:
        """Remove ``key``; removing an absent key does nothing."""

    @abstractmethod
    def scan(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        """At most ``limit`` pairs whose key starts with ``prefix``, in ascending key order."""

    def apply(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Apply a batch of writes in order; a value of ``None`` deletes the key.

        Backends make this all-or-nothing. This default checks the whole batch first, so a
        malformed change writes nothing, but a backend failing half-way leaves the writes
        before it in place.
        """
        for key, value in normalize_changes(changes):
            if value is None:
                self.delete(key)
            else:
                self.set(key, value)

    # --- committing calls ---------------------------------------------------------------------
    # The defaults suit a store used by one process: meta blobs live in memory beside it, the
    # commit checks and writes with the four methods above.

    def commit(self, writes: Mapping[bytes, bytes | None], meta: Mapping[str, bytes | None],
               reads: Mapping[bytes, bytes | None] | None = None) -> list[StorageChange] | None:
        """Commit a call: ``writes`` (key -> new value, None deletes) and ``meta`` writes.

        With ``reads`` (key -> the value the call read, None = absent), nothing is written and
        the result is None if any of those keys now holds something else: the call must run
        again. Otherwise returns the changes made (keys whose value differs from before), in
        ``writes`` order.
        """
        with self.locked():
            if reads and any(self.get(key) != value for key, value in reads.items()):
                return None
            changes = []
            for key, new in writes.items():
                old = self.get(key)
                if old != new:
                    changes.append(StorageChange(key, old, new))
            if changes:
                self.apply([(c.key, c.new) for c in changes])
            self._meta_store().update(meta)
            for name in [n for n, v in meta.items() if v is None]:
                self._meta_store().pop(name, None)
            return changes

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store so no other writer commits meanwhile (a call re-run inside sees a
        state that cannot change before it commits). Reentrant. Default: one process, nothing
        to hold."""
        yield

    def next_call_id(self) -> int:
        """A new call number: unique and increasing for this store (across processes sharing
        it, for a backend that allows sharing)."""
        with self.locked():
            number = decode_counter(self.get_meta(CALL_COUNTER)) + 1
            self.set_meta(CALL_COUNTER, encode_counter(number))
            return number

    def skip_call_ids(self, upto: int) -> None:
        """Make later call numbers greater than ``upto`` (ids already in use elsewhere)."""
        with self.locked():
            if decode_counter(self.get_meta(CALL_COUNTER)) < upto:
                self.set_meta(CALL_COUNTER, encode_counter(upto))

    def get_meta(self, name: str) -> bytes | None:
        """The meta blob called ``name``, or ``None``."""
        return self._meta_store().get(name)

    def set_meta(self, name: str, value: bytes | None) -> None:
        """Store the meta blob ``name``; ``None`` deletes it."""
        self.set_metas({name: value})

    def set_metas(self, meta: Mapping[str, bytes | None]) -> None:
        """Store several meta blobs at once (``None`` deletes)."""
        store = self._meta_store()
        for name, value in meta.items():
            if value is None:
                store.pop(name, None)
            else:
                store[name] = as_bytes(value, "meta value")

    def meta_names(self, prefix: str = "") -> list[str]:
        """The names of the meta blobs that start with ``prefix``, sorted."""
        return sorted(n for n in self._meta_store() if n.startswith(prefix))

    def meta_items(self, prefix: str = "") -> list[tuple[str, bytes]]:
        """(name, blob) of the meta blobs whose name starts with ``prefix``, sorted by name."""
        store = self._meta_store()
        return [(n, store[n]) for n in self.meta_names(prefix)]

    def _meta_store(self) -> dict[str, bytes]:
        # Created on first use: a subclass need not call Storage.__init__.
        try:
            return self.__dict__["_supervm_meta"]  # type: ignore[no-any-return]
        except KeyError:
            return self.__dict__.setdefault("_supervm_meta", {})  # type: ignore[no-any-return]

    # --- conveniences -------------------------------------------------------------------------

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every pair, in ascending key order."""
        return iter(self.scan(b"", sys.maxsize))

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def __bool__(self) -> bool:
        # A store is a handle, not a value: `storage or MemoryStorage()` must not swap an empty
        # store for another, and truthiness must not count a whole backend.
        return True

    def snapshot(self) -> dict[bytes, bytes]:
        """A copy of every pair, in key order."""
        return dict(self.items())

    def restore(self, data: Mapping[bytes, bytes]) -> None:
        """Make the store hold exactly ``data``, with one :meth:`apply` of the writes needed."""
        wanted = normalize_pairs(data)
        current = self.snapshot()
        changes: list[tuple[bytes, bytes | None]] = [
            (key, None) for key in current if key not in wanted
        ]
        changes += [(key, value) for key, value in wanted.items() if current.get(key) != value]
        self.apply(changes)


class MemoryStorage(Storage):
    """An ordered in-memory store: get/set/delete in O(log n), a scan in O(log n + k)."""

    def __init__(
        self, data: Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]] | None = None
    ) -> None:
        self._data: SortedDict = SortedDict()
        self._calls = 0
        if data is not None:
            pairs = data.items() if isinstance(data, Mapping) else data
            self.apply(pairs)

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(as_bytes(key, "key"))

    def set(self, key: bytes, value: bytes) -> None:
        self._data[as_bytes(key, "key")] = as_bytes(value, "value")

    def delete(self, key: bytes) -> None:
        self._data.pop(as_bytes(key, "key"), None)

    def scan(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        prefix = as_bytes(prefix, "prefix")
        check_limit(limit)
        result: list[tuple[bytes, bytes]] = []
        if limit == 0:
            return result
        # Keys with the prefix form one contiguous run starting at the prefix itself.
        for key in self._data.irange(minimum=prefix):
            if not key.startswith(prefix):
                break
            result.append((key, self._data[key]))
            if len(result) == limit:
                break
        return result

    def apply(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        # Everything is checked before the first write, and the writes themselves cannot fail.
        data = self._data
        for key, value in normalize_changes(changes):
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value

    def next_call_id(self) -> int:
        self._calls += 1  # one process: a plain counter (the call path's cost matters)
        return self._calls

    def skip_call_ids(self, upto: int) -> None:
        self._calls = max(self._calls, upto)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        # A list of references, so a caller may write to the store while iterating.
        return iter(list(self._data.items()))

    def __len__(self) -> int:
        return len(self._data)

    def snapshot(self) -> dict[bytes, bytes]:
        return dict(self._data.items())

    def restore(self, data: Mapping[bytes, bytes]) -> None:
        self._data = SortedDict(normalize_pairs(data))

    def copy(self) -> MemoryStorage:
        """An independent copy of this store (its keys, meta blobs and call counter)."""
        clone = MemoryStorage()
        clone._data = self._data.copy()
        clone._calls = self._calls
        clone.set_metas(self._meta_store())
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MemoryStorage):
            return NotImplemented
        return self._data == other._data

    def __repr__(self) -> str:
        count = len(self._data)
        return f"<MemoryStorage: {count} key{'' if count == 1 else 's'}>"
