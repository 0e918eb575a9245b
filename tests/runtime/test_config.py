"""Limits and chain context: defaults, validation."""

from __future__ import annotations

import pytest

from runtime import ChainContext, Limits
from runtime.config import LimitsError


def test_defaults_are_documented_values() -> None:
    limits = Limits()
    assert limits.fuel == 10_000_000 and limits.max_memory_pages == 256
    assert limits.max_wasm_stack == 512 * 1024


def test_impossible_limits_are_refused() -> None:
    with pytest.raises(LimitsError, match="max_wasm_stack"):
        Limits(max_wasm_stack=4 * 1024 * 1024)  # wasmtime would abort the process
    with pytest.raises(LimitsError, match="non-negative"):
        Limits(max_events=-1)
    with pytest.raises(LimitsError, match="unknown limit 'gas'"):
        Limits.from_dict({"gas": 1})
    assert Limits().with_(fuel=5).fuel == 5


def test_chain_context_is_an_i64_pair() -> None:
    assert ChainContext(1, 2).with_(timestamp=3) == ChainContext(1, 3)
    with pytest.raises(ValueError, match="does not fit"):
        ChainContext(2**63, 0)
    with pytest.raises(TypeError):
        ChainContext("1", 0)  # type: ignore[arg-type]
