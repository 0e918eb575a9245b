"""What a call runs under: the chain context and the limits, with their documented defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import BadArgumentsError, UsageError

WASM_PAGE = 65536
#: The most fuel a call can be given: the engine counts fuel in an unsigned 64-bit integer.
MAX_FUEL = 2**64 - 1


class FuelError(BadArgumentsError, ValueError):
    """Fuel that is not a whole number of units from 1 to :data:`MAX_FUEL`."""


def check_fuel(fuel: object) -> int:
    """``fuel`` if it is an int from 1 to :data:`MAX_FUEL`, else :class:`FuelError`."""
    if isinstance(fuel, bool) or not isinstance(fuel, int):
        raise FuelError(f"fuel must be an integer, got {fuel!r}")
    if not 1 <= fuel <= MAX_FUEL:
        raise FuelError(f"fuel must be between 1 and 2^64 - 1 ({MAX_FUEL:,}), got {fuel:,}")
    return fuel


@dataclass(frozen=True)
class ChainContext:
    """The block a call executes in, as the host functions ``block_number``/``timestamp`` see it."""

    block_number: int = 0
    timestamp: int = 0

    def __post_init__(self) -> None:
        for name in ("block_number", "timestamp"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {type(value).__name__}")
            if not -(2**63) <= value < 2**63:
                raise ValueError(f"{name} {value} does not fit in an i64")

    def with_(self, **changes: int) -> ChainContext:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Limits:
    """Resource limits of every call. All are per call; defaults are chosen for development.

    ``max_wasm_stack`` is an engine setting (bytes of native stack for wasm, at most 2 MiB);
    changing it compiles modules anew. ``max_trace`` bounds the host-call trace: further host
    calls still run but are not recorded, and the result says the trace was truncated.
    ``max_call_bytes`` bounds the bytes a call holds: its pending writes and events, and the
    payloads (keys, values, event data) of its first ``max_trace`` host calls, which its trace
    keeps. They are counted whether or not the trace is on, so the same call fails the same way
    either way.
    """

    fuel: int = 10_000_000
    max_memory_pages: int = 256  # 16 MiB of linear memory
    max_wasm_stack: int = 512 * 1024
    max_module_size: int = 16 * 1024 * 1024
    max_key_size: int = 1024
    max_value_size: int = 1024 * 1024
    max_event_size: int = 64 * 1024
    max_events: int = 1024
    max_trace: int = 250_000  # about 450 bytes an entry: ~110 MB at most per call
    max_table_elements: int = 100_000
    max_call_bytes: int = 32 * 1024 * 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "fuel":
                check_fuel(value)
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LimitsError(f"limit {f.name} must be a non-negative integer, got {value!r}")
        if self.max_wasm_stack > 2 * 1024 * 1024 or self.max_wasm_stack < 64 * 1024:
            # wasmtime aborts the whole process above its 2 MiB async stack size.
            raise LimitsError("limit max_wasm_stack must be between 65536 and 2097152 bytes")
        if self.max_memory_pages > 65536:
            raise LimitsError("limit max_memory_pages must be at most 65536 (4 GiB)")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Limits:
        """Limits from a mapping of field names (unknown names are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise LimitsError(f"unknown limit {unknown[0]!r}; limits: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def with_(self, **changes: int) -> Limits:
        """A copy with some limits changed."""
        return self.from_dict({**self.to_dict(), **changes})


class LimitsError(UsageError, ValueError):
    """A limit was given an impossible value."""
