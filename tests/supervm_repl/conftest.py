"""Fixtures for the shell's tests: sessions on the samples, and running lines against them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from supervm_repl.commands import Outcome, execute
from supervm_repl.render import plain
from supervm_repl.session import Session

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"


@pytest.fixture
def session() -> Session:
    """An in-memory session with nothing loaded."""
    s = Session()
    yield s
    s.close()


@pytest.fixture
def run(session: Session) -> Callable[[str], Outcome]:
    """Run one line against ``session``; the outcome's JSON must always serialise."""

    def run_line(line: str) -> Outcome:
        outcome = execute(session, line)
        json.dumps(outcome.to_json(), allow_nan=False)
        return outcome

    return run_line


def _text(outcome: Outcome) -> str:
    return plain(outcome.text())


@pytest.fixture
def text() -> Callable[[Outcome], str]:
    """The human output of an outcome, without styles."""
    return _text


def _state(session: Session) -> dict[str, Any]:
    return {
        "storage": session.storage.snapshot(),
        "context": session.context,
        "events": list(session.runtime.event_log),
        "snapshots": {n: s.to_json() for n, s in session.snapshots.items()},
        "contract": session.contract,
        "fuel": session.fuel,
        "calls": session.debugger.history.call_count,
        "breakpoints": [str(b) for b in session.debugger.breakpoints],
    }


@pytest.fixture
def state() -> Callable[[Session], dict[str, Any]]:
    """Everything a failing command must leave as it was."""
    return _state


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the shell as a program: no real home, no colour, no CPR."""
    env = dict(os.environ)
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        PROMPT_TOOLKIT_NO_CPR="1",
        NO_COLOR="1",
        TERM="xterm",
    )
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


@pytest.fixture
def shell_command() -> list[str]:
    """How to start the shell as a program (the module form works without installation)."""
    return [sys.executable, "-m", "supervm_repl"]
