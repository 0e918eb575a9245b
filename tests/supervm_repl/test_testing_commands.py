"""The contract-testing commands: :fuzz, :gas, :coverage, :save-test, and the command line's
fuel reports (--gas-report, --gas-snapshot, --gas-check) and -i."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from supervm_repl.commands import Outcome
from supervm_repl.session import Session

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
Run = Callable[[str], Outcome]


def _load(run: Run, path: Path, *lines: str) -> None:
    for line in (f':load "{path}"', *lines):
        assert run(line).ok, line


# --- :fuzz ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SAMPLES / "flawed_token.wat",
                                  SAMPLES / "c" / "flawed_token.wasm",
                                  SAMPLES / "assemblyscript" / "flawed_token.wasm"])
def test_fuzz_reports_the_shrunk_failure_and_records_it(run: Run, text, session: Session,
                                                        state, path: Path,
                                                        tmp_path: Path) -> None:
    _load(run, path, ":call mint 0 100")
    before = state(session)
    out = run(":fuzz transfer --seed 7 --expect ok == 0 or delta == 0")
    assert not out.ok and out.error.kind == "test_failed"
    message = text(out)
    assert message.startswith("error: transfer(0, 0, 1) fails: --expect ok == 0 or delta == 0 "
                              "does not hold (last storage write at flawed_token.")
    assert "recorded as call #2: :goto 2.0" in message
    data = out.to_json()["error"]
    assert data["arguments"] == [0, 0, 1] and data["seed"] == 7 and data["call_id"] == 2
    assert data["location"]["source"]["file"].startswith("flawed_token.")
    # Storage is untouched; the failing input is the session's last (dry-run) call.
    after = state(session)
    assert after["storage"] == before["storage"] and after["calls"] == before["calls"] + 1
    assert run(":goto 2.0").ok
    bundle = tmp_path / "failing.json"
    assert run(f':export "{bundle}"').ok
    assert run(f':replay "{bundle}"').ok


def test_fuzz_passing_campaign_and_its_seed(run: Run, text) -> None:
    _load(run, SAMPLES / "token.wat", ":call mint 0 100")
    out = run(":fuzz transfer --runs 100 --seed 3 --expect ok == 0 or delta == 0")
    assert out.ok, text(out)
    assert text(out).startswith("fuzz transfer: 100 runs, seed 3, all pass (--expect ok == 0 "
                                "or delta == 0)")
    data = out.to_json()
    again = run(':fuzz transfer --runs 100 --seed 3 --expect "ok == 0 or delta == 0"')
    assert (data["endings"], data["fuel"]) == (again.to_json()["endings"],
                                               again.to_json()["fuel"])


def test_fuzz_default_failure_is_a_trap_with_its_line(run: Run, text) -> None:
    _load(run, SAMPLES / "c" / "token.wasm")
    out = run(":fuzz transfer --seed 1")
    assert not out.ok and out.error.kind == "test_failed"
    assert "trap (unreachable)" in text(out) and "at token.c:" in text(out)


@pytest.mark.parametrize(("line", "message"), [
    (":fuzz", "missing EXPORT"),
    (":fuzz nope", "no exported function 'nope'"),
    (":fuzz transfer --runs 0", "--runs must be between 1"),
    (":fuzz transfer --runs x", "--runs must be a non-negative integer"),
    (":fuzz transfer --workers 1000", "--workers must be between 1 and 64"),
    (":fuzz transfer --seed -1", "--seed must be a non-negative integer"),
    (":fuzz transfer --expect", "--expect needs a value"),
    (":fuzz transfer --expect nope == 1", "an expectation has no 'nope' to test"),
    (":fuzz transfer --expect ok ==", "incomplete condition"),
    (":fuzz transfer ok == 1", "a condition follows --expect"),
    (":fuzz transfer --expect event == 5", 'expected "text" or 0x bytes'),
])
def test_fuzz_mistakes_are_one_line_usage_errors(run: Run, text, session: Session, state,
                                                 line: str, message: str) -> None:
    _load(run, SAMPLES / "token.wat")
    before = state(session)
    out = run(line)
    assert not out.ok and out.error.kind in ("usage", "no_such_export"), text(out)
    assert message in text(out) and len(text(out).splitlines()) == 1
    assert state(session) == before


def test_fuzz_needs_a_module(run: Run) -> None:
    out = run(":fuzz transfer")
    assert not out.ok and "no module loaded" in str(out.error)


# --- :gas ----------------------------------------------------------------------------------------


def test_gas_lists_fuel_per_export(run: Run, text) -> None:
    assert "no calls yet" in text(run(":gas"))
    _load(run, SAMPLES / "token.wat", ":call mint 0 100", ":call transfer 0 1 30",
          ":call transfer 0 1 10")
    run(":call transfer 0 1 1000")
    out = run(":gas")
    assert out.ok
    rows = {r["export"]: r for r in out.to_json()["exports"]}
    assert rows["transfer"]["calls"] == 3 and rows["transfer"]["failed"] == 1
    assert rows["transfer"]["min"] < rows["transfer"]["median"] <= rows["transfer"]["max"]
    assert text(out).splitlines()[0].split() == ["export", "calls", "failed", "min", "median",
                                                 "max"]


# --- :coverage -----------------------------------------------------------------------------------


def test_coverage_of_the_session_and_lcov(run: Run, text, session: Session,
                                          tmp_path: Path) -> None:
    assert "nothing measured yet" in text(run(":coverage"))
    _load(run, SAMPLES / "c" / "token.wasm", ":call mint 0 100", ":call transfer 0 1 30")
    calls_before = run(":calls").to_json()["calls"]
    trace_before = run(":trace").to_json()
    out = run(f':coverage --lcov "{tmp_path / "cov.info"}"')
    assert out.ok, text(out)
    files = {f["file"]: f for f in out.to_json()["files"]}
    assert 0 < files["token.c"]["covered"] < files["token.c"]["lines"]
    assert "never entered: balance_of, total_supply" in text(out)
    # Measuring changed nothing the calls did, nor what the debugger shows of them.
    assert run(":calls").to_json()["calls"] == calls_before
    assert run(":trace").to_json() == trace_before
    lcov = (tmp_path / "cov.info").read_text()
    assert f"SF:{SAMPLES / 'c' / 'token.c'}" in lcov
    # A campaign measured with --coverage adds to it.
    assert run(":fuzz balance_of --runs 20 --seed 1 --expect ok == 1 or ok == 0 --coverage").ok
    names = {f["name"]: f["calls"] for f in run(":coverage").to_json()["functions"]}
    assert names["balance_of"] == 20
    if shutil.which("genhtml"):
        done = subprocess.run(["genhtml", "-q", "-o", str(tmp_path / "html"),
                               str(tmp_path / "cov.info")], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_coverage_lcov_to_an_unwritable_path_is_an_io_error(run: Run, text) -> None:
    _load(run, SAMPLES / "token.wat", ":call mint 0 1")
    out = run(":coverage --lcov /nonexistent/dir/cov.info")
    assert not out.ok and out.error.kind == "io" and len(text(out).splitlines()) == 1


# --- :save-test ----------------------------------------------------------------------------------


def test_saved_test_passes_then_fails_with_a_diff_when_the_contract_changes(
        run: Run, text, tmp_path: Path) -> None:
    module = tmp_path / "token.wat"
    shutil.copy(SAMPLES / "token.wat", module)
    _load(run, module, ":call mint 0 100", ':set "bal:bob" i64:5', ":call transfer 0 1 30",
          ":block 9")
    run(":call transfer 0 1 3000")
    test = tmp_path / "test_saved.py"
    out = run(f':save-test "{test}"')
    assert out.ok and out.to_json()["calls"] == 3, text(out)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    source = module.read_text()
    module.write_text(source.replace(
        "(i64.sub (local.get $from_balance) (local.get $amount)))",
        "(i64.sub (local.get $from_balance) (i64.add (local.get $amount) (i64.const 1))))"))
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert "step 3: transfer(0, 1, 30)" in done.stdout
    assert "'0x4500000000000000'" in done.stdout and "fuel_used" in done.stdout


def test_save_test_mistakes(run: Run, text, tmp_path: Path) -> None:
    assert "no calls to save yet" in text(run(f':save-test "{tmp_path / "t.py"}"'))
    run('(module (func (export "f") (result i32) i32.const 1))')
    run(":call f")
    out = run(f':save-test "{tmp_path / "t.py"}"')
    assert not out.ok and "typed inline" in text(out)


# --- the command line ----------------------------------------------------------------------------


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervm_repl", *args], capture_output=True,
                          stdin=subprocess.DEVNULL,
                          text=True, cwd=cwd, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})


def test_gas_snapshot_and_check_fail_a_script_on_a_regression(tmp_path: Path) -> None:
    script = tmp_path / "calls.svm"
    script.write_text(":call mint 0 100\n:call transfer 0 1 30\n:call transfer 0 2 5\n")
    snapshot = tmp_path / "fuel.snapshot"
    done = _cli([str(SAMPLES / "token.wat"), "--script", str(script), "--gas-report",
                 "--gas-snapshot", str(snapshot)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "transfer  2      0" in done.stdout, (snapshot.exists(), done)
    assert snapshot.read_text().splitlines()[1:] == ["mint 1 283 283 283",
                                                     "transfer 2 312 312 342"]
    same = _cli([str(SAMPLES / "token.wat"), "--script", str(script), "--gas-check",
                 str(snapshot)], tmp_path)
    assert same.returncode == 0 and "fuel matches" in same.stdout
    worse = _cli([str(SAMPLES / "c" / "token.wasm"), "--script", str(script), "--gas-check",
                  str(snapshot)], tmp_path)
    assert worse.returncode == 1
    assert "fuel regression against" in worse.stderr
    assert "REGRESSION: transfer median: 312 → " in worse.stderr
    tolerated = _cli([str(SAMPLES / "c" / "token.wasm"), "--script", str(script),
                      "--gas-check", str(snapshot), "--gas-tolerance", "1000", "--json"],
                     tmp_path)
    assert tolerated.returncode == 0, tolerated.stderr
    last = json.loads(tolerated.stdout.splitlines()[-1])
    assert last["command"] == "--gas-check" and last["ok"] is True
    bad = _cli([str(SAMPLES / "token.wat"), "--script", str(script), "--gas-check",
                str(script)], tmp_path)
    assert bad.returncode == 1 and "line 1 is not" in bad.stderr
    assert _cli(["--gas-tolerance", "x"], tmp_path).returncode == 2


def test_a_saved_failing_sequence_opens_at_its_failing_call(shell_command: list[str],
                                                            env: dict[str, str],
                                                            tmp_path: Path) -> None:
    import pexpect

    from runtime.testing.invariants import SumEquals, campaign

    report = campaign(SAMPLES / "flawed_token.wat", invariants=[SumEquals()],
                      exports=["mint", "transfer"], seed=1)
    assert report.failure is not None
    script = report.failure.save(tmp_path / "failing.svm")
    child = pexpect.spawn(shell_command[0], [*shell_command[1:], "--script", str(script), "-i"],
                          env=env, encoding="utf-8", timeout=20, dimensions=(40, 120))
    prompt = r"\x1b\[\?2004h[^\n]*?\[block 0\]> "
    child.expect(prompt)
    child.sendline(":trace")
    child.expect(r"call #2 transfer\(0, 0, 1\)")
    child.expect(prompt)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
