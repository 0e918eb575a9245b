"""Compiler output reduced to its ``file:line:col: message`` lines."""

from __future__ import annotations

import re
from typing import NamedTuple

from ..errors import SuperVMError

MAX_LINES = 20  # diagnostic lines a CompileError's message shows

# clang, wasm-ld and rustc/cargo with --error-format=short / --message-format=short.
_LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")
# asc: "ERROR TS2304: Cannot find name 'x'." ... "└─ in counter.ts(56,17)"
_ASC_HEAD = re.compile(r"^(?P<msg>(?:ERROR|WARNING|INFO|PEDANTIC) \w+: .+)$")
_ASC_WHERE = re.compile(r"^\s*└─ in (?P<file>.+)\((?P<line>\d+),(?P<col>\d+)\)\s*$")
_UNLOCATED = re.compile(r"^(?:[\w.-]+: )?(?:error|fatal error)(?:\[\w+\])?: (?P<msg>.+)$")
# Summaries that repeat what the diagnostics already said.
_NOISE = re.compile(
    r"^(?:error: aborting due to|error: could not compile|warning: build failed|"
    r"warning: .* generated \d+ warnings?|"
    r"\d+ (?:errors?|warnings?)(?: and \d+ warnings?)? generated|"
    r"For more information about|Some errors have detailed explanations|"
    r"warning: \d+ warnings? emitted|FAILURE \d+)")


class Diagnostic(NamedTuple):
    """One compiler message: ``file`` is None for one about no file (e.g. the linker's)."""

    file: str | None
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}" if self.file else self.message


def parse(output: str) -> list[Diagnostic]:
    """The diagnostics in a compiler's output, in order; code excerpts and summaries dropped."""
    out: list[Diagnostic] = []
    pending: str | None = None  # an asc message waiting for its "└─ in file(line,col)"
    for raw in output.splitlines():
        line = raw.rstrip()
        if not line or _NOISE.match(line):
            continue
        if (m := _ASC_WHERE.match(line)) and pending is not None:
            out.append(Diagnostic(m["file"], int(m["line"]), int(m["col"]), pending))
            pending = None
        elif m := _ASC_HEAD.match(line):
            if pending is not None:
                out.append(Diagnostic(None, 0, 0, pending))
            pending = m["msg"]
        elif m := _LOCATED.match(line):
            out.append(Diagnostic(m["file"], int(m["line"]), int(m["col"]), m["msg"]))
        elif m := _UNLOCATED.match(line):
            out.append(Diagnostic(None, 0, 0, line))
    if pending is not None:
        out.append(Diagnostic(None, 0, 0, pending))
    return out


def _is_error(d: Diagnostic) -> bool:
    text = d.message.lower()
    return text.startswith(("error", "fatal error")) or "error:" in text


class CompileError(SuperVMError):
    """The compiler rejected the source. The message is its ``file:line:col: message`` lines
    (errors; warnings only when there is no error), at most :data:`MAX_LINES` of them and the
    count of the rest. ``diagnostics`` has all of them; ``compiler``, ``source``, ``output``
    (the compiler's output as printed, bounded)."""

    kind = "compile"
    multiline = True

    def __init__(self, compiler: str, source: str, output: str, returncode: int | None = None,
                 summary: str | None = None) -> None:
        self.compiler, self.source, self.output = compiler, source, output
        self.diagnostics = parse(output)
        shown = [d for d in self.diagnostics if _is_error(d)] or self.diagnostics
        lines = [str(d) for d in shown]
        if summary is not None:
            lines = [summary, *lines]
        elif not lines:  # nothing recognisable: the start of what the compiler said
            status = f" (exit status {returncode})" if returncode is not None else ""
            lines = [f"{compiler} failed on {source}{status}",
                     *[x for x in output.strip().splitlines() if x.strip()]]
        rest = len(lines) - MAX_LINES
        if rest > 0:
            lines = [*lines[:MAX_LINES], f"... and {rest} more"]
        super().__init__("\n".join(lines))

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "compiler": self.compiler, "source": self.source,
                "diagnostics": [d._asdict() for d in self.diagnostics]}
