"""Where the user is in a debugging session, as one object: the live state, a paused call, or a
step of a recorded call. Each answers the same questions (storage, events, memory, the trace,
the host call here) for its place, so the shell's commands never ask which case they are in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import abi
from ..debuginfo import SourceLocation
from ..errors import UsageError
from ..modules import Contract
from ..trace import EventEmit, HostCall, StorageWrite
from ..values import Value
from .history import Entry, History
from .pausing import PausableCall, Paused
from .source import SourceFrame, Stop
from .views import StorageView


@dataclass(frozen=True)
class Focus:
    """The point the debugger looks at.

    ``state`` is ``live``, ``paused`` (a running call stopped before host call ``step``) or
    ``history`` (just before step ``step`` of recorded call ``call_id``; ``step == steps`` is
    after its last host call). ``entry`` is the host call there (for a paused call it has not
    run yet, and ``inputs`` are the bytes it is about to read).
    """

    state: str
    #: The call here (at the live state: the last call; None if there was none).
    call_id: int | None
    export: str
    args: list[Value]
    step: int | None
    steps: int | None
    entry: HostCall | None
    inputs: dict[str, bytes]
    #: The call's trace was cut at ``max_trace``.
    truncated: bool
    _storage: Callable[[], StorageView]
    _events: Callable[[], list[bytes]]
    _trace: Callable[[], list[HostCall]]
    _memory: Callable[[int, int], tuple[bytes, int]]
    #: Where in the source this is (None without debug information, or at the live state).
    stop: Stop | None = None
    #: The contract of the call here (its debug information gives the source text).
    contract: Contract | None = None
    #: Where each host call of the trace was made (empty without debug information).
    _sites: Callable[[], Sequence[Stop | None]] = lambda: ()

    @property
    def location(self) -> SourceLocation | None:
        return self.stop.location if self.stop is not None else None

    @property
    def stack(self) -> tuple[SourceFrame, ...]:
        """The call stack here, innermost first (empty without debug information)."""
        return self.stop.stack if self.stop is not None else ()

    def sites(self) -> list[SourceLocation | None]:
        """The source line each host call of :meth:`trace` was made from (None where not
        known); computed on first use (for a finished call: a re-run on its debug build)."""
        return [s.location if s is not None else None for s in self._sites()]

    def source_line(self, location: SourceLocation) -> str | None:
        """The text of a source line of the contract here, if its source can be found."""
        sm = self.contract.source_map if self.contract is not None else None
        return sm.source_line(location) if sm is not None and sm.error is None else None

    @property
    def pending(self) -> bool:
        """The host call here has not run yet (a paused call)."""
        return self.state == "paused"

    @property
    def label(self) -> str:
        """A heading for views of this point (empty at the live state)."""
        if self.state == "live":
            return ""
        what = f"call #{self.call_id} {self.export}"
        at = f" at {self.location}" if self.location is not None else ""
        if self.entry is None:
            if self.stop is not None and self.stop.kind == "line":
                where = f"{at.strip()} (before step {self.step})"
                return f"paused: {what}, {where}" if self.state == "paused" else f"{what}, {where}"
            return f"{what}, after its last host call"
        where = f"before step {self.step} ({self.entry.name}){at}"
        return f"paused: {what}, {where}" if self.state == "paused" else f"{what}, {where}"

    def at(self) -> dict[str, Any]:
        """The ``at`` object of the shell's JSON output."""
        if self.state == "live":
            return {"state": "live"}
        if self.state == "paused":
            return {"state": "paused", "call_id": self.call_id, "step": self.step}
        return {"state": "history", "call_id": self.call_id, "step": self.step,
                "steps": self.steps}

    def storage(self) -> StorageView:
        """Storage here (a paused call's own writes so far included)."""
        return self._storage()

    def events(self) -> list[bytes]:
        """The events the call had emitted here (at the live state: the last call's)."""
        return self._events()

    def trace(self) -> list[HostCall]:
        """The host calls of the call here, so far (at the live state: the last call's; a
        :class:`UsageError` if there was no call)."""
        if self.call_id is None:
            raise UsageError("no call yet: :call one first, then its host calls can be "
                             "walked through")
        return self._trace()

    def memory(self, address: int, length: int) -> tuple[bytes, int]:
        """``length`` bytes of linear memory at ``address`` here, and the memory's size."""
        return self._memory(address, length)

    @property
    def changing(self) -> dict[bytes, bytes | None]:
        """The keys the host call here writes, with their new value (None: deleted)."""
        entry = self.entry
        if entry is None:
            return {}
        if self.state != "paused":
            effect = entry.effect
            return {effect.key: effect.new} if isinstance(effect, StorageWrite) else {}
        fn = abi.BY_QUALNAME.get(entry.func)
        if fn is None or fn.effect not in ("write", "delete") or "key" not in self.inputs:
            return {}
        return {self.inputs["key"]: self.inputs.get("value") if fn.effect == "write" else None}

    @property
    def emitting(self) -> bytes | None:
        """The event the host call here emits."""
        entry = self.entry
        if entry is None:
            return None
        if self.state != "paused":
            return entry.effect.data if isinstance(entry.effect, EventEmit) else None
        fn = abi.BY_QUALNAME.get(entry.func)
        return self.inputs.get("data") if fn is not None and fn.effect == "emit" else None


def live_focus(history: History, memory: Callable[[Entry, int], bytes],
               sites: Callable[[Entry], Sequence[Stop | None]] | None = None) -> Focus:
    last = history.last_call
    runtime = history.runtime
    outcome = history.outcome_of(last) if last is not None else None

    def trace() -> list[HostCall]:
        return [] if last is None else history.trace_of(last)

    def events() -> list[bytes]:
        return [] if outcome is None else list(outcome.events)

    def read(address: int, length: int) -> tuple[bytes, int]:
        if last is None:
            return b"", 0
        data = memory(last, len(history.trace_of(last)))
        return data[address:address + length], len(data)

    return Focus("live", None if last is None else last.call_id,
                 "" if last is None else last.export, [] if outcome is None else outcome.args,
                 None, None, None, {}, bool(outcome and outcome.trace_truncated),
                 lambda: StorageView(runtime.storage, {}), events, trace, read, None,
                 None if outcome is None else outcome.contract,
                 (lambda: sites(last)) if sites is not None and last is not None else
                 lambda: ())


def paused_focus(history: History, call: PausableCall, paused: Paused, export: str,
                 args: list[Value]) -> Focus:
    runtime = history.runtime

    def read(address: int, length: int) -> tuple[bytes, int]:
        def take(state: Any) -> tuple[bytes, int]:
            if state.memory is None:
                return b"", 0
            view = state.memory.view()
            return bytes(view[address:address + length]), len(view)
        return call.inspect(take)  # type: ignore[no-any-return]

    # The call's thread is blocked while paused: its writes, events and trace can be read here.
    state: Any = call.inspect(lambda s: s)
    return Focus("paused", paused.call_id, export, args, paused.step, None, paused.entry,
                 paused.inputs, state.trace_truncated,
                 lambda: StorageView(runtime.storage, dict(state.writes)),
                 lambda: list(state.events), lambda: list(state.trace), read, paused.stop,
                 call.contract, lambda: list(call.host_sites))


def step_focus(history: History, entry: Entry, step: int,
               memory: Callable[[Entry, int], bytes], stop: Stop | None = None,
               line_memory: Callable[[Entry, Stop], bytes] | None = None,
               sites: Callable[[Entry], Sequence[Stop | None]] | None = None) -> Focus:
    """The focus at host-call step ``step`` of a recorded call, or (``stop`` of kind ``line``)
    at a source line of it, ``step`` host calls done."""
    outcome = history.outcome_of(entry)
    trace = history.trace_of(entry)
    at_line = stop is not None and stop.kind == "line"

    def read(address: int, length: int) -> tuple[bytes, int]:
        if at_line and line_memory is not None:
            data = line_memory(entry, stop)  # type: ignore[arg-type]
        else:
            data = memory(entry, step)
        return data[address:address + length], len(data)

    host = trace[step] if step < len(trace) and not at_line else None
    return Focus("history", entry.call_id, entry.export, outcome.args, step, len(trace), host,
                 {}, outcome.trace_truncated, lambda: history.storage_at(entry, step),
                 lambda: history.events_at(entry, step), lambda: trace, read, stop,
                 outcome.contract, (lambda: sites(entry)) if sites is not None else lambda: ())
