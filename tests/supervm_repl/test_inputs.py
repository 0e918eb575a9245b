"""Command history: ``:history`` without a KEY lists the commands typed, ``!N``, ``!!`` and
``:rerun N`` run one again; ``:history KEY`` stays a key's reads and writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from supervm_repl.commands import Outcome
from supervm_repl.inputs import Inputs, rerun_target

Run = Callable[[str], Outcome]
TextOf = Callable[[Outcome], str]


def test_rerun_targets() -> None:
    assert rerun_target("!3") == 3 and rerun_target("!!") == -1 and rerun_target("!-2") == -2
    assert rerun_target("!x") is None and rerun_target(":call") is None


def test_inputs_are_numbered_and_bounded() -> None:
    inputs = Inputs()
    for i in range(3):
        inputs.add(f":block {i}")
    assert inputs.get(1) == ":block 0" and inputs.get(-1) == ":block 2"
    inputs.add("(module " + " " * 100_000 + ")")
    assert "too long" in _error(lambda: inputs.get(4))


def _error(thunk: Callable[[], object]) -> str:
    try:
        thunk()
    except Exception as exc:
        return str(exc)
    return ""


def test_history_without_key_lists_the_commands(run: Run, text: TextOf, samples: Path) -> None:
    assert "no commands yet" in text(run(":history"))
    run(f":load {samples / 'counter.wat'}")
    run(":call increment")
    run(":nope")  # failed lines are kept too
    listed = run(":hist").to_json()["commands"]
    assert [c["line"] for c in listed] == [":history", f":load {samples / 'counter.wat'}",
                                          ":call increment", ":nope"]
    assert "!N or :rerun N" in text(run(":history"))


def test_bang_and_rerun_run_a_command_again(run: Run, text: TextOf, samples: Path) -> None:
    run(f":load {samples / 'counter.wat'}")
    run(":call increment")
    again = run("!2")
    assert again.ok and again.command == ":rerun"
    assert text(again).startswith(":call increment\n→ i64 2")
    assert run("!!").to_json()["results"][0]["value"] == 3
    assert run(":rerun 2").to_json()["results"][0]["value"] == 4
    # Re-runs are kept as the command they ran.
    lines = [c["line"] for c in run(":history").to_json()["commands"]]
    assert lines[1:5] == [":call increment"] * 4


def test_rerun_errors_are_one_line(run: Run) -> None:
    assert "no commands yet" in run("!1").to_json()["error"]["message"]
    run(":block 5")
    assert "no command 7" in run("!7").to_json()["error"]["message"]
    assert "not 'x'" in run(":rerun x").to_json()["error"]["message"]
    run(":nope")
    assert run("!-1").to_json()["error"]["message"].startswith("unknown command :nope")


def test_history_with_a_key_is_still_the_keys(run: Run, samples: Path) -> None:
    run(f":load {samples / 'counter.wat'}")
    run(":call increment")
    assert run(':history "counter"').to_json()["count"] == 2


def test_help_says_both_meanings(run: Run, text: TextOf) -> None:
    listing = text(run(":help"))
    assert "no KEY: the commands typed" in listing and ":rerun [N]" in listing
    assert ":hist = :history" in listing


def test_the_oldest_commands_are_forgotten_first(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("supervm_repl.inputs.KEPT", 3)
    inputs = Inputs()
    for i in range(5):
        inputs.add(f":block {i}")
    assert inputs.first == 3 and inputs.get(5) == ":block 4"
    assert "no command 2" in _error(lambda: inputs.get(2))


def test_a_command_number_of_thousands_of_digits_is_a_usage_error(run: Run) -> None:
    huge = "9" * 5000  # int() refuses strings this long: it was an internal error
    for line in (f":rerun {huge}", f"!{huge}", f":rerun -{huge}"):
        error = run(line).to_json()["error"]
        assert error["kind"] == "usage", (line[:20], error)
