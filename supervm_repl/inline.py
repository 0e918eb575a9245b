"""Inline modules: input starting with ``(`` continues until its parentheses balance.

Parentheses inside strings, ``;;`` line comments and (nested) ``(; … ;)`` block comments do not
count, so ``(data (i32.const 0) ")")`` is complete on one line.
"""

from __future__ import annotations


def starts_module(text: str) -> bool:
    """Whether ``text`` is WebAssembly text rather than a command."""
    return text.lstrip().startswith("(")


def needs_more(text: str) -> bool:
    """Whether ``text`` starts an inline module whose parentheses are still open."""
    if not starts_module(text):
        return False
    depth, i, n = 0, 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            i += 1
            # A string cannot span lines in the text format: an unclosed one ends at the newline.
            while i < n and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif text.startswith(";;", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
        elif text.startswith("(;", i):
            nesting, i = 1, i + 2
            while i < n and nesting:
                if text.startswith("(;", i):
                    nesting, i = nesting + 1, i + 2
                elif text.startswith(";)", i):
                    nesting, i = nesting - 1, i + 2
                else:
                    i += 1
            if nesting:
                return True
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth <= 0:
                # Balanced (or over-closed: the parser will say so); nothing more to wait for.
                return False
        i += 1
    return depth > 0
