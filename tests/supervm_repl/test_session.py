"""The Session: state, calls that commit or not, snapshots, and persistence in a --db file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from runtime import (
    CallInterruptedError,
    CallResult,
    ChainContext,
    StorageError,
    TrapError,
    Value,
)
from runtime.errors import BadArgumentsError, FileError
from supervm_repl.errors import UsageError
from supervm_repl.session import Session


def last_outcome(session: Session) -> CallResult:
    """The outcome of the session's last call, as its history keeps it."""
    history = session.debugger.history
    return history.outcome_of(history.last_call)


def test_load_and_call_commits_storage_and_events(session: Session, samples: Path) -> None:
    session.load_file(samples / "events.wat")
    session.set_context(block=12345, timestamp=1704067200)
    result = session.call("run", [])
    assert result.value == 1704079545
    assert session.get(b"last_block") == (12345).to_bytes(8, "little")
    assert [e.data for e in session.runtime.event_log] == [b"UserAction", b"BlockProcessed"]
    assert [e.export for e in session.runtime.event_log] == ["run", "run"]
    assert last_outcome(session) is result and result.committed


def test_dry_run_commits_nothing(session: Session, samples: Path) -> None:
    session.load_file(samples / "counter.wat")
    result = session.call("increment", [], dry_run=True)
    assert result.value == 1 and result.storage_changes
    assert session.get(b"counter") is None
    assert session.runtime.event_log == []
    assert last_outcome(session).dry_run and not last_outcome(session).committed


def test_failed_call_is_recorded_and_commits_nothing(session: Session, samples: Path) -> None:
    session.load_file(samples / "abort.wat")
    with pytest.raises(Exception) as info:
        session.call("fail", [])
    assert info.value.kind == "abort"  # type: ignore[attr-defined]
    assert session.get(b"status") is None
    record = last_outcome(session)
    assert not record.ok and record.error is info.value and not record.committed


def test_loading_another_module_keeps_state(session: Session, samples: Path) -> None:
    session.load_file(samples / "counter.wat")
    session.call("increment", [])
    session.set_context(block=7)
    session.load_file(samples / "greet.wat")
    assert session.get(b"counter") is not None
    assert session.context.block_number == 7
    assert len(session.runtime.event_log) == 1


def test_load_errors(session: Session, samples: Path, tmp_path: Path) -> None:
    with pytest.raises(FileError):
        session.load_file(tmp_path / "missing.wat")
    with pytest.raises(FileError, match="directory"):
        session.load_file(tmp_path)
    (tmp_path / "junk.wasm").write_bytes(b"\x00\xff\xfe junk")
    with pytest.raises(Exception) as info:
        session.load_file(tmp_path / "junk.wasm")
    assert info.value.kind == "invalid_module"  # type: ignore[attr-defined]
    assert session.contract is None
    with pytest.raises(UsageError):
        session.reload()


def test_reload_reads_the_file_again(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "m.wat"
    path.write_text('(module (func (export "f") (result i32) i32.const 1))')
    session.load_file(path)
    path.write_text('(module (func (export "f") (result i32) i32.const 2))')
    session.reload()
    assert session.call("f", []).value == 2
    session.load_text('(module (func (export "g")))')
    with pytest.raises(UsageError, match="inline"):
        session.reload()


def test_ctrl_c_interrupts_a_running_call(session: Session, samples: Path) -> None:
    """KeyboardInterrupt in the waiting thread (what Ctrl-C raises) stops the call."""
    session.load_file(samples / "loop.wat")
    session.set_fuel(10**15)
    import _thread

    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    started = time.perf_counter()
    with pytest.raises(CallInterruptedError):
        session.call("spin", [])
    assert time.perf_counter() - started < 1.5
    assert not last_outcome(session).ok
    # The next call runs normally.
    session.load_text('(module (func (export "one") (result i32) i32.const 1))')
    assert session.call("one", []).value == 1


def test_context_and_fuel(session: Session) -> None:
    assert session.set_context(block=5) == ChainContext(5, 0)
    assert session.set_context(timestamp=9) == ChainContext(5, 9)
    session.set_fuel(123)
    assert session.runtime.limits.fuel == 123
    for bad in (0, 2**64, 2**64 + 5, -1):
        with pytest.raises(BadArgumentsError, match="fuel must be between 1 and 2"):
            session.set_fuel(bad)
    assert session.runtime.limits.fuel == 123
    with pytest.raises(UsageError):
        session.set_context(block=2**63)
    assert session.context == ChainContext(5, 9)


def test_direct_storage_edits(session: Session) -> None:
    assert session.set(b"k", b"v") is None
    assert session.set(b"k", b"w") == b"v"
    assert session.scan(b"k") == [(b"k", b"w")]
    assert session.delete(b"k") == b"w"
    assert session.delete(b"k") is None
    with pytest.raises(UsageError, match="max_key_size"):
        session.set(b"x" * 2000, b"")


def test_snapshots_restore_and_reset(session: Session, samples: Path) -> None:
    session.load_file(samples / "counter.wat")
    session.call("increment", [])
    session.set_context(block=10, timestamp=20)
    first = session.snapshot()
    assert first.name == "snap1"
    session.call("increment", [])
    session.set_context(block=11)
    assert session.snapshot().name == "snap2"
    session.reset()
    assert session.scan() == [] and session.runtime.event_log == []
    assert session.context == ChainContext()
    session.restore("snap1")
    assert session.get(b"counter") == (1).to_bytes(8, "little")
    assert session.context == ChainContext(10, 20)
    assert [e.data for e in session.runtime.event_log] == [b"counter=1"]
    # Call ids continue after those restored: no two events claim the same call.
    result = session.call("increment", [])
    assert result.call_id > max(e.call_id for e in first.events)
    with pytest.raises(UsageError, match="no snapshot"):
        session.restore("nope")
    with pytest.raises(UsageError, match="snapshot names"):
        session.snapshot("bad name!")
    session.delete_snapshot("snap2")
    assert sorted(session.snapshots) == ["snap1"]


def test_persistence_across_restarts(tmp_path: Path, samples: Path) -> None:
    db = tmp_path / "state.db"
    s = Session(db, block=100, timestamp=200)
    s.load_file(samples / "counter.wat")
    s.call("increment", [])
    s.call("add", [Value.of("i64", 5)])
    s.snapshot("after-add")
    s.set(b"note", b"hello")
    s.close()

    again = Session(db)
    assert again.context == ChainContext(100, 200)
    assert again.get(b"counter") == (6).to_bytes(8, "little")
    assert again.get(b"note") == b"hello"
    assert [(e.call_id, e.data) for e in again.runtime.event_log] == \
        [(1, b"counter=1"), (2, b"counter=6")]
    assert [e.export for e in again.runtime.event_log] == ["increment", "add"]
    assert sorted(again.snapshots) == ["after-add"]
    again.load_file(samples / "counter.wat")
    assert again.call("increment", []).call_id == 3
    again.restore("after-add")
    assert again.get(b"note") is None
    again.close()

    third = Session(db, block=1)  # the command line overrides the saved block
    assert third.context == ChainContext(1, 200)
    assert [e.call_id for e in third.runtime.event_log] == [1, 2]
    third.close()


def test_corrupt_db_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "bad.db"
    junk = b"SQLite format 3\x00" + bytes(range(256)) * 8
    db.write_bytes(junk)
    with pytest.raises(StorageError, match="cannot open"):
        Session(db)
    assert db.read_bytes() == junk
    other = tmp_path / "notes.txt"
    other.write_text("my notes")
    with pytest.raises(StorageError):
        Session(other)
    assert other.read_text() == "my notes"


def test_unreadable_shell_data_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    s = Session(db)
    s.storage.set_meta("repl/context", b"not json")  # type: ignore[attr-defined]
    s.close()
    with pytest.raises(StorageError, match="unreadable"):
        Session(db)


def test_failed_call_with_db_leaves_file_unchanged(tmp_path: Path, samples: Path) -> None:
    db = tmp_path / "state.db"
    s = Session(db)
    s.load_file(samples / "token.wat")
    s.call("mint", [Value.of("i32", 0), Value.of("i64", 10)])
    before = (s.storage.snapshot(), list(s.runtime.event_log))
    with pytest.raises(TrapError):
        s.call("transfer", [Value.of("i32", 0), Value.of("i32", 1), Value.of("i64", 11)])
    assert (s.storage.snapshot(), list(s.runtime.event_log)) == before
    s.close()
    again = Session(db)
    assert again.storage.snapshot() == before[0]
    assert again.runtime.event_log == before[1]
    assert [e.export for e in before[1]] == ["mint"]
    again.close()


def test_a_closed_session_leaves_no_contract_behind(samples: Path) -> None:
    """What is built from a contract (its debug and coverage builds) goes with it."""
    import gc
    import weakref

    from supervm_repl.commands import execute

    session = Session()
    for line in (f":load {samples / 'assemblyscript' / 'counter.wasm'}", ":call increment",
                 ":trace", ":first", ":next", ":coverage"):
        assert execute(session, line).ok, line
    contract = weakref.ref(session.contract)
    session.close()
    del session
    gc.collect()
    assert contract() is None
