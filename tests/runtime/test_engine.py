"""The engine configuration and the compiled-module disk cache."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from runtime import MemoryStorage, Runtime
from runtime.engine import EngineHandle, engine_settings
from tests.support import sample


def fresh_runtime(cache: Path) -> Runtime:
    # A new engine handle so the in-process cache does not answer first.
    rt = Runtime(MemoryStorage(), cache_dir=cache)
    rt._engine = EngineHandle(rt.limits.max_wasm_stack)
    return rt


def test_settings_are_deterministic() -> None:
    settings = engine_settings(512 * 1024)
    assert settings["cranelift_nan_canonicalization"] is True
    assert settings["wasm_relaxed_simd"] is False and settings["wasm_threads"] is False
    assert settings["consume_fuel"] is True and settings["epoch_interruption"] is True


def test_disk_cache_is_written_and_used(tmp_path: Path) -> None:
    rt = fresh_runtime(tmp_path)
    assert rt.call(sample("token.wat"), "mint", (0, 5)).value == 5
    entries = list(tmp_path.glob("*.cwasm"))
    assert len(entries) == 1
    again = fresh_runtime(tmp_path)
    assert again.call(sample("token.wat"), "mint", (0, 5)).value == 10 - 5
    assert list(tmp_path.glob("*.cwasm")) == entries


def test_damaged_cache_entry_falls_back_to_compiling(tmp_path: Path, caplog) -> None:
    fresh_runtime(tmp_path).load(sample("counter.wat"))
    (entry,) = tmp_path.glob("*.cwasm")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        rt = fresh_runtime(tmp_path)
        assert rt.call(sample("counter.wat"), "increment").value == 1
    assert "not written by SuperVM for this module and engine, or damaged" in caplog.text


def test_swapped_cache_entries_load_as_neither(tmp_path: Path, caplog) -> None:
    """An entry only loads as the module it was stored for: swapping two files recompiles."""
    fresh_runtime(tmp_path).load(sample("add.wat"))
    first = set(tmp_path.glob("*.cwasm"))
    fresh_runtime(tmp_path).load(sample("greet.wat"))
    (add_entry,) = first
    (greet_entry,) = set(tmp_path.glob("*.cwasm")) - first
    add_bytes, greet_bytes = add_entry.read_bytes(), greet_entry.read_bytes()
    add_entry.write_bytes(greet_bytes)
    greet_entry.write_bytes(add_bytes)
    with caplog.at_level(logging.WARNING):
        rt = fresh_runtime(tmp_path)
        add = rt.load(sample("add.wat"))
        assert [e.name for e in add.info.functions] == ["add"]
        assert rt.call(add, "add", (7, 8)).value == 15
        greet = rt.load(sample("greet.wat"))
        assert rt.call(greet, "greet").value == 42
    assert caplog.text.count("recompiling") == 2


def test_a_special_file_in_the_cache_is_not_read(tmp_path: Path, caplog) -> None:
    fresh_runtime(tmp_path).load(sample("add.wat"))
    (entry,) = tmp_path.glob("*.cwasm")
    entry.unlink()
    os.mkfifo(entry)
    with caplog.at_level(logging.WARNING):
        assert fresh_runtime(tmp_path).execute_add(sample("add.wat"), 1, 2) == 3
    assert "FIFO" in caplog.text


def test_foreign_cache_file_is_never_deserialized(tmp_path: Path, caplog) -> None:
    fresh_runtime(tmp_path).load(sample("add.wat"))
    (entry,) = tmp_path.glob("*.cwasm")
    entry.write_bytes(b"not ours at all")
    with caplog.at_level(logging.WARNING):
        assert fresh_runtime(tmp_path).execute_add(sample("add.wat"), 1, 2) == 3


def test_cache_key_covers_engine_config(tmp_path: Path) -> None:
    small = EngineHandle(256 * 1024)
    large = EngineHandle(1024 * 1024)
    assert small.fingerprint != large.fingerprint
    assert small._key("abc") != large._key("abc")


def pooled_runtime(monkeypatch, slots: int) -> Runtime:
    """A runtime on an engine of its own whose pool has ``slots`` instances."""
    monkeypatch.setattr("runtime.engine.POOL_SLOTS", slots)
    rt = Runtime(MemoryStorage())
    rt._engine = EngineHandle(rt.limits.max_wasm_stack)
    return rt


def test_instances_come_from_the_pooling_allocator(monkeypatch) -> None:
    rt = pooled_runtime(monkeypatch, 4)
    assert rt._engine is not None and rt._engine.settings["allocation"] == "pooling"
    # Each call gives its slot back: many more calls than slots, with memory, all succeed,
    # and the memory of a pooled slot starts zeroed and initialised again every time.
    token = rt.load(sample("token.wat"))
    for _ in range(50):
        rt.call(token, "mint", (0, 1))
    assert rt.call(token, "balance_of", (0,)).value == 50


def test_pooling_can_be_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("SUPERVM_POOLING", "0")
    settings = engine_settings(512 * 1024)
    assert settings["allocation"] == "on-demand"
    handle = EngineHandle(512 * 1024)
    assert handle.settings["allocation"] == "on-demand"
    # A different allocation is a different engine identity for the module cache.
    monkeypatch.delenv("SUPERVM_POOLING")
    assert EngineHandle(512 * 1024).fingerprint != handle.fingerprint


def test_a_full_pool_is_a_typed_limit(monkeypatch) -> None:
    from runtime import LimitExceededError
    from runtime.debug.controller import Debugger
    from runtime.debug.pausing import Paused

    first = pooled_runtime(monkeypatch, 1)
    second = Runtime(MemoryStorage())
    second._engine = first._engine
    token = first.load(sample("token.wat"))
    debugger = Debugger(first)
    debugger.add_breakpoint("storage_get", token)
    assert isinstance(debugger.call(token, "mint", (0, 5)), Paused)  # holds the only slot
    try:
        second.call(token, "mint", (0, 5))
    except LimitExceededError as error:
        assert error.limit == "instances_alive" and "instantiation" in str(error)
    else:
        raise AssertionError("a call beyond the pool's slots succeeded")
    assert second.storage.snapshot() == {}
    debugger.abort()
    assert second.call(token, "mint", (0, 5)).value == 5


def test_failed_calls_kept_by_the_caller_hold_no_instance(monkeypatch) -> None:
    from runtime import CallError

    rt = pooled_runtime(monkeypatch, 2)
    token = rt.load(sample("token.wat"))
    kept: list[CallError] = []
    for _ in range(20):  # ten times the pool: each error let its instance go
        try:
            rt.call(token, "transfer", (0, 1, 1_000))
        except CallError as error:
            kept.append(error)
    assert {e.kind for e in kept} == {"trap"}
    assert rt.call(token, "mint", (0, 5)).value == 5
