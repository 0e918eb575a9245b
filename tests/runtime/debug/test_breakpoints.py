"""Breakpoint conditions read literals exactly as the shell does (runtime.literals)."""

from __future__ import annotations

import pytest

from runtime.debug.breakpoints import BreakpointError, parse
from runtime.literals import parse_bytes


@pytest.mark.parametrize("literal", ['"\\u{41}"', '"\\41"', '"A"', "0x41", '"\\u{1F600}"',
                                     "i64:65", '"a\\tb"'])
def test_condition_literals_mean_what_they_mean_at_the_prompt(literal: str) -> None:
    bp = parse(1, f"storage_set if key == {literal}")
    assert bp.clauses[0][0].literal == parse_bytes(literal)


@pytest.mark.parametrize(("number", "value"), [("07", 7), ("0x10", 16), ("1_000", 1000),
                                               ("-1", -1), ("0xffff_ffff", 0xFFFF_FFFF)])
def test_condition_numbers_use_the_text_format(number: str, value: int) -> None:
    assert parse(1, f"storage_set if key_len == {number}").clauses[0][0].literal == value


@pytest.mark.parametrize(("condition", "message"), [
    ("key_len == 0x", "'0x' is not an integer"),
    ("key_len == 0xg", "is not an integer"),
    ('key == "\\x41"', r"bad escape \\x"),
    ('key == "\\N{LATIN CAPITAL LETTER A}"', r"bad escape \\N"),
    ('key == "abc', "unterminated string"),
    ("key == == 5", 'expected "text" or 0x bytes, got =='),
    ('key_len == "x"', 'expected a number, got "x"'),
    ("key == 5", 'expected "text" or 0x bytes'),
    ("key_len == " + "9" * 500, "too long for a number"),
])
def test_malformed_conditions_are_usage_errors(condition: str, message: str) -> None:
    with pytest.raises(BreakpointError, match=message) as caught:
        parse(1, f"storage_set if {condition}")
    assert caught.value.kind == "usage"
