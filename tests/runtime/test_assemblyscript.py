"""A module compiled by AssemblyScript loads and runs, and its assert() is an abort error."""

from __future__ import annotations

import pytest

from runtime import AbortError, ChainContext, MemoryStorage, Runtime
from tests.support import SAMPLES


def test_assemblyscript_counter() -> None:
    rt = Runtime(MemoryStorage())
    contract = rt.load_file(SAMPLES / "assemblyscript" / "counter.wasm")
    assert all(i.provided for i in contract.info.imports)
    assert "env.abort" in {i.qualname for i in contract.info.imports}
    result = rt.call(contract, "increment", context=ChainContext(5, 0))
    assert (result.value, result.events) == (1, [b"counter=1 at block 5"])
    assert rt.call(contract, "decrement").value == 0
    before = rt.storage.snapshot()
    with pytest.raises(AbortError) as err:
        rt.call(contract, "decrement")
    assert err.value.reason == "counter is already zero"
    assert err.value.file is not None and err.value.file.endswith(".ts")
    assert err.value.line > 0
    assert rt.storage.snapshot() == before
