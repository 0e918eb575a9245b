"""The shell's debugger state: breakpoints, the paused call, and the time-travel cursor.

The machinery is :mod:`runtime.debug` (pausing, rebuilding state at a step, re-runs) and
:mod:`runtime.breakpoints`; this module keeps what the shell needs between commands: which call
is paused, where the cursor is, and the memory re-runs already rebuilt.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from runtime import (
    CallError,
    CallResult,
    Contract,
    EventEmit,
    HostCall,
    StorageWrite,
    SuperVMError,
    Value,
)
from runtime.breakpoints import Breakpoint, parse
from runtime.debug import CallRecord, Finished, PausableCall, Paused, live_storage
from runtime.literals import shorten

from .errors import UsageError

if TYPE_CHECKING:
    from runtime.host import CallState

    from .session import Session

T = TypeVar("T")

#: A :goto target: ``STEP``, ``CALL.STEP`` or ``end`` (``#`` before CALL allowed).
_TARGET = re.compile(r"(?:#?(?P<call>[0-9]{1,18})\.)?(?P<step>[0-9]{1,18}|end)")

#: Re-built memories kept (each is the whole linear memory of a call at a step).
MEMORY_CACHE = 8


@dataclass(frozen=True)
class Position:
    """The cursor: just before host call ``step`` of ``record`` (``len(trace)``: after it)."""

    record: CallRecord
    step: int

    @property
    def at_end(self) -> bool:
        return self.step >= len(self.record.trace)

    @property
    def entry(self) -> HostCall | None:
        return None if self.at_end else self.record.trace[self.step]


@dataclass
class ActiveCall:
    """A call stopped at a breakpoint (or a step), waiting for :continue, :step or :abort."""

    call: PausableCall
    contract: Contract
    export: str
    args: list[Value]
    dry_run: bool
    started: float
    paused: Paused

    @property
    def number(self) -> int:
        return self.call.runtime.calls_made

    @property
    def step(self) -> int:
        return self.paused.entry.index


class Debugger:
    """Breakpoints, the paused call and the cursor of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.breakpoints: list[Breakpoint] = []
        self._next_breakpoint = 1
        self.active: ActiveCall | None = None
        self.position: Position | None = None
        self._memories: dict[tuple[int, int], bytes] = {}

    # --- breakpoints ------------------------------------------------------------------------

    def add_breakpoint(self, text: str) -> Breakpoint:
        bp = parse(self._next_breakpoint, text)
        self._next_breakpoint += 1
        self.breakpoints.append(bp)
        return bp

    def remove_breakpoint(self, number: int) -> Breakpoint:
        for i, bp in enumerate(self.breakpoints):
            if bp.number == number:
                return self.breakpoints.pop(i)
        known = ", ".join(f"#{b.number}" for b in self.breakpoints) or "none"
        raise UsageError(f"no breakpoint #{number}; breakpoints: {known}")

    # --- the paused call --------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.active is not None

    def require_paused(self, what: str) -> ActiveCall:
        if self.active is None:
            raise UsageError(f"no call is paused: {what} works at a breakpoint "
                             "(:break sets one, then :call)")
        return self.active

    def refuse_while_paused(self, what: str) -> None:
        """Raise if a call is paused: ``what`` would change state under it."""
        if self.active is not None:
            raise UsageError(
                f"cannot {what} while call #{self.active.number} is paused at step "
                f"{self.active.step}: :continue, :step or :abort first")

    def start(self, export: str, args: Sequence[Value], dry_run: bool) -> CallResult | Paused:
        """Run a call that may pause at breakpoints; raises its CallError if it fails."""
        contract = self.session.require_contract()
        self.position = None
        call = PausableCall(self.session.runtime, contract, export, list(args),
                            breakpoints=self.breakpoints, dry_run=True, keep_memory=True)
        started = time.perf_counter()
        return self._handle(call, contract, export, list(args), dry_run, started, call.start())

    def resume(self, mode: str) -> CallResult | Paused:
        active = self.require_paused(f":{mode}")
        outcome = active.call.resume(mode)
        return self._handle(active.call, active.contract, active.export, active.args,
                            active.dry_run, active.started, outcome)

    def abort(self) -> tuple[ActiveCall, CallError]:
        """End the paused call as failed: nothing is committed; it is recorded as failed."""
        active = self.require_paused(":abort")
        finished = active.call.abort()
        self.active = None
        assert isinstance(finished.error, CallError)
        self.session.record_failure(active.export, active.args, finished.error,
                                    time.perf_counter() - active.started, active.dry_run)
        return active, finished.error

    def _handle(self, call: PausableCall, contract: Contract, export: str, args: list[Value],
                dry_run: bool, started: float, outcome: Paused | Finished
                ) -> CallResult | Paused:
        if isinstance(outcome, Paused):
            self.active = ActiveCall(call, contract, export, args, dry_run, started, outcome)
            return outcome
        self.active = None
        if outcome.error is not None:
            if isinstance(outcome.error, CallError):  # others never ran (a missing import...)
                self.session.record_failure(export, args, outcome.error,
                                            time.perf_counter() - started, dry_run)
            raise outcome.error
        result = outcome.result
        assert result is not None
        if not dry_run:
            self.session.run_interruptible(lambda: self.session.commit(result))
        self.session.record_result(result, dry_run)
        return result

    def inspect(self, fn: Callable[[CallState], T]) -> T:
        """Run ``fn`` on the paused call's state (on the call's own thread)."""
        active = self.require_paused("inspecting")
        return active.call.inspect(fn)  # type: ignore[no-any-return]

    def live_storage(self) -> dict[bytes, bytes]:
        return self.inspect(live_storage)

    def live_events(self) -> list[bytes]:
        return self.inspect(lambda state: list(state.events))

    def live_trace(self) -> list[HostCall]:
        return self.inspect(lambda state: list(state.trace))

    def live_memory(self, address: int, length: int) -> tuple[bytes, int]:
        """``length`` bytes at ``address`` of the paused call's memory, and the memory size."""

        def read(state: CallState) -> tuple[bytes, int]:
            if state.memory is None:
                return b"", 0
            view = state.memory.view()
            return bytes(view[address:address + length]), len(view)

        return self.inspect(read)

    def close(self) -> str | None:
        """Abort a paused call (the session is ending); says which, if one was."""
        if self.active is None:
            return None
        try:
            active, _ = self.abort()
        except SuperVMError:
            self.active = None
            return None
        return f"call #{active.number} ({active.export}) was paused: aborted, nothing committed"

    # --- the cursor -------------------------------------------------------------------------

    def record(self) -> CallRecord:
        """The call the cursor is in, else the last call."""
        if self.position is not None:
            return self.position.record
        record = self.session.last_call
        if record is None:
            raise UsageError("no call yet: time travel moves through a call's host calls")
        return record

    def _refuse_time_travel(self, what: str) -> None:
        if self.active is not None:
            raise UsageError(f"{what} moves through finished calls; call #{self.active.number} "
                             "is paused: :step, :continue or :abort")

    def move(self, record: CallRecord, step: int) -> Position:
        """Put the cursor before host call ``step`` of ``record`` (``len(trace)``: after)."""
        if not record.trace:
            raise UsageError(f"call #{record.number} ({record.export}) made no host calls")
        if not 0 <= step <= len(record.trace):
            raise UsageError(f"call #{record.number} has steps 0 to {len(record.trace) - 1} "
                             f"(and {len(record.trace)}: after the last)")
        position = Position(record, step)
        # After the last host call of the latest record is the live state itself.
        latest = self.session.history.records[-1] if self.session.history.records else None
        self.position = None if position.at_end and record is latest else position
        return position

    def step(self, n: int) -> Position:
        self._refuse_time_travel(":step")
        if self.position is None:
            raise UsageError("at the live state: :back, :first or :goto N go into the last "
                             "call's host calls (:step runs a paused call's next host call)")
        return self.move(self.position.record,
                         min(self.position.step + n, len(self.position.record.trace)))

    def back(self, n: int) -> Position:
        self._refuse_time_travel(":back")
        record = self.record()
        step = self.position.step if self.position is not None else len(record.trace)
        return self.move(record, max(step - n, 0))

    def goto(self, target: str) -> Position:
        """``N`` (a step of the current call), ``CALL.STEP``, or ``end``."""
        self._refuse_time_travel(":goto")
        match = _TARGET.fullmatch(target)
        if match is None:
            raise UsageError(f"TARGET is STEP, CALL.STEP or end (e.g. 3, 2.5, 2.end), "
                             f"not {shorten(target)!r}")
        record = self.session.history.record(int(match["call"])) if match["call"] else \
            self.record()
        step = len(record.trace) if match["step"] == "end" else int(match["step"])
        return self.move(record, step)

    def first(self) -> Position:
        self._refuse_time_travel(":first")
        return self.move(self.record(), 0)

    def last(self) -> Position:
        self._refuse_time_travel(":last")
        record = self.record()
        return self.move(record, max(len(record.trace) - 1, 0))

    def live(self) -> None:
        """Back to the live state (a new call does this)."""
        self.position = None

    # --- state at the cursor ----------------------------------------------------------------

    def storage_at(self, position: Position) -> dict[bytes, bytes]:
        return self.session.history.storage_at(position.record, position.step)

    def events_at(self, position: Position) -> list[bytes]:
        return self.session.history.events_at(position.record, position.step)

    def memory_at(self, position: Position) -> bytes:
        """Memory as it was at the cursor, rebuilt by a checked re-run (cached)."""
        record = position.record
        if record.memory is not None and position.at_end:
            return record.memory
        key = (id(record), position.step)
        memory = self._memories.get(key)
        if memory is None:
            run: Callable[[], bytes] = lambda: self.session.history.memory_at(  # noqa: E731
                self.session.runtime, record, position.step)
            memory = self.session.run_interruptible(run)
            if len(self._memories) >= MEMORY_CACHE:
                self._memories.pop(next(iter(self._memories)))
            self._memories[key] = memory
        return memory


def describe(position: Position | None, active: ActiveCall | None) -> dict[str, Any]:
    """Where the debugger is, for ``--json``: live, at a step of a call, or paused."""
    if active is not None:
        return {"state": "paused", "call_id": active.number, "step": active.step}
    if position is None:
        return {"state": "live"}
    return {"state": "history", "call_id": position.record.number, "step": position.step,
            "steps": len(position.record.trace)}


@dataclass(frozen=True)
class View:
    """What ``:storage``/``:events`` show: the paused call's live state, the state at the
    cursor, or (``storage`` None) the committed live state."""

    label: str
    storage: dict[bytes, bytes] | None
    events: list[bytes] | None
    #: Keys the current step changes, with their new value (None: deleted).
    changing: dict[bytes, bytes | None]
    #: The event the current step emits.
    emitting: bytes | None
    at: dict[str, Any]


def current_view(debugger: Debugger, *, storage: bool = True, events: bool = True) -> View:
    active, position = debugger.active, debugger.position
    at = describe(position, active)
    if active is not None:
        entry, inputs = active.paused.entry, active.paused.inputs
        changing: dict[bytes, bytes | None] = {}
        if entry.name == "storage_set" and "key" in inputs:
            changing[inputs["key"]] = inputs.get("value")
        elif entry.name == "storage_delete" and "key" in inputs:
            changing[inputs["key"]] = None
        emitting = inputs.get("data") if entry.name == "emit_event" else None
        label = (f"paused: call #{active.number} {active.export}, before step {entry.index} "
                 f"({entry.name})")
        return View(label, debugger.live_storage() if storage else None,
                    debugger.live_events() if events else None, changing, emitting, at)
    if position is None:
        return View("", None, None, {}, None, at)
    record, entry = position.record, position.entry
    changing = {}
    emitting = None
    if entry is not None and isinstance(entry.effect, StorageWrite):
        changing[entry.effect.key] = entry.effect.new
    if entry is not None and isinstance(entry.effect, EventEmit):
        emitting = entry.effect.data
    where = f"before step {position.step} ({entry.name})" if entry is not None else \
        "after its last host call"
    label = f"call #{record.number} {record.export}, {where}"
    return View(label, debugger.storage_at(position) if storage else None,
                debugger.events_at(position) if events else None, changing, emitting, at)
