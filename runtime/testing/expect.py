"""What a test run must satisfy: by default that the call does not fail; with a condition in
the shell's syntax (that of breakpoint conditions), that the condition holds of its outcome.

Names a condition can test (integers unless noted):

- ``ok``: 1 if the call returned, 0 if it failed; ``error``: the error's kind as text
  (``"trap"``, ``"abort"``...; ``""`` when it returned);
- ``result``: the first result (integers; absent for a float, for no result or a failure);
- ``fuel``: fuel used; ``events``: how many events it emitted; ``event``: the last one (bytes,
  ``""`` for none);
- ``changes``: how many keys it changed; ``delta``: the sum of ``new - old`` over the changed
  keys whose values are 8-byte little-endian integers (absent counts as 0): what a transfer
  must keep at 0;
- ``arg0``, ``arg1``...: the arguments (integers; floats by their bits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..debug.breakpoints import Compare, parse_condition
from ..errors import CallError, SuperVMError
from ..outcome import CallResult
from ..values import Value

#: The errors that make a run fail by default: the contract's own failures.
FAILURES = frozenset(("trap", "abort", "out_of_fuel", "limit"))

_NAMES = {"ok": "int", "error": "bytes", "result": "int", "fuel": "int", "events": "int",
          "event": "bytes", "changes": "int", "delta": "int"}


class ContractTestFailure(SuperVMError):
    """A contract test found a failure: a fuzz campaign's failing input, an invariant that
    does not hold, or a fuel snapshot regression. The facts are its attributes."""

    kind = "test_failed"

    def __init__(self, message: str, **facts: object) -> None:
        super().__init__(message)
        self.facts = facts
        for name, value in facts.items():
            setattr(self, name, value)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), **self.facts}


@dataclass(frozen=True)
class Expectation:
    """A property of one run's outcome; ``text`` None means "the call does not fail"."""

    text: str | None = None
    clauses: tuple[tuple[Compare, ...], ...] = ()

    @classmethod
    def parse(cls, text: str | None, params: Sequence[str] = ()) -> Expectation:
        """The condition ``text`` over the outcome of a call taking ``params``; raises a
        usage error naming the problem."""
        if text is None or not text.strip():
            return cls()
        names = dict(_NAMES)
        names.update({f"arg{i}": "int" for i in range(len(params))})
        clauses = parse_condition(text, names, "an expectation")
        return cls(text.strip(), tuple(tuple(c) for c in clauses))

    def verdict(self, outcome: CallResult) -> str | None:
        """Why this run fails (``trap``, ``abort``... or ``expectation``), or None if it
        passes. Errors outside the contract's control (a host fault, Ctrl-C) are raised."""
        error = outcome.error
        if error is not None and error.kind not in FAILURES:
            raise error
        if self.text is None:
            return None if error is None else _signature(error)
        values = values_of(outcome)
        holds = any(all(c(values) for c in clause) for clause in self.clauses)
        return None if holds else "expectation"


def _signature(error: CallError) -> str:
    """The kind of failure, and where: shrinking must not slip to another bug that fails the
    same way elsewhere (an unknown account for insufficient funds)."""
    code = getattr(error, "code", None)
    frames = getattr(error, "frames", None)
    where = f"@{frames[0].module_offset:x}" if frames else ""
    return f"{error.kind}:{code}{where}" if code else f"{error.kind}{where}"


def values_of(outcome: CallResult) -> dict[str, bytes | int]:
    """The names an expectation tests, with this outcome's values."""
    error = outcome.error
    values: dict[str, bytes | int] = {
        "ok": int(error is None), "error": b"" if error is None else error.kind.encode(),
        "fuel": outcome.fuel_used, "events": len(outcome.events),
        "event": outcome.events[-1] if outcome.events else b"",
        "changes": len(outcome.storage_changes), "delta": _delta(outcome)}
    results = outcome.results or []
    if results and not results[0].is_float:
        values["result"] = int(results[0].value)
    for i, arg in enumerate(outcome.args):
        values[f"arg{i}"] = arg.bits if arg.is_float else int(arg.value)
    return values


def _delta(outcome: CallResult) -> int:
    total = 0
    for change in outcome.storage_changes:
        old, new = change.old or bytes(8), change.new or bytes(8)
        if len(old) == len(new) == 8:
            total += int.from_bytes(new, "little") - int.from_bytes(old, "little")
    return total


def arguments(values: Sequence[Value]) -> list[int | float]:
    """Arguments as plain numbers (for reports and JSON)."""
    return [v.value for v in values]
