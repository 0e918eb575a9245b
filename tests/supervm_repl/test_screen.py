"""Output fitted to the screen: tables narrowed with ``…``, long lines broken at spaces,
``--wide`` in full; scripts unlimited unless ``COLUMNS`` says otherwise; at 80 columns the
README's token session has no line wider than the terminal."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from supervm_repl.batch import columns
from supervm_repl.commands import Outcome
from supervm_repl.render import plain, table
from supervm_repl.screen import elide, fit_widths, rendering_width, wrap_to_width
from tests.supervm_repl.test_process import PROMPT

README = Path(__file__).resolve().parents[2] / "README.md"
Run = Callable[[str], Outcome]


def test_a_table_that_fits_is_unchanged() -> None:
    with rendering_width(80):
        assert plain(table(["a", "b"], [("1", "2")])) == "a  b\n1  2\n"


def test_the_widest_columns_are_narrowed_first() -> None:
    assert fit_widths([10, 50, 40], [4, 4, 4], 60) == [10, 25, 25]
    assert fit_widths([10, 20], [4, 4], 40) == [10, 20]
    assert fit_widths([30, 30], [20, 20], 10) == [20, 20]  # the minimums, if nothing fits


def test_elided_cells_keep_their_note() -> None:
    assert elide("0x1e00000000000000 (30)", 15) == "0x1e00000… (30)"
    assert elide('"aaaaaaaaaaaaaaaaaaaa… (5,000 bytes)', 24) == '"aaaaaaaa… (5,000 bytes)'
    assert elide("abcdef", 4) == "abc…"


def test_tables_fit_the_width() -> None:
    rows = [("#1", "x" * 70, "y" * 70)]
    with rendering_width(40):
        lines = plain(table(["call", "args", "outcome"], rows)).splitlines()
    assert all(len(line) <= 40 for line in lines) and lines[1].endswith("…")
    assert lines[-1] == "(cut to fit: --wide shows all)"


def test_long_lines_break_at_spaces_and_are_indented() -> None:
    text = [("", "  error: " + "word " * 30 + "\n")]
    lines = plain(wrap_to_width(text, 40)).splitlines()
    assert all(len(line) <= 40 for line in lines) and len(lines) > 3
    assert all(line.startswith("    word") for line in lines[1:])
    assert wrap_to_width(text, None) == text


def test_scripts_are_unlimited_unless_columns_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert columns() is None
    monkeypatch.setenv("COLUMNS", "72")
    assert columns() == 72
    monkeypatch.setenv("COLUMNS", "wide")
    assert columns() is None


def test_wide_shows_a_table_in_full(run: Run, samples: Path) -> None:
    run(f":load {samples / 'token.wat'}")
    run(":call mint 0 100")
    run(":call transfer 0 1 30")
    with rendering_width(80):
        narrow = plain(run(":trace").text())
        wide = plain(run(":trace --wide").text())
    assert max(map(len, narrow.splitlines())) <= 80
    assert max(map(len, wide.splitlines())) > 100
    assert '"bal:alice": 0x6400000000000000 (100) → 0x4600000000000000 (70)' in wide


def _token_session() -> list[str]:
    """The commands of the README's token session, as typed there."""
    block = README.read_text(encoding="utf-8").split("$ supervm-repl samples/token.wat\n")[1]
    block = block.split("```")[0]
    return [m[1] for m in re.finditer(r"^token\.wat[^\n]*?\[block \d+\]> (.*)$", block, re.M)]


_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[>=]|\x1b\][^\x07]*\x07")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_the_readme_token_session_fits_80_columns(shell_command: list[str], env: dict[str, str],
                                                  samples: Path, tmp_path: Path) -> None:
    commands = _token_session()
    assert len(commands) > 10 and commands[-1] == ":quit"
    child = pexpect.spawn(shell_command[0], [*shell_command[1:], str(samples / "token.wat")],
                          env=env, encoding="utf-8", timeout=20, dimensions=(30, 80),
                          cwd=str(tmp_path))
    output = []
    child.expect(PROMPT)
    for line in commands[:-1]:
        child.sendline(line)
        child.expect(PROMPT)
        output.append(child.before)
    child.sendline(":quit")
    child.expect(pexpect.EOF)
    text = _ESCAPE.sub("", "".join(output)).replace("\r\n", "\n")
    assert "i32 1" in text and "identical" in text
    # What the shell printed: not the prompt lines (the typed command, and its redraws).
    printed = [line.rstrip("\r") for line in text.split("\n") if "]> " not in line]
    too_wide = [line for line in printed if len(line) > 80]
    assert not too_wide


def test_a_change_keeps_its_new_value_when_cut() -> None:
    change = '"bal:alice": 0x6400000000000000 (100) → 0x4600000000000000 (70)'
    assert elide(change, 40) == '"bal:al… (100) → 0x4600000000000000 (70)'
    assert elide("(absent) → 0x1e00000000000000 (30)", 30) == "(absent) → 0x1e00000000000000…"


def test_a_narrow_trace_keeps_its_effect_readable(run: Run, samples: Path) -> None:
    run(f":load {samples / 'token.wat'}")
    run(":call mint 0 100")
    run(":call transfer 0 1 30")
    with rendering_width(80):
        lines = plain(run(":trace").text()).splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert any('"bal:alice": 0x6400…' in line for line in lines)
    assert lines[-1] == "(cut to fit: --wide shows all)"
