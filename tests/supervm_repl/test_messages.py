"""What the shell answers to mistaken or unusual input: one line saying what to type instead,
and the call forms other tools use accepted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from supervm_repl.cli import main
from supervm_repl.commands import Outcome
from supervm_repl.node import main as node_main

Run = Callable[[str], Outcome]


def message(outcome: Outcome) -> str:
    assert not outcome.ok
    return outcome.to_json()["error"]["message"]


def test_a_question_mark_without_colon_says_what_to_type(run: Run) -> None:
    assert message(run("?")).endswith("type :help to list them")
    assert "??" not in message(run("?"))


def test_a_bare_export_name_is_answered_with_the_call_to_type(run: Run, samples: Path) -> None:
    run(f":load {samples / 'token.wat'}")
    assert message(run("transfer 0 1 1")).endswith("type :call transfer 0 1 1")
    assert message(run("transfer(0, 1, 1)")).endswith("type :call transfer(0, 1, 1)")
    assert message(run("storage")).endswith("type :storage")


@pytest.mark.parametrize("line", [":call transfer(0, 1, 30)", ":call transfer 0, 1, 30",
                                  ":call transfer(0,1,30)", ":call transfer (0 1 30)",
                                  ":call transfer 0 1 30"])
def test_call_forms_of_other_tools_are_accepted(run: Run, samples: Path, line: str) -> None:
    run(f":load {samples / 'token.wat'}")
    assert run(":call mint(0, 100)").ok
    outcome = run(line)
    assert outcome.ok, outcome.to_json()
    assert outcome.to_json()["args"] == [{"type": "i32", "value": 0}, {"type": "i32", "value": 1},
                                         {"type": "i64", "value": 30}]


@pytest.mark.parametrize(("line", "says"), [
    (":call transfer(0, 1, 1", "unclosed ("),
    (":call transfer 0,,1", "missing argument before a comma"),
    (":call transfer 0, 1,", "missing argument after the last comma"),
])
def test_malformed_call_forms_are_one_line(run: Run, samples: Path, line: str,
                                           says: str) -> None:
    run(f":load {samples / 'token.wat'}")
    assert says in message(run(line))


def test_an_unquoted_key_is_answered_with_the_quoted_form(run: Run) -> None:
    assert '"bal:bob"' in message(run(":history bal:bob"))
    assert '"counter"' in message(run(":get counter"))


def test_storage_limit_0_with_keys_is_not_empty(run: Run, text: Callable[[Outcome], str]) -> None:
    run(':set "a" "b"')
    shown = text(run(":storage --limit 0"))
    assert "empty" not in shown and "--limit 0" in shown


def test_an_existing_snapshot_is_replaced_only_with_force(run: Run) -> None:
    run(':set "a" "b"')
    assert run(":snapshot before").ok
    run(':set "a" "c"')
    assert "--force" in message(run(":snapshot before"))
    assert run(":snapshot before --force").to_json()["name"] == "before"
    run(':set "a" "d"')
    run(":restore before")
    assert run(':get "a"').to_json()["value"]["text"] == "c"


@pytest.mark.parametrize("value", ["-5", "0x8000000000000000", "18446744073709551615"])
def test_block_numbers_out_of_range_are_refused(run: Run, value: str) -> None:
    assert "0 to 2^63 - 1" in message(run(f":block {value}"))
    assert run(":block").to_json()["block_number"] == 0


def test_block_flag_is_checked_alike(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--block", "-1", "-c", ":ctx"])
    assert exit_info.value.code == 2
    assert "0 to 2^63 - 1" in capsys.readouterr().err


def test_script_errors_carry_file_and_line(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "checks.svm"
    script.write_text(":ctx\n# a comment\n\n:nope\n(module\n  (func $f (nop))\n  oops)\n")
    assert main(["--keep-going", "--script", str(script)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{script}:4: error: unknown command :nope")
    assert err[1].startswith(f"{script}:5: error: WAT syntax error")


def test_node_has_a_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        node_main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("supervm-node ")


def test_messages_that_were_already_right_stay_so(run: Run, samples: Path,
                                                   tmp_path: Path) -> None:
    # A missing import is said once.
    run('(module (import "env" "foo" (func)) (func (export "f")))')
    error = message(run(":call f"))
    assert error.count("SuperVM provides no such import") == 1 and "which SuperVM" not in error
    # :trace before any call says what to do.
    run(f":load {samples / 'token.wat'}")
    assert message(run(":trace")).startswith("no call yet: :call one first")
    # A missing bundle is one line without Python's errno text.
    error = message(run(f":replay {tmp_path / 'nope.json'}"))
    assert "Errno" not in error and "No such file or directory" in error


def test_a_replay_divergence_shows_bytes_as_the_shell_does(run: Run, samples: Path,
                                                            tmp_path: Path) -> None:
    import json

    run(f":load {samples / 'token.wat'}")
    run(":call mint 0 100")
    run(":call transfer 0 1 30")
    path = tmp_path / "transfer.json"
    assert run(f":export {path}").ok
    bundle = json.loads(path.read_text())
    # The recording says storage_get found another value than the re-run will.
    bundle["trace"][0]["payloads"]["value"] = "6500000000000000"
    path.write_text(json.dumps(bundle))
    error = run(f":replay {path}").to_json()["error"]
    assert error["kind"] == "replay_divergence"
    shown = error["message"] + error["divergence"]["expected"] + error["divergence"]["actual"]
    assert "0x6500000000000000" in shown and "0x6400000000000000" in shown
    assert "b'" not in shown and "\\x" not in shown
