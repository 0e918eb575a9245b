"""Debugger machinery: pausing inside host calls, time travel, key history, memory at a step."""

from __future__ import annotations

import pytest

from runtime import MemoryStorage, Runtime, StorageChange, StorageWrite, SuperVMError
from runtime.breakpoints import BreakpointError, parse
from runtime.debug import (
    CallRecord,
    Finished,
    History,
    PausableCall,
    Paused,
    ReplayDivergenceError,
    live_storage,
)
from runtime.errors import CallInterruptedError
from tests.support import sample

ALICE, BOB = b"bal:alice", b"bal:bob"


def le(n: int) -> bytes:
    return n.to_bytes(8, "little")


@pytest.fixture
def token_rt() -> tuple[Runtime, object]:
    rt = Runtime(MemoryStorage())
    token = rt.load(sample("token.wat"), name="token.wat")
    rt.call(token, "mint", (0, 100))
    return rt, token


def record_of(history: History, rt: Runtime, token: object, export: str, args: tuple) -> CallRecord:
    result = rt.call(token, export, args)
    return history.add(CallRecord(result.call_id, token, export, list(result.args),
                                  result.context, result.fuel_limit, result.trace,
                                  result.events, result.storage_changes, result))


# --- breakpoints ------------------------------------------------------------------------------


def test_breakpoint_parsing() -> None:
    bp = parse(1, 'storage_set if key == "bal:alice" and value_len >= 8')
    assert bp.func.qualname == "storage_api.storage_set"
    assert str(bp) == '#1 storage_api.storage_set if key == "bal:alice" and value_len >= 8'
    assert parse(2, "emit_event if data startswith 0x7472").clauses[0][0].literal == b"tr"
    for bad, message in [("storage_sett", "no host function"),
                         ("storage_set if", "needs a condition"),
                         ("storage_set if balance == 1", "has no 'balance'"),
                         ("storage_set if key == 5", "expected \"text\" or 0x bytes"),
                         ("storage_set if key ==", "incomplete"),
                         ("storage_set if key_len contains 0x00", "compares bytes")]:
        with pytest.raises(BreakpointError, match=message):
            parse(1, bad)


# --- pausing a live call ----------------------------------------------------------------------


def test_conditional_breakpoint_pauses_with_live_state(token_rt) -> None:
    rt, token = token_rt
    bp = parse(1, 'storage_set if key == "bal:bob"')
    call = PausableCall(rt, token, "transfer", (0, 1, 30), breakpoints=[bp], keep_memory=True)
    paused = call.start()
    assert isinstance(paused, Paused) and paused.breakpoint is bp
    assert paused.inputs["key"] == BOB and paused.inputs["value"] == le(30)
    # The live view includes the call's own earlier write (alice debited), not yet bob's.
    live = call.inspect(live_storage)
    assert live[ALICE] == le(70) and BOB not in live
    # Memory at the pause holds the bytes the contract wrote just before the host call.
    key_ptr = paused.entry.args[0]
    memory = call.inspect(lambda state: state.memory.snapshot())
    assert memory[key_ptr:key_ptr + len(BOB)] == BOB
    finished = call.resume("continue")
    assert isinstance(finished, Finished) and finished.result is not None
    assert rt.storage.get(BOB) == le(30) and bp.hits == 1


def test_abort_commits_nothing(token_rt) -> None:
    rt, token = token_rt
    before = (rt.storage.snapshot(), list(rt.event_log))
    call = PausableCall(rt, token, "transfer", (0, 1, 30), breakpoints=[parse(1, "emit_event")])
    assert isinstance(call.start(), Paused)
    finished = call.abort()
    assert isinstance(finished.error, CallInterruptedError)
    assert "aborted in the debugger" in str(finished.error)
    assert (rt.storage.snapshot(), list(rt.event_log)) == before


def test_continue_commits_what_an_uninterrupted_call_commits() -> None:
    def run(debugged: bool) -> tuple:
        rt = Runtime(MemoryStorage())
        token = rt.load(sample("token.wat"))
        rt.call(token, "mint", (0, 100))
        if debugged:
            call = PausableCall(rt, token, "transfer", (0, 1, 30), stepping=True)
            outcome = call.start()
            while isinstance(outcome, Paused):
                outcome = call.resume("step" if outcome.entry.index < 2 else "continue")
            result = outcome.result
        else:
            result = rt.call(token, "transfer", (0, 1, 30))
        return (rt.storage.snapshot(), [e.data for e in rt.event_log], result.fuel_used,
                [e.to_dict() for e in result.trace])

    assert run(True) == run(False)


def test_stepping_visits_every_host_call(token_rt) -> None:
    rt, token = token_rt
    call = PausableCall(rt, token, "transfer", (0, 1, 30), stepping=True)
    steps = []
    outcome = call.start()
    while isinstance(outcome, Paused):
        steps.append(outcome.entry.index)
        outcome = call.resume("step")
    assert steps == list(range(len(outcome.result.trace)))


# --- time travel ------------------------------------------------------------------------------


def test_storage_and_events_at_every_step_of_a_transfer(token_rt) -> None:
    rt, token = token_rt
    history = History(rt.storage)
    record = record_of(history, rt, token, "transfer", (0, 1, 30))
    write_steps = {e.effect.key: e.index for e in record.trace
                   if isinstance(e.effect, StorageWrite)}
    event_step = next(e.index for e in record.trace if e.name == "emit_event")
    for step in range(len(record.trace) + 1):
        state = history.storage_at(record, step)
        assert state[ALICE] == (le(70) if step > write_steps[ALICE] else le(100))
        assert state.get(BOB) == (le(30) if step > write_steps[BOB] else None)
        assert history.events_at(record, step) == (
            [b"transfer:alice->bob:30"] if step > event_step else [])
    changes, events = history.diff(record, 0, len(record.trace))
    assert [(c.key, c.old, c.new) for c in changes] == [(ALICE, le(100), le(70)),
                                                        (BOB, None, le(30))]
    assert events == [b"transfer:alice->bob:30"]
    back, _ = history.diff(record, len(record.trace), 0)
    assert [(c.key, c.old, c.new) for c in back] == [(ALICE, le(70), le(100)),
                                                     (BOB, le(30), None)]


def test_earlier_calls_are_seen_as_they_were(token_rt) -> None:
    rt, token = token_rt
    history = History(rt.storage)
    first = record_of(history, rt, token, "transfer", (0, 1, 30))
    record_of(history, rt, token, "transfer", (1, 2, 10))
    assert history.storage_at(first, 0)[ALICE] == le(100)
    assert BOB not in history.storage_at(first, 0)
    assert history.storage_at(first, len(first.trace))[BOB] == le(30)


def test_key_history_across_calls(token_rt) -> None:
    rt, token = token_rt
    history = History(rt.storage)
    one = record_of(history, rt, token, "transfer", (0, 1, 30))
    two = record_of(history, rt, token, "transfer", (1, 2, 10))
    accesses = history.key_history(BOB)
    assert [(a.call, a.is_write) for a in accesses] == [
        (one.number, False), (one.number, True), (two.number, False), (two.number, True)]
    writes = [a for a in accesses if a.is_write]
    assert [(a.old, a.new) for a in writes] == [(None, le(30)), (le(30), le(20))]


def test_memory_at_a_step_is_rebuilt_by_a_checked_rerun(token_rt) -> None:
    rt, token = token_rt
    history = History(rt.storage)
    record = record_of(history, rt, token, "transfer", (0, 1, 30))
    emit = next(e for e in record.trace if e.name == "emit_event")
    memory = history.memory_at(rt, record, emit.index)
    ptr, length = emit.args
    assert memory[ptr:ptr + length] == b"transfer:alice->bob:30"
    first = history.memory_at(rt, record, 0)
    assert first[ptr:ptr + length] != b"transfer:alice->bob:30"
    assert rt.storage.get(BOB) == le(30)  # re-runs never commit


def test_direct_edits_keep_time_travel_right(token_rt) -> None:
    rt, token = token_rt
    history = History(rt.storage)
    record = record_of(history, rt, token, "transfer", (0, 1, 30))
    # A direct edit after the call, recorded with its change (no contract, no trace).
    rt.storage.set(BOB, le(5))
    edit = history.add(CallRecord(0, None, "", [], record.context, 0, [], [],
                                  [StorageChange(BOB, le(30), le(5))], edit=":set"))
    assert not edit.is_call and history.record(record.number) is record
    assert history.storage_at(record, len(record.trace))[BOB] == le(30)
    assert BOB not in history.storage_at(record, 0)
    accesses = history.key_history(BOB)
    assert [(a.is_edit, a.is_write, a.new) for a in accesses][-1] == (True, True, le(5))
    with pytest.raises(SuperVMError, match="no call #0"):
        history.record(0)


def test_a_rerun_that_does_not_reproduce_the_trace_is_an_error(token_rt) -> None:
    rt, token = token_rt
    history = History(rt.storage)
    record = record_of(history, rt, token, "transfer", (0, 1, 30))
    record.trace[2].args = (0x99, 7)
    assert history.memory_at(rt, record, 2)  # steps before 2 still match
    with pytest.raises(ReplayDivergenceError, match="diverged at step 2") as info:
        history.memory_at(rt, record, 3)
    assert info.value.kind == "replay_divergence"


def test_a_call_that_cannot_start_finishes_with_its_error() -> None:
    rt = Runtime(MemoryStorage())
    contract = rt.load('(module (import "env" "nope" (func)) (func (export "f")))')
    outcome = PausableCall(rt, contract, "f", (), stepping=True).start()
    assert isinstance(outcome, Finished) and outcome.error is not None
    assert outcome.error.kind == "missing_import"


def test_breakpoints_added_while_paused_apply_to_the_call(token_rt) -> None:
    rt, token = token_rt
    breakpoints = [parse(1, "storage_get")]
    call = PausableCall(rt, token, "transfer", (0, 1, 30), breakpoints=breakpoints)
    assert call.start().entry.index == 0
    breakpoints[:] = [parse(2, "emit_event")]
    paused = call.resume("continue")
    assert isinstance(paused, Paused) and paused.breakpoint.number == 2
    assert isinstance(call.resume("continue"), Finished)
