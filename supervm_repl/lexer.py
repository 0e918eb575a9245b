"""Syntax highlighting: a pygments lexer for the command language, and WAT for inline modules."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer, PygmentsLexer
from pygments.lexer import RegexLexer
from pygments.lexers.webassembly import WatLexer
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    String,
    Text,
    Whitespace,
)

from .inline import starts_module

#: Above this size input is shown unhighlighted: lexing a pasted megabyte would stall typing.
MAX_HIGHLIGHT = 100_000

#: Colours of the pygments token classes (prompt_toolkit style syntax).
PYGMENTS_STYLE = {
    "pygments.keyword": "#5fafff bold",
    "pygments.keyword.type": "#5fafff",
    "pygments.name.builtin": "#d787ff",
    "pygments.name.variable": "#ffaf87",
    "pygments.name.attribute": "#d787ff",
    "pygments.string": "#87d787",
    "pygments.string.escape": "#5fd7af",
    "pygments.number": "#d7af5f",
    "pygments.comment": "#8a8a8a italic",
    "pygments.error": "#ff5f5f",
}

_NUM = r"[0-9](?:_?[0-9])*"
_HEX = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"


class CommandLexer(RegexLexer):
    """The shell's command language: ``:name``, ``--flags``, ``"strings"``, WAT numbers."""

    name = "SuperVM shell"
    aliases = ["supervm-repl"]  # noqa: RUF012 (pygments reads these class attributes)
    filenames: list[str] = []  # noqa: RUF012

    tokens = {  # noqa: RUF012
        "root": [
            (r"\s+", Whitespace),
            (r"^#.*", Comment.Single),
            (r":[^\s\"]+", Keyword),
            (r"--[A-Za-z][\w-]*", Name.Attribute),
            (r'"', String, "string"),
            (r"i(?:32|64):", Keyword.Type),
            (rf"[+-]?(?:inf|nan(?::0x{_HEX})?)(?=\s|$)", Number.Float),
            (rf"[+-]?0x{_HEX}(?:\.(?:{_HEX})?)?(?:[pP][+-]?{_NUM})?(?=\s|$)", Number.Hex),
            (rf"[+-]?{_NUM}(?:\.(?:{_NUM})?)?(?:[eE][+-]?{_NUM})?(?=\s|$)", Number),
            (r"0x(?=\s|$)", Number.Hex),
            (r"[^\s\"]+", Text),
        ],
        "string": [
            (r"\\(?:[tnr\"'\\]|[0-9a-fA-F]{2}|u\{[0-9a-fA-F_]+\})", String.Escape),
            (r"\\.", Error),
            (r'[^"\\]+', String),
            (r'"', String, "#pop"),
        ],
    }


class ShellLexer(Lexer):
    """Highlights a line as a command, or as WAT when it starts an inline module."""

    def __init__(self) -> None:
        self._commands = PygmentsLexer(CommandLexer, sync_from_start=True)
        self._wat = PygmentsLexer(WatLexer, sync_from_start=True)

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        if len(document.text) > MAX_HIGHLIGHT:
            lines = document.lines
            return lambda n: [("", lines[n])] if n < len(lines) else []
        lexer = self._wat if starts_module(document.text) else self._commands
        return lexer.lex_document(document)
