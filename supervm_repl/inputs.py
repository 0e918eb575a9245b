"""The commands typed in this session, numbered from 1, as ``:history`` (without a KEY) lists
them and ``!N``, ``!!`` and ``:rerun N`` run one again (as in IPython and the shell)."""

from __future__ import annotations

import re

from runtime.literals import shorten

from .errors import UsageError
from .registry import Args, Reply
from .render import Out, table

#: Commands ``:history`` lists when no --limit is given (the most recent ones).
SHOWN_DEFAULT = 50
#: Commands kept, and their characters in all: the oldest are forgotten first (their numbers
#: stay).
KEPT = 10_000
KEPT_CHARS = 16 * 1024 * 1024
#: Longest line kept (a typed module can be megabytes): a longer one keeps its number only.
LONGEST = 64 * 1024

_RERUN = re.compile(r"!(?:!|(?P<number>-?[0-9]{1,18}))")


class Inputs:
    """The session's input lines; a re-run is kept as the command it ran."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        #: Number of the first line still kept (older ones were forgotten).
        self.first = 1
        self._chars = 0

    def add(self, line: str) -> None:
        kept = line if len(line) <= LONGEST else ""
        self.lines.append(kept)
        self._chars += len(kept)
        while len(self.lines) > KEPT or self._chars > KEPT_CHARS:
            self._chars -= len(self.lines.pop(0))
            self.first += 1

    def forget_after(self, count: int) -> None:
        """Forget every line after the first ``count`` kept (commands run on the user's
        behalf, not typed)."""
        for line in self.lines[count:]:
            self._chars -= len(line)
        del self.lines[count:]

    @property
    def last_number(self) -> int:
        return self.first + len(self.lines) - 1

    def get(self, number: int) -> str:
        """Line ``number`` (a negative number counts back from the last one)."""
        if number < 0:
            number = self.last_number + 1 + number
        if not self.lines:
            raise UsageError("no commands yet to run again")
        if not self.first <= number <= self.last_number:
            raise UsageError(f"no command {number}: :history lists commands "
                             f"{self.first} to {self.last_number}")
        line = self.lines[number - self.first]
        if not line:
            raise UsageError(f"command {number} was too long to keep")
        return line


def rerun_target(line: str) -> int | None:
    """The number ``!N`` (or ``!!``: -1, the last) asks for; None if ``line`` is not one."""
    match = _RERUN.fullmatch(line)
    if match is None:
        return None
    return int(match["number"]) if match["number"] else -1


def inputs_reply(inputs: Inputs, limit: int | None) -> Reply:
    """``:history`` without a KEY: the numbered commands (the last ``limit``)."""
    count = len(inputs.lines)
    shown = inputs.lines[-(limit if limit is not None else SHOWN_DEFAULT):] if limit != 0 else []
    start = inputs.last_number - len(shown) + 1
    data = {"commands": [{"number": start + i, "line": line} for i, line in enumerate(shown)]}
    if not count:
        return Reply(data, Out().line("no commands yet", "muted").fragments)
    out = Out()
    if len(shown) < count:
        out.line(f"the last {len(shown)} of {count:,} commands (--limit N for more)", "muted")
    rows = [(str(start + i), shorten(" ".join(line.split()), 200)) for i, line in
            enumerate(shown)]
    out.extend(table(["#", "command"], rows, ["muted", ""]))
    out.line("!N or :rerun N runs command N again (!! the last); :history KEY lists a key's "
             "reads and writes", "muted")
    return Reply(data, out.fragments)


def rerun_number(args: Args) -> int:
    text = args.get("N") or "-1"
    # At most 18 digits: no command number is longer, and int() refuses thousands of digits.
    if not re.fullmatch(r"-?[0-9]{1,18}", text):
        raise UsageError(f"N is a command number from :history, not {shorten(text)!r}")
    return int(text)
