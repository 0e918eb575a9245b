"""Contract testing in the shell: ``:fuzz``, ``:gas``, ``:coverage`` and ``:save-test``.

The campaigns, statistics and files are :mod:`runtime.testing`; this module parses the
arguments and renders the reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime import CallError, SuperVMError
from runtime.debug.history import HistoryDropped
from runtime.errors import UsageError
from runtime.files import write_file
from runtime.literals import parse_count, shorten, unquote
from runtime.testing.coverage import Coverage, FileCoverage, measure
from runtime.testing.expect import ContractTestFailure, arguments
from runtime.testing.fuzz import DEFAULT_RUNS, MAX_RUNS, FuzzReport, fuzz
from runtime.testing.gas import GasCheck, GasRow, check, gas_rows, read_snapshot, write_snapshot
from runtime.testing.parallel import MAX_WORKERS
from runtime.testing.regression import call_step, edit_step, regression_test

from .debug_render import call_label
from .registry import Args, Reply, command
from .render import Fragments, Out, plain, plural, table, value_json
from .session import Session


@dataclass
class _Testing:
    """A session's testing state: what its campaigns executed, and its calls measured so far."""

    campaigns: Coverage = field(default_factory=Coverage)
    calls: Coverage = field(default_factory=Coverage)
    measured: set[int] = field(default_factory=set)


_STATE: weakref.WeakKeyDictionary[Session, _Testing] = weakref.WeakKeyDictionary()


def _testing(session: Session) -> _Testing:
    state = _STATE.get(session)
    if state is None:
        state = _STATE[session] = _Testing()
    return state


def _count(args: Args, flag: str, low: int, high: int) -> int | None:
    raw = args.flag(flag)
    if raw is False:
        return None
    value = parse_count(str(raw), flag)
    if not low <= value <= high:
        raise UsageError(f"{flag} must be between {low:,} and {high:,}, not {value:,}")
    return value


def _condition(args: Args) -> str | None:
    words = args.list("CONDITION")
    first = args.flag("--expect")
    if first is False:
        if words:
            raise UsageError(f"unexpected {shorten(' '.join(words))}: a condition follows "
                             "--expect (:fuzz EXPORT --expect CONDITION)")
        return None
    text = " ".join([str(first), *words])
    if not words and text.startswith('"') and text.endswith('"') and len(text) > 1:
        text = unquote(text)  # the whole condition given as one quoted token
    return text


# --- :fuzz -----------------------------------------------------------------------------------


@command("fuzz", "EXPORT [CONDITION...]", group="testing",
         flags={"--runs N": f"how many inputs to try (default {DEFAULT_RUNS})",
                "--seed S": "the campaign's seed: the same seed gives the same campaign",
                "--expect CONDITION": "what every run must satisfy (the rest of the line), "
                                      "instead of not failing",
                "--workers N": "run the campaign in N processes (same result)",
                "--coverage": "also measure the lines and functions the runs execute"},
         summary="call an export with generated inputs on the current state; shrink a failure",
         example=":fuzz transfer --expect ok == 0 or delta == 0")
def fuzz_(session: Session, args: Args) -> Reply:
    """Call EXPORT with inputs generated from its signature (edge values, small numbers and
    the module's own constants: its data and ``*.const`` immediates), each run on the
    session's current state and committing nothing. A run fails when the contract traps,
    aborts, runs out of fuel or passes a limit; with ``--expect CONDITION``, when the
    condition does not hold of its outcome. Names: ``ok`` (1 or 0), ``error`` (its kind as
    text), ``result``, ``fuel``, ``events``, ``event`` (the last one), ``changes`` (keys
    changed), ``delta`` (sum of new - old of the changed 8-byte integer values), ``arg0``,
    ``arg1``...; syntax as in ``:break`` conditions. The first failing input is shrunk to a
    minimal one, run once more as a dry run and recorded: ``:trace``, ``:goto CALL.STEP`` and
    ``:export`` show it. The command then fails (status 1 in scripts) with the input, the
    error, its source line and the fuel."""
    dbg = session.debugger
    dbg.refuse_while_paused("fuzz")
    contract = session.require_contract()
    export = unquote(args.get("EXPORT") or "")
    runs = _count(args, "--runs", 1, MAX_RUNS) or DEFAULT_RUNS
    seed = _count(args, "--seed", 0, (1 << 64) - 1)
    workers = _count(args, "--workers", 1, MAX_WORKERS) or 1
    expect = _condition(args)
    coverage = Coverage() if args.flag("--coverage") else None
    report = session.run_interruptible(
        lambda: fuzz(session.runtime, contract, export, runs=runs, seed=seed, expect=expect,
                     workers=workers, coverage=coverage))
    if coverage is not None:
        _testing(session).campaigns.merge(coverage)
    if report.failure is not None:
        raise _failure(report)
    return Reply(_report_json(report), _report_text(report))


def _report_json(report: FuzzReport) -> dict[str, Any]:
    stats = report.fuel_stats
    return {"export": report.export, "seed": report.seed, "runs": report.runs,
            "executed": report.executed, "expect": report.expect, "workers": report.workers,
            "endings": report.endings, "elapsed_ms": round(report.elapsed * 1000, 2),
            "fuel": None if stats is None else dict(zip(("min", "median", "max"), stats,
                                                        strict=True))}


def _endings(report: FuzzReport) -> str:
    return ", ".join(f"{kind} {n:,}" for kind, n in sorted(report.endings.items()))


def _report_text(report: FuzzReport) -> Fragments:
    stats = report.fuel_stats
    fuel = f"; fuel min {stats[0]:,} median {stats[1]:,} max {stats[2]:,}" if stats else ""
    what = f"--expect {report.expect}" if report.expect else "no trap, abort, out of fuel or limit"
    out = Out().line(f"fuzz {report.export}: {plural(report.executed, 'run')}, seed "
                     f"{report.seed}, all pass ({what})", "ok")
    out.line(f"  runs ended: {_endings(report)}{fuel}; {report.elapsed:.2f} s"
             + (f", {report.workers} workers" if report.workers > 1 else ""), "muted")
    return out.fragments


def _failure(report: FuzzReport) -> ContractTestFailure:
    failure = report.failure
    assert failure is not None
    outcome = failure.outcome
    label = call_label(report.export, failure.args)
    if failure.reason == "expectation":
        why = f"--expect {report.expect} does not hold"
        if outcome.error is not None:
            why += f" ({' '.join(str(outcome.error).split())})"
    else:
        assert outcome.error is not None
        why = " ".join(str(outcome.error).split())
    loc = failure.location
    where = "" if loc is None else f" at {loc.location}" if loc.location is not None else \
        f" in {loc.function}"
    if loc is not None and outcome.error is None:
        where = f" (last storage write{where})"
    shrunk = "" if failure.found == failure.args else \
        f", shrunk from {call_label(report.export, failure.found)}"
    message = (f"{label} fails: {why}{where}; fuel {outcome.fuel_used:,} (run "
               f"{failure.run + 1} of {report.runs}, seed {report.seed}{shrunk}); recorded as "
               f"call #{outcome.call_id}: :goto {outcome.call_id}.0 or :export FILE")
    location = None
    if failure.location is not None:
        location = failure.location.to_dict()
    return ContractTestFailure(
        message, export=report.export, args=[value_json(v) for v in failure.args],
        found=[value_json(v) for v in failure.found], reason=failure.reason,
        run=failure.run, runs=report.runs, seed=report.seed, expect=report.expect,
        fuel_used=outcome.fuel_used, call_id=outcome.call_id, location=location,
        shrink_runs=failure.shrink_runs,
        error=None if outcome.error is None else outcome.error.to_dict(),
        arguments=arguments(failure.args))


# --- :gas ------------------------------------------------------------------------------------


def session_gas(session: Session) -> list[GasRow]:
    """Per export, the fuel of this session's calls (those the history still holds)."""
    return gas_rows((e.export, e.fuel_used, e.ok) for e in session.debugger.history.calls())


def gas_json(rows: list[GasRow]) -> list[dict[str, Any]]:
    return [{"export": r.export, "calls": r.calls, "failed": r.failed, "min": r.min,
             "median": r.median, "max": r.max} for r in rows]


def gas_text(rows: list[GasRow]) -> Fragments:
    if not rows:
        return Out().line("no calls yet", "muted").fragments
    return table(["export", "calls", "failed", "min", "median", "max"],
                 [(r.export, f"{r.calls:,}", f"{r.failed:,}", f"{r.min:,}", f"{r.median:,}",
                   f"{r.max:,}") for r in rows], ["name", "number", "number", "number",
                                                  "number", "number"])


@command("gas", group="testing", summary="fuel per export: calls, min, median, max",
         example=":gas")
def gas(session: Session, args: Args) -> Reply:
    """Per export, the calls made this session (failed and dry-run ones included) and the
    minimum, median and maximum fuel they used. ``supervm-repl --gas-report`` prints the same
    at the end of a script; ``--gas-snapshot FILE`` and ``--gas-check FILE`` keep it in a
    file and check later runs against it."""
    rows = session_gas(session)
    return Reply({"exports": gas_json(rows)}, gas_text(rows))


# --- :coverage -------------------------------------------------------------------------------


def session_coverage(session: Session) -> Coverage:
    """What this session's calls and campaigns executed: each recorded call not measured yet
    is run again on its coverage build (its own results are not touched)."""
    state = _testing(session)
    history = session.debugger.history
    limits = session.runtime.limits
    for entry in history.calls():
        if entry.call_id in state.measured:
            continue
        try:
            outcome = history.outcome_of(entry)
            storage = history.starting_storage(entry)
        except HistoryDropped:
            continue
        if outcome.contract is None:
            continue
        with contextlib.suppress(CallError):  # an interrupted re-run measures nothing
            measure(state.calls, outcome.contract, outcome.export, outcome.args,
                    storage=storage, context=outcome.context, limits=limits,
                    fuel=outcome.fuel_limit)
        state.measured.add(entry.call_id)  # type: ignore[arg-type]
    total = Coverage()
    total.merge(state.calls)
    total.merge(state.campaigns)
    return total


def _ranges(numbers: list[int]) -> str:
    out: list[str] = []
    start = prev = None
    for n in [*numbers, None]:
        if start is not None and (n is None or n != prev + 1):  # type: ignore[operator]
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if n is not None and start is None:
            start = n
        prev = n
    return ", ".join(out)


def _file_json(f: FileCoverage) -> dict[str, Any]:
    return {"file": f.file, "lines": len(f.lines), "covered": f.covered,
            "percent": round(f.percent, 1), "uncovered": f.uncovered}


@command("coverage", group="testing",
         flags={"--lcov FILE": "also write the coverage as an lcov tracefile (genhtml reads it)"},
         summary="source lines and wasm functions this session's calls executed",
         example=":coverage --lcov coverage.info")
def coverage_(session: Session, args: Args) -> Reply:
    """Which source lines (through the contract's debug information) and which wasm functions
    this session's calls and ``:fuzz --coverage`` campaigns executed: per file the lines with
    code, how many ran and the ones that did not; then the functions never entered. Calls
    are measured by running them again on the contract's coverage build, so measuring
    changes nothing they did. ``--lcov FILE`` writes an lcov tracefile."""
    dbg = session.debugger
    dbg.refuse_while_paused("measure coverage")
    cov = session.run_interruptible(lambda: session_coverage(session))
    files = cov.files()
    functions = cov.functions()
    entered = [f for f in functions if f.calls]
    data: dict[str, Any] = {
        "calls": cov.calls, "files": [_file_json(f) for f in files],
        "functions": [{"index": f.func_index, "name": f.name, "calls": f.calls}
                      for f in functions]}
    out = Out()
    if not functions:
        out.line("nothing measured yet: make calls (or :fuzz --coverage) first", "muted")
    else:
        out.line(f"coverage of {plural(cov.calls, 'call')}", "header")
    if files:
        out.extend(table(["file", "lines", "covered", "uncovered lines"],
                         [(f.file, f"{len(f.lines):,}", f"{f.covered:,} ({f.percent:.0f}%)",
                           _ranges(f.uncovered) or "-") for f in files],
                         ["name", "number", "number", "muted"]))
    if functions:
        missed = [f.name for f in functions if not f.calls]
        out.line(f"functions: {len(entered)} of {len(functions)} entered"
                 + (f"; never entered: {', '.join(missed)}" if missed else ""))
    path = args.flag("--lcov")
    if path:
        target = os.path.expanduser(unquote(str(path)))
        write_file(target, cov.lcov().encode("utf-8"), what="lcov")
        data["lcov"] = target
        out.line(f"wrote {target}", "ok")
    return Reply(data, out.fragments)


# --- the command line's fuel reports -----------------------------------------------------------


def gas_reports(session: Session, args: Any) -> int:
    """``--gas-report``, ``--gas-snapshot FILE`` and ``--gas-check FILE`` at the end of a script
    run; the exit status they ask for (1 on a regression or a file problem, else 0)."""
    if not (args.gas_report or args.gas_snapshot or args.gas_check):
        return 0
    rows = session_gas(session)
    status = 0
    if args.gas_report:
        if args.json:
            sys.stdout.write(json.dumps({"command": "--gas-report", "ok": True,
                                         "exports": gas_json(rows)}) + "\n")
        else:
            sys.stdout.write(plain(gas_text(rows)))
    try:
        if args.gas_snapshot:
            write_snapshot(args.gas_snapshot, rows)
        if args.gas_check:
            result = check(read_snapshot(args.gas_check), rows, tolerance=args.gas_tolerance)
            _gas_check_out(args, result)
            status = 0 if result.ok else 1
    except SuperVMError as exc:
        if args.json:
            sys.stdout.write(json.dumps({"command": "--gas-check", "ok": False,
                                         "error": exc.to_dict()}) + "\n")
        sys.stderr.write(f"supervm-repl: error: {exc}\n")
        return 1
    return status


def _gas_check_out(args: Any, result: GasCheck) -> None:
    if args.json:
        sys.stdout.write(json.dumps({
            "command": "--gas-check", "ok": result.ok, "tolerance": result.tolerance,
            "changes": [{"export": c.export, "stat": c.stat, "old": c.old, "new": c.new,
                         "regression": c.regression} for c in result.changes],
            "missing": result.missing, "added": result.added}) + "\n")
    lines = result.lines()
    if result.ok and args.json:
        return
    if result.ok:
        sys.stdout.write(f"fuel matches {args.gas_check} (tolerance {result.tolerance:g}%)"
                         + "".join(f"\n  {line}" for line in lines) + "\n")
    else:
        sys.stderr.write(f"supervm-repl: fuel regression against {args.gas_check} (tolerance "
                         f"{result.tolerance:g}%):\n" + "".join(f"  {line}\n" for line in lines))


# --- :save-test ------------------------------------------------------------------------------


@command("save-test", "FILE", group="testing",
         summary="write this session's calls as a pytest regression test",
         example=":save-test tests/test_token_session.py")
def save_test(session: Session, args: Args) -> Reply:
    """Write the session's calls and direct edits (``:set``, ``:del``, ``:restore``...) as a
    pytest file: the storage the session started from, then each call's chain context,
    arguments and fuel limit with the results, error, events, storage changes and fuel it
    observed. ``pytest FILE`` calls the module (by its path) again and passes while the
    contract behaves the same; when it changes, the first step that differs fails with a diff.
    Modules typed inline cannot be saved (there is no file to call again)."""
    dbg = session.debugger
    dbg.refuse_while_paused("save a test")
    history = dbg.history
    entries = history.entries()
    if not any(e.is_call for e in entries):
        raise UsageError("no calls to save yet: :call an export first")
    if history.dropped_calls:
        raise UsageError("the oldest calls were dropped from the history (--max-history-mb): "
                         "the session cannot be saved whole")
    start = history.starting_storage(entries[0])
    steps: list[dict[str, Any]] = []
    modules: list[str] = []
    for entry in entries:
        if not entry.is_call:
            steps.append(edit_step(entry.label, entry.changes))
            continue
        outcome = history.outcome_of(entry)
        contract = outcome.contract
        if contract is None or contract.path is None:
            raise UsageError(f"call #{entry.call_id} called a module typed inline: only calls "
                             "of modules loaded from a file can be saved")
        if isinstance(outcome.error, CallError) and outcome.error.kind == "interrupted":
            continue  # stopped by hand: nothing to compare
        step = call_step(outcome)
        module = str(Path(contract.path).resolve())
        if not modules:
            modules.append(module)
        if module != modules[0]:
            step["module"] = module
        steps.append(step)
    path = os.path.expanduser(unquote(args.get("FILE") or ""))
    text = regression_test(modules[0], start, steps,
                           source=f"a session on {Path(modules[0]).name}")
    write_file(path, text.encode("utf-8"), what="test")
    calls = sum(1 for s in steps if "call" in s)
    return Reply({"path": path, "calls": calls, "steps": len(steps), "module": modules[0]},
                 Out().line(f"wrote {path}: {plural(calls, 'call')}"
                            f"{'' if calls == len(steps) else f', {len(steps) - calls} edits'}"
                            f"; run it with pytest {path}", "ok").fragments)
