"""Running commands without a prompt: ``-c``, ``--script``, or stdin when it is not a terminal.

Commands run in order, with no colour. ``#`` starts a comment line; an inline ``(module`` may
span lines. The exit status is 0 if every command succeeded and 1 if one failed (the run stops
there unless ``keep_going``). With ``json_mode`` each command prints one JSON object (JSON
Lines); otherwise results go to stdout and errors to stderr.

With ``buffered`` (input that is all known ahead: ``-c``, ``--script``), output is written at
most every :data:`FLUSH_INTERVAL` seconds, before every error, and at the end, instead of after
every command: a write to the terminal or pipe per command would cost a good part of a call.
Input read from a pipe is answered command by command, as a program driving the shell expects.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

from .commands import Outcome, default_commands, execute, is_comment
from .errors import Unfinished, UsageError
from .inline import ModuleInput, starts_module
from .registry import CommandSet
from .render import plain
from .screen import rendering_width
from .session import Session

#: Longest time buffered output waits before it is flushed (seconds).
FLUSH_INTERVAL = 0.2
#: Longest input line read (bytes); an inline module may span many lines.
MAX_LINE = 64 * 1024 * 1024
#: Largest --script file read.
MAX_SCRIPT = 256 * 1024 * 1024


class Located(str):
    """A line (or statement) with where it was read, ``FILE:LINE``, for error messages."""

    where: str | None = None

    @classmethod
    def at(cls, text: str, where: str | None) -> str:
        if where is None:
            return text
        located = cls(text)
        located.where = where
        return located


def script_lines(name: str, lines: Iterable[str]) -> Iterator[str]:
    """The lines of the script ``name``, each knowing its ``name:N``."""
    for number, line in enumerate(lines, 1):
        yield line if isinstance(line, Oversized) else Located.at(line, f"{name}:{number}")


def statements(lines: Iterable[str]) -> Iterator[str]:
    """The commands in ``lines``: comments and blank lines dropped, inline modules joined.

    A statement read from a :class:`Located` line keeps the place of its first line."""
    pending: list[str] = []
    where: str | None = None
    module = ModuleInput()
    for raw in lines:
        if isinstance(raw, Oversized):
            if pending:
                yield Located.at("\n".join(pending), where)
                pending = []
            yield raw
            continue
        line = raw.rstrip("\r\n")
        if not pending:
            if is_comment(line):
                continue
            if not starts_module(line):
                yield Located.at(line, getattr(raw, "where", None))
                continue
            module = ModuleInput()
            where = getattr(raw, "where", None)
        pending.append(line)
        # Only the new line is scanned: a long module is read in linear time.
        module.feed(line + "\n")
        if module.complete:
            yield Located.at("\n".join(pending), where)
            pending = []
    if pending:
        # Unbalanced at the end: loading it reports the error.
        yield Located.at("\n".join(pending), where)


def columns() -> int | None:
    """The width scripts render for: ``COLUMNS`` if set to a number, else unlimited (output
    going to a file or a program is not cut)."""
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


class Batch:
    """Runs statements against a session and prints their outcomes."""

    def __init__(self, session: Session, *, json_mode: bool = False, keep_going: bool = False,
                 debug: bool = False, buffered: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None, commands: CommandSet | None = None) -> None:
        self.session = session
        self.commands = commands or default_commands()
        self.json_mode, self.keep_going, self.debug = json_mode, keep_going, debug
        self.buffered = buffered
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.failed = False
        # Our own buffer: stdout may be unbuffered (PYTHONUNBUFFERED) or line-buffered.
        self._pending: list[str] = []
        self._flushed = time.monotonic()

    def run(self, lines: Iterable[str]) -> int:
        """Run every statement of ``lines`` (stopping at the first failure unless
        ``keep_going``); returns the exit status."""
        try:
            with self.session.handling_ctrl_c(), rendering_width(columns()):
                for statement in statements(lines):
                    outcome = self.run_one(statement)
                    if outcome.quit or (not outcome.ok and not self.keep_going):
                        break
                self._abort_paused()
        finally:
            self.flush()
        return 1 if self.failed else 0

    def _abort_paused(self) -> None:
        """A script never hangs on a pause: a call still paused at its end is aborted."""
        message = self.session.close_paused()
        if message is not None:
            self.show(Outcome(":abort", error=Unfinished(f"end of script: {message}")))
            self.failed = True

    def run_one(self, statement: str) -> Outcome:
        if isinstance(statement, Oversized):
            outcome = Outcome("", error=UsageError(
                f"input line longer than {MAX_LINE:,} bytes skipped"))
        else:
            outcome = execute(self.session, statement, self.commands)
        self.show(outcome, getattr(statement, "where", None))
        if not outcome.ok:
            self.failed = True
        return outcome

    def show(self, outcome: Outcome, where: str | None = None) -> None:
        """Print an outcome; an error of a script line starts with its ``FILE:LINE:``."""
        if self.json_mode:
            chunks = outcome.json_chunks()
            if isinstance(chunks, tuple):
                self._pending.extend(chunks)
            else:  # heavy: written as it is encoded
                self.flush()
                for chunk in chunks:
                    self.out.write(chunk)
        elif outcome.ok:
            self._pending.append(plain(outcome.text()))
        else:
            self.flush()  # what came before the error is printed before it
            self.err.write((f"{where}: " if where else "") + plain(outcome.text()))
            self.err.flush()
        if outcome.traceback and self.debug:
            self.flush()
            self.err.write(outcome.traceback)
        elif not self.buffered or time.monotonic() - self._flushed >= FLUSH_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Write out the output held back."""
        if self._pending:
            text, self._pending = "".join(self._pending), []
            self.out.write(text)
        self.out.flush()
        self._flushed = time.monotonic()


class Oversized(str):
    """A line longer than :data:`MAX_LINE` (its text is not kept): running it is an error."""

    def __new__(cls, length: int) -> Oversized:
        return super().__new__(cls, "")


def read_lines(stream: object) -> Iterator[str]:
    """Lines of a binary stream as text; bytes that are not UTF-8 become U+FFFD.

    A line longer than :data:`MAX_LINE` bytes is read past (memory stays bounded whatever the
    input, even ``/dev/zero``) and comes out as an :class:`Oversized` marker.
    """
    readline = stream.readline  # type: ignore[attr-defined]
    while True:
        raw = readline(MAX_LINE + 1)
        if not raw:
            return
        if len(raw) <= MAX_LINE or raw.endswith(b"\n"):
            yield raw.decode("utf-8", "replace")
            continue
        # Said at once (the run may stop there), and the rest of the line skipped only if the
        # reading goes on.
        yield Oversized(len(raw))
        while raw and not raw.endswith(b"\n"):
            raw = readline(1 << 20)
