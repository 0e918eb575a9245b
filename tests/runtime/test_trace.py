"""Rebuilding storage and events at any step of a call from its trace."""

from __future__ import annotations

from runtime import HostCall, MemoryStorage, Runtime
from runtime.trace import events_at, storage_at
from tests.support import sample


def test_state_at_every_step_of_a_transfer() -> None:
    rt = Runtime(MemoryStorage())
    token = rt.load(sample("token.wat"))
    rt.call(token, "mint", (0, 100))
    before = rt.storage.snapshot()
    result = rt.call(token, "transfer", (0, 1, 30))
    trace = result.trace

    for step in range(len(trace) + 1):
        view = storage_at(trace, step, before.get)
        writes = [e for e in trace[:step] if e.effect is not None and e.name == "storage_set"]
        alice = view(b"bal:alice")
        bob = view(b"bal:bob")
        assert alice == (70 if any(e.payloads["key"] == b"bal:alice" for e in writes)
                         else 100).to_bytes(8, "little")
        assert bob == ((30).to_bytes(8, "little")
                       if any(e.payloads["key"] == b"bal:bob" for e in writes) else None)
        assert events_at(trace, step) == [
            e.effect.data for e in trace[:step] if e.name == "emit_event"]

    final = storage_at(trace, len(trace), before.get)
    assert {k: final(k) for k in rt.storage.snapshot()} == rt.storage.snapshot()
    assert events_at(trace, len(trace)) == result.events


def test_entries_round_trip_through_json_form() -> None:
    rt = Runtime(MemoryStorage())
    trace = rt.call(sample("token.wat"), "mint", (2, 9)).trace
    assert [HostCall.from_dict(e.to_dict()) for e in trace] == trace
