"""Re-running a recorded call and comparing it with its recording: the one engine behind memory
at a step of a past call and behind replay bundles.

A call is deterministic: the same module, export, arguments, starting storage, chain context,
limits and fuel give the same results, fuel, events and host-call trace. :func:`re_execute` runs
a call again on a private in-memory copy of its starting storage (nothing is committed, the
caller's storage is never touched), optionally stopping just before a given host call to capture
linear memory there; :func:`compare_traces` and :func:`compare_outcomes` find the first
difference from the recording, as a :class:`Divergence`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import abi
from .config import ChainContext, Limits
from .errors import CallError, CallInterruptedError, SuperVMError
from .host import CallState
from .modules import Contract
from .runtime import Runtime
from .storage import MemoryStorage
from .trace import HostCall, format_bytes
from .values import Value


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where a re-run first differed from its recording.

    ``what`` is ``host call`` (the host call at ``step`` differs), ``number of host calls``, or
    one of the outcome's parts (``ok``, ``results``, ``events``, ``error``, ``fuel_used``);
    ``expected`` and ``actual`` describe the two sides in SuperVM's display format.
    """

    step: int
    what: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"step {self.step} ({self.what}): expected {self.expected}, got {self.actual}"

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "what": self.what, "expected": self.expected,
                "actual": self.actual}


class ReplayDivergenceError(SuperVMError):
    """A deterministic re-run did not reproduce its recording; ``divergence`` says where."""

    kind = "replay_divergence"

    def __init__(self, message: str, divergence: Divergence) -> None:
        super().__init__(message)
        self.divergence = divergence

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "divergence": self.divergence.to_dict()}


@dataclass(frozen=True, slots=True)
class Rerun:
    """What a re-run did: the host calls it made (up to the stop), how it ended, and memory."""

    trace: list[HostCall]
    #: The outcome in comparable form (see :func:`outcome_of`); None if it was stopped early.
    outcome: dict[str, Any] | None
    #: Linear memory at the stop (or at the end), when asked for.
    memory: bytes | None


class StopRerun(CallError):
    """Raised by a hook to end a re-run where it is, keeping linear memory there."""

    kind = "interrupted"

    def __init__(self, state: CallState, pending: bool) -> None:
        super().__init__("stopped at the requested point")
        self.captured = state.memory.snapshot() if state.memory is not None else b""
        #: Stopped inside a host call (its entry is in the trace but has not run).
        self.pending = pending


def re_execute(
    contract: Contract, export: str, args: Sequence[Value], *,
    storage: Mapping[bytes, bytes], context: ChainContext, limits: Limits, fuel: int,
    stop_at: int | None = None, keep_memory: bool = False,
    hook: Callable[[CallState, HostCall], None] | None = None,
    probe_hook: Callable[[CallState, int], None] | None = None,
) -> Rerun:
    """Run the call again from ``storage`` (its starting state), committing nothing.

    With ``stop_at`` the run stops just before host call number ``stop_at`` (if it gets that
    far) and ``memory`` is linear memory there; otherwise it runs to its end. ``hook`` also runs
    before every host call, ``probe_hook`` at every probe of a debug build; either may raise
    :class:`StopRerun` to end the run there. A :class:`CallInterruptedError` (the user
    pressed Ctrl-C) is raised as it is: an interrupted re-run says nothing about the
    recording.
    """
    runtime = Runtime(MemoryStorage(storage), limits=limits, context=context, trace=True)

    def before(state: CallState, entry: HostCall) -> None:
        if hook is not None:
            hook(state, entry)
        if entry.index == stop_at:
            raise StopRerun(state, pending=True)

    try:
        result = runtime.call(contract, export, args, fuel=fuel, dry_run=True,
                              hook=before if stop_at is not None or hook else None,
                              probe_hook=probe_hook, keep_memory=keep_memory)
    except StopRerun as stopped:
        return Rerun(stopped.trace[:-1] if stopped.pending else stopped.trace, None,
                     stopped.captured)
    except CallInterruptedError:
        raise
    except CallError as failed:
        return Rerun(failed.trace, outcome_of(error=failed), failed.memory)
    return Rerun(result.trace, outcome_of(result=result), result.memory)


def outcome_of(*, result: Any = None, error: CallError | None = None) -> dict[str, Any]:
    """A call's outcome as JSON-ready data (the form replay bundles record and compare)."""
    if error is not None:
        return {"ok": False, "error": error.to_dict(), "fuel_used": error.fuel_used}
    return {"ok": True, "results": [{"type": v.type, "bits": hex(v.bits)} for v in result.results],
            "events": [e.hex() for e in result.events], "fuel_used": result.fuel_used}


def compare_traces(expected: Sequence[HostCall], actual: Sequence[HostCall], *,
                   upto: int | None = None) -> Divergence | None:
    """The first difference between two traces (only their first ``upto`` host calls, if given)."""
    want = expected[:upto] if upto is not None else expected
    have = actual[:upto] if upto is not None else actual
    for a, b in zip(want, have, strict=False):
        if not same_host_call(a, b):
            return Divergence(a.index, "host call", describe(a), describe(b))
    if len(want) != len(have):
        step = min(len(want), len(have))
        first = want[step] if len(want) > step else have[step]
        side = "only recorded" if len(want) > step else "only in the re-run"
        return Divergence(step, "number of host calls", _calls(len(want)),
                          f"{_calls(len(have))} (first unmatched, {side}: {describe(first)})")
    return None


def compare_outcomes(expected: Mapping[str, Any], actual: Mapping[str, Any],
                     step: int) -> Divergence | None:
    """The first part of two outcomes (as :func:`outcome_of` gives them) that differs."""
    for key in ("ok", "results", "events", "error", "fuel_used"):
        want, have = expected.get(key), actual.get(key)
        if want != have:
            if key == "events":
                return Divergence(step, key, _events(want), _events(have))
            return Divergence(step, key, *_difference(want, have))
    return None


def same_host_call(a: HostCall, b: HostCall) -> bool:
    return (a.index, a.func, a.args, a.fuel, a.result, a.payloads, a.effect, a.error) == \
        (b.index, b.func, b.args, b.fuel, b.result, b.payloads, b.effect, b.error)


def describe(entry: HostCall) -> str:
    """One host call for a message: ``storage_api.storage_get(key_ptr=0x11, key_len=9) → 8,
    key="bal:alice" value=0x6400000000000000``."""
    fn = abi.BY_QUALNAME.get(entry.func)
    call = fn.format_call(entry.args) if fn is not None else f"{entry.func}{entry.args}"
    returned = f"failed: {entry.error}" if entry.error is not None else (
        "no result" if entry.result is None else str(entry.result))
    payloads = " ".join(f"{name}={format_bytes(data, 48)}"
                        for name, data in entry.payloads.items())
    return f"{call} → {returned}" + (f", {payloads}" if payloads else "")


def _calls(n: int) -> str:
    return f"{n} host call{'' if n == 1 else 's'}"


def _events(events: Any) -> str:
    try:
        return "[" + ", ".join(format_bytes(bytes.fromhex(e), 48) for e in events) + "]"
    except (TypeError, ValueError):
        return _show(events)


def _difference(want: Any, have: Any) -> tuple[str, str]:
    """Two values shown so that their difference is visible (dicts: only the keys that differ)."""
    if isinstance(want, dict) and isinstance(have, dict):
        keys = [k for k in dict.fromkeys([*want, *have]) if want.get(k) != have.get(k)]
        return (", ".join(f"{k}={_show(want.get(k))}" for k in keys),
                ", ".join(f"{k}={_show(have.get(k))}" for k in keys))
    return _show(want), _show(have)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        if set(value) == {"type", "bits"}:
            return f"{value['type']}:{value['bits']}"
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if not text.isprintable():  # a recording's strings are the user's: keep to one line
        text = text.encode("unicode_escape").decode("ascii")
    return text[:199] + "…" if len(text) > 200 else text
