"""SqliteStorage: persistence, transactions, refusing files that are not SuperVM's."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import StorageError
from runtime.sqlite_storage import APPLICATION_ID, SCHEMA_VERSION, SqliteStorage
from runtime.storage import MemoryStorage

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def storage(tmp_path: Path):
    with SqliteStorage(tmp_path / "state.db") as opened:
        yield opened


def _fail_on_insert_of(storage: SqliteStorage, key: bytes) -> None:
    """Make SQLite itself fail when ``key`` is written (a temp trigger: the file is untouched)."""
    storage._conn.execute(  # type: ignore[union-attr]
        f"CREATE TEMP TRIGGER fail BEFORE INSERT ON kv WHEN NEW.key = x'{key.hex()}' "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )


# --- basic use and persistence ----------------------------------------------------------------


def test_a_new_file_is_created_and_marked_as_supervms(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with SqliteStorage(path) as storage:
        assert storage.path == str(path)
        assert len(storage) == 0
        assert repr(storage) == f"<SqliteStorage {str(path)!r}>"
    assert repr(storage).endswith("(closed)>")

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_an_empty_file_is_initialised(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with SqliteStorage(path) as storage:
        storage.set(b"k", b"v")
    with SqliteStorage(path) as storage:
        assert storage.get(b"k") == b"v"


def test_reopening_gives_the_same_state(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStorage(path) as storage:
        storage.set(b"a", b"1")
        storage.set(b"b", b"2")
        storage.delete(b"a")
        storage.apply([(b"c", b"3"), (b"\xff", b"\x00")], meta={"chain": b"ctx"})
        before = storage.snapshot()
    with SqliteStorage(path) as storage:
        assert storage.snapshot() == before == {b"b": b"2", b"c": b"3", b"\xff": b"\x00"}
        assert storage.get_meta("chain") == b"ctx"


def test_get_set_delete_and_types(storage: SqliteStorage) -> None:
    storage.set(bytearray(b"k"), memoryview(b"v"))
    assert storage.get(b"k") == b"v"
    assert type(storage.get(b"k")) is bytes
    assert storage.get(b"missing") is None
    storage.delete(b"k")
    storage.delete(b"k")
    assert storage.get(b"k") is None
    with pytest.raises(TypeError, match="must be bytes"):
        storage.set("k", b"v")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be bytes"):
        storage.get("k")  # type: ignore[arg-type]


KEYS = [b"", b"\x00", b"\x00\xff", b"a", b"ab", b"b", b"\xfe\xff", b"\xff", b"\xff\x00",
        b"\xff\xff", b"\xff\xff\xff"]


@pytest.mark.parametrize(
    "prefix", [b"", b"\x00", b"a", b"\xfe", b"\xff", b"\xff\xff", b"\xff\xff\xff\xff", b"z"]
)
def test_scan_matches_memory_storage(storage: SqliteStorage, prefix: bytes) -> None:
    memory = MemoryStorage()
    for index, key in enumerate(KEYS):
        storage.set(key, bytes([index]))
        memory.set(key, bytes([index]))
    for limit in (0, 1, 2, sys.maxsize, 2**70):
        assert storage.scan(prefix, limit) == memory.scan(prefix, limit)
    with pytest.raises(ValueError):
        storage.scan(prefix, -1)


def test_items_streams_every_pair_in_order(storage: SqliteStorage) -> None:
    pairs = {i.to_bytes(2, "big"): bytes([i % 256]) for i in range(1300)}  # several batches
    storage.apply(reversed(pairs.items()))
    assert len(storage) == 1300
    assert list(storage.items()) == list(pairs.items())
    assert storage.snapshot() == pairs


def test_restore(storage: SqliteStorage) -> None:
    storage.apply([(b"a", b"1"), (b"b", b"2")])
    saved = storage.snapshot()
    storage.set(b"a", b"changed")
    storage.set(b"c", b"3")
    storage.restore(saved)
    assert storage.snapshot() == saved


# --- transactions -----------------------------------------------------------------------------


def test_apply_with_a_bad_value_in_the_middle_changes_nothing(storage: SqliteStorage) -> None:
    storage.apply([(b"a", b"1"), (b"b", b"2")])
    with pytest.raises(TypeError):
        storage.apply([(b"a", None), (b"c", b"3"), (b"d", "four"), (b"e", b"5")])
    assert storage.snapshot() == {b"a": b"1", b"b": b"2"}


def test_apply_failing_inside_sqlite_is_rolled_back(storage: SqliteStorage) -> None:
    storage.apply([(b"a", b"1"), (b"b", b"2")], meta={"m": b"old"})
    _fail_on_insert_of(storage, b"bad")
    batch = [(b"a", None), (b"c", b"3"), (b"bad", b"x"), (b"d", b"4")]
    with pytest.raises(StorageError, match="apply failed: injected failure") as caught:
        storage.apply(batch, meta={"m": b"new"})
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert str(storage.path) in str(caught.value)
    assert storage.snapshot() == {b"a": b"1", b"b": b"2"}
    assert storage.get_meta("m") == b"old"
    storage.set(b"after", b"ok")  # the connection is usable again
    assert storage.get(b"after") == b"ok"


def test_errors_during_use_name_the_operation(storage: SqliteStorage) -> None:
    _fail_on_insert_of(storage, b"bad")
    with pytest.raises(StorageError, match=r"set failed") as caught:
        storage.set(b"bad", b"x")
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_a_killed_process_leaves_the_state_before_the_apply(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStorage(path) as storage:
        storage.apply([(b"keep", b"1"), (b"0001", b"old")], meta={"m": b"old"})
        before = storage.snapshot()
    child = textwrap.dedent(
        f"""
        import os
        from runtime.sqlite_storage import SqliteStorage

        storage = SqliteStorage({str(path)!r})
        conn = storage._conn
        # A tiny page cache makes SQLite spill the open transaction into the WAL before dying.
        conn.execute("PRAGMA cache_size = 5")
        conn.create_function("die", 0, lambda: os._exit(9))
        conn.execute(
            "CREATE TEMP TRIGGER die AFTER INSERT ON kv WHEN NEW.key = x'{b"3000".hex()}' "
            "BEGIN SELECT die(); END"
        )
        storage.apply(
            [(b"keep", None)] + [(b"%04d" % i, os.urandom(512)) for i in range(4000)],
            meta={{"m": b"new"}},
        )
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", child],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 9, result.stderr.decode()
    assert os.path.getsize(f"{path}-wal") > 100 * 4096  # the dead transaction reached the disk
    with SqliteStorage(path) as storage:
        assert storage.snapshot() == before
        assert storage.get_meta("m") == b"old"


# --- meta -------------------------------------------------------------------------------------


def test_meta(storage: SqliteStorage) -> None:
    assert storage.get_meta("chain") is None
    storage.set_meta("chain", b"\x01\x02")
    storage.set_meta("snapshot:a", b"A")
    storage.set_meta("snapshot:b", bytearray(b"B"))
    assert storage.get_meta("chain") == b"\x01\x02"
    assert storage.meta_names() == ["chain", "snapshot:a", "snapshot:b"]
    assert storage.meta_names("snapshot:") == ["snapshot:a", "snapshot:b"]
    storage.set_meta("snapshot:a", None)
    storage.set_meta("absent", None)
    assert storage.meta_names("snapshot:") == ["snapshot:b"]
    storage.apply([], meta={"chain": None, "snapshot:c": b"C"})
    assert storage.meta_names() == ["snapshot:b", "snapshot:c"]
    assert len(storage) == 0  # meta is not contract storage
    with pytest.raises(TypeError):
        storage.set_meta(b"name", b"v")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        storage.set_meta("name", "text")  # type: ignore[arg-type]


# --- lifetime and threads ---------------------------------------------------------------------


def test_close_is_idempotent_and_use_after_close_fails(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "state.db")
    storage.close()
    storage.close()
    assert storage.closed
    with pytest.raises(StorageError, match="closed"):
        storage.get(b"k")


def test_calls_from_several_threads(storage: SqliteStorage) -> None:
    def write(thread: int) -> None:
        for i in range(50):
            storage.set(bytes([thread, i]), b"x")
        storage.apply((bytes([thread, 100 + i]), b"y") for i in range(50))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(storage) == 400


# --- files that are not SuperVM's -------------------------------------------------------------


def _sqlite_file(path: Path, statements: list[str]) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(8192))


def _text_file(path: Path) -> None:
    path.write_text("SQLite is a nice database, but this is a text file.\n" * 20)


def _foreign_tables(path: Path) -> None:
    _sqlite_file(path, ["CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)",
                        "INSERT INTO users(name) VALUES ('ada')"])


def _foreign_application_id(path: Path) -> None:
    _sqlite_file(path, ["PRAGMA application_id = 1234",
                        "CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
                        "CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB NOT NULL)"])


def _our_mark_with_extra_table(path: Path) -> None:
    with SqliteStorage(path):
        pass
    _sqlite_file(path, ["PRAGMA journal_mode = DELETE", "CREATE TABLE extra(x)"])


def _newer_schema(path: Path) -> None:
    with SqliteStorage(path):
        pass
    _sqlite_file(
        path, ["PRAGMA journal_mode = DELETE", f"PRAGMA user_version = {SCHEMA_VERSION + 1}"]
    )


def _corrupt_pages(path: Path) -> None:
    """A real SuperVM database whose pages after the first are overwritten with junk."""
    with SqliteStorage(path) as storage:
        storage.apply((i.to_bytes(4, "big"), b"v" * 200) for i in range(500))
    _sqlite_file(path, ["PRAGMA journal_mode = DELETE"])  # everything in the main file
    data = bytearray(path.read_bytes())
    junk = random.Random(2).randbytes(len(data) - 4096)
    data[4096:] = junk
    path.write_bytes(bytes(data))


def _truncated(path: Path) -> None:
    _corrupt_pages(path)
    path.write_bytes(path.read_bytes()[:1000])


def _schema_not_text(path: Path) -> None:
    """A SuperVM database one of whose schema names has bytes that are not UTF-8."""
    with SqliteStorage(path):
        pass
    _sqlite_file(path, ["PRAGMA journal_mode = DELETE", "CREATE TABLE extra_\u00e9(x)"])
    data = path.read_bytes()
    path.write_bytes(data.replace("extra_\u00e9".encode(), b"extra_\xc3\x28"))


def _header_only(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)


BAD_FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "random bytes": (_random_bytes, "not a SQLite database"),
    "text file": (_text_file, "not a SQLite database"),
    "foreign tables": (_foreign_tables, "not SuperVM's .*users"),
    "foreign application_id": (_foreign_application_id, "another application .*0x000004D2"),
    "our mark, extra table": (_our_mark_with_extra_table, "unexpected tables"),
    "newer schema": (_newer_schema, "newer SuperVM"),
    "corrupt pages": (_corrupt_pages, "corrupt"),
    "truncated": (_truncated, "corrupt"),
    "header only": (_header_only, "corrupt"),
    "schema names not text": (_schema_not_text, "not UTF-8 text"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_file_is_refused_and_left_untouched(tmp_path: Path, kind: str) -> None:
    make, reason = BAD_FILES[kind]
    path = tmp_path / "bad.db"
    make(path)
    before = path.read_bytes()
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(StorageError, match=reason) as caught:
        SqliteStorage(path)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -wal, -shm or -journal left behind


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is a directory") as caught:
        SqliteStorage(tmp_path)
    assert str(tmp_path) in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir.db"
    with pytest.raises(StorageError, match="cannot open storage") as caught:
        SqliteStorage(path)
    assert str(path) in str(caught.value)


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="needs file permissions to apply"
)
def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with SqliteStorage(path):
        pass
    path.chmod(0)
    try:
        with pytest.raises(StorageError, match="Permission denied") as caught:
            SqliteStorage(path)
        assert str(path) in str(caught.value)
    finally:
        path.chmod(0o600)


# --- SqliteStorage against MemoryStorage ------------------------------------------------------

keys = st.lists(st.sampled_from([0x00, 0x01, 0xFE, 0xFF]), max_size=3).map(bytes)
values = st.binary(max_size=3)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), keys, values),
        st.tuples(st.just("delete"), keys),
        st.tuples(st.just("get"), keys),
        st.tuples(st.just("scan"), keys, st.integers(min_value=0, max_value=5)),
        st.tuples(st.just("apply"), st.lists(st.tuples(keys, st.none() | values), max_size=5)),
    ),
    max_size=25,
)


@settings(max_examples=40, derandomize=True, database=None, deadline=None)
@given(ops=operations)
def test_sqlite_storage_behaves_like_memory_storage(ops: list[tuple]) -> None:
    memory = MemoryStorage()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "state.db"
        with SqliteStorage(path) as sqlite:
            for name, *args in ops:
                assert getattr(sqlite, name)(*args) == getattr(memory, name)(*args)
            assert sqlite.snapshot() == memory.snapshot()
            assert list(sqlite.items()) == list(memory.items())
            assert len(sqlite) == len(memory)
        with SqliteStorage(path) as reopened:
            assert reopened.snapshot() == memory.snapshot()


@pytest.mark.parametrize("row", ["('t', x'00')", "(x'01', 'text')", "(x'02', 5)", "(x'03', 1.5)",
                                 "(7, x'00')"])
def test_rows_supervm_never_writes_are_refused(tmp_path: Path, row: str) -> None:
    path = tmp_path / "x.db"
    store = SqliteStorage(path)
    store.set(b"k", b"v")
    store.close()
    conn = sqlite3.connect(path)
    conn.execute(f"INSERT INTO kv VALUES {row}")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="its kv table holds values SuperVM does not write"):
        SqliteStorage(path)


def test_a_foreign_row_in_a_large_file_fails_on_reading(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import runtime.sqlite_storage as module

    path = tmp_path / "x.db"
    store = SqliteStorage(path)
    store.set(b"k", b"v")
    store.set_meta("m", b"x")
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO kv VALUES (x'01', 'text')")
    conn.execute("UPDATE meta SET value = 'text' WHERE name = 'm'")
    conn.commit()
    conn.close()
    monkeypatch.setattr(module, "QUICK_CHECK_MAX_BYTES", 0)  # as if the file were huge
    store = SqliteStorage(path)
    assert store.get(b"k") == b"v"
    for read in (lambda: store.get(b"\x01"), lambda: store.snapshot(),
                 lambda: store.scan(b"", 10), lambda: store.get_meta("m")):
        with pytest.raises(StorageError, match=r"corrupt row: a (meta )?value.* stored as TEXT"):
            read()
    store.close()
