"""Contract testing in the runtime: fuzz and invariant campaigns, coverage, fuel snapshots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import Runtime, Value
from runtime.testing.coverage import Coverage
from runtime.testing.expect import Expectation
from runtime.testing.fuzz import fuzz
from runtime.testing.gas import GasRow, check, read_snapshot, write_snapshot
from runtime.testing.inputs import InputSpace, shrink
from runtime.testing.invariants import SumEquals, campaign

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
FLAWED = {
    "wat": SAMPLES / "flawed_token.wat",
    "c": SAMPLES / "c" / "flawed_token.wasm",
    "assemblyscript": SAMPLES / "assemblyscript" / "flawed_token.wasm",
}
CONSERVES = "ok == 0 or delta == 0"


def _token(path: Path, *mints: tuple[int, int]) -> tuple[Runtime, object]:
    runtime = Runtime()
    contract = runtime.load_file(path)
    for who, amount in mints:
        runtime.call(contract, "mint", (who, amount))
    return runtime, contract


# --- inputs and shrinking ------------------------------------------------------------------------


def test_inputs_depend_only_on_seed_and_run() -> None:
    _, contract = _token(SAMPLES / "token.wat")
    space = InputSpace.of(contract, "transfer")
    assert space.input(5, 17) == InputSpace.of(contract, "transfer").input(5, 17)
    assert [v.type for v in space.input(5, 17)] == ["i32", "i32", "i64"]
    assert len({space.input(5, i) for i in range(50)}) > 40
    # The module's constants are candidates: 9 is the length byte of "bal:alice".
    assert Value.of("i32", 9) in space.constants["i32"]


def test_shrink_finds_the_smallest_failing_magnitude() -> None:
    start = (Value.of("i32", 12345), Value.of("i64", -999))
    args, runs = shrink(start, lambda a: a[0].value >= 100)
    assert [v.value for v in args] == [100, 0]
    assert runs < 100


def test_expectation_names_and_errors() -> None:
    Expectation.parse("result == 1 and arg2 > 3", ["i32", "i32", "i64"])
    with pytest.raises(Exception, match="no 'arg5'"):
        Expectation.parse("arg5 == 1", ["i32"])
    with pytest.raises(Exception, match="expected NAME OP VALUE"):
        Expectation.parse("ok ==", [])


# --- fuzz campaigns ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", list(FLAWED))
def test_fuzz_finds_and_shrinks_the_planted_bug(language: str) -> None:
    runtime, contract = _token(FLAWED[language], (0, 100))
    before = runtime.storage.snapshot()
    seen = []
    runtime.observers.append(seen.append)
    report = fuzz(runtime, contract, "transfer", seed=7, expect=CONSERVES)
    failure = report.failure
    assert failure is not None and failure.reason == "expectation"
    assert [v.value for v in failure.args] == [0, 0, 1]
    assert failure.location is not None and failure.location.location is not None
    assert failure.location.location.file.startswith("flawed_token.")
    # Nothing committed; the minimal input was run once more where observers see it.
    assert runtime.storage.snapshot() == before
    assert [o.export for o in seen] == ["transfer"] and seen[0].dry_run
    assert seen[0].call_id == failure.outcome.call_id


def test_fuzz_default_failure_is_a_trap_with_its_source_line() -> None:
    runtime, contract = _token(SAMPLES / "c" / "token.wasm")
    report = fuzz(runtime, contract, "transfer", seed=1)
    failure = report.failure
    assert failure is not None and failure.outcome.error is not None
    assert failure.outcome.error.kind == "trap"
    assert failure.location is not None and failure.location.location.file == "token.c"
    assert report.executed == failure.run + 1


def test_same_seed_same_campaign_and_correct_contract_passes() -> None:
    runtime, contract = _token(SAMPLES / "token.wat", (0, 100))
    a = fuzz(runtime, contract, "transfer", seed=3, runs=300, expect=CONSERVES)
    b = fuzz(runtime, contract, "transfer", seed=3, runs=300, expect=CONSERVES)
    assert a.failure is None and a.executed == 300
    assert (a.fuel, a.endings) == (b.fuel, b.endings)
    assert a.endings.get("ok", 0) >= 5


@pytest.mark.slow
def test_workers_give_the_same_campaign() -> None:
    runtime, contract = _token(FLAWED["wat"], (0, 100))
    one = fuzz(runtime, contract, "transfer", seed=11, runs=400, expect=CONSERVES)
    two = fuzz(runtime, contract, "transfer", seed=11, runs=400, expect=CONSERVES, workers=2)
    assert (one.fuel, one.endings, one.executed) == (two.fuel, two.endings, two.executed)
    assert one.failure is not None and two.failure is not None
    assert one.failure.args == two.failure.args and one.failure.run == two.failure.run


def test_fuzz_refuses_bad_requests() -> None:
    runtime, contract = _token(SAMPLES / "token.wat")
    with pytest.raises(Exception, match="no exported function"):
        fuzz(runtime, contract, "nope")
    with pytest.raises(ValueError):
        fuzz(runtime, contract, "transfer", runs=0)
    with pytest.raises(ValueError):
        fuzz(runtime, contract, "transfer", workers=0)


# --- coverage ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SAMPLES / "token.wat", SAMPLES / "c" / "token.wasm",
                                  SAMPLES / "assemblyscript" / "token.wasm"])
def test_coverage_changes_nothing_a_call_does(path: Path) -> None:
    plain, contract = _token(path, (0, 100))
    measured, contract2 = _token(path, (0, 100))
    coverage = Coverage()
    target, hook = coverage.runner(contract2)
    for args in [(0, 1, 30), (0, 0, 5), (1, 2, 1000), (7, 1, 1)]:
        outcomes = []
        for rt, c, kw in ((plain, contract, {}), (measured, target, {"probe_hook": hook})):
            try:
                r = rt.call(c, "transfer", args, **kw)
            except Exception as exc:
                r = exc.outcome  # type: ignore[attr-defined]
            outcomes.append(r)
        a, b = outcomes
        assert (a.results, a.fuel_used, a.events, a.storage_changes, a.trace) == \
            (b.results, b.fuel_used, b.events, b.storage_changes, b.trace)
        assert (a.error is None) == (b.error is None)
        if a.error is not None:
            assert str(a.error) == str(b.error)
    assert plain.storage.snapshot() == measured.storage.snapshot()
    files = coverage.files()
    assert files and all(0 < f.covered <= len(f.lines) for f in files)
    names = {f.name.rsplit("/", 1)[-1]: f.calls for f in coverage.functions()}
    assert names["transfer"] == 4 and names["mint"] == 0


def test_lcov_is_accepted_by_genhtml(tmp_path: Path) -> None:
    runtime, contract = _token(SAMPLES / "c" / "token.wasm", (0, 100))
    coverage = Coverage()
    fuzz(runtime, contract, "transfer", seed=1, runs=50, expect="ok == 1 or ok == 0",
         coverage=coverage)
    text = coverage.lcov()
    assert text.startswith("TN:") and "end_of_record" in text
    assert f"SF:{SAMPLES / 'c' / 'token.c'}" in text
    info = tmp_path / "coverage.info"
    info.write_text(text)
    if shutil.which("genhtml") is None:
        pytest.skip("genhtml (lcov) is not installed")
    done = subprocess.run(["genhtml", "-q", "-o", str(tmp_path / "html"), str(info)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "html" / "index.html").exists()


# --- fuel snapshots ------------------------------------------------------------------------------


def test_gas_snapshot_round_trip_and_check(tmp_path: Path) -> None:
    rows = [GasRow("mint", 1, 0, 283, 283, 283), GasRow("transfer", 3, 1, 90, 342, 350)]
    path = tmp_path / "fuel.snapshot"
    write_snapshot(path, rows)
    assert [(r.export, r.median) for r in read_snapshot(path)] == [("mint", 283),
                                                                   ("transfer", 342)]
    worse = [GasRow("mint", 1, 0, 283, 283, 283), GasRow("transfer", 3, 1, 90, 360, 350)]
    result = check(read_snapshot(path), worse)
    assert not result.ok and [str(c) for c in result.regressions] == [
        "transfer median: 342 → 360 (+5.3%)"]
    assert check(read_snapshot(path), worse, tolerance=10).ok
    path.write_text("mint 1 2\n")
    with pytest.raises(Exception, match="line 1 is not"):
        read_snapshot(path)


# --- invariant campaigns -------------------------------------------------------------------------


@pytest.mark.parametrize("language", list(FLAWED))
def test_invariant_campaign_shrinks_the_planted_bug_to_two_calls(language: str,
                                                                 tmp_path: Path) -> None:
    report = campaign(FLAWED[language], invariants=[SumEquals()], exports=["mint", "transfer"],
                      seed=1)
    failure = report.failure
    assert failure is not None and failure.invariant == "sum of bal:* == supply"
    assert [str(s) for s in failure.steps] == ["mint(0, 1) -> 1", "transfer(0, 0, 1) -> 1"]
    script = failure.save(tmp_path / "failing.svm")
    done = subprocess.run([sys.executable, "-m", "supervm_repl", "--json", "--script",
                           str(script)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert '"export": "transfer"' in done.stdout.splitlines()[-1]


def test_invariant_campaign_passes_on_the_correct_token() -> None:
    report = campaign(SAMPLES / "token.wat", invariants=[SumEquals()], runs=30, depth=10,
                      seed=2)
    assert report.passed and report.calls == 300


@pytest.mark.slow
def test_invariant_campaign_with_workers_is_the_same() -> None:
    one = campaign(FLAWED["wat"], invariants=[SumEquals()], exports=["mint", "transfer"],
                   seed=4, runs=40)
    two = campaign(FLAWED["wat"], invariants=[SumEquals()], exports=["mint", "transfer"],
                   seed=4, runs=40, workers=2)
    assert one.failure is not None and two.failure is not None
    assert one.failure.steps == two.failure.steps


def test_sample_contract_tests_fail_on_the_flawed_token_and_pass_on_the_token() -> None:
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            str(SAMPLES / "testing")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    flawed = subprocess.run(base, capture_output=True, text=True, env=env, cwd=REPO)
    assert flawed.returncode == 1, flawed.stdout
    assert "2. transfer(0, 0, 1) -> 1" in flawed.stdout
    assert "supervm-repl --script" in flawed.stdout
    good = subprocess.run(base, capture_output=True, text=True,
                          env={**env, "TOKEN_SAMPLE": "token.wat"}, cwd=REPO)
    assert good.returncode == 0, good.stdout


def test_invariant_campaign_options_coverage_and_mistakes() -> None:
    coverage = Coverage()
    report = campaign(SAMPLES / "token.wat", invariants=[SumEquals()], exports=["transfer"],
                      runs=5, depth=5, seed=1, coverage=coverage)
    assert report.passed and coverage.calls == report.calls == 25
    assert {f.name: f.calls for f in coverage.functions()}["transfer"] == 25
    # A call that fails is a failure only when asked: the sequence is that one call.
    strict = campaign(SAMPLES / "abort.wat", invariants=[], exports=["fail"], runs=5,
                      depth=3, seed=1, fail_on_error=True)
    assert strict.failure is not None and strict.failure.invariant == "call failed"
    assert len(strict.failure.steps) == 1 and not strict.failure.steps[0].ok

    def never(state: object) -> None:
        raise AssertionError("always broken")

    broken = campaign(SAMPLES / "token.wat", invariants=[never], runs=2, depth=2)
    assert broken.failure is not None and broken.failure.steps == []
    assert broken.failure.message == "always broken"
    with pytest.raises(Exception, match="no exported function"):
        campaign(SAMPLES / "token.wat", invariants=[], exports=["nope"])
    with pytest.raises(ValueError):
        campaign(SAMPLES / "token.wat", invariants=[], runs=0)
