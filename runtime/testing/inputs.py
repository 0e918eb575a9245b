"""Arguments for contract tests: candidate values from an export's signature and the module's
own constants, one deterministic input per run of a campaign, and shrinking of a failing input.

An input is a tuple of :class:`~runtime.Value`, one per parameter. Run ``i`` of a campaign with
seed ``s`` always gets the same input, whatever else ran before it (or in which process): that
is what makes a campaign independent of how it is split between workers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ..modules import Contract
from ..values import Value
from ..wasm_binary import constants, parse

_WIDTH = {"i32": 32, "i64": 64, "f32": 32, "f64": 64}
_FLOATS = (0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-45, 3.4028234663852886e38, 1.7976931348623157e308,
           5e-324, math.inf, -math.inf, math.nan)

#: How an argument is picked, by weight: a value that often breaks code, a small number (ids,
#: indexes, amounts), one of the module's constants (or a neighbour of one), an earlier argument
#: of the same type again (ids that must differ, such as a transfer's two accounts), or any
#: value of the type.
_EDGE, _SMALL, _CONSTANT, _REPEAT, _ANY = range(5)
_WEIGHTS = (2, 5, 2, 2, 1)


def edge_values(type_: str) -> list[Value]:
    """Values of a wasm type that often break code: 0, ±1, small numbers, the extremes."""
    width = _WIDTH[type_]
    if type_[0] == "f":
        return [Value.of(type_, v) for v in _FLOATS]
    top = 1 << (width - 1)
    ints = [0, 1, -1, 2, 3, 8, 10, 16, 100, 255, 256, 1000, 0xFFFF, 0x10000,
            top - 1, -top, top // 2, (1 << 32) - 1 if width == 64 else top - 2]
    return [Value.of(type_, v) for v in dict.fromkeys(ints)]


@dataclass(frozen=True)
class InputSpace:
    """Where a campaign's arguments for one export come from."""

    params: tuple[str, ...]
    edges: dict[str, tuple[Value, ...]]
    constants: dict[str, tuple[Value, ...]]

    @classmethod
    def of(cls, contract: Contract, export: str) -> InputSpace:
        """The space of ``export``'s arguments (the export must exist)."""
        info = contract.info.function(export)
        if info is None:
            raise KeyError(export)
        found = sorted(module_constants(contract))
        params = tuple(info.params)
        edges = {t: tuple(edge_values(t)) for t in set(params)}
        consts: dict[str, tuple[Value, ...]] = {}
        for t in set(params):
            values: list[Value] = []
            for c in found:
                for v in (c, c - 1, c + 1):
                    values.append(_fit(t, v))
            consts[t] = tuple(dict.fromkeys(values)) or edges[t]
        return cls(params, edges, consts)

    def input(self, seed: int, run: int) -> tuple[Value, ...]:
        """The input of run ``run`` of the campaign with ``seed``."""
        rng = random.Random(seed * 0x9E3779B1 + run)
        out: list[Value] = []
        for t in self.params:
            how = rng.choices(range(5), _WEIGHTS)[0]
            same = [v for v in out if v.type == t]
            if how == _REPEAT and same:
                out.append(rng.choice(same))
            elif how == _CONSTANT:
                out.append(rng.choice(self.constants[t]))
            elif how == _SMALL:
                # Mostly the first few ids (accounts, slots), sometimes a little further.
                small = rng.randrange(4) if rng.random() < 0.7 else rng.randrange(-1, 17)
                out.append(_fit(t, small))
            elif how == _ANY:
                out.append(Value(t, rng.getrandbits(_WIDTH[t])))
            else:
                out.append(rng.choice(self.edges[t]))
        return tuple(out)


def module_constants(contract: Contract) -> set[int]:
    """The integer constants of the module's code and data (see ``wasm_binary.constants``)."""
    return constants(parse(contract.wasm))


def _fit(type_: str, value: int) -> Value:
    if type_[0] == "f":
        return Value.of(type_, float(value))
    return Value.of(type_, value)


# --- shrinking -----------------------------------------------------------------------------------


def simpler(value: Value) -> Iterator[Value]:
    """Candidates simpler than ``value``, simplest first (0 first; never ``value`` itself)."""
    if value.is_float:
        v = float(value.value)
        seen = {value.bits}
        for c in (0.0, 1.0, -1.0, float(math.trunc(v)) if math.isfinite(v) else 0.0):
            cand = Value.of(value.type, c)
            if cand.bits not in seen:
                seen.add(cand.bits)
                yield cand
        return
    v = int(value.value)
    if v != 0:
        yield Value.of(value.type, 0)
    if v < 0:
        yield Value.of(value.type, -v if -v < (1 << (_WIDTH[value.type] - 1)) else v + 1)


def shrink(start: Sequence[Value], fails: Callable[[tuple[Value, ...]], bool],
           budget: int = 2000) -> tuple[tuple[Value, ...], int]:
    """A minimal input that still ``fails``, from a failing ``start``; and how many runs that
    took (at most ``budget``).

    Each argument in turn is tried at its simpler candidates, then brought as close to 0 as it
    can by bisection (the smallest magnitude that still fails, assuming failure is monotone in
    between), until nothing changes.
    """
    current = tuple(start)
    tried = 0

    def attempt(candidate: tuple[Value, ...]) -> bool:
        nonlocal tried
        if tried >= budget:
            return False
        tried += 1
        return fails(candidate)

    changed = True
    while changed and tried < budget:
        changed = False
        for i, value in enumerate(current):
            for cand in simpler(value):
                trial = (*current[:i], cand, *current[i + 1:])
                if attempt(trial):
                    current, changed = trial, True
                    break
            value = current[i]
            if value.is_float or value.value in (0, 1, -1):
                continue
            v = int(value.value)
            sign = -1 if v < 0 else 1
            lo, hi = 0, abs(v)  # lo passes (or is untried), hi fails
            while hi - lo > 1 and tried < budget:
                mid = (lo + hi) // 2
                trial = (*current[:i], Value.of(value.type, sign * mid), *current[i + 1:])
                if attempt(trial):
                    hi, current, changed = mid, trial, True
                else:
                    lo = mid
    return current, tried


def describe(args: Sequence[Value]) -> str:
    """Arguments as the shell reads them: ``0 1 30`` (floats exact, NaN payloads kept)."""
    from ..values import format_number

    return " ".join(format_number(v) for v in args)
