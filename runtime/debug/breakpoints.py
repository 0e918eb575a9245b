"""Breakpoints on host calls, ``storage_set if key == "bal:alice"``, and their table.

A condition compares names a host call defines — its parameters (``key_len``, ``index``...), the
byte strings it reads from guest memory (``key``, ``value``, ``data``), ``fuel`` and ``step`` —
with literals: ``"text"`` or ``0x…`` bytes, and integers. Clauses join with ``and``/``or``
(``and`` binds tighter). Comparisons: ``== != < <= > >=`` and ``contains``/``startswith`` for
bytes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from .. import abi
from ..errors import UsageError
from ..literals import parse_bytes, parse_integer, shorten
from ..trace import HostCall

# A string in the shell's syntax, a comparison, or a run of anything else (a name, a number, a
# typed literal such as i64:5): the literal parser then reads it exactly as the shell would.
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>==|!=|<=|>=|<|>)|(?P<word>[^\s"<>=!]+))',
    re.DOTALL,
)
_OPS: dict[str, Callable[[object, object], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
    "contains": lambda a, b: b in a,  # type: ignore[operator]
    "startswith": lambda a, b: a.startswith(b),  # type: ignore[attr-defined]
}


class BreakpointError(UsageError):
    """A breakpoint names an unknown host function or has a malformed condition."""


@dataclass(frozen=True)
class Compare:
    name: str
    op: str
    literal: bytes | int

    def __call__(self, values: Mapping[str, bytes | int]) -> bool:
        value = values.get(self.name)
        if value is None or isinstance(value, bytes) != isinstance(self.literal, bytes):
            return False
        return _OPS[self.op](value, self.literal)


#: What a source breakpoint's condition can test: the fuel left, the host calls made so far,
#: and how deep the call stack is.
SOURCE_NAMES = {"fuel": "int", "step": "int", "depth": "int"}


@dataclass(frozen=True)
class SourcePlace:
    """Where a source breakpoint pauses: before code at ``offsets`` (the probes of a line), or
    at the first line of function ``function_index``; ``spec`` is what the user wrote."""

    spec: str
    offsets: frozenset[int] = frozenset()
    function_index: int | None = None


@dataclass(eq=False)
class Breakpoint:
    """Pause before every call of host function ``func`` whose condition holds, or (``place``
    set, ``func`` None) before a source line or a function.

    As in ``bdb``: a breakpoint may be disabled, ``temporary`` (deleted when it first pauses a
    call), and have an ``ignore`` count (the next that many hits do not pause).
    """

    number: int
    func: abi.HostFunction | None
    condition: str | None = None
    clauses: list[list[Compare]] = field(default_factory=list)
    enabled: bool = True
    temporary: bool = False
    ignore: int = 0
    hits: int = 0
    place: SourcePlace | None = None

    def matches(self, entry: HostCall, values: Mapping[str, bytes | int]) -> bool:
        """Whether the host call about to run satisfies this breakpoint (enabled or not)."""
        if self.func is None or entry.func != self.func.qualname:
            return False
        return self.holds(values)

    def holds(self, values: Mapping[str, bytes | int]) -> bool:
        """Whether its condition holds for these values."""
        return not self.clauses or any(all(c(values) for c in conj) for conj in self.clauses)

    @property
    def target(self) -> str:
        """What it breaks on, without the condition."""
        return self.func.qualname if self.func is not None else \
            self.place.spec  # type: ignore[union-attr]

    @property
    def spec(self) -> str:
        """What it breaks on: ``storage_api.storage_set if key == "bal:alice"``."""
        cond = f" if {self.condition}" if self.condition else ""
        return f"{self.target}{cond}"

    def __str__(self) -> str:
        return f"#{self.number} {self.spec}"


class Breakpoints:
    """The breakpoint table of a debugger: numbered from 1, never reused."""

    def __init__(self) -> None:
        self._table: dict[int, Breakpoint] = {}
        self._next = 1

    def __iter__(self) -> Iterator[Breakpoint]:
        return iter(list(self._table.values()))

    def __len__(self) -> int:
        return len(self._table)

    @property
    def active(self) -> bool:
        """Whether any breakpoint is enabled (calls then run where they can pause)."""
        return any(b.enabled for b in self._table.values())

    @property
    def source_active(self) -> bool:
        """Whether an enabled breakpoint is on a source line or function."""
        return any(b.enabled and b.place is not None for b in self._table.values())

    def add(self, text: str, *, temporary: bool = False,
            resolve: Callable[[str], SourcePlace] | None = None) -> Breakpoint:
        """A new breakpoint from ``HOSTFN [if CONDITION]``, or with ``resolve`` (which turns
        ``FILE:LINE`` or a function name into a :class:`SourcePlace`) from
        ``FILE:LINE [if CONDITION]`` or ``FUNCTION [if CONDITION]``."""
        target, _, _ = text.strip().partition(" ")
        if abi.find(target) is None and resolve is not None:
            place, condition = resolve(target), _condition_of(text)
            bp = Breakpoint(self._next, None, condition,
                            _parse_condition(None, condition) if condition else [],
                            place=place)
        else:
            bp = parse(self._next, text)
        bp.temporary = temporary
        self._next += 1
        self._table[bp.number] = bp
        return bp

    def get(self, number: int) -> Breakpoint:
        bp = self._table.get(number)
        if bp is None:
            known = ", ".join(f"#{n}" for n in self._table) or "none"
            raise BreakpointError(f"no breakpoint #{number}; breakpoints: {known}")
        return bp

    def remove(self, number: int) -> Breakpoint:
        return self._table.pop(self.get(number).number)

    def clear(self) -> list[Breakpoint]:
        removed = list(self._table.values())
        self._table.clear()
        return removed

    def enable(self, number: int, enabled: bool = True) -> Breakpoint:
        bp = self.get(number)
        bp.enabled = enabled
        return bp

    def set_ignore(self, number: int, count: int) -> Breakpoint:
        if count < 0:
            raise BreakpointError(f"an ignore count is 0 or more, not {count}")
        bp = self.get(number)
        bp.ignore = count
        return bp

    def set_condition(self, number: int, condition: str | None) -> Breakpoint:
        """Replace (or with None remove) breakpoint ``number``'s condition."""
        bp = self.get(number)
        clauses = _parse_condition(bp.func, condition) if condition else []
        bp.condition, bp.clauses = condition or None, clauses
        return bp

    def hit(self, entry: HostCall, values: Mapping[str, bytes | int]) -> Breakpoint | None:
        """The breakpoint that pauses the host call about to run, if any, counting the hit
        (an ignored hit counts too, as in ``bdb``; a temporary breakpoint is then deleted)."""
        return self._first([b for b in self._table.values() if b.matches(entry, values)])

    def hit_place(self, offset: int | None, entered: int | None,
                  values: Mapping[str, bytes | int]) -> Breakpoint | None:
        """The source breakpoint that pauses at this line (``offset``: its probe) or first line
        of function ``entered``, if any, counting the hit as :meth:`hit` does."""
        found = [b for b in self._table.values() if b.place is not None and (
            (offset is not None and offset in b.place.offsets) or
            (entered is not None and b.place.function_index == entered)) and b.holds(values)]
        return self._first(found)

    def _first(self, matching: list[Breakpoint]) -> Breakpoint | None:
        for bp in matching:
            if not bp.enabled:
                continue
            bp.hits += 1
            if bp.ignore > 0:
                bp.ignore -= 1
                continue
            if bp.temporary:
                del self._table[bp.number]
            return bp
        return None


def condition_values(fn: abi.HostFunction, entry: HostCall,
                     inputs: Mapping[str, bytes]) -> dict[str, bytes | int]:
    """The names a condition on ``entry`` can test, with their values."""
    values: dict[str, bytes | int] = {name: arg for (name, _), arg in
                                      zip(fn.params, entry.args, strict=False)}
    values.update(inputs, fuel=entry.fuel, step=entry.index)
    return values


def input_names(fn: abi.HostFunction) -> dict[str, str]:
    """The names a condition on ``fn`` may use, with their kind (bytes or int)."""
    names = {name: "int" for name, _ in fn.params}
    names.update({"fuel": "int", "step": "int"})
    names.update({p: "bytes" for p in input_payloads(fn)})
    return names


def input_payloads(fn: abi.HostFunction) -> dict[str, tuple[int, int]]:
    """Payloads ``fn`` reads from guest memory with a length: name → (pointer, length) param
    indexes (the ABI table's ``inputs`` column)."""
    return {p.name: (p.ptr, p.length) for p in fn.inputs
            if p.ptr is not None and p.length is not None}


def _condition_of(text: str) -> str | None:
    _, _, rest = text.strip().partition(" ")
    keyword, _, cond = rest.strip().partition(" ")
    if keyword and keyword != "if":
        raise BreakpointError(f"expected 'if CONDITION', got {shorten(keyword)!r}")
    if keyword and not cond.strip():
        raise BreakpointError("'if' needs a condition, e.g. depth == 1")
    return cond.strip() or None


def parse(number: int, text: str) -> Breakpoint:
    """``HOSTFN [if CONDITION]`` → a :class:`Breakpoint`."""
    name, _, rest = text.strip().partition(" ")
    fn = abi.find(name)
    if fn is None:
        known = ", ".join(f.name for f in abi.HOST_FUNCTIONS)
        raise BreakpointError(f"no host function {shorten(name)!r}; host functions: {known}")
    keyword, _, cond = rest.strip().partition(" ")
    if keyword and keyword != "if":
        raise BreakpointError(f"expected 'if CONDITION' after {name}, got {shorten(keyword)!r}")
    cond = cond.strip()
    if keyword and not cond:
        raise BreakpointError("'if' needs a condition, e.g. key == \"bal:alice\"")
    return Breakpoint(number, fn, cond or None, _parse_condition(fn, cond) if cond else [])


def _parse_condition(fn: abi.HostFunction | None, text: str) -> list[list[Compare]]:
    names = input_names(fn) if fn is not None else dict(SOURCE_NAMES)
    return parse_condition(text, names, fn.name if fn is not None else "a source breakpoint")


def parse_condition(text: str, names: Mapping[str, str], what: str) -> list[list[Compare]]:
    """A condition over ``names`` (name → ``bytes`` or ``int``) as clauses: the condition holds
    when every comparison of one clause does. ``what`` names the subject in errors."""
    tokens = _tokens(text)
    clauses: list[list[Compare]] = [[]]
    pos = 0
    while True:
        if pos + 3 > len(tokens):
            raise BreakpointError(f"incomplete condition {text!r}: expected NAME OP VALUE")
        (kind_n, name), (_, op), (kind_v, raw) = tokens[pos:pos + 3]
        if kind_n != "word" or name not in names:
            raise BreakpointError(
                f"{what} has no {name!r} to test; names: {', '.join(sorted(names))}")
        if op not in _OPS:
            raise BreakpointError(f"unknown comparison {op!r}; use {' '.join(_OPS)}")
        literal = _literal(kind_v, raw, names[name])
        if op in ("contains", "startswith") and not isinstance(literal, bytes):
            raise BreakpointError(f"{op} compares bytes: {name} is a number")
        clauses[-1].append(Compare(name, op, literal))
        pos += 3
        if pos == len(tokens):
            return clauses
        joiner = tokens[pos][1]
        if joiner == "or":
            clauses.append([])
        elif joiner != "and":
            raise BreakpointError(f"expected 'and' or 'or', got {joiner!r}")
        pos += 1


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos, end = [], 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            rest = text[pos:].lstrip()
            if rest.startswith('"'):
                raise BreakpointError(f"unterminated string {shorten(rest, 20)} in the condition")
            raise BreakpointError(f"cannot read the condition at {shorten(rest, 20)!r}")
        kind = match.lastgroup or ""
        out.append((kind, match[kind]))
        pos = match.end()
    return out


def _literal(kind: str, raw: str, wanted: str) -> bytes | int:
    """A literal in the shell's own syntax (:mod:`runtime.literals`), of the kind ``wanted``."""
    if wanted == "bytes":
        if kind == "op" or (kind == "word" and raw in _OPS):
            raise BreakpointError(f'expected "text" or 0x bytes, got {shorten(raw)}')
        try:
            return parse_bytes(raw)
        except UsageError as exc:
            raise BreakpointError(f'expected "text" or 0x bytes: {exc}') from None
    if kind == "str":
        raise BreakpointError(f"expected a number, got {shorten(raw)}")
    try:
        return parse_integer(raw)
    except UsageError as exc:
        raise BreakpointError(f"expected a number: {exc}") from None
