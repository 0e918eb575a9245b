"""Inline modules end when their parentheses balance; highlighting of commands and WAT."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prompt_toolkit.document import Document
from pygments import lex
from pygments.token import Comment, Keyword, Name, Number, String

from supervm_repl.inline import ModuleInput, needs_more, starts_module
from supervm_repl.lexer import MAX_HIGHLIGHT, CommandLexer, ShellLexer


@pytest.mark.parametrize(("text", "more"), [
    ("(module", True),
    ("(module)", False),
    ("  (module\n  (func)", True),
    ("(module\n  (func))", False),
    ('(module (data (i32.const 0) ")"))', False),
    ('(module (data (i32.const 0) "\\")"', True),
    ("(module ;; a comment (\n", True),
    ("(module ;; a comment (\n)", False),
    ("(module (; ( ;)", True),
    ("(module (; (; nested ;) ( ;) )", False),
    ("(module (; open", True),
    ("(module))", False),
    (":call f", False),
    ("", False),
])
def test_needs_more(text: str, more: bool) -> None:
    assert needs_more(text) is more


def test_starts_module() -> None:
    assert starts_module("  (module") and not starts_module(":load x")


def test_command_lexer_tokens() -> None:
    line = ':call add 7 0xff -1.5 nan:0x1 "a\\n" --dry-run'
    tokens = [(t, v) for t, v in lex(line, CommandLexer()) if v.strip()]
    assert tokens[0] == (Keyword, ":call")
    assert (Number, "7") in tokens and (Number.Hex, "0xff") in tokens
    assert (Number.Float, "nan:0x1") in tokens and (Number, "-1.5") in tokens
    assert (String.Escape, "\\n") in tokens
    assert (Name.Attribute, "--dry-run") in tokens
    assert next(t for t, _ in lex("# note", CommandLexer())) == Comment.Single


def test_shell_lexer_switches_to_wat_and_skips_huge_input() -> None:
    lexer = ShellLexer()
    wat = lexer.lex_document(Document('(module (func (export "f")))'))(0)
    assert any("pygments" in style for style, _ in wat)
    command = lexer.lex_document(Document(":call f 1"))(0)
    assert any("keyword" in style for style, _ in command)
    huge = ":" + "x" * (MAX_HIGHLIGHT + 1)
    assert lexer.lex_document(Document(huge))(0) == [("", huge)]


@given(st.lists(st.text(alphabet='()";\\ ax\n', max_size=12), max_size=8))
def test_feeding_lines_agrees_with_scanning_the_whole(lines: list[str]) -> None:
    text = "(" + "\n".join(lines)
    module = ModuleInput()
    for line in text.split("\n"):
        module.feed(line + "\n")
        if module.complete:
            break
    assert module.complete == (not needs_more(text))
