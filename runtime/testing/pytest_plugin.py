"""A pytest plugin for contract developers' own tests (installed with SuperVM: pytest loads it
through the ``pytest11`` entry point). Its fixture ``contract_tester`` runs campaigns and fails
the test with the shrunk counterexample, the script of a failing sequence saved where
``supervm-repl`` opens it::

    from runtime.testing.invariants import SumEquals

    def test_supply_is_the_sum_of_balances(contract_tester):
        contract_tester.invariants("token.wasm", [SumEquals()], exports=["mint", "transfer"])

    def test_transfer_conserves_tokens(contract_tester):
        contract_tester.fuzz("token.wasm", "transfer", expect="ok == 0 or delta == 0",
                             setup=[("mint", (0, 100))])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ..runtime import Runtime
from .fuzz import FuzzReport, fuzz
from .invariants import Invariant, InvariantReport, campaign


class ContractTester:
    """Campaigns for one test; failing sequences are saved under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def fuzz(self, module: str | Path, export: str, *, expect: str | None = None,
             setup: Sequence[tuple[str, Sequence[Any]]] = (), **options: Any) -> FuzzReport:
        """Fuzz ``export`` after the ``setup`` calls; fail the test on a failing input."""
        runtime = Runtime()
        contract = runtime.load_file(module)
        for export_name, args in setup:
            runtime.call(contract, export_name, args)
        report = fuzz(runtime, contract, export, expect=expect, **options)
        failure = report.failure
        if failure is not None:
            outcome = failure.outcome
            why = f"--expect {expect} does not hold" if failure.reason == "expectation" else \
                " ".join(str(outcome.error).split())
            where = f" at {failure.location.location}" if failure.location is not None and \
                failure.location.location is not None else ""
            if where and outcome.error is None:
                where = f" (last storage write{where})"
            args = ", ".join(str(v.value) for v in failure.args)
            pytest.fail(f"{export}({args}) fails: {why}{where}; fuel {outcome.fuel_used} "
                        f"(run {failure.run + 1}, seed {report.seed})", pytrace=False)
        return report

    def invariants(self, module: str | Path, invariants: Sequence[Invariant],
                   **options: Any) -> InvariantReport:
        """Run an invariant campaign; fail the test with the minimal failing sequence (also
        saved as a script: ``supervm-repl --script FILE -i`` opens it at the failing call)."""
        report = campaign(module, invariants=invariants, **options)
        failure = report.failure
        if failure is not None:
            path = failure.save(self.directory / "failing.svm",
                                module=Path(module).resolve())
            steps = "\n".join(f"  {i + 1}. {s}" for i, s in enumerate(failure.steps))
            pytest.fail(f"invariant {failure.invariant!r} fails ({failure.message}) after "
                        f"{len(failure.steps)} calls (seed {report.seed}):\n{steps}\n"
                        f"replay: supervm-repl --script {path} -i", pytrace=False)
        return report


@pytest.fixture
def contract_tester(tmp_path: Path) -> ContractTester:
    """Fuzz and invariant campaigns that fail the test with a shrunk counterexample."""
    return ContractTester(tmp_path)
