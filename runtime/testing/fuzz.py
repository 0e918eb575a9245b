"""Fuzz campaigns: one export called with many generated inputs on the current state, committing
nothing; the first failing input shrunk to a minimal one and run once more where the debugger
records it.

Run ``i`` of a campaign gets :meth:`InputSpace.input(seed, i) <InputSpace.input>`; runs go in
order and the campaign stops at the first failing run, so a seed gives the same campaign
whether it runs in this process or is split between worker processes.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import ChainContext, Limits
from ..errors import BadArgumentsError, CallError, NoSuchExportError
from ..modules import Contract
from ..outcome import CallResult
from ..runtime import Runtime
from ..sources import SourceFrame, source_frames
from ..storage import MemoryStorage
from ..values import NUMERIC, Value
from .coverage import Coverage
from .expect import Expectation
from .inputs import InputSpace, shrink
from .parallel import check_workers, run_shards

#: Runs of a campaign by default (as Foundry's fuzzer).
DEFAULT_RUNS = 256
#: Most runs a campaign may ask for.
MAX_RUNS = 10_000_000


@dataclass
class FuzzFailure:
    """The first failing run of a campaign, shrunk."""

    run: int
    #: The input the campaign generated, and the minimal one it shrank to.
    found: tuple[Value, ...]
    args: tuple[Value, ...]
    #: Why it fails: an error kind (``trap:unreachable``) or ``expectation``.
    reason: str
    shrink_runs: int
    #: The minimal input's call, run again on the runtime (recorded by its observers).
    outcome: CallResult
    #: Where it failed in the source: the innermost frame of an error; for a call that
    #: returned, the export's line making its last storage write.
    location: SourceFrame | None = None


@dataclass
class FuzzReport:
    """What a campaign did: how many runs (up to and including the first failure), their
    fuel, how they ended, and the failure if one was found."""

    export: str
    seed: int
    runs: int
    executed: int
    expect: str | None
    workers: int
    elapsed: float
    fuel: list[int] = field(default_factory=list, repr=False)
    #: Runs by how they ended: ``ok``, or an error kind.
    endings: dict[str, int] = field(default_factory=dict)
    failure: FuzzFailure | None = None

    @property
    def fuel_stats(self) -> tuple[int, int, int] | None:
        """(min, median, max) fuel of the runs."""
        if not self.fuel:
            return None
        return min(self.fuel), int(statistics.median(self.fuel)), max(self.fuel)


@dataclass(frozen=True)
class _Task:
    """What a worker needs to run a slice of a campaign (picklable)."""

    wasm: bytes
    name: str
    export: str
    storage: dict[bytes, bytes]
    context: ChainContext
    limits: Limits
    seed: int
    start: int
    stop: int
    expect: str | None
    coverage: bool


def fuzz(runtime: Runtime, contract: Contract, export: str, *, runs: int = DEFAULT_RUNS,
         seed: int | None = None, expect: str | None = None, workers: int = 1,
         coverage: Coverage | None = None, record: bool = True) -> FuzzReport:
    """Fuzz ``export`` on the runtime's current state (storage, context, limits).

    ``expect`` is a condition on each run's outcome (see :mod:`runtime.testing.expect`); by
    default a run fails when the contract traps, aborts, runs out of fuel or passes a limit.
    The first failing input is shrunk and, with ``record``, called once more on ``runtime`` as
    a dry run (its observers, such as the debugger's history, see it). ``seed`` None picks one
    (the report says which). ``workers`` > 1 runs the campaign in that many processes; the
    result is the same. ``coverage`` collects the lines and functions the runs execute.
    """
    info = contract.info.function(export)
    if info is None:
        raise NoSuchExportError(export, [f.name for f in contract.info.functions])
    bad = [t for t in (*info.params, *info.results) if t not in NUMERIC]
    if bad:
        raise BadArgumentsError(f"{export} takes or returns {bad[0]}: only exports of i32, i64, "
                                "f32 and f64 values can be fuzzed")
    if not 1 <= runs <= MAX_RUNS:
        raise ValueError(f"runs must be between 1 and {MAX_RUNS:,}")
    check_workers(workers)
    expectation = Expectation.parse(expect, info.params)
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 32)
    started = time.perf_counter()
    storage = runtime.storage.snapshot()
    base = _Task(contract.wasm, contract.name, export, storage, runtime.context, runtime.limits,
                 seed, 0, runs, expectation.text, coverage is not None)
    if workers == 1:
        shards = [_run_slice(base, contract, coverage)]
    else:
        bounds = [runs * k // workers for k in range(workers + 1)]
        tasks = [_replace(base, bounds[k], bounds[k + 1]) for k in range(workers)]
        shards = run_shards(_run_task, tasks, workers)
        if coverage is not None:
            for shard in shards:
                coverage.add_probes(contract, shard["probes"])
    fuel: list[int] = []
    endings: list[str] = []
    for shard in shards:
        fuel += shard["fuel"]
        endings += shard["endings"]
        if shard["failed"] is not None:
            break  # later slices ran past the first failure: not part of this campaign
    report = FuzzReport(export, seed, runs, len(fuel), expectation.text, workers, 0.0, fuel)
    if coverage is not None:
        coverage.calls += len(fuel)
    for ending in endings:
        kind = "ok" if ending == "" else ending.split(":")[0]
        report.endings[kind] = report.endings.get(kind, 0) + 1
    failed = next((s["failed"] for s in shards if s["failed"] is not None), None)
    if failed is not None:
        report.failure = _shrunk(runtime, contract, base, expectation, failed, record)
    report.elapsed = time.perf_counter() - started
    return report


def _replace(task: _Task, start: int, stop: int) -> _Task:
    return _Task(task.wasm, task.name, task.export, task.storage, task.context, task.limits,
                 task.seed, start, stop, task.expect, task.coverage)


def _quiet(task: _Task) -> Runtime:
    """A runtime on a copy of the state: its calls are seen by nobody and commit nothing."""
    return Runtime(MemoryStorage(task.storage), limits=task.limits, context=task.context,
                   trace=False)


def _run_task(task: _Task) -> dict[str, Any]:
    """A worker's slice (in a fresh process: the module is compiled there)."""
    quiet = _quiet(task)
    contract = quiet.load(task.wasm, name=task.name)
    coverage = Coverage() if task.coverage else None
    return _run_slice(task, contract, coverage, quiet)


def _run_slice(task: _Task, contract: Contract, coverage: Coverage | None,
               quiet: Runtime | None = None) -> dict[str, Any]:
    """Runs ``start``..``stop`` of a campaign, up to the first failing one."""
    quiet = quiet or _quiet(task)
    info = contract.info.function(task.export)
    assert info is not None
    space = InputSpace.of(contract, task.export)
    expectation = Expectation.parse(task.expect, info.params)
    target, probe_hook = (contract, None) if coverage is None else coverage.runner(contract)
    call = quiet.call
    fuel: list[int] = []
    endings: list[str] = []
    failed: int | None = None
    for run in range(task.start, task.stop):
        args = space.input(task.seed, run)
        try:
            outcome = call(target, task.export, args, dry_run=True, probe_hook=probe_hook)
        except CallError as exc:
            assert exc.outcome is not None
            outcome = exc.outcome
        verdict = expectation.verdict(outcome)
        fuel.append(outcome.fuel_used)
        endings.append("" if outcome.error is None else outcome.error.kind)
        if verdict is not None:
            failed = run
            break
    probes = coverage.probes_of(contract) if coverage is not None else set()
    return {"fuel": fuel, "endings": endings, "failed": failed, "probes": probes}


def run_once(runtime: Runtime, contract: Contract, export: str, args: Sequence[Value]
             ) -> CallResult:
    """One dry run's outcome, failed or not."""
    try:
        return runtime.call(contract, export, args, dry_run=True)
    except CallError as exc:
        assert exc.outcome is not None
        return exc.outcome


def _shrunk(runtime: Runtime, contract: Contract, task: _Task, expectation: Expectation,
            run: int, record: bool) -> FuzzFailure:
    quiet = _quiet(task)
    found = InputSpace.of(contract, task.export).input(task.seed, run)
    reason = expectation.verdict(run_once(quiet, contract, task.export, found))
    assert reason is not None, "a failing run passes when run again"

    def fails(args: tuple[Value, ...]) -> bool:
        return expectation.verdict(run_once(quiet, contract, task.export, args)) == reason

    args, tried = shrink(found, fails)
    outcome = run_once(runtime if record else quiet, contract, task.export, args)
    location = None
    if outcome.error is not None:
        frames = source_frames(outcome.contract, getattr(outcome.error, "frames", []) or [], 1)
        location = frames[0] if frames else None
    else:
        location = last_write(contract, task, outcome)
    return FuzzFailure(run, found, args, reason, tried, outcome, location)


def last_write(contract: Contract, task: _Task, outcome: CallResult) -> SourceFrame | None:
    """Where in the export a call that returned made its last storage write (what an
    expectation most often objects to), if the contract has source lines: its debug build is
    run again to find out."""
    from ..debug.source import NoSourceError, record
    from ..trace import StorageWrite

    effects = [e.index for e in outcome.trace if isinstance(e.effect, StorageWrite)]
    if not effects:
        return None
    try:
        timeline = record(contract, task.export, outcome.args, storage=task.storage,
                          context=task.context, limits=task.limits, fuel=task.limits.fuel)
    except (NoSourceError, CallError):
        return None
    stop = timeline.host_site(effects[-1])
    if stop is None or not stop.stack:
        return None
    frame = stop.stack[-1]  # the export's own line, not that of a function it called
    return SourceFrame(frame.function, frame.offset or 0, frame.location,
                       _line_text(contract, frame.location))


def _line_text(contract: Contract, location: Any) -> str | None:
    sm = contract.source_map
    if location is None or sm is None:
        return None
    text = sm.source_line(location)
    return text.strip() if text is not None else None
