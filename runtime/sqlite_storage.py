"""Persistent storage in one SQLite file.

The file is marked as SuperVM's (``PRAGMA application_id``) and carries a schema version
(``PRAGMA user_version``). Opening checks the file before writing anything to it, so pointing
SuperVM at the wrong path never damages someone else's file.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from types import TracebackType

from .errors import StorageError
from .storage import (
    CALL_COUNTER,
    Storage,
    as_bytes,
    check_limit,
    decode_counter,
    encode_counter,
    normalize_changes,
)
from .trace import StorageChange

APPLICATION_ID = 0x53564D31  # 'SVM1'
SCHEMA_VERSION = 1

SQLITE_HEADER = b"SQLite format 3\x00"
# Below this size `PRAGMA quick_check` takes milliseconds; above it opening only reads the schema.
QUICK_CHECK_MAX_BYTES = 32 * 1024 * 1024
#: Seconds a write waits for another process's transaction before it fails.
BUSY_TIMEOUT = 30.0
# SQLite's LIMIT is a signed 64-bit integer.
_MAX_LIMIT = 2**63 - 1
# items() reads this many rows per lock hold, so other threads are not starved by a long walk.
_ITEMS_BATCH = 512

_SCHEMA = {
    "kv": "CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
    "meta": "CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB NOT NULL)",
}
_COLUMNS = {"kv": ["key", "value"], "meta": ["name", "value"]}
_SQL_TYPES = {str: "TEXT", int: "INTEGER", float: "REAL", type(None): "NULL"}
# Rows SuperVM never writes: any of them means the file was edited by something else.
_FOREIGN_ROWS = (
    "SELECT 'kv' FROM kv WHERE typeof(key) != 'blob' OR typeof(value) != 'blob' "
    "UNION ALL SELECT 'meta' FROM meta WHERE typeof(name) != 'text' OR typeof(value) != 'blob' "
    "LIMIT 1"
)


def prefix_successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``.

    ``None`` when there is none (the prefix is empty or all 0xFF bytes).
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class SqliteStorage(Storage):
    """A :class:`Storage` kept in the SQLite file at ``path``, created if missing.

    Every :meth:`set`/:meth:`delete` is its own transaction and every :meth:`apply` one
    transaction, so a crash never leaves half a batch. Safe to call from several threads.
    Besides the contract's keys, the file holds named ``meta`` blobs for the embedder.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        # Reentrant so restore() can hold it across its snapshot and its apply.
        self._lock = threading.RLock()
        self._depth = 0  # nesting of the write transaction this thread holds (under _lock)
        self._conn: sqlite3.Connection | None = _open(self.path)

    # --- the Storage interface ----------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        key = as_bytes(key, "key")
        with self._connection("get") as conn:
            row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else self._blob(row[0], "value")

    def set(self, key: bytes, value: bytes) -> None:
        key, value = as_bytes(key, "key"), as_bytes(value, "value")
        with self._connection("set") as conn:
            conn.execute("INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)", (key, value))

    def delete(self, key: bytes) -> None:
        key = as_bytes(key, "key")
        with self._connection("delete") as conn:
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))

    def scan(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        prefix = as_bytes(prefix, "prefix")
        limit = min(check_limit(limit), _MAX_LIMIT)
        if limit == 0:
            return []
        upper = prefix_successor(prefix)
        with self._connection("scan") as conn:
            if upper is None:
                rows = conn.execute(
                    "SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT ?",
                    (prefix, limit),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
                    (prefix, upper, limit),
                ).fetchall()
        return [(self._blob(k, "key"), self._blob(v, "value")) for k, v in rows]

    def apply(
        self,
        changes: Iterable[tuple[bytes, bytes | None]],
        meta: Mapping[str, bytes | None] | None = None,
    ) -> None:
        """Apply a batch of writes, and optionally ``meta`` writes, in one transaction.

        A value of ``None`` deletes the key (or the meta entry). Either all of it is committed
        or none of it, even if the process dies half-way.
        """
        batch = normalize_changes(changes)
        meta_batch = _normalize_meta(meta or {})
        with self._writing("apply") as conn:
            _write_changes(conn, batch)
            _write_meta(conn, meta_batch)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every pair in key order, read in batches, so a large store is never all in memory."""
        rows = self.scan(b"", _ITEMS_BATCH)
        while rows:
            yield from rows
            if len(rows) < _ITEMS_BATCH:
                return
            with self._connection("items") as conn:
                rows = [
                    (self._blob(k, "key"), self._blob(v, "value"))
                    for k, v in conn.execute(
                        "SELECT key, value FROM kv WHERE key > ? ORDER BY key LIMIT ?",
                        (rows[-1][0], _ITEMS_BATCH),
                    )
                ]

    def __len__(self) -> int:
        with self._connection("count") as conn:
            return conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0]

    def snapshot(self) -> dict[bytes, bytes]:
        # One query, so the copy is a consistent point in time even with writers in other threads.
        with self._connection("snapshot") as conn:
            return {
                self._blob(k, "key"): self._blob(v, "value")
                for k, v in conn.execute("SELECT key, value FROM kv ORDER BY key")
            }

    def restore(self, data: Mapping[bytes, bytes]) -> None:
        with self._lock:
            super().restore(data)

    # --- embedder metadata --------------------------------------------------------------------

    def get_meta(self, name: str) -> bytes | None:
        """The meta blob called ``name``, or ``None``."""
        name = _check_meta_name(name)
        with self._connection("get_meta") as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._blob(row[0], f"meta value {name!r}")

    def set_meta(self, name: str, value: bytes | None) -> None:
        """Store the meta blob ``name``; ``None`` deletes it."""
        self.set_metas({name: value})

    def set_metas(self, meta: Mapping[str, bytes | None]) -> None:
        """Store several meta blobs in one transaction (``None`` deletes)."""
        batch = _normalize_meta(meta)
        with self._writing("set_meta") as conn:
            _write_meta(conn, batch)

    # --- committing calls, shared with other processes ---------------------------------------

    def commit(self, writes: Mapping[bytes, bytes | None], meta: Mapping[str, bytes | None],
               reads: Mapping[bytes, bytes | None] | None = None) -> list[StorageChange] | None:
        """Commit a call's writes and meta writes in one transaction (see :meth:`Storage.commit`).

        The transaction takes the file's write lock first (other processes' commits wait), so
        the check of ``reads`` and the writes see one state: no update is lost.
        """
        batch = normalize_changes(writes.items())
        meta_batch = _normalize_meta(meta)
        with self._writing("commit") as conn:
            if reads:
                for key, value in reads.items():
                    if self._value(conn, key) != value:
                        return None
            changes = []
            for key, new in batch:
                old = self._value(conn, key)
                if old != new:
                    changes.append(StorageChange(key, old, new))
            _write_changes(conn, [(c.key, c.new) for c in changes])
            _write_meta(conn, meta_batch)
        return changes

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file's write lock (other processes' writes wait); reentrant."""
        with self._writing("lock"):
            yield

    def next_call_id(self) -> int:
        with self._writing("next_call_id") as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = ?", (CALL_COUNTER,)).fetchone()
            current = decode_counter(None if row is None else self._blob(row[0], "call counter"))
            _write_meta(conn, [(CALL_COUNTER, encode_counter(current + 1))])
        return current + 1

    def _value(self, conn: sqlite3.Connection, key: bytes) -> bytes | None:
        row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else self._blob(row[0], "value")

    @contextmanager
    def _writing(self, operation: str) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: the write lock up front), or the one this thread
        already holds: nested writes commit with the outermost."""
        with self._connection(operation) as conn:
            if self._depth:
                self._depth += 1
                try:
                    yield conn
                finally:
                    self._depth -= 1
                return
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield conn
            except BaseException:
                self._depth = 0
                conn.rollback()
                raise
            self._depth = 0
            conn.execute("COMMIT")

    def meta_items(self, prefix: str = "") -> list[tuple[str, bytes]]:
        prefix = _check_meta_name(prefix)
        with self._connection("meta_items") as conn:
            if prefix:
                upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
                rows = conn.execute("SELECT name, value FROM meta WHERE name >= ? AND name < ? "
                                    "ORDER BY name", (prefix, upper)).fetchall()
            else:
                rows = conn.execute("SELECT name, value FROM meta ORDER BY name").fetchall()
        return [(name, self._blob(value, f"meta value {name!r}")) for name, value in rows]

    def meta_names(self, prefix: str = "") -> list[str]:
        """The names of the meta blobs that start with ``prefix``, sorted."""
        prefix = _check_meta_name(prefix)
        with self._connection("meta_names") as conn:
            if not prefix:
                return [name for (name,) in conn.execute("SELECT name FROM meta ORDER BY name")]
            # A range on the primary key: the event log has a row per call with events.
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            return [name for (name,) in conn.execute(
                "SELECT name FROM meta WHERE name >= ? AND name < ? ORDER BY name",
                (prefix, upper))]

    # --- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; closing twice does nothing, any other call afterwards fails."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    conn.close()
                except sqlite3.Error as exc:
                    raise self._failed("close", exc) from exc

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._conn is None

    def __enter__(self) -> SqliteStorage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " (closed)" if self._conn is None else ""
        return f"<SqliteStorage {self.path!r}{state}>"

    def _blob(self, value: object, what: str) -> bytes:
        """A stored key or value, which SuperVM only ever writes as a BLOB."""
        if type(value) is bytes:
            return value
        raise StorageError(
            f"storage {self.path}: corrupt row: a {what} stored as "
            f"{_SQL_TYPES.get(type(value), type(value).__name__)}, not as bytes")

    def _failed(self, operation: str, exc: sqlite3.Error) -> StorageError:
        return StorageError(f"storage {self.path}: {operation} failed: {_one_line(exc)}")

    @contextmanager
    def _connection(self, operation: str) -> Iterator[sqlite3.Connection]:
        """The connection, held under the lock; SQLite errors become StorageError."""
        with self._lock:
            if self._conn is None:
                raise StorageError(f"storage {self.path}: {operation} on a closed storage")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise self._failed(operation, exc) from exc


# --- opening ----------------------------------------------------------------------------------


def _open(path: str) -> sqlite3.Connection:
    """A connection to ``path``, validated as SuperVM's (or new) and then initialised."""
    size = _check_file(path)
    # Validate through a read-only connection: unlike a read-write one it never writes to the
    # file, not even the WAL checkpoint SQLite does when closing a database in WAL mode.
    if size:
        uri = Path(path).absolute().as_uri() + "?mode=ro"
        try:
            probe = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _cannot_open(path, exc) from exc
        try:
            _validate(probe, path, size)
        finally:
            probe.close()
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT)
    except sqlite3.Error as exc:
        raise _cannot_open(path, exc) from exc
    try:
        _initialise(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_file(path: str) -> int:
    """The file's size; StorageError unless it is missing, empty, or starts like SQLite's."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise _cannot_open(path, exc.strerror or exc) from exc
    if stat.S_ISDIR(info.st_mode):
        raise _cannot_open(path, "it is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise _cannot_open(path, "not a regular file")
    if info.st_size == 0:
        return 0
    try:
        with open(path, "rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise _cannot_open(path, exc.strerror or exc) from exc
    if header != SQLITE_HEADER:
        raise _cannot_open(path, "not a SQLite database")
    return info.st_size


def _validate(conn: sqlite3.Connection, path: str, size: int) -> None:
    """Raise StorageError unless the database is empty or SuperVM's, readable and sound."""
    columns: dict[str, list[str]] = {}
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        # Tables, indexes, views and triggers, less SQLite's own (sqlite_autoindex_kv_1, ...).
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE substr(name, 1, 7) != 'sqlite_'"
            )
        }
        if app_id == APPLICATION_ID and tables == set(_SCHEMA):
            columns = {
                table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
                for table in _SCHEMA
            }
        if size <= QUICK_CHECK_MAX_BYTES:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(1)")]
            if problems == ["ok"] and columns == _COLUMNS:
                foreign = conn.execute(_FOREIGN_ROWS).fetchone()
                if foreign is not None:
                    raise _cannot_open(path, f"its {foreign[0]} table holds values SuperVM does "
                                             "not write (TEXT, INTEGER, REAL or NULL, not BLOB)")
        else:
            # Too big to check cheaply; at least touch both ends of the main table.
            problems = ["ok"]
            if "kv" in tables:
                conn.execute("SELECT key FROM kv ORDER BY key LIMIT 1").fetchall()
                conn.execute("SELECT key FROM kv ORDER BY key DESC LIMIT 1").fetchall()
    except sqlite3.OperationalError as exc:  # locked, read-only, ...: the file may be fine
        raise _cannot_open(path, exc) from exc
    except UnicodeDecodeError:  # a damaged schema: its names are not text
        raise _cannot_open(path, "it is damaged (its schema holds names that are not "
                                 "UTF-8 text)") from None
    except sqlite3.DatabaseError as exc:
        raise _cannot_open(path, f"corrupt SQLite database ({exc})") from exc
    if problems != ["ok"]:
        raise _cannot_open(path, f"corrupt SQLite database ({problems[0]})")
    if app_id not in (0, APPLICATION_ID):
        raise _cannot_open(
            path,
            f"a SQLite database of another application "
            f"(application_id 0x{app_id & 0xFFFFFFFF:08X})",
        )
    if app_id == 0:
        if tables:
            listed = ", ".join(sorted(tables))
            raise _cannot_open(path, f"a SQLite database that is not SuperVM's (tables: {listed})")
        return
    if version > SCHEMA_VERSION:
        raise _cannot_open(
            path,
            f"written by a newer SuperVM (schema version {version}, "
            f"this one reads up to {SCHEMA_VERSION})",
        )
    if tables != set(_SCHEMA) or columns != _COLUMNS:
        listed = ", ".join(sorted(tables)) or "none"
        raise _cannot_open(path, f"SuperVM's mark but unexpected tables ({listed})")


def _initialise(conn: sqlite3.Connection, path: str) -> None:
    """Set the connection up, creating the schema if the file is new."""
    try:
        conn.execute("PRAGMA synchronous=NORMAL")
        with _transaction(conn):
            # Re-read under the write lock, before any write: another process may have
            # initialised the file (or replaced it) since it was validated.
            if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                    raise _cannot_open(path, "it changed while being opened")
                for sql in _SCHEMA.values():
                    conn.execute(sql)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        # Persistent in the file; a no-op once set. Not allowed inside a transaction.
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise _cannot_open(path, exc) from exc


# --- helpers ----------------------------------------------------------------------------------


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed if the block succeeds, rolled back otherwise."""
    # IMMEDIATE takes the write lock up front, so the transaction cannot fail to upgrade later.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.rollback()
        raise


def _cannot_open(path: str, problem: object) -> StorageError:
    return StorageError(f"cannot open storage {path}: {_one_line(problem)}")


def _one_line(problem: object) -> str:
    """``problem``'s text on one line (quick_check reports span several)."""
    return " ".join(str(problem).split())


def _check_meta_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"meta name must be a str, not {type(name).__name__}")
    return name


def _normalize_meta(meta: Mapping[str, bytes | None]) -> list[tuple[str, bytes | None]]:
    return [
        (_check_meta_name(name), None if value is None else as_bytes(value, "meta value"))
        for name, value in meta.items()
    ]


def _write_changes(conn: sqlite3.Connection, batch: list[tuple[bytes, bytes | None]]) -> None:
    # Runs of sets and of deletes go to SQLite whole; order between runs is kept.
    for is_delete, run in groupby(batch, key=lambda change: change[1] is None):
        if is_delete:
            conn.executemany("DELETE FROM kv WHERE key = ?", ((k,) for k, _ in run))
        else:
            conn.executemany("INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)", run)


def _write_meta(conn: sqlite3.Connection, batch: list[tuple[str, bytes | None]]) -> None:
    for name, value in batch:
        if value is None:
            conn.execute("DELETE FROM meta WHERE name = ?", (name,))
        else:
            conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, value))
