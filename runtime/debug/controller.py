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
from ..rerun import ReplayDivergenceError, compare_traces
from ..runtime import Runtime
from .breakpoints import Breakpoint, Breakpoints, SourcePlace
from .focus import Focus, live_focus, paused_focus, step_focus
from .history import DEFAULT_MAX_BYTES, Entry, History
from .pausing import Finished, PausableCall, Paused
from .source import (
    DebugBuild,
    NoSourceError,
    Stop,
    Timeline,
    debug_build,
    memory_at_probe,
    record,
)

#: Rebuilt memories kept (each is a whole linear memory of a call at a step).
MEMORY_CACHE = 8
#: Timelines of recorded calls kept (each a re-run of the call on its debug build).
TIMELINES = 4
#: Recorded calls whose host-call sites are kept (a few small records each: :history and
#: :trace show them for many calls, while a whole timeline is kept for only a few).
SITES = 1024

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
    #: At a source line: the index of its stop in the call's :class:`Timeline` (``step`` is
    #: then the number of host calls done).
    stop: int | None = None


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
        self._timelines: OrderedDict[int, Timeline] = OrderedDict()
        self._sites: OrderedDict[int, list[Stop | None]] = OrderedDict()

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
                             f"{p.step}: :continue, :step or :abort first")

    def call(self, contract: Contract, export: str, args: Sequence[Any], *,
             dry_run: bool = False, step: bool = False) -> CallResult | Paused:
        """Run a call; it pauses at an enabled breakpoint (or, with ``step``, before its first
        host call). Raises the call's :class:`CallError` if it fails."""
        self.refuse_while_paused("call")
        self._cursor = None
        if not step and not self.breakpoints.active:
            return self.runtime.call(contract, export, args, dry_run=dry_run)
        # A call that may pause runs on its debug build when the contract has source lines:
        # it then also pauses at lines and steps by them.
        build = self._build(contract, required=self.breakpoints.source_active)
        call = PausableCall(self.runtime, contract, export, list(args),
                            breakpoints=self.breakpoints, stepping=step, dry_run=dry_run,
                            build=build)
        return self._handle(call, export, list(args), dry_run, call.start())

    def _build(self, contract: Contract, *, required: bool) -> DebugBuild | None:
        try:
            return debug_build(contract)
        except NoSourceError:
            if required:
                raise
            return None

    def add_breakpoint(self, text: str, contract: Contract | None, *,
                       temporary: bool = False) -> Breakpoint:
        """A breakpoint on a host function (``storage_set if key == "k"``), a source line
        (``token.c:42 [if COND]``) or a function (``transfer``) of ``contract``."""

        def resolve(target: str) -> SourcePlace:
            if contract is None:
                raise UsageError(f"{shorten(target)!r} is not a host function, and no module "
                                 "is loaded to find it in")
            return self._place(contract, target)

        return self.breakpoints.add(text, temporary=temporary, resolve=resolve)

    def _place(self, contract: Contract, target: str) -> SourcePlace:
        file, colon, line = target.rpartition(":")
        if colon and line.isdigit():
            build = self._build(contract, required=True)
            assert build is not None
            offsets = build.offsets_of(file, int(line))
            if not offsets:
                lines = [loc.line for loc in build.lines.values()
                         if loc.file.endswith(file.rsplit("/", 1)[-1])]
                near = sorted({n for n in lines if abs(n - int(line)) <= 5})
                hint = f"; lines with code nearby: {', '.join(map(str, near))}" if near else ""
                raise UsageError(f"no code at {shorten(target)} in {contract.name}{hint}")
            return SourcePlace(target, frozenset(offsets))
        index = self._function(contract, target)
        if index is None:
            raise UsageError(f"{shorten(target)!r} is neither a host function, a FILE:LINE, "
                             f"nor a function of {contract.name}")
        # Pausing at a function's first line needs the debug build: refuse now, not at calls.
        self._build(contract, required=True)
        return SourcePlace(target, function_index=index)

    def _function(self, contract: Contract, name: str) -> int | None:
        for index, export in contract.info.export_names.items():
            if export == name:
                return index
        sm = contract.source_map
        if sm is None:
            return None
        matches = [f.index for f in sm.functions()
                   if f.name == name or f.name.rsplit("::", 1)[-1] == name
                   or f.name.rsplit("/", 1)[-1] == name]
        return matches[0] if matches else None

    def resume(self, mode: str = "continue") -> CallResult | Paused:
        """``continue`` the paused call to the next breakpoint or its end, ``step`` it to its
        next host call, or by source lines: ``next``, ``into``, ``finish``."""
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
        cursor = self._cursor
        # At a source line, the next host call (``step``) has not been made: it is one step on.
        ahead = n - 1 if cursor.stop is not None else n
        return self.move(cursor.entry, min(cursor.step + max(ahead, 0), cursor.steps))

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
            cursor = self._cursor
            timeline = self.timeline_if_any(cursor.entry)
            stop = None
            if timeline is not None:
                stop = timeline.stops[cursor.stop] if cursor.stop is not None else \
                    timeline.host_site(cursor.step)
            return step_focus(self.history, cursor.entry, cursor.step, self.memory_at, stop,
                              self._line_memory, self.host_sites)
        return live_focus(self.history, self.memory_at, self.host_sites)

    def current_entry(self) -> Entry:
        """The recorded call the cursor is in, else the last call (for :trace, :export...)."""
        return self._current()

    # --- source lines of recorded calls -------------------------------------------------------

    def timeline(self, entry: Entry) -> Timeline:
        """The recorded call re-run on its debug build: its lines and host calls (cached).
        :class:`NoSourceError` without debug information; a re-run whose host calls differ
        from the recording is a :class:`ReplayDivergenceError`."""
        found = self._timelines.get(entry.seq)
        if found is not None:
            self._timelines.move_to_end(entry.seq)
            return found
        outcome = self.history.outcome_of(entry)
        trace = self.history.trace_of(entry)
        if outcome.contract is None:
            raise UsageError(f"call #{entry.call_id} has no module to re-run")
        timeline = record(outcome.contract, outcome.export, outcome.args,
                          storage=self.history.starting_storage(entry), context=outcome.context,
                          limits=self.runtime.limits, fuel=outcome.fuel_limit)
        divergence = compare_traces(trace, timeline.trace)
        if divergence is not None:
            raise ReplayDivergenceError(
                f"the debug build of call #{entry.call_id} diverged at {divergence}", divergence)
        self._timelines[entry.seq] = timeline
        while len(self._timelines) > TIMELINES:
            self._timelines.popitem(last=False)
        return timeline

    def timeline_if_any(self, entry: Entry) -> Timeline | None:
        """:meth:`timeline`, or None for a call without debug information or trace."""
        outcome = self.history.outcome_of(entry)
        contract = outcome.contract
        if contract is None or contract.source_map is None or entry.trace_dropped:
            return None
        try:
            return self.timeline(entry)
        except (NoSourceError, ReplayDivergenceError):
            return None

    def host_sites(self, entry: Entry) -> list[Stop | None]:
        """Where each host call of a recorded call was made (empty without debug
        information; a re-run of the call on its debug build, cached)."""
        found = self._sites.get(entry.seq)
        if found is not None:
            self._sites.move_to_end(entry.seq)
            return found
        timeline = self.timeline_if_any(entry)
        if timeline is None:
            return []
        sites = self._sites[entry.seq] = [timeline.host_site(i)
                                          for i in range(len(timeline.host_stops))]
        while len(self._sites) > SITES:
            self._sites.popitem(last=False)
        return sites

    def by_line(self, how: str) -> Position:
        """Move the cursor by source lines through a recorded call: ``next`` (the next line
        of this function or a caller), ``into`` (the next line anywhere), ``finish`` (the
        first line after the current function returns) or ``rnext`` (back to the previous
        line of this function or a caller)."""
        self._refuse_time_travel(f":{how}")
        if how not in ("next", "into", "finish", "rnext"):
            raise ValueError(how)
        entry = self._current()
        timeline = self.timeline(entry)
        stops = timeline.stops
        steps = len(self.history.trace_of(entry))
        cursor = self._cursor
        if cursor is None:
            if how != "rnext":
                raise UsageError(f"at the live state: :rnext or :back go into the last call "
                                 f"(:{how} runs a paused call on)")
            i = len(stops)
        elif cursor.stop is not None:
            i = cursor.stop
        else:
            i = timeline.host_stops[cursor.step] if cursor.step < steps else len(stops)
        here = stops[i] if i < len(stops) else None
        j = _back(stops, i, here) if how == "rnext" else _forward(stops, i, here, how)
        if j is None:
            if how == "rnext":
                j = next((k for k, s in enumerate(stops) if s.kind == "line"), None)
                if j is None:
                    raise UsageError(f"call #{entry.call_id} ran no source line")
            else:
                return self.move(entry, steps)
        position = Position(entry, stops[j].hosts_done, steps, False, j)
        self._cursor = position
        return position

    def _line_memory(self, entry: Entry, stop: Stop) -> bytes:
        key = (entry.seq, -1 - stop.probe)
        memory = self._memories.get(key)
        if memory is None:
            outcome = self.history.outcome_of(entry)
            assert outcome.contract is not None
            memory = memory_at_probe(outcome.contract, outcome.export, outcome.args,
                                     storage=self.history.starting_storage(entry),
                                     context=outcome.context, limits=self.runtime.limits,
                                     fuel=outcome.fuel_limit, probe=stop.probe)
            self._memories[key] = memory
            while len(self._memories) > MEMORY_CACHE:
                self._memories.popitem(last=False)
        return memory

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


def _moved(a: Stop, b: Stop | None) -> bool:
    """Whether ``a`` is on another source line than ``b``."""
    if b is None:
        return True
    x, y = a.location, b.location
    return x is None or y is None or (x.file, x.line) != (y.file, y.line)


def _forward(stops: list[Stop], i: int, here: Stop | None, how: str) -> int | None:
    depth = here.depth if here is not None else 0
    for j in range(i + 1, len(stops)):
        s = stops[j]
        if s.kind != "line":
            continue
        if how == "finish":
            if s.depth < depth:
                return j
        elif how == "into":
            if _moved(s, here) or s.depth != depth:
                return j
        elif s.depth < depth or (s.depth == depth and _moved(s, here)):
            return j
    return None


def _back(stops: list[Stop], i: int, here: Stop | None) -> int | None:
    """The start of the previous line of this function or a caller (gdb's reverse-next)."""
    depth = here.depth if here is not None else 0
    j = i - 1
    while j >= 0:
        s = stops[j]
        if s.kind == "line" and (here is None or s.depth < depth or
                                 (s.depth == depth and _moved(s, here))):
            # Back to where that line began: the first of its consecutive stops.
            while j > 0 and stops[j - 1].kind == "line" and stops[j - 1].depth == s.depth \
                    and not _moved(stops[j - 1], s):
                j -= 1
            return j
        j -= 1
    return None
