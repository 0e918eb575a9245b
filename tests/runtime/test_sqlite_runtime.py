"""Calls against SQLite storage: committed calls persist, failed and killed calls leave nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime import AbortError, MemoryStorage, OutOfFuelError, Runtime, SqliteStorage, TrapError
from tests.support import SAMPLES, sample

ROOT = Path(__file__).resolve().parents[2]


def test_committed_calls_survive_reopening(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with SqliteStorage(db) as storage:
        rt = Runtime(storage)
        for _ in range(3):
            rt.call(sample("counter.wat"), "increment")
    with SqliteStorage(db) as storage:
        assert Runtime(storage).call(sample("counter.wat"), "get").value == 3


def test_failed_calls_leave_the_file_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with SqliteStorage(db) as storage:
        rt = Runtime(storage)
        rt.call(sample("token.wat"), "mint", (0, 10))
        before = storage.snapshot()
        with pytest.raises(TrapError):
            rt.call(sample("token.wat"), "transfer", (0, 1, 11))
        with pytest.raises(AbortError):
            rt.call(sample("abort.wat"), "fail")
        assert storage.snapshot() == before
    with SqliteStorage(db) as storage:
        assert storage.snapshot() == before


def test_sqlite_and_memory_give_the_same_results(tmp_path: Path) -> None:
    with SqliteStorage(tmp_path / "a.db") as storage:
        results = []
        for rt in (Runtime(storage), Runtime(MemoryStorage())):
            rt.call(sample("token.wat"), "mint", (0, 50))
            r = rt.call(sample("token.wat"), "transfer", (0, 2, 20))
            results.append((r.value, r.fuel_used, r.events, r.storage_changes,
                            rt.storage.snapshot()))
        assert results[0] == results[1]


CHILD = """
import sys
from runtime import Runtime, SqliteStorage, Limits
storage = SqliteStorage(sys.argv[1])
rt = Runtime(storage, limits=Limits(fuel=10**15))
wat = open(sys.argv[2]).read()
rt.call(wat, "mint", (0, 7))
print("committed", flush=True)
spin = '''(module
  (import "storage_api" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1) (data (i32.const 0) "bal:alice")
  (func (export "f") (drop (call $set (i32.const 0) (i32.const 9) (i32.const 0) (i32.const 8)))
    (loop br 0)))'''
print("spinning", flush=True)
rt.call(spin, "f")
"""


def test_process_killed_mid_call_leaves_the_state_before_it(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(SAMPLES / "token.wat")],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "committed"
    assert child.stdout.readline().strip() == "spinning"
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait()
    with SqliteStorage(db) as storage:
        assert storage.snapshot() == {b"bal:alice": (7).to_bytes(8, "little"),
                                      b"supply": (7).to_bytes(8, "little")}


def test_out_of_fuel_with_sqlite(tmp_path: Path) -> None:
    with SqliteStorage(tmp_path / "s.db") as storage:
        rt = Runtime(storage)
        with pytest.raises(OutOfFuelError):
            rt.call(sample("loop.wat"), "spin")
        assert len(storage) == 0
