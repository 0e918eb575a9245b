"""Contract testing: fuzz campaigns (:mod:`.fuzz`), invariant campaigns on hypothesis
(:mod:`.invariants`), coverage (:mod:`.coverage`), fuel reports and snapshots (:mod:`.gas`),
and sessions saved as regression tests (:mod:`.regression`). No UI: the shell parses and
renders."""

from .coverage import Coverage
from .expect import ContractTestFailure, Expectation
from .fuzz import FuzzFailure, FuzzReport, fuzz
from .gas import GasCheck, GasRow, check, gas_rows, read_snapshot, write_snapshot
from .invariants import ContractState, InvariantFailure, InvariantReport, SumEquals, campaign

__all__ = [
    "ContractState",
    "ContractTestFailure",
    "Coverage",
    "Expectation",
    "FuzzFailure",
    "FuzzReport",
    "GasCheck",
    "GasRow",
    "InvariantFailure",
    "InvariantReport",
    "SumEquals",
    "campaign",
    "check",
    "fuzz",
    "gas_rows",
    "read_snapshot",
    "write_snapshot",
]
