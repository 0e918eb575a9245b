"""The debugger's commands: traces, time travel, breakpoints, key history, replay bundles."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from supervm_repl.app import Shell
from supervm_repl.batch import Batch
from supervm_repl.commands import Outcome, execute
from supervm_repl.session import Session
from tests.support import sample

Run = Callable[[str], Outcome]
Text = Callable[[Outcome], str]

ALICE, BOB = "bal:alice", "bal:bob"


def le(n: int) -> str:
    return n.to_bytes(8, "little").hex()


def data(outcome: Outcome) -> dict:  # type: ignore[type-arg]
    assert outcome.ok, outcome.to_json()
    return outcome.to_json()


def storage_of(outcome: Outcome) -> dict[str, str]:
    return {e["key"]["text"]: e["value"]["hex"] for e in data(outcome)["entries"]
            if e["value"] is not None}


def events_of(outcome: Outcome) -> list[str]:
    return [e["text"] for e in data(outcome)["events"]]


@pytest.fixture
def token(session: Session, run: Run, samples: Path) -> Session:
    """The token sample with alice holding 100."""
    assert run(f":load {samples / 'token.wat'}").ok
    assert run(":call mint 0 100").ok
    return session


# --- the trace ------------------------------------------------------------------------------------


def test_trace_decodes_host_calls(token: Session, run: Run, text: Text) -> None:
    data(run(":call transfer 0 1 30"))
    out = run(":trace")
    shown = text(out)
    assert 'key@0x11="bal:alice"' in shown  # a pointer with the bytes it points to
    assert "ptr=0x100←0x6400000000000000" in shown  # what the host wrote there
    assert '"bal:bob": (absent) → 0x1e00000000000000' in shown
    assert 'data@0x200="transfer:alice->bob:30"' in shown and "event #0" in shown
    calls = data(out)["host_calls"]
    assert [c["name"] for c in calls] == ["storage_get", "storage_read_value", "storage_get",
                                          "storage_set", "storage_set", "emit_event"]
    assert calls[4]["effect"]["storage"]["text"] == BOB and calls[4]["fuel"] > 0
    assert calls[0]["args"] == {"key_ptr": 0x11, "key_len": 9}
    only = data(run(":trace storage_set"))
    assert [c["step"] for c in only["host_calls"]] == [3, 4] and only["steps"] == 6
    assert not run(":trace storage_sett").ok
    assert data(run(":trace --limit 2"))["host_calls"][-1]["step"] == 1


# --- time travel ----------------------------------------------------------------------------------


def test_step_back_and_forth_over_a_transfer(token: Session, run: Run, text: Text) -> None:
    data(run(":call transfer 0 1 30"))
    before = {"supply": le(100), ALICE: le(100)}
    # (storage, events) just before each step; the transfer writes alice at 3, bob at 4 and
    # emits at 5.
    expected = [before] * 4 + [{**before, ALICE: le(70)}] + \
        [{**before, ALICE: le(70), BOB: le(30)}] * 2
    events = [[]] * 6 + [["transfer:alice->bob:30"]]
    moved = data(run(":first"))
    assert moved["step"] == 0 and moved["at"]["state"] == "history"
    for step in range(6):
        assert storage_of(run(":storage")) == expected[step], step
        assert events_of(run(":events")) == events[step], step
        where = data(run(":where"))
        assert where["step"] == step
        data(run(":step"))
    assert data(run(":where"))["at"] == {"state": "live"}  # past the last step: live again
    for step in reversed(range(6)):
        assert data(run(":back"))["step"] == step
        assert storage_of(run(":storage")) == expected[step], step
        assert events_of(run(":events")) == events[step], step
    # The step's own change is marked.
    data(run(":goto 4"))
    marked = data(run(":storage"))
    assert [e["changes_to"]["hex"] for e in marked["entries"] if "changes_to" in e] == [le(30)]
    assert "◀ this step: → 0x1e00000000000000" in text(run(":storage"))
    data(run(":goto 5"))
    assert data(run(":events"))["emitting"]["text"] == "transfer:alice->bob:30"
    assert data(run(":last"))["step"] == 5
    assert data(run(":goto end"))["at"] == {"state": "live"}
    assert not run(":goto 99").ok and not run(":step").ok


def test_prompt_shows_the_cursor(token: Session, run: Run) -> None:
    shell = Shell(token, color=False)
    plain = lambda: "".join(t for _, t in shell._message())  # noqa: E731
    assert plain() == "token.wat [block 0]> "
    data(run(":call transfer 0 1 30"))
    data(run(":back 4"))
    assert plain() == "token.wat #2 step 2/6 [block 0]> "
    data(run(":call balance_of 1"))  # a new call returns to the live state
    assert plain() == "token.wat [block 0]> "


def test_diff_between_steps(token: Session, run: Run, text: Text) -> None:
    data(run(":call transfer 0 1 30"))
    forward = data(run(":diff 0 end"))
    assert [(c["key"]["text"], c["old"] and c["old"]["hex"], c["new"]["hex"])
            for c in forward["storage_changes"]] == [(ALICE, le(100), le(70)), (BOB, None, le(30))]
    assert [e["text"] for e in forward["events"]] == ["transfer:alice->bob:30"]
    partial = data(run(":diff 4 3"))  # backwards: new → old
    assert [(c["key"]["text"], c["new"]["hex"]) for c in partial["storage_changes"]] == [
        (ALICE, le(100))]
    assert "no storage changes" in text(run(":diff 0 2"))
    assert not run(":diff 0 7").ok


def test_history_of_a_key_across_calls_and_goto(token: Session, run: Run) -> None:
    data(run(":call transfer 0 1 30"))
    data(run(":call transfer 1 2 10"))
    data(run(':set "bal:bob" i64:5'))
    data(run(":call balance_of 1"))
    accesses = data(run(':history "bal:bob"'))["accesses"]
    assert [(a["call_id"], a["step"], a["access"]) for a in accesses] == [
        (2, 2, "read"), (2, 4, "write"), (3, 0, "read"), (3, 3, "write"),
        (None, None, "write"), (4, 0, "read")]
    assert [a["new"]["hex"] for a in accesses if a["access"] == "write"] == [
        le(30), le(20), le(5)]
    moved = data(run(":goto 3.3"))
    assert moved["call_id"] == 3 and moved["host_call"]["name"] == "storage_set"
    assert storage_of(run(":storage"))[BOB] == le(30)
    assert not run(":goto 9.0").ok


def test_time_travel_is_right_after_direct_edits(token: Session, run: Run) -> None:
    data(run(":call transfer 0 1 30"))
    data(run(':set "bal:alice" i64:1'))
    data(run(':del "bal:bob"'))
    data(run(":snapshot s"))
    data(run(":reset"))
    data(run(":goto 2.0"))
    assert storage_of(run(":storage")) == {"supply": le(100), ALICE: le(100)}
    data(run(":goto 2.end"))
    assert storage_of(run(":storage")) == {"supply": le(100), ALICE: le(70), BOB: le(30)}
    data(run(":restore s"))
    data(run(":call balance_of 0"))
    data(run(":back"))
    assert storage_of(run(":storage")) == {"supply": le(100), ALICE: le(1)}


def test_memory_at_a_step_is_rebuilt(token: Session, run: Run) -> None:
    data(run(":call transfer 0 1 30"))
    data(run(":last"))  # the emit_event: the event text is built in memory at 0x200
    at_emit = data(run(":mem 0x200 22"))
    assert bytes.fromhex(at_emit["hex"]) == b"transfer:alice->bob:30"
    data(run(":first"))
    assert bytes.fromhex(data(run(":mem 0x200 22"))["hex"]) == bytes(22)


def test_a_rerun_that_diverges_is_reported(token: Session, run: Run, text: Text) -> None:
    data(run(":call transfer 0 1 30"))
    history = token.debugger.history
    history.outcome_of(history.last_call).trace[0].args = (0x99, 9)  # as if recorded so
    data(run(":last"))
    failed = run(":mem 0x200 22")
    assert not failed.ok and failed.to_json()["error"]["kind"] == "replay_divergence"
    assert "diverged at step 0" in text(failed)


# --- breakpoints ----------------------------------------------------------------------------------


def test_breakpoint_without_condition_pauses_and_continues(token: Session, run: Run,
                                                           text: Text) -> None:
    assert data(run(":break emit_event"))["number"] == 1
    paused = data(run(":call transfer 0 1 30"))
    assert paused["paused"] and paused["step"] == 5 and paused["breakpoint"]["number"] == 1
    assert paused["host_call"]["payloads"]["data"]["text"] == "transfer:alice->bob:30"
    assert "paused call #2" in text(run(":where"))
    # Live state: the call's own writes are visible, its event not yet emitted.
    assert storage_of(run(":storage"))[BOB] == le(30)
    assert events_of(run(":events")) == []
    assert data(run(":events"))["emitting"]["text"] == "transfer:alice->bob:30"
    assert data(run(":trace"))["cursor"] == 5
    finished = data(run(":continue"))
    assert not finished["paused"] and finished["results"][0]["value"] == 1
    assert [e.data for e in token.runtime.event_log][-1] == b"transfer:alice->bob:30"
    assert data(run(":breaks"))["breakpoints"][0]["hits"] == 1
    data(run(":unbreak 1"))
    assert not data(run(":call transfer 0 1 1"))["paused"]
    assert not run(":unbreak 1").ok and not run(":continue").ok


def test_conditional_breakpoint_and_memory_while_paused(token: Session, run: Run) -> None:
    data(run(':break storage_set if key == "bal:bob"'))
    assert not data(run(":call transfer 0 2 5"))["paused"]  # to carol: no pause
    paused = data(run(":call transfer 0 1 30"))
    assert paused["paused"] and paused["step"] == 4
    assert paused["host_call"]["payloads"]["key"]["text"] == BOB
    # The contract wrote the value to 0x100 just before calling storage_set.
    assert data(run(":mem 0x100 8"))["hex"] == le(30)
    assert data(run(":mem 0x21 7"))["hex"] == BOB.encode().hex()
    data(run(":abort"))
    bad = run(":break storage_set if nonsense == 1")
    assert not bad.ok and bad.to_json()["error"]["kind"] == "usage"


def test_step_while_paused_runs_one_host_call(token: Session, run: Run) -> None:
    data(run(":break storage_get"))
    assert data(run(":call transfer 0 1 30"))["step"] == 0
    data(run(":unbreak all"))
    assert data(run(":step"))["step"] == 1
    assert data(run(":step 2"))["step"] == 3
    finished = data(run(":step 10"))
    assert not finished["paused"] and finished["committed"]


def test_abort_leaves_storage_and_events_unchanged(token: Session, run: Run,
                                                  state: Callable) -> None:
    data(run(":break storage_set"))
    before = {k: v for k, v in state(token).items() if k != "calls"}
    data(run(":call transfer 0 1 30"))
    data(run(":step"))  # alice's balance is written inside the call
    aborted = data(run(":abort"))
    assert aborted["error"]["kind"] == "interrupted"
    assert {k: v for k, v in state(token).items() if k != "calls"} == before
    assert not token.debugger.history.outcome_of(token.debugger.history.last_call).ok
    assert data(run(":where"))["at"] == {"state": "live"}


def test_continue_commits_what_an_uninterrupted_call_commits(samples: Path) -> None:
    def final(debugged: bool) -> tuple:
        session = Session()
        try:
            for line in [f":load {samples / 'token.wat'}", ":call mint 0 100",
                         *([":break storage_get", ":break emit_event"] if debugged else []),
                         ":call transfer 0 1 30", *([":continue"] * 3 if debugged else [])]:
                assert execute(session, line).ok, line
            assert session.debugger.paused is None
            history = session.debugger.history
            result = history.outcome_of(history.last_call)
            return (session.storage.snapshot(), list(session.runtime.event_log),
                    result.fuel_used, [e.to_dict() for e in result.trace])
        finally:
            session.close()

    assert final(True) == final(False)


def test_state_changes_are_refused_while_paused(token: Session, run: Run, text: Text,
                                                samples: Path) -> None:
    data(run(":break storage_set"))
    data(run(":call transfer 0 1 30"))
    for line in [":call balance_of 0", f":load {samples / 'add.wat'}", ':set "x" "y"',
                 ':del "supply"', ":block 5", ":fuel 10", ":reset", ":snapshot s",
                 ":restore s", ":back", ":goto 1.0", ":export x.json"]:
        refused = run(line)
        assert not refused.ok and refused.to_json()["error"]["kind"] == "usage", line
    assert "paused" in text(run(":call balance_of 0"))
    data(run(":continue"))
    data(run(":continue"))
    assert token.get(b"bal:bob") == bytes.fromhex(le(30))


# --- scripts --------------------------------------------------------------------------------------


def test_scripts_drive_a_pause_and_never_hang(token: Session) -> None:
    import io

    out, err = io.StringIO(), io.StringIO()
    status = Batch(token, json_mode=True, out=out, err=err).run(
        [':break storage_set if key == "bal:bob"', ":call transfer 0 1 30", ":where",
         ":storage", ":continue", ":call transfer 0 1 5"])
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [d["command"] for d in lines] == [":break", ":call", ":where", ":storage",
                                             ":continue", ":call", ":abort"]
    assert lines[1]["paused"] and lines[4]["results"][0]["value"] == 1
    assert lines[-1]["ok"] is False and "end of script" in lines[-1]["error"]["message"]
    assert status == 1 and token.debugger.paused is None
    assert token.get(b"bal:bob") == bytes.fromhex(le(30))  # the aborted call committed nothing


# --- replay bundles -------------------------------------------------------------------------------


def _replay(shell_command: list[str], env: dict[str, str], *args: str
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*shell_command, "--replay", *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_export_replays_identically_in_a_fresh_process(
        token: Session, run: Run, tmp_path: Path, shell_command: list[str],
        env: dict[str, str]) -> None:
    data(run(":call transfer 0 1 30"))
    path = tmp_path / "transfer.json"
    exported = data(run(f':export "{path}"'))
    assert exported["host_calls"] == 6 and exported["keys"] == 2
    bundle = json.loads(path.read_text())
    assert {tuple(p) for p in bundle["storage"]} == {
        (b"supply".hex(), le(100)), (ALICE.encode().hex(), le(100))}
    assert data(run(f':replay "{path}"'))["identical"]
    fresh = _replay(shell_command, env, str(path))
    assert fresh.returncode == 0, fresh.stderr
    assert "identical: 6 host calls" in fresh.stdout
    # A failed call exports and replays too (as failing the same way).
    assert not run(":call transfer 2 0 1").ok
    data(run(f':export "{tmp_path / "failed.json"}"'))
    assert data(run(f':replay "{tmp_path / "failed.json"}"'))["identical"]


def test_an_altered_instruction_diverges_at_its_first_host_call(
        token: Session, run: Run, tmp_path: Path, shell_command: list[str],
        env: dict[str, str]) -> None:
    data(run(":call transfer 0 1 30"))
    path = tmp_path / "transfer.json"
    data(run(f':export "{path}"'))
    bundle = json.loads(path.read_text())
    # One instruction: the digit base of the event text ('0' + n becomes '1' + n).
    source = sample("token.wat")
    altered = source.replace("(i32.add (i32.const 0x30)", "(i32.add (i32.const 0x31)")
    assert altered.count("0x31") == source.count("0x31") + 1
    wasm = bytes(wasmtime.wat2wasm(altered))
    bundle["module"].update(sha256=hashlib.sha256(wasm).hexdigest(),
                            wasm=base64.b64encode(wasm).decode())
    path.write_text(json.dumps(bundle))
    diverged = run(f':replay "{path}"')
    error = diverged.to_json()["error"]
    assert error["kind"] == "replay_divergence"
    assert error["divergence"]["step"] == 5 and error["divergence"]["what"] == "host call"
    assert "transfer:alice->bob:41" in error["divergence"]["actual"]
    fresh = _replay(shell_command, env, str(path), "--json")
    assert fresh.returncode == 1
    report = json.loads(fresh.stdout)
    assert report["ok"] is False and report["error"]["divergence"]["step"] == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "is not JSON"), ('{"format": "other"}', "not a SuperVM replay bundle"),
     ('{"format": "supervm-replay", "version": 1, "module": {}}', "malformed bundle"),
     (None, "cannot read")],
)
def test_malformed_bundles_are_one_line_errors(run: Run, text: Text, tmp_path: Path,
                                               content: str | None, message: str) -> None:
    path = tmp_path / "bundle.json"
    if content is not None:
        path.write_text(content)
    out = run(f':replay "{path}"')
    assert not out.ok and out.to_json()["error"]["kind"] == "io"
    assert message in text(out) and len(text(out).splitlines()) == 1


def test_malformed_bundle_from_the_command_line(shell_command: list[str], env: dict[str, str],
                                                tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_bytes(b"\x00\xffjunk")
    result = _replay(shell_command, env, str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("supervm-repl: error: ")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
