"""Tokens of a command line, and literals as the shell passes them to calls."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from supervm_repl.commands import Outcome
from supervm_repl.errors import UsageError
from supervm_repl.tokens import split_tokens

Run = Callable[[str], Outcome]


def test_split_tokens_keeps_quoted_sections_whole() -> None:
    assert split_tokens(':set "a b" 0x10') == [":set", '"a b"', "0x10"]


def test_split_tokens_without_quotes_splits_at_any_whitespace() -> None:
    # The quick path for lines without quotes splits where the quoted path would.
    line = " :call\tadd\u00a07 \x1c8\u3000 "
    assert split_tokens(line) == [":call", "add", "7", "8"]
    assert split_tokens(line + '"x"') == [":call", "add", "7", "8", '"x"']
    assert split_tokens('  :get   "x\\" y"  ') == [":get", '"x\\" y"']
    assert split_tokens("") == []
    with pytest.raises(UsageError, match="unterminated"):
        split_tokens(':get "open')


def test_nan_payload_survives_a_call(run: Run) -> None:
    run('(module (func (export "id") (param f32) (result f32) local.get 0))')
    out = run(":call id nan:0x200000").to_json()
    assert out["results"] == [{"type": "f32", "value": "nan", "bits": "0x7fa00000"}]


@pytest.mark.parametrize("body", ["x" * 1_000_000, "ab\\n" * 300_000])
def test_a_huge_string_token_needs_no_more_memory_than_its_size(body: str) -> None:
    import tracemalloc

    line = f':get "{body}" x'
    tracemalloc.start()
    try:
        tokens = split_tokens(line)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tokens == [":get", f'"{body}"', "x"]
    assert peak < 4 * len(line)  # the token itself and little else (it was over 100x)
