"""The debug controller without a shell: breakpoints, pausing, stepping, the cursor, the focus."""

from __future__ import annotations

import pytest

from runtime import CallInterruptedError, MemoryStorage, Runtime, StorageWrite
from runtime.debug import Debugger, Finished, PausableCall, Paused, ReplayDivergenceError
from runtime.debug.breakpoints import Breakpoints
from runtime.errors import UsageError
from tests.support import sample

ALICE, BOB = b"bal:alice", b"bal:bob"


def le(n: int) -> bytes:
    return n.to_bytes(8, "little")


@pytest.fixture
def dbg() -> Debugger:
    rt = Runtime(MemoryStorage())
    debugger = Debugger(rt)
    debugger.token = rt.load(sample("token.wat"), name="token.wat")  # type: ignore[attr-defined]
    debugger.call(debugger.token, "mint", (0, 100))  # type: ignore[attr-defined]
    return debugger


def transfer(dbg: Debugger, *args: int, **options: object) -> object:
    return dbg.call(dbg.token, "transfer", args or (0, 1, 30), **options)  # type: ignore[attr-defined]


# --- pausing a live call ------------------------------------------------------------------------


def test_a_conditional_breakpoint_pauses_with_the_live_state(dbg: Debugger) -> None:
    bp = dbg.breakpoints.add('storage_set if key == "bal:bob"')
    paused = transfer(dbg)
    assert isinstance(paused, Paused) and paused.breakpoint is bp and paused.call_id == 2
    assert paused.inputs["key"] == BOB and paused.inputs["value"] == le(30)
    focus = dbg.focus
    assert focus.state == "paused" and focus.at() == {"state": "paused", "call_id": 2,
                                                      "step": paused.entry.index}
    # The call's own earlier write (alice debited) is visible, bob's not yet.
    assert focus.storage().get(ALICE) == le(70) and focus.storage().get(BOB) is None
    assert focus.changing == {BOB: le(30)}
    key_ptr = paused.entry.args[0]
    assert focus.memory(key_ptr, len(BOB))[0] == BOB
    finished = dbg.resume("continue")
    assert finished.value == 1 and dbg.runtime.storage.get(BOB) == le(30) and bp.hits == 1
    assert dbg.paused is None and dbg.focus.state == "live"


def test_abort_commits_nothing_and_is_recorded_as_failed(dbg: Debugger) -> None:
    rt = dbg.runtime
    before = (rt.storage.snapshot(), list(rt.event_log))
    dbg.breakpoints.add("emit_event")
    assert isinstance(transfer(dbg), Paused)
    for refused in (lambda: transfer(dbg), lambda: dbg.back(), lambda: dbg.goto("1.0")):
        with pytest.raises(UsageError, match="paused"):
            refused()
    paused, error = dbg.abort()
    assert isinstance(error, CallInterruptedError) and "aborted in the debugger" in str(error)
    assert (rt.storage.snapshot(), list(rt.event_log)) == before
    last = dbg.history.outcome_of(dbg.history.last_call)
    assert last.call_id == paused.call_id and not last.ok and not last.committed


def test_debugging_changes_nothing(dbg: Debugger) -> None:
    """Results, fuel, events, storage changes and trace are the same stepped or plain."""
    plain_rt = Runtime(MemoryStorage())
    plain = Debugger(plain_rt)
    token = plain_rt.load(sample("token.wat"))
    plain.call(token, "mint", (0, 100))
    expected = plain.call(token, "transfer", (0, 1, 30))
    outcome = transfer(dbg, step=True)
    # Stopped at what comes first, a source line or a host call, and knows where it is.
    assert isinstance(outcome, Paused)
    assert outcome.stop is not None and outcome.stop.location.file == "token.wat"
    assert outcome.stop.stack[-1].function == "transfer"
    steps = []
    while isinstance(outcome, Paused):
        if outcome.entry is not None:
            steps.append(outcome.entry.index)
        outcome = dbg.resume("step")
    assert steps == list(range(len(expected.trace)))
    for field in ("results", "fuel_used", "events", "storage_changes"):
        assert getattr(outcome, field) == getattr(expected, field), field
    assert [e.to_dict() for e in outcome.trace] == [e.to_dict() for e in expected.trace]
    assert dbg.runtime.storage.snapshot() == plain_rt.storage.snapshot()


def test_breakpoint_table_like_bdb(dbg: Debugger) -> None:
    table = dbg.breakpoints
    get = table.add("storage_get")
    emit = table.add("emit_event", temporary=True)
    table.enable(get.number, False)
    assert table.active  # the temporary one is enabled
    paused = transfer(dbg)
    assert paused.breakpoint is emit and emit.number not in [b.number for b in table]
    dbg.resume("continue")
    table.enable(get.number)
    table.set_ignore(get.number, 1)
    paused = transfer(dbg, 1, 2, 5)
    assert paused.entry.index == 2 and get.hits == 2 and get.ignore == 0
    dbg.abort()
    table.set_condition(get.number, 'key == "bal:carol"')
    paused = transfer(dbg, 1, 2, 5)
    assert paused.inputs["key"] == b"bal:carol"
    dbg.abort()
    with pytest.raises(UsageError, match="no breakpoint #99"):
        table.remove(99)
    assert [b.number for b in table.clear()] == [get.number] and not table.active


def test_breakpoints_added_while_paused_apply_to_the_call(dbg: Debugger) -> None:
    dbg.breakpoints.add("storage_get")
    assert transfer(dbg).entry.index == 0
    dbg.breakpoints.clear()
    dbg.breakpoints.add("emit_event")
    paused = dbg.resume("continue")
    assert isinstance(paused, Paused) and paused.entry.name == "emit_event"
    assert dbg.resume("continue").value == 1


def test_a_call_that_cannot_start_finishes_with_its_error() -> None:
    rt = Runtime(MemoryStorage())
    contract = rt.load('(module (import "env" "nope" (func)) (func (export "f")))')
    outcome = PausableCall(rt, contract, "f", (), stepping=True,
                           breakpoints=Breakpoints()).start()
    assert isinstance(outcome, Finished) and outcome.error is not None
    assert outcome.error.kind == "missing_import"


# --- time travel --------------------------------------------------------------------------------


def test_storage_and_events_at_every_step_of_a_transfer(dbg: Debugger) -> None:
    result = transfer(dbg)
    write_steps = {e.effect.key: e.index for e in result.trace
                   if isinstance(e.effect, StorageWrite)}
    event_step = next(e.index for e in result.trace if e.name == "emit_event")
    for step in range(len(result.trace) + 1):
        dbg.goto(f"2.{step}")
        focus = dbg.focus
        view = focus.storage()
        assert view.get(ALICE) == (le(70) if step > write_steps[ALICE] else le(100))
        assert view.get(BOB) == (le(30) if step > write_steps[BOB] else None)
        assert focus.events() == ([b"transfer:alice->bob:30"] if step > event_step else [])
    assert dbg.position is None  # after the latest call's last host call: the live state
    changes, events = dbg.history.diff(dbg.history.entry(2), 0, len(result.trace))
    assert [(c.key, c.old, c.new) for c in changes] == [(ALICE, le(100), le(70)),
                                                        (BOB, None, le(30))]
    assert events == [b"transfer:alice->bob:30"]


def test_earlier_calls_and_edits_are_seen_as_they_were(dbg: Debugger) -> None:
    transfer(dbg)
    transfer(dbg, 1, 2, 10)
    dbg.runtime.edit({BOB: le(5)}, label=":set")
    first = dbg.history.entry(2)
    assert dbg.history.storage_at(first, 0).get(ALICE) == le(100)
    assert dbg.history.storage_at(first, 0).get(BOB) is None
    assert dbg.history.storage_at(first, 6).get(BOB) == le(30)
    accesses, total = dbg.history.key_history(BOB)
    assert total == 5 and [(a.call_id, a.is_write) for a in accesses] == [
        (2, False), (2, True), (3, False), (3, True), (None, True)]
    assert accesses[-1].is_edit and accesses[-1].new == le(5)
    assert [(a.old, a.new) for a in accesses if a.call_id == 3 and a.is_write] == \
        [(le(30), le(20))]
    with pytest.raises(UsageError, match="no call #9"):
        dbg.history.entry(9)


def test_the_cursor_moves_and_returns_to_live(dbg: Debugger) -> None:
    transfer(dbg)
    assert dbg.back().step == 5 and dbg.position is not None
    assert dbg.first().step == 0 and dbg.focus.state == "history"
    assert dbg.forward(2).step == 2
    assert dbg.forward(99).live and dbg.position is None
    assert dbg.goto("1.0").entry.call_id == 1
    for bad in ("1.inf0", ".3", "9.9/x", "1."):
        with pytest.raises(UsageError, match="TARGET is"):
            dbg.goto(bad)
    with pytest.raises(UsageError, match="no call #9"):
        dbg.goto("9.1")
    dbg.live()
    assert dbg.focus.at() == {"state": "live"}


def test_memory_at_a_step_is_rebuilt_by_a_checked_rerun(dbg: Debugger) -> None:
    result = transfer(dbg)
    emit = next(e for e in result.trace if e.name == "emit_event")
    entry = dbg.history.entry(2)
    ptr, length = emit.args
    assert dbg.memory_at(entry, emit.index)[ptr:ptr + length] == b"transfer:alice->bob:30"
    assert dbg.memory_at(entry, 0)[ptr:ptr + length] != b"transfer:alice->bob:30"
    assert dbg.focus.memory(ptr, length)[0] == b"transfer:alice->bob:30"  # the end, at live
    assert dbg.runtime.storage.get(BOB) == le(30)  # re-runs never commit
    dbg.history.outcome_of(entry).trace[2].args = (0x99, 7)  # as if recorded otherwise
    assert dbg.history.memory_at(entry, 2, dbg.runtime.limits)  # steps before 2 still match
    with pytest.raises(ReplayDivergenceError, match="diverged at step 2") as info:
        dbg.history.memory_at(entry, 3, dbg.runtime.limits)
    assert info.value.kind == "replay_divergence"


def test_a_deep_recursion_is_walked_by_lines_in_linear_time() -> None:
    """A stack overflow runs thousands of levels deep: recording its lines shares the stack
    between moments instead of copying it at each one."""
    import time

    from runtime.errors import CallError

    rt = Runtime(MemoryStorage())
    dbg = Debugger(rt)
    loop = rt.load(sample("loop.wat"), name="loop.wat")
    with pytest.raises(CallError):
        dbg.call(loop, "recurse", (0,))
    started = time.perf_counter()
    timeline = dbg.timeline(dbg.history.last_call)
    assert time.perf_counter() - started < 10
    deepest = max(s.depth for s in timeline.stops)
    assert deepest > 1000
    position = dbg.by_line("rnext")
    assert dbg.focus.stack[0].function == "recurse" and position.stop is not None
    assert len(dbg.focus.stack) == timeline.stops[position.stop].depth
