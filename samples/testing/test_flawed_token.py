"""Contract tests of the token samples, as a contract developer writes them (run with
``pytest samples/testing``). ``flawed_token`` has a planted bug: a transfer to oneself creates
tokens. Both tests fail on it, with a shrunk counterexample; on ``token`` they pass."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.testing.invariants import SumEquals

SAMPLES = Path(__file__).resolve().parent.parent
TOKEN = SAMPLES / os.environ.get("TOKEN_SAMPLE", "flawed_token.wat")


def test_supply_is_the_sum_of_balances(contract_tester) -> None:
    contract_tester.invariants(TOKEN, [SumEquals(prefix=b"bal:", total=b"supply")],
                               exports=["mint", "transfer"], runs=100, depth=20, seed=1)


def test_transfer_conserves_tokens(contract_tester) -> None:
    contract_tester.fuzz(TOKEN, "transfer", expect="ok == 0 or delta == 0",
                         setup=[("mint", (0, 100)), ("mint", (1, 50))], seed=7)
