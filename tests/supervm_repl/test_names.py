"""Names and help as people read them: help without reST markup, parameter names from the
module's name section in :info, completion, argument errors and the hint below the line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from supervm_repl.commands import Outcome, default_commands, plain_help, reflow
from supervm_repl.completer import completer_for
from supervm_repl.session import Session

Run = Callable[[str], Outcome]
TextOf = Callable[[Outcome], str]


def test_help_shows_no_rest_markup(run: Run, text: TextOf) -> None:
    shown = text(run(":help call"))
    assert "``" not in shown and "(1_000, 0xFFFF_FFFF, -1)" in shown
    assert "``" not in run(":help call").to_json()["details"]
    assert plain_help("a ``b`` c ``d e``") == "a b c d e"


def test_help_text_is_reflowed() -> None:
    assert reflow("one two\nthree four five", 10) == "one two\nthree four\nfive"
    assert reflow("text\n\n    kept  as is", 10) == "text\n\n    kept  as is"


def test_info_and_errors_name_the_parameters(run: Run, text: TextOf, samples: Path) -> None:
    run(f":load {samples / 'token.wat'}")
    info = text(run(":info"))
    assert "mint(to: i32, amount: i64) -> i64" in info
    assert "total_supply() -> i64" in info
    error = run(":call transfer 1").to_json()["error"]["message"]
    assert error == "transfer takes 3 arguments (from: i32, to: i32, amount: i64), got 1"
    error = run(":call transfer 1 x 2").to_json()["error"]["message"]
    assert error.startswith("transfer argument 2 (to: i32): ")


def test_unnamed_parameters_show_their_type(run: Run, text: TextOf) -> None:
    run('(module (func (export "f") (param i32 i64) (result i32) (i32.const 0)))')
    assert "f(i32, i64) -> i32" in text(run(":info"))


def test_completion_meta_is_the_readable_signature(session: Session, samples: Path) -> None:
    session.load_file(samples / "token.wat")
    completer = completer_for(session, default_commands())
    metas = {c.text: c.display_meta_text for c in completer.get_completions(
        Document(":call "), CompleteEvent(True))}
    assert metas["total_supply"] == "() -> i64"
    assert metas["mint"] == "(to: i32, amount: i64) -> i64"


def test_the_hint_marks_the_parameter_being_typed(session: Session, samples: Path) -> None:
    session.load_file(samples / "token.wat")
    completer = completer_for(session, default_commands())

    def current(text: str) -> str | None:
        hint = completer.hint(text) or []
        return next((t for style, t in hint if style == "class:hint.current"), None)

    assert current(":call transfer ") == "from: i32"
    assert current(":call transfer 1") == "from: i32"
    assert current(":call transfer 1 ") == "to: i32"
    assert current(":call transfer 1 2 3 ") is None  # all given
    usage = "".join(t for _, t in completer.hint(":storage ") or [])
    assert usage.startswith(":storage [PREFIX]")
    assert completer.hint("") is None and completer.hint(":nope ") is None


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_the_hint_appears_below_the_line(shell_command: list[str], env: dict[str, str],
                                         samples: Path) -> None:
    # The toolbar is drawn only when the terminal answers prompt_toolkit's cursor-position
    # request (CPR), so this test answers it.
    env = {k: v for k, v in env.items() if k != "PROMPT_TOOLKIT_NO_CPR"}
    child = pexpect.spawn(shell_command[0], [*shell_command[1:], str(samples / "token.wat")],
                          env=env, encoding="utf-8", timeout=15, dimensions=(30, 100))
    child.expect(r"\x1b\[6n")
    child.send("\x1b[5;1R")
    child.expect(r"\[block 0\]> ")
    child.send(":call transfer 1 ")
    child.expect("transfer")
    child.expect(r"from: i32.*to: i32.*amount: i64")
    child.sendcontrol("c")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
