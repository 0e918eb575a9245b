"""The history stays within its memory bound: the oldest traces go first, then the oldest
calls, and asking for what was dropped says so."""

from __future__ import annotations

import gc

import pytest

from runtime import MemoryStorage, Runtime
from runtime.debug import History, HistoryDropped
from tests.support import sample


def test_the_oldest_traces_then_the_oldest_calls_are_dropped() -> None:
    rt = Runtime(MemoryStorage())
    history = History(rt, max_bytes=40_000)
    token = rt.load(sample("token.wat"))
    rt.call(token, "mint", (0, 10**9))
    for _ in range(200):
        rt.call(token, "transfer", (0, 1, 1))
    assert history.size <= 40_000
    last = history.last_call
    assert len(history.trace_of(last)) == 7  # the newest keep their trace
    assert history.dropped_calls > 0
    with pytest.raises(HistoryDropped, match="dropped from the history"):
        history.entry(2)
    oldest = history.calls()[0]
    if oldest.trace_dropped:
        with pytest.raises(HistoryDropped, match="trace of call"):
            history.trace_of(oldest)
    # What is kept still rebuilds storage as it was.
    entry = history.calls()[-2]
    assert history.storage_at(entry, 0).get(b"bal:bob") == (199 - 1).to_bytes(8, "little")
    accesses, total = history.key_history(b"bal:bob", limit=2)
    assert len(accesses) == 2 and total >= 2 and accesses[-1].call_id == last.call_id


def test_a_long_history_gives_the_collector_nothing_to_walk() -> None:
    rt = Runtime(MemoryStorage())
    history = History(rt)
    token = rt.load(sample("token.wat"))
    rt.call(token, "mint", (0, 10**9))
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(3000):
        rt.call(token, "transfer", (0, 1, 1))
    gc.collect()
    assert len(history) == 3001
    assert len(gc.get_objects()) - before < 3000  # less than one tracked object per call
