"""Splitting a command line into tokens; each argument's type decides how a token is read."""

from __future__ import annotations

import re

from runtime.errors import UsageError
from runtime.literals import shorten


def split_tokens(line: str) -> list[str]:
    """Split a command line at whitespace; a ``"…"`` section (with escapes) stays in one token.

    Tokens are returned raw (quotes included): each argument's type decides how to read it.
    """
    if '"' not in line:
        # The common case: without quotes a token is a run of non-whitespace, and str.split
        # splits at exactly the characters _SPACE's \s matches.
        return line.split()
    tokens: list[str] = []
    pos, n = 0, len(line)
    while True:
        pos = _SPACE.match(line, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return tokens
        match = _TOKEN.match(line, pos)
        end = match.end() if match else pos
        if end < n and line[end] == '"':
            raise UsageError(f"unterminated string {shorten(line[end:])}")
        tokens.append(line[pos:end])
        pos = end


_SPACE = re.compile(r"\s*")
# Runs of plain characters and complete "strings" (a lone " is left for the caller to report).
# The string is matched as runs between escapes, possessively (nothing to backtrack into):
# repeating once per character kept a frame per character, over 100 MB for a 1 MB string.
_TOKEN = re.compile(r'(?:[^\s"]+|"[^"\\]*+(?:\\.[^"\\]*+)*+")++', re.DOTALL)
