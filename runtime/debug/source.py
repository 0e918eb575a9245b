"""Source lines of a running or recorded call: debug builds, the probe tracker, timelines.

A running call can only stop inside a host call, so source-level debugging runs a *debug
build* of the contract (:func:`runtime.instrument.instrument`): the same module with a probe
call at the start of every source line its debug information knows, at every function's entry
and before every exit. The probes give back the fuel they cost, so a debug build returns the
same results, events, storage changes and host-call trace as the contract (checked by the
tests on every sample). A :class:`Tracker`, told of each probe, knows the source line and the
call stack at every moment; that is where host calls are attributed, where line breakpoints
and stepping pause a live call, and what a :class:`Timeline` records of a finished call to walk
it line by line, forwards and backwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import ChainContext, Limits
from ..debuginfo import SourceLocation
from ..errors import UsageError
from ..host import CallState
from ..instrument import Instrumented, instrument
from ..modules import Contract, compile_contract
from ..rerun import StopRerun, re_execute
from ..trace import HostCall
from ..values import Value


class NoSourceError(UsageError):
    """The contract has no debug information to show source lines with."""


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """One function on the call stack: its name, and where in it execution is."""

    func_index: int
    function: str
    location: SourceLocation | None
    offset: int | None

    def __str__(self) -> str:
        return f"{self.function} at {self.location}" if self.location else self.function


@dataclass(frozen=True, slots=True)
class Frames:
    """A call stack as a chain, innermost first: a new line or call makes one node and shares
    its callers, so recording a moment costs the same at any depth (a deep recursion records
    one per line it runs)."""

    func_index: int
    location: SourceLocation | None
    offset: int | None
    caller: Frames | None
    depth: int


@dataclass(frozen=True, slots=True)
class Stop:
    """A moment of a call: just before source line ``location`` runs (``kind`` ``line``), or
    just before host call ``host_index`` runs (``kind`` ``host``). ``hosts_done`` host calls
    had finished then; ``frames`` is the call stack then (see :attr:`stack`)."""

    kind: str
    location: SourceLocation | None
    frames: Frames | None
    hosts_done: int
    host_index: int | None = None
    #: The probe event count at this moment (re-runs stop at the same count).
    probe: int = 0
    #: The name of a function, by index and an offset in it (the debug build's).
    names: Callable[[int, int | None], str] | None = None

    @property
    def depth(self) -> int:
        return self.frames.depth if self.frames is not None else 0

    @property
    def stack(self) -> tuple[SourceFrame, ...]:
        """The call stack, innermost first."""
        out = []
        node = self.frames
        while node is not None:
            name = self.names(node.func_index, node.offset) if self.names is not None else \
                f"func[{node.func_index}]"
            out.append(SourceFrame(node.func_index, name, node.location, node.offset))
            node = node.caller
        return tuple(out)


class DebugBuild:
    """A contract's debug build: probes at its statement starts, function entries and exits."""

    def __init__(self, contract: Contract) -> None:
        sm = contract.source_map
        if sm is None or sm.error is not None:
            why = sm.error.message if sm is not None and sm.error is not None else \
                "it has no debug information (DWARF, a source map, or WAT text)"
            raise NoSourceError(f"{contract.name} has no source lines to show: {why}")
        self.original = contract
        self.source_map = sm
        starts = _instruction_starts(contract)
        self.lines: dict[int, SourceLocation] = {
            offset: loc for offset, loc in sm.line_rows() if offset in starts}
        self.instrumented: Instrumented = instrument(contract.wasm, lines=self.lines,
                                                     entries=True, exits=True)
        self.contract = compile_contract(
            contract.engine, self.instrumented.wasm, name=contract.name,
            max_size=max(len(self.instrumented.wasm), 1))
        self.contract.debug_build = True
        self.contract.original = contract
        self.contract.original_offset = self.instrumented.original_offset
        self.contract.path = contract.path
        self.contract.debug_info = lambda: sm
        self._names: dict[int, str] = {}

    @property
    def probes(self) -> Mapping[int, Any]:
        return self.instrumented.probes

    def function_name(self, func_index: int, offset: int | None = None) -> str:
        name = self._names.get(func_index)
        if name is None:
            info = self.source_map.function_at(offset) if offset is not None else None
            name = info.name if info is not None else \
                self.original.info.export_names.get(func_index, f"func[{func_index}]")
            self._names[func_index] = name
        return name

    def offsets_of(self, file: str, line: int) -> set[int]:
        """The probe offsets where code of ``file:line`` begins."""
        return {o for o in self.source_map.offsets_for_line(file, line) if o in self.lines}


def debug_build(contract: Contract) -> DebugBuild:
    """The contract's debug build (made once per contract, gone with it)."""
    return contract.derived("debug build", DebugBuild)


def _instruction_starts(contract: Contract) -> set[int]:
    from ..wasm_binary import parse

    module = parse(contract.wasm)
    starts: set[int] = set()
    for code in module.code:
        starts.update(ins.offset for ins in module.instructions(code))
    return starts


@dataclass
class Tracker:
    """Follows a debug build's probes: the call stack and the current source line."""

    build: DebugBuild
    top: Frames | None = None
    probes_seen: int = 0

    def on_probe(self, probe_id: int) -> str:
        """Update for probe ``probe_id``; its kind (``entry``, ``line`` or ``exit``)."""
        probe = self.build.probes[probe_id]
        self.probes_seen += 1
        top = self.top
        if probe.kind == "entry":
            # Until its first line runs, a function is where its code begins.
            self.top = Frames(probe.func_index, self.build.source_map.locate(probe.offset),
                              probe.offset, top, top.depth + 1 if top is not None else 1)
        elif probe.kind == "exit":
            if top is not None:
                self.top = top.caller
        elif top is not None:
            self.top = Frames(top.func_index, self.build.lines.get(probe.offset), probe.offset,
                              top.caller, top.depth)
        return probe.kind  # type: ignore[no-any-return]

    @property
    def location(self) -> SourceLocation | None:
        return self.top.location if self.top is not None else None

    @property
    def depth(self) -> int:
        return self.top.depth if self.top is not None else 0

    def stop(self, kind: str, hosts_done: int, host_index: int | None = None) -> Stop:
        """This moment as a :class:`Stop`."""
        return Stop(kind, self.location, self.top, hosts_done, host_index,
                    probe=self.probes_seen, names=self.build.function_name)

    def stack(self) -> tuple[SourceFrame, ...]:
        """The call stack, innermost first."""
        return self.stop("line", 0).stack


@dataclass(frozen=True)
class Timeline:
    """A finished call re-run on its debug build: every line and host call it went through."""

    stops: list[Stop]
    #: Index in ``stops`` of each host call's own stop.
    host_stops: list[int]
    #: The host calls the debug build made (the same as the recording's, or a divergence).
    trace: list[HostCall] = field(default_factory=list)

    def host_site(self, index: int) -> Stop | None:
        """Where host call ``index`` was made (its stop: the line and the stack)."""
        return self.stops[self.host_stops[index]] if index < len(self.host_stops) else None

    def line_before(self, index: int) -> int:
        """The stop of the source line host call ``index`` is made from."""
        i = self.host_stops[index] if index < len(self.host_stops) else len(self.stops)
        while i > 0 and self.stops[i - 1].kind != "line":
            i -= 1
        return max(i - 1, 0)


def record(contract: Contract, export: str, args: Sequence[Value], *,
           storage: Mapping[bytes, bytes], context: ChainContext, limits: Limits,
           fuel: int) -> Timeline:
    """Re-run a call on its contract's debug build from its starting storage and record it."""
    build = debug_build(contract)
    tracker = Tracker(build)
    stops: list[Stop] = []
    hosts: list[int] = []

    def on_probe(state: CallState, probe_id: int) -> None:
        if tracker.on_probe(probe_id) == "line":
            stops.append(tracker.stop("line", len(hosts)))

    def on_host(state: CallState, entry: HostCall) -> None:
        hosts.append(len(stops))
        stops.append(tracker.stop("host", entry.index, entry.index))

    run = re_execute(build.contract, export, args, storage=storage, context=context,
                     limits=limits, fuel=fuel, hook=on_host, probe_hook=on_probe)
    return Timeline(stops, hosts, run.trace)


def memory_at_probe(contract: Contract, export: str, args: Sequence[Value], *,
                    storage: Mapping[bytes, bytes], context: ChainContext, limits: Limits,
                    fuel: int, probe: int) -> bytes:
    """Linear memory when the debug build had seen ``probe`` probes (a :class:`Stop`'s)."""
    build = debug_build(contract)
    tracker = Tracker(build)

    def on_probe(state: CallState, probe_id: int) -> None:
        tracker.on_probe(probe_id)
        if tracker.probes_seen >= probe:
            raise StopRerun(state, pending=False)

    def on_host(state: CallState, entry: HostCall) -> None:
        if tracker.probes_seen >= probe:
            raise StopRerun(state, pending=True)

    run = re_execute(build.contract, export, args, storage=storage, context=context,
                     limits=limits, fuel=fuel, hook=on_host, probe_hook=on_probe,
                     keep_memory=True)
    return run.memory or b""


Hook = Callable[[CallState, int], None]
