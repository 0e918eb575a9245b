"""Inline modules: input starting with ``(`` continues until its parentheses balance.

Parentheses inside strings, ``;;`` line comments and (nested) ``(; … ;)`` block comments do not
count, so ``(data (i32.const 0) ")")`` is complete on one line.
"""

from __future__ import annotations


def starts_module(text: str) -> bool:
    """Whether ``text`` is WebAssembly text rather than a command."""
    return text.lstrip().startswith("(")


class ModuleInput:
    """Follows an inline module as it is fed, line by line, without rescanning earlier lines."""

    def __init__(self) -> None:
        self.depth = 0
        self.comment = 0  # nesting of the block comment we are in
        self.closed = False

    @property
    def complete(self) -> bool:
        """Whether the parentheses have balanced (or over-closed: the parser will say so)."""
        return self.closed

    def feed(self, text: str) -> None:
        """Scan more input (one or more lines)."""
        i, n = 0, len(text)
        while i < n and not self.closed:
            if self.comment:
                if text.startswith("(;", i):
                    self.comment, i = self.comment + 1, i + 2
                elif text.startswith(";)", i):
                    self.comment, i = self.comment - 1, i + 2
                else:
                    i += 1
                continue
            char = text[i]
            if char == '"':
                i += 1
                # A string cannot span lines in the text format: an unclosed one ends there.
                while i < n and text[i] not in '"\n':
                    i += 2 if text[i] == "\\" and text[i + 1 : i + 2] != "\n" else 1
            elif text.startswith(";;", i):
                newline = text.find("\n", i)
                i = n if newline < 0 else newline
            elif text.startswith("(;", i):
                self.comment, i = 1, i + 2
                continue
            elif char == "(":
                self.depth += 1
            elif char == ")":
                self.depth -= 1
                if self.depth <= 0:
                    self.closed = True
            i += 1


def needs_more(text: str) -> bool:
    """Whether ``text`` starts an inline module whose parentheses are still open."""
    if not starts_module(text):
        return False
    module = ModuleInput()
    module.feed(text)
    return not module.complete
