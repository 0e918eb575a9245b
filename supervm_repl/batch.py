"""Running commands without a prompt: ``-c``, ``--script``, or stdin when it is not a terminal.

Commands run in order, with no colour. ``#`` starts a comment line; an inline ``(module`` may
span lines. The exit status is 0 if every command succeeded and 1 if one failed (the run stops
there unless ``keep_going``). With ``json_mode`` each command prints one JSON object (JSON
Lines); otherwise results go to stdout and errors to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from .commands import Outcome, execute, is_comment
from .errors import Unfinished
from .inline import ModuleInput, starts_module
from .render import plain
from .session import Session


def statements(lines: Iterable[str]) -> Iterator[str]:
    """The commands in ``lines``: comments and blank lines dropped, inline modules joined."""
    pending: list[str] = []
    module = ModuleInput()
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not pending:
            if is_comment(line):
                continue
            if not starts_module(line):
                yield line
                continue
            module = ModuleInput()
        pending.append(line)
        # Only the new line is scanned: a long module is read in linear time.
        module.feed(line + "\n")
        if module.complete:
            yield "\n".join(pending)
            pending = []
    if pending:
        yield "\n".join(pending)  # unbalanced at the end: loading it reports the error


class Batch:
    """Runs statements against a session and prints their outcomes."""

    def __init__(self, session: Session, *, json_mode: bool = False, keep_going: bool = False,
                 debug: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.session = session
        self.json_mode, self.keep_going, self.debug = json_mode, keep_going, debug
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.failed = False

    def run(self, lines: Iterable[str]) -> int:
        """Run every statement of ``lines`` (stopping at the first failure unless
        ``keep_going``); returns the exit status."""
        for statement in statements(lines):
            outcome = self.run_one(statement)
            if outcome.quit or (not outcome.ok and not self.keep_going):
                break
        self._abort_paused()
        return 1 if self.failed else 0

    def _abort_paused(self) -> None:
        """A script never hangs on a pause: a call still paused at its end is aborted."""
        message = self.session.debugger.close()
        if message is not None:
            self.show(Outcome(":abort", error=Unfinished(f"end of script: {message}")))
            self.failed = True

    def run_one(self, statement: str) -> Outcome:
        outcome = execute(self.session, statement)
        self.show(outcome)
        if not outcome.ok:
            self.failed = True
        return outcome

    def show(self, outcome: Outcome) -> None:
        if self.json_mode:
            self.out.write(json.dumps(outcome.to_json()) + "\n")
            self.out.flush()
        elif outcome.ok:
            self.out.write(plain(outcome.text()))
            self.out.flush()
        else:
            self.out.flush()
            self.err.write(plain(outcome.text()))
            self.err.flush()
        if outcome.traceback and self.debug:
            self.err.write(outcome.traceback)


def read_lines(stream: object) -> Iterator[str]:
    """Lines of a binary stream as text; bytes that are not UTF-8 become U+FFFD."""
    for raw in stream:  # type: ignore[attr-defined]
        yield raw.decode("utf-8", "replace")
