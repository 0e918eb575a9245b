"""The debug controller, as ``bdb`` is to ``pdb``: breakpoints, pausing, stepping and the
time-travel cursor, with no user interface.

:class:`Debugger` runs calls for an embedder (the shell): straight through when no breakpoint
is enabled, else on a :class:`~runtime.debug.pausing.PausableCall` that stops at breakpoints or
steps. Between commands it keeps the paused call, the cursor (a step of a recorded call) and
the history of the runtime's calls, and :attr:`Debugger.focus` says what is where the user is.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import CallError, SuperVMError, UsageError
from ..literals import shorten
from ..modules import Contract
from ..outcome import CallResult
from ..runtime import Runtime
from .breakpoints import Breakpoints
from .focus import Focus, live_focus, paused_focus, step_focus
from .history import DEFAULT_MAX_BYTES, Entry, History
from .pausing import Finished, PausableCall, Paused

#: Rebuilt memories kept (each is a whole linear memory of a call at a step).
MEMORY_CACHE = 8

#: A cursor target: ``STEP``, ``CALL.STEP`` or ``end`` (``#`` before CALL allowed).
_TARGET = re.compile(r"(?:#?(?P<call>[0-9]{1,18})\.)?(?P<step>[0-9]{1,18}|end)")


@dataclass(frozen=True)
class Position:
    """The cursor: just before host call ``step`` of ``entry`` (``steps``: after the last)."""

    entry: Entry
    step: int
    steps: int
    #: Whether moving there returned to the live state (after the latest call).
    live: bool = False


@dataclass
class _Active:
    """The paused call."""

    call: PausableCall
    export: str
    args: list[Any]
    dry_run: bool
    paused: Paused


class Debugger:
    """Breakpoints, the paused call, the cursor and the history of one runtime's calls."""

    def __init__(self, runtime: Runtime, *, max_history_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.runtime = runtime
        self.history = History(runtime, max_bytes=max_history_bytes)
        self.breakpoints = Breakpoints()
        self._active: _Active | None = None
        self._cursor: Position | None = None
        self._memories: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    # --- running calls ------------------------------------------------------------------------

    @property
    def paused(self) -> Paused | None:
        """Where the paused call stopped, if a call is paused."""
        return self._active.paused if self._active is not None else None

    @property
    def paused_call(self) -> _Active | None:
        return self._active

    def refuse_while_paused(self, what: str) -> None:
        """A :class:`UsageError` if a call is paused: ``what`` would change state under it."""
        if self._active is not None:
            p = self._active.paused
            raise UsageError(f"cannot {what} while call #{p.call_id} is paused at step "
                             f"{p.entry.index}: :continue, :step or :abort first")

    def call(self, contract: Contract, export: str, args: Sequence[Any], *,
             dry_run: bool = False, step: bool = False) -> CallResult | Paused:
        """Run a call; it pauses at an enabled breakpoint (or, with ``step``, before its first
        host call). Raises the call's :class:`CallError` if it fails."""
        self.refuse_while_paused("call")
        self._cursor = None
        if not step and not self.breakpoints.active:
            return self.runtime.call(contract, export, args, dry_run=dry_run)
        call = PausableCall(self.runtime, contract, export, list(args),
                            breakpoints=self.breakpoints, stepping=step, dry_run=dry_run)
        return self._handle(call, export, list(args), dry_run, call.start())

    def resume(self, mode: str = "continue") -> CallResult | Paused:
        """``continue`` the paused call to the next breakpoint or its end, or ``step`` it to
        its next host call."""
        active = self._require_paused(f":{mode}")
        return self._handle(active.call, active.export, active.args, active.dry_run,
                            active.call.resume(mode))

    def abort(self) -> tuple[Paused, CallError]:
        """End the paused call as failed; nothing is committed."""
        active = self._require_paused(":abort")
        finished = active.call.abort()
        self._active = None
        assert isinstance(finished.error, CallError)
        return active.paused, finished.error

    def close(self) -> Paused | None:
        """Abort a paused call (the session ends); where it was paused, if one was."""
        if self._active is None:
            return None
        paused = self._active.paused
        try:
            self.abort()
        except SuperVMError:
            self._active = None
        return paused

    def _require_paused(self, what: str) -> _Active:
        if self._active is None:
            raise UsageError(f"no call is paused: {what} works at a breakpoint "
                             "(:break sets one, then :call)")
        return self._active

    def _handle(self, call: PausableCall, export: str, args: list[Any], dry_run: bool,
                outcome: Paused | Finished) -> CallResult | Paused:
        if isinstance(outcome, Paused):
            self._active = _Active(call, export, args, dry_run, outcome)
            return outcome
        self._active = None
        if outcome.error is not None:
            raise outcome.error
        assert outcome.result is not None
        return outcome.result

    # --- the cursor ---------------------------------------------------------------------------

    @property
    def position(self) -> Position | None:
        """The cursor, or None at the live state (or while a call is paused)."""
        return self._cursor

    def _refuse_time_travel(self, what: str) -> None:
        if self._active is not None:
            raise UsageError(f"{what} moves through finished calls; call "
                             f"#{self._active.paused.call_id} is paused: :step, :continue or "
                             ":abort")

    def _current(self) -> Entry:
        """The call the cursor is in, else the last call."""
        if self._cursor is not None:
            return self._cursor.entry
        last = self.history.last_call
        if last is None:
            raise UsageError("no call yet: :call one first, then its host calls can be "
                             "walked through")
        return last

    def move(self, entry: Entry, step: int) -> Position:
        """Put the cursor before host call ``step`` of ``entry`` (``len(trace)``: after)."""
        self._refuse_time_travel(":goto")
        steps = len(self.history.trace_of(entry))
        if not steps:
            raise UsageError(f"call #{entry.call_id} ({entry.export}) made no host calls")
        if not 0 <= step <= steps:
            raise UsageError(f"call #{entry.call_id} has steps 0 to {steps - 1} "
                             f"(and {steps}: after the last)")
        # After the last host call of the latest entry is the live state itself.
        live = step == steps and self.history.is_latest(entry)
        position = Position(entry, step, steps, live)
        self._cursor = None if live else position
        return position

    def goto(self, target: str) -> Position:
        """``N`` (a step of the current call), ``CALL.STEP``, ``end`` or ``CALL.end``."""
        self._refuse_time_travel(":goto")
        match = _TARGET.fullmatch(target)
        if match is None:
            raise UsageError(f"TARGET is STEP, CALL.STEP or end (e.g. 3, 2.5, 2.end), "
                             f"not {shorten(target)!r}")
        entry = self.history.entry(int(match["call"])) if match["call"] else self._current()
        steps = len(self.history.trace_of(entry))
        return self.move(entry, steps if match["step"] == "end" else int(match["step"]))

    def forward(self, n: int = 1) -> Position:
        """Move the cursor ``n`` host calls forward (past the latest call's end: live)."""
        self._refuse_time_travel(":step")
        if self._cursor is None:
            raise UsageError("at the live state: :back, :first or :goto N go into the last "
                             "call's host calls (:step runs a paused call's next host call)")
        return self.move(self._cursor.entry, min(self._cursor.step + n, self._cursor.steps))

    def back(self, n: int = 1) -> Position:
        """Move the cursor ``n`` host calls back (from the live state: into the last call)."""
        self._refuse_time_travel(":back")
        entry = self._current()
        step = self._cursor.step if self._cursor is not None else \
            len(self.history.trace_of(entry))
        return self.move(entry, max(step - n, 0))

    def first(self) -> Position:
        self._refuse_time_travel(":first")
        return self.move(self._current(), 0)

    def last(self) -> Position:
        self._refuse_time_travel(":last")
        entry = self._current()
        return self.move(entry, max(len(self.history.trace_of(entry)) - 1, 0))

    def live(self) -> None:
        """Back to the live state."""
        self._cursor = None

    # --- where the user is --------------------------------------------------------------------

    @property
    def focus(self) -> Focus:
        """The paused call, else the cursor's step, else the live state."""
        if self._active is not None:
            return paused_focus(self.history, self._active.call, self._active.paused,
                                self._active.export, self._active.args)
        if self._cursor is not None:
            return step_focus(self.history, self._cursor.entry, self._cursor.step,
                              self.memory_at)
        return live_focus(self.history, self.memory_at)

    def current_entry(self) -> Entry:
        """The recorded call the cursor is in, else the last call (for :trace, :export...)."""
        return self._current()

    def memory_at(self, entry: Entry, step: int) -> bytes:
        """Linear memory of a recorded call at a step, rebuilt by a checked re-run (cached)."""
        key = (entry.seq, step)
        memory = self._memories.get(key)
        if memory is None:
            memory = self.history.memory_at(entry, step, self.runtime.limits)
            self._memories[key] = memory
            while len(self._memories) > MEMORY_CACHE:
                self._memories.popitem(last=False)
        return memory
