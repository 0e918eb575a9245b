"""Sessions as regression tests: a session's calls and direct edits, with what each call did,
written as a pytest file that calls the module again and compares.

The file holds the module's path, the storage the session started from and one step per call
(chain context, arguments with their exact bits, fuel limit) or direct edit; each call's
expected outcome is its results, error (kind and message), events, storage changes and fuel,
in the shell's literal syntax, so that a failing comparison reads as a diff of those.
"""

from __future__ import annotations

import pprint
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import ChainContext
from ..errors import CallError
from ..literals import quote_bytes
from ..outcome import CallResult
from ..runtime import Runtime
from ..storage import MemoryStorage
from ..trace import StorageChange
from ..values import Value, format_number


def _value(v: Value) -> str:
    return f"{v.type}:{format_number(v)}"


def _changes(changes: Iterable[StorageChange | tuple[bytes, bytes | None, bytes | None]]
             ) -> list[list[str | None]]:
    out = []
    for c in changes:
        key, old, new = (c.key, c.old, c.new) if isinstance(c, StorageChange) else c
        out.append([quote_bytes(key), None if old is None else quote_bytes(old),
                    None if new is None else quote_bytes(new)])
    return out


def observed(outcome: CallResult) -> dict[str, Any]:
    """What a saved test compares of a call: results, error, events, storage changes, fuel."""
    error = outcome.error
    return {
        "results": None if outcome.results is None else [_value(v) for v in outcome.results],
        "error": None if error is None else {"kind": error.kind,
                                             "message": " ".join(str(error).split())},
        "events": [quote_bytes(e) for e in outcome.events],
        "storage_changes": _changes(outcome.storage_changes),
        "fuel_used": outcome.fuel_used,
    }


def call_step(outcome: CallResult) -> dict[str, Any]:
    """A recorded call as a step of a saved test."""
    label = f"{outcome.export}(" + ", ".join(format_number(v) for v in outcome.args) + ")"
    return {"call": outcome.export, "label": label,
            "args": [[v.type, hex(v.bits)] for v in outcome.args],
            "context": [outcome.context.block_number, outcome.context.timestamp],
            "fuel": outcome.fuel_limit, "dry_run": outcome.dry_run,
            "expect": observed(outcome)}


def edit_step(label: str, changes: Sequence[tuple[bytes, bytes | None, bytes | None]]
              ) -> dict[str, Any]:
    """A direct edit (``:set``, ``:restore``...) as a step: the writes it made."""
    return {"edit": label, "label": label, "writes": _changes(changes)}


def regression_test(module: str | Path, start: Mapping[bytes, bytes], steps: list[dict[str, Any]],
              *, source: str = "a supervm-repl session") -> str:
    """The text of a pytest file replaying ``steps`` on ``module`` from ``start``."""
    storage = {quote_bytes(k): quote_bytes(v) for k, v in start.items()}
    return f'''"""Regression test saved by supervm-repl's :save-test from {source}.

It calls {Path(module).name} again as the session did and compares each call's results, error,
events, storage changes and fuel with what the session observed.
"""

from runtime.testing.regression import SavedSession

MODULE = {str(module)!r}

START = {pprint.pformat(storage, width=96, sort_dicts=False)}

STEPS = {pprint.pformat(steps, width=96, sort_dicts=False)}


def test_session_replays_as_recorded() -> None:
    session = SavedSession(MODULE, START)
    for number, step in enumerate(STEPS, 1):
        got = session.run(step)
        if "expect" in step:
            assert got == step["expect"], f"step {{number}}: {{step['label']}}"
'''


class SavedSession:
    """Runs the steps of a saved test on a fresh in-memory store."""

    def __init__(self, module: str | Path, start: Mapping[str, str]) -> None:
        from ..literals import parse_bytes

        self._parse = parse_bytes
        storage = MemoryStorage({parse_bytes(k): parse_bytes(v) for k, v in start.items()})
        self.runtime = Runtime(storage)
        self.module = str(module)
        self._contracts: dict[str, Any] = {}

    def _contract(self, module: str) -> Any:
        if module not in self._contracts:
            self._contracts[module] = self.runtime.load_file(module)
        return self._contracts[module]

    def run(self, step: Mapping[str, Any]) -> dict[str, Any] | None:
        """Run one step; a call's observed outcome (None for an edit)."""
        if "edit" in step:
            self.runtime.edit({self._parse(k): None if new is None else self._parse(new)
                               for k, _old, new in step["writes"]}, label=step["edit"])
            return None
        args = [Value(t, int(bits, 16)) for t, bits in step["args"]]
        block, timestamp = step["context"]
        try:
            contract = self._contract(step.get("module", self.module))
            outcome = self.runtime.call(contract, step["call"], args,
                                        context=ChainContext(block, timestamp),
                                        fuel=step["fuel"], dry_run=step["dry_run"])
        except CallError as exc:
            assert exc.outcome is not None
            outcome = exc.outcome
        return observed(outcome)
