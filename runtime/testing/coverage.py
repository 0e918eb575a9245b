"""Coverage: which source lines and which wasm functions calls executed.

A call is measured by running it on the contract's *coverage build*: the module with a probe
at the start of every source line its debug information knows and at every function's entry
(:func:`runtime.instrument.instrument`; a module without debug information gets function
probes only). Probes give back the fuel they cost and a failed call's error and fuel are the
original module's (the runtime re-runs it), so a measured call returns the same results,
events, storage changes, fuel and host-call trace as an unmeasured one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..config import ChainContext, Limits
from ..debuginfo import SourceLocation
from ..host import CallState, ProbeHook
from ..instrument import Instrumented, InstrumentError, instrument
from ..modules import Contract, compile_contract
from ..values import Value
from ..wasm_binary import parse


class CoverageBuild:
    """A contract's coverage build and what its probes stand for."""

    def __init__(self, contract: Contract) -> None:
        self.original = contract
        sm = contract.source_map
        self.source_map = sm if sm is not None and sm.error is None else None
        lines: dict[int, SourceLocation] = {}
        if self.source_map is not None:
            lines = _line_starts(contract, self.source_map.line_rows())
        try:
            inst = instrument(contract.wasm, lines=lines, entries=True)
        except InstrumentError:  # debug information naming non-instructions: functions only
            lines = {}
            inst = instrument(contract.wasm, entries=True)
        self.instrumented: Instrumented = inst
        build = compile_contract(contract.engine, inst.wasm, name=contract.name,
                                 max_size=max(len(inst.wasm), 1))
        build.debug_build = True
        build.original = contract
        build.original_offset = inst.original_offset
        build.path = contract.path
        if self.source_map is not None:
            sm_ = self.source_map
            build.debug_info = lambda: sm_
        self.contract = build
        #: Probe id → the source line it starts (line probes) or the function it enters.
        self.line_of: dict[int, SourceLocation] = {}
        self.function_of: dict[int, int] = {}
        for pid, probe in inst.probes.items():
            if probe.kind == "line" and probe.offset in lines:
                self.line_of[pid] = lines[probe.offset]
            elif probe.kind == "entry":
                self.function_of[pid] = probe.func_index
        self.probe_count = max(inst.probes, default=-1) + 1
        #: Every line with code, by file.
        self.lines: dict[str, set[int]] = {}
        for loc in lines.values():
            self.lines.setdefault(loc.file, set()).add(loc.line)
        self._names: dict[int, str] = {}

    def function_name(self, func_index: int) -> str:
        name = self._names.get(func_index)
        if name is None:
            name = self.original.info.export_names.get(func_index, f"func[{func_index}]")
            entry = next((p.offset for p in self.instrumented.probes.values()
                          if p.kind == "entry" and p.func_index == func_index), None)
            if self.source_map is not None and entry is not None:
                info = self.source_map.function_at(entry)
                if info is not None:
                    name = info.name
            self._names[func_index] = name
        return name

    def function_place(self, func_index: int) -> SourceLocation | None:
        """Where a function's code begins in the source, if known."""
        if self.source_map is None:
            return None
        entry = next((p.offset for p in self.instrumented.probes.values()
                      if p.kind == "entry" and p.func_index == func_index), None)
        info = self.source_map.function_at(entry) if entry is not None else None
        if info is None or info.file is None:
            return None
        return SourceLocation(info.file, info.line)


def _line_starts(contract: Contract, rows: Sequence[tuple[int, SourceLocation]]
                 ) -> dict[int, SourceLocation]:
    """Each source line's first instruction: a row at an instruction start, or else the next
    instruction start before the next row (debug information may point between
    instructions)."""
    module = parse(contract.wasm)
    starts = sorted(ins.offset for code in module.code for ins in module.instructions(code))
    ordered = sorted(rows, key=lambda row: row[0])
    lines: dict[int, SourceLocation] = {}
    for i, (offset, loc) in enumerate(ordered):
        k = bisect.bisect_left(starts, offset)
        limit = ordered[i + 1][0] if i + 1 < len(ordered) else offset + 1
        if k < len(starts) and starts[k] < max(limit, offset + 1):
            lines.setdefault(starts[k], loc)
    return lines


def coverage_build(contract: Contract) -> CoverageBuild:
    """The contract's coverage build (made once per contract, gone with it)."""
    return contract.derived("coverage build", CoverageBuild)


@dataclass(frozen=True)
class FileCoverage:
    """One source file: its lines with code, those executed, and hit counts."""

    file: str
    lines: tuple[int, ...]
    hits: Mapping[int, int]

    @property
    def covered(self) -> int:
        return sum(1 for n in self.lines if self.hits.get(n, 0))

    @property
    def uncovered(self) -> list[int]:
        return [n for n in self.lines if not self.hits.get(n, 0)]

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / len(self.lines) if self.lines else 100.0


@dataclass(frozen=True)
class FunctionCoverage:
    """One wasm function: its name, where it begins (if known) and how often it was entered."""

    func_index: int
    name: str
    place: SourceLocation | None
    calls: int


class Coverage:
    """Probe counts of measured calls, by contract (by module hash: a module loaded again
    adds to the same counts)."""

    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}
        self._builds: dict[str, CoverageBuild] = {}
        self.calls = 0

    def runner(self, contract: Contract) -> tuple[Contract, ProbeHook]:
        """The contract to call instead of ``contract`` and the probe hook to call it with."""
        build = self._build(contract)
        counts = self._counts[contract.info.sha256]

        def on_probe(state: CallState, probe_id: int) -> None:
            counts[probe_id] += 1

        return build.contract, on_probe

    def _build(self, contract: Contract) -> CoverageBuild:
        key = contract.info.sha256
        build = self._builds.get(key)
        if build is None:
            build = self._builds[key] = coverage_build(contract)
            self._counts[key] = [0] * build.probe_count
        return build

    def probes_of(self, contract: Contract) -> list[int]:
        """The probe counts of a contract (to send from a worker)."""
        self._build(contract)
        return list(self._counts[contract.info.sha256])

    def add_probes(self, contract: Contract, counts: Iterable[int]) -> None:
        """Add probe counts measured elsewhere (a worker) for ``contract``."""
        self._build(contract)
        mine = self._counts[contract.info.sha256]
        for i, n in enumerate(counts):
            mine[i] += n

    def merge(self, other: Coverage) -> None:
        """Add another coverage's counts to this one."""
        for key, build in other._builds.items():
            self.add_probes(build.original, other._counts[key])
        self.calls += other.calls

    @property
    def contracts(self) -> list[Contract]:
        return [b.original for b in self._builds.values()]

    def files(self) -> list[FileCoverage]:
        """Per source file: lines with code and their hit counts (all measured contracts)."""
        lines: dict[str, set[int]] = {}
        hits: dict[str, dict[int, int]] = {}
        for key, build in self._builds.items():
            counts = self._counts[key]
            for file, numbers in build.lines.items():
                lines.setdefault(file, set()).update(numbers)
                hits.setdefault(file, {})
            for pid, loc in build.line_of.items():
                if counts[pid]:
                    per = hits[loc.file]
                    per[loc.line] = per.get(loc.line, 0) + counts[pid]
        return [FileCoverage(f, tuple(sorted(lines[f])), hits[f]) for f in sorted(lines)]

    def functions(self) -> list[FunctionCoverage]:
        """Every wasm function of the measured contracts, with how often it was entered."""
        out = []
        for key, build in self._builds.items():
            counts = self._counts[key]
            for pid, index in sorted(build.function_of.items(), key=lambda item: item[1]):
                out.append(FunctionCoverage(index, build.function_name(index),
                                            build.function_place(index), counts[pid]))
        return out

    def lcov(self, *, test_name: str = "supervm") -> str:
        """The coverage as an lcov tracefile (``genhtml`` reads it), with absolute paths.
        Files that cannot be found on disk (a compiler's library, such as AssemblyScript's
        ``~lib``, or a module typed inline) are left out: lcov readers need the source."""
        out = [f"TN:{test_name}"]
        functions = [f for f in self.functions() if f.place is not None]
        for file in self.files():
            path = self._path(file.file)
            if path is None:
                continue
            out.append(f"SF:{path}")
            mine = [f for f in functions if f.place is not None and f.place.file == file.file]
            for f in mine:
                out.append(f"FN:{f.place.line},{f.name}")  # type: ignore[union-attr]
            for f in mine:
                out.append(f"FNDA:{f.calls},{f.name}")
            out.append(f"FNF:{len(mine)}")
            out.append(f"FNH:{sum(1 for f in mine if f.calls)}")
            for n in file.lines:
                out.append(f"DA:{n},{file.hits.get(n, 0)}")
            out.append(f"LF:{len(file.lines)}")
            out.append(f"LH:{file.covered}")
            out.append("end_of_record")
        return "\n".join(out) + "\n"

    def _path(self, file: str) -> str | None:
        """A source file's absolute path, if it can be found."""
        for build in self._builds.values():
            sm = build.source_map
            if sm is not None and file in build.lines:
                found = sm.source_path(file)
                if found is not None:
                    return str(found)
        return None


def measure(coverage: Coverage, contract: Contract, export: str, args: Sequence[Value], *,
            storage: Mapping[bytes, bytes], context: ChainContext, limits: Limits,
            fuel: int) -> None:
    """Run a recorded call again on its coverage build, from its starting storage (committing
    nothing), and add what it executed to ``coverage``."""
    from ..rerun import re_execute

    target, hook = coverage.runner(contract)
    re_execute(target, export, args, storage=storage, context=context, limits=limits,
               fuel=fuel, probe_hook=hook)
    coverage.calls += 1
