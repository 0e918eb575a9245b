"""How a call into wasm ends, as SuperVM sees it: the one place that turns what wasmtime
reports (a trap, an error, an exception a host function stored) into the call's error.

Both executors enter wasm through :func:`enter_wasm`, as wasmtime-py's own calls go through its
``enter_wasm``: whatever ends the call inside the block comes out as a :class:`CallError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import wasmtime

from ..errors import (
    CallError,
    CallInterruptedError,
    Frame,
    HostFaultError,
    LimitExceededError,
    OutOfFuelError,
    SuperVMError,
    TrapError,
)
from ..host import CallState

_MEMORY_MINIMUM = re.compile(r"minimum size of (\d+) pages exceeds memory limits")
_CHAIN_NUMBER = re.compile(r"^\d+:\s*")
# Lines of the backtrace part: "error while executing at wasm backtrace:", "0: 0x27 - <unknown>!…"
_BACKTRACE_LINE = re.compile(
    r"^(?:error while executing|\d+:\s+0x[0-9a-f]+ - |note: |wasm backtrace)")
#: The pooling allocator's slots are all in use (see ``runtime.engine.POOL_SLOTS``).
_POOL_FULL = re.compile(r"maximum concurrent limit of (\d+) for (?:core instances|memories|tables)")
_TABLE_MINIMUM = re.compile(r"table minimum size of (\d+) elements exceeds table limits")

TrapFacts = Callable[[Any], tuple[str | None, str, list[Frame]]]


@contextmanager
def enter_wasm(state: CallState, fuel_limit: int) -> Iterator[None]:
    """Run wasm; anything that ends the call inside is raised as its :class:`CallError`.

    A host function's failure (already recorded in ``state.failure``) wins over the trap that
    carried it out of wasm; a SuperVM error that is not a call error, or any other exception,
    is a host fault with the original as its cause.
    """
    try:
        yield
    except BaseException as exc:
        error = classify(exc, state, fuel_limit)
        if error is exc:
            raise
        raise error from (exc if isinstance(error, HostFaultError) else None)


def detached(error: CallError) -> CallError:
    """``error`` without the frames it was raised through, which hold the call's store (its
    instance slot and linear memory) alive for as long as anyone keeps the error. A host
    fault keeps its cause, the bug's traceback, for ``--debug``."""
    error.__traceback__ = None
    if not isinstance(error, HostFaultError):
        error.__context__ = None
    return error


def _trap_facts(trap: Any) -> tuple[str | None, str, list[Frame]]:
    code = trap.trap_code
    frames = [Frame(f.func_index, f.func_name, f.module_offset) for f in trap.frames]
    return (code.name.lower() if code is not None else None), trap.message, frames


def classify(exc: BaseException, state: CallState, fuel_limit: int,
             trap_facts: TrapFacts = _trap_facts) -> CallError:
    """The SuperVM error for whatever ended a call."""
    if isinstance(exc, CallError):
        return exc
    if state.failure is not None:
        # A host function ended the call; the trap wasmtime reports is only its carrier, but
        # it knows where in wasm the host call was made.
        failure = state.failure if isinstance(state.failure, CallError) else \
            HostFaultError("runtime", state.failure)
        if isinstance(exc, wasmtime.Trap) and not failure.frames:
            failure.frames = trap_facts(exc)[2]
        return failure
    if isinstance(exc, SuperVMError):
        return HostFaultError("runtime", exc)
    if isinstance(exc, wasmtime.Trap):
        code, message, frames = trap_facts(exc)
        if code == "out_of_fuel":
            return OutOfFuelError(fuel_limit)
        if code == "interrupt":
            return CallInterruptedError()
        return TrapError(code or "unknown", trap_reason(message), frames)
    if isinstance(exc, wasmtime.WasmtimeError):
        return instantiation_error(str(exc), state)
    if isinstance(exc, KeyboardInterrupt):
        return CallInterruptedError()
    if isinstance(exc, Exception):
        return HostFaultError("runtime", exc)
    raise exc


def instantiation_error(text: str, state: CallState) -> CallError:
    """A failure to instantiate: a limit the module's declarations exceed, or another error."""
    match = _MEMORY_MINIMUM.search(text)
    if match:
        return LimitExceededError("max_memory_pages", int(match[1]),
                                  state.limits.max_memory_pages, where="instantiation")
    match = _TABLE_MINIMUM.search(text)
    if match:
        return LimitExceededError("max_table_elements", int(match[1]),
                                  state.limits.max_table_elements, where="instantiation")
    match = _POOL_FULL.search(text)
    if match:
        slots = int(match[1])
        return LimitExceededError("instances_alive", slots + 1, slots, where="instantiation")
    first = text.strip().splitlines()[0] if text.strip() else "instantiation failed"
    return TrapError("instantiate", first)


def trap_reason(message: str) -> str:
    """The cause of wasmtime's trap message, without the backtrace: ``out of bounds memory
    access (memory fault at wasm address 0x11170 in linear memory of size 0x10000)``.

    The message ends with a ``Caused by:`` chain (``0: detail``, ``1: wasm trap: cause``), or is
    the cause alone.
    """
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if "Caused by:" in lines:
        lines = lines[lines.index("Caused by:") + 1:]
    causes = [_CHAIN_NUMBER.sub("", line).removeprefix("wasm trap: ") for line in lines
              if not _BACKTRACE_LINE.match(line)]
    if not causes:
        return "trap"
    cause, details = causes[-1], causes[:-1]
    return f"{cause} ({'; '.join(details)})" if details else cause


