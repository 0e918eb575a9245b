"""The SuperVM host ABI: every host function a contract can import, defined once.

:data:`HOST_FUNCTIONS` is the single table; the linker, the documentation, the REPL's completion
and the trace renderer all derive from it. Semantics are those of ``host-abi.md``: pointers and
lengths are unsigned i32 into the exported memory ``memory``; guest faults trap with a message
naming the function and its arguments; nothing is clipped silently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from .errors import AbortError
from .host import CallState
from .trace import EventEmit, HostCall, StorageWrite

Impl = Callable[..., int | None]


@dataclass(frozen=True)
class Payload:
    """A byte string a host call moves, by the name its trace entries give it (``key``...).

    An input is read from guest memory at parameter ``ptr`` with length parameter ``length``;
    an output is written to guest memory at parameter ``ptr`` (``length`` bounds it), or, with
    ``ptr`` None, is what the host call found and reports by its result (``storage_get``'s
    value).
    """

    name: str
    ptr: int | None = None
    length: int | None = None


@dataclass(frozen=True)
class HostFunction:
    """One host function: where it is imported from, its signature, behaviour and docs, and
    what it moves and changes (the columns every renderer and the debugger read).

    ``params`` are (name, wasm type) pairs. ``inputs`` and ``outputs`` are its
    :class:`Payload`\\ s; ``effect`` is what it changes: ``write`` or ``delete`` (a storage
    key), ``emit`` (an event), or None; ``reads_key``: it looks a storage key up.
    """

    module: str
    name: str
    params: tuple[tuple[str, str], ...]
    results: tuple[str, ...]
    impl: Impl
    doc: str
    inputs: tuple[Payload, ...] = ()
    outputs: tuple[Payload, ...] = ()
    effect: str | None = None
    reads_key: bool = False

    @functools.cached_property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    @functools.cached_property
    def payloads(self) -> tuple[str, ...]:
        """The names of the byte strings its trace entries carry."""
        return tuple(dict.fromkeys(p.name for p in (*self.inputs, *self.outputs)))

    @functools.cached_property
    def pointers(self) -> frozenset[int]:
        """Indexes of its parameters that are guest addresses (shown in hex)."""
        return frozenset(p.ptr for p in (*self.inputs, *self.outputs) if p.ptr is not None)

    @property
    def param_types(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.params)

    @property
    def signature(self) -> str:
        """The WebAssembly text form: ``(param i32 i32) (result i64)``."""
        parts = []
        if self.params:
            parts.append("(param " + " ".join(self.param_types) + ")")
        if self.results:
            parts.append("(result " + " ".join(self.results) + ")")
        return " ".join(parts) or "(no params, no results)"

    def is_pointer(self, index: int) -> bool:
        return index in self.pointers

    def format_call(self, args: tuple[int, ...]) -> str:
        """``storage_api.storage_set(key_ptr=0x10, key_len=5, ...)``, pointers in hex."""
        pointers = self.pointers
        shown = ", ".join(
            f"{n}=0x{a:x}" if i in pointers else f"{n}={a}"
            for i, ((n, _), a) in enumerate(zip(self.params, args, strict=False))
        )
        return f"{self.qualname}({shown})"


def _length(st: CallState, fn: HostFunction, args: tuple[int, ...], value: int,
            name: str) -> int:
    # Lengths arrive unsigned; a value with the top bit set was a negative i32 in the guest.
    if value >= 0x8000_0000:
        raise st.fault(fn, args, f"{name} is negative ({value - 0x1_0000_0000})")
    return value


def _key(st: CallState, e: HostCall | None, fn: HostFunction, args: tuple[int, ...],
         ptr: int, length: int, *, kept: bool = False) -> bytes:
    """The key at ``ptr``; ``kept``: the call keeps it (a write), so it counts in any case."""
    if length > st.limits.max_key_size:
        _length(st, fn, args, length, "key_len")  # a negative length is reported as such
        raise st.over_limit(fn, args, "max_key_size", length)
    if kept or st.counting:
        st.hold(fn, args, length)
    key = st.load(fn, args, ptr, length, "key")
    if e is not None:
        e.payloads["key"] = key
    return key


# --- storage_api ------------------------------------------------------------------------------


def _storage_get(st: CallState, e: HostCall | None, key_ptr: int, key_len: int) -> int:
    args = (key_ptr, key_len)
    key = _key(st, e, STORAGE_GET, args, key_ptr, key_len)
    value = st.read(key)
    st.last_value = value
    if value is None:
        return 0
    if st.counting:
        st.hold(STORAGE_GET, args, len(value))
    if e is not None:
        e.payloads["value"] = value
    return len(value)


def _storage_read_value(st: CallState, e: HostCall | None, ptr: int, length: int) -> int:
    args = (ptr, length)
    length = _length(st, STORAGE_READ_VALUE, args, length, "len")
    if st.last_value is None:
        raise st.fault(STORAGE_READ_VALUE, args,
                       "no value cached: the last storage_get found no key (or none was made)")
    data = st.last_value[:length]
    if st.counting:
        st.hold(STORAGE_READ_VALUE, args, len(data))
    st.store(STORAGE_READ_VALUE, args, ptr, data, "destination")
    if e is not None:
        e.payloads["value"] = data
    return len(data)


def _storage_set(st: CallState, e: HostCall | None, key_ptr: int, key_len: int,
                 value_ptr: int, value_len: int) -> int:
    args = (key_ptr, key_len, value_ptr, value_len)
    key = _key(st, e, STORAGE_SET, args, key_ptr, key_len, kept=True)
    value_len = _length(st, STORAGE_SET, args, value_len, "value_len")
    if value_len > st.limits.max_value_size:
        raise st.over_limit(STORAGE_SET, args, "max_value_size", value_len)
    st.hold(STORAGE_SET, args, value_len)
    value = st.load(STORAGE_SET, args, value_ptr, value_len, "value")
    old = st.write(key, value)
    if e is not None:
        e.payloads["value"] = value
        e.effect = StorageWrite(key, old, value)
    return 0


def _storage_delete(st: CallState, e: HostCall | None, key_ptr: int, key_len: int) -> int:
    key = _key(st, e, STORAGE_DELETE, (key_ptr, key_len), key_ptr, key_len, kept=True)
    old = st.write(key, None)
    if e is not None:
        e.effect = StorageWrite(key, old, None)
    return 0


# --- chain_api --------------------------------------------------------------------------------


def _block_number(st: CallState, e: HostCall | None) -> int:
    return st.context.block_number


def _timestamp(st: CallState, e: HostCall | None) -> int:
    return st.context.timestamp


def _emit_event(st: CallState, e: HostCall | None, data_ptr: int, data_len: int) -> int:
    args = (data_ptr, data_len)
    data_len = _length(st, EMIT_EVENT, args, data_len, "data_len")
    if data_len > st.limits.max_event_size:
        raise st.over_limit(EMIT_EVENT, args, "max_event_size", data_len)
    if len(st.events) >= st.limits.max_events:
        raise st.over_limit(EMIT_EVENT, args, "max_events", len(st.events) + 1)
    st.hold(EMIT_EVENT, args, data_len)
    data = st.load(EMIT_EVENT, args, data_ptr, data_len, "event data")
    st.events.append(data)
    if e is not None:
        e.payloads["data"] = data
        e.effect = EventEmit(len(st.events) - 1, data)
    return 0


def _events_len(st: CallState, e: HostCall | None) -> int:
    return len(st.events)


def _read_event(st: CallState, e: HostCall | None, index: int, ptr: int, length: int) -> int:
    args = (index, ptr, length)
    length = _length(st, READ_EVENT, args, length, "len")
    signed = index - 0x1_0000_0000 if index >= 0x8000_0000 else index
    if signed < 0 or signed >= len(st.events):
        raise st.fault(READ_EVENT, args,
                       f"event index {signed} out of range (events: {len(st.events)})")
    data = st.events[signed][:length]
    if st.counting:
        st.hold(READ_EVENT, args, len(data))
    st.store(READ_EVENT, args, ptr, data, "destination")
    if e is not None:
        e.payloads["data"] = data
    return len(data)


# --- env (AssemblyScript) ---------------------------------------------------------------------


def _as_string(st: CallState, fn: HostFunction, args: tuple[int, ...], ptr: int,
               what: str) -> str | None:
    """Decode an AssemblyScript string: UTF-16LE, byte length as u32 at ``ptr - 4``."""
    if ptr == 0:
        return None
    if ptr < 4:
        raise st.fault(fn, args, f"{what} pointer 0x{ptr:x} has no length header")
    size = int.from_bytes(st.load(fn, args, ptr - 4, 4, f"{what} length"), "little")
    raw = st.load(fn, args, ptr, size, what)
    return raw.decode("utf-16-le", errors="replace")


def _abort(st: CallState, e: HostCall | None, msg_ptr: int, file_ptr: int, line: int,
           col: int) -> None:
    args = (msg_ptr, file_ptr, line, col)
    message = _as_string(st, ABORT, args, msg_ptr, "message")
    file = _as_string(st, ABORT, args, file_ptr, "file")
    if e is not None:
        if message is not None:
            e.payloads["message"] = message.encode()
        if file is not None:
            e.payloads["file"] = file.encode()
    raise AbortError(message, file, line, col)


def _fn(module: str, name: str, params: str, results: str, impl: Impl, doc: str, *,
        inputs: str = "", outputs: str = "", effect: str | None = None,
        reads_key: bool = False) -> HostFunction:
    """A table row; payloads are written ``key@key_ptr/key_len`` (read from memory there),
    ``value@ptr/len`` (written there), ``message@msg_ptr`` (a string that carries its own
    length), or ``value`` (found and reported by the result)."""
    names = params.split()
    pairs = tuple((p, "i32") for p in names)

    def payload(spec: str) -> Payload:
        name, _, where = spec.partition("@")
        if not where:
            return Payload(name)
        ptr, _, length = where.partition("/")
        return Payload(name, names.index(ptr), names.index(length) if length else None)

    return HostFunction(module, name, pairs, tuple(results.split()), impl, doc,
                        tuple(map(payload, inputs.split())), tuple(map(payload, outputs.split())),
                        effect, reads_key)


STORAGE_GET = _fn(
    "storage_api", "storage_get", "key_ptr key_len", "i64", _storage_get,
    "Look a key up. Present: caches the value and returns its length. Absent: clears the "
    "cache and returns 0 (an empty value also returns 0).",
    inputs="key@key_ptr/key_len", outputs="value", reads_key=True)
STORAGE_READ_VALUE = _fn(
    "storage_api", "storage_read_value", "ptr len", "i32", _storage_read_value,
    "Copy min(len, cached length) bytes of the last value found by storage_get to ptr; "
    "returns bytes written. Traps if nothing is cached.", outputs="value@ptr/len")
STORAGE_SET = _fn(
    "storage_api", "storage_set", "key_ptr key_len value_ptr value_len", "i32", _storage_set,
    "Write a key-value pair (visible to later reads in this call, committed when the call "
    "returns normally); returns 0.",
    inputs="key@key_ptr/key_len value@value_ptr/value_len", effect="write")
STORAGE_DELETE = _fn(
    "storage_api", "storage_delete", "key_ptr key_len", "i32", _storage_delete,
    "Delete a key (an absent key is not an error); returns 0.",
    inputs="key@key_ptr/key_len", effect="delete")
BLOCK_NUMBER = _fn("chain_api", "block_number", "", "i64", _block_number,
                   "The block number of the call's chain context.")
TIMESTAMP = _fn("chain_api", "timestamp", "", "i64", _timestamp,
                "The block timestamp (seconds) of the call's chain context.")
EMIT_EVENT = _fn(
    "chain_api", "emit_event", "data_ptr data_len", "i32", _emit_event,
    "Append the bytes as an event of this call; returns 0.",
    inputs="data@data_ptr/data_len", effect="emit")
EVENTS_LEN = _fn("chain_api", "events_len", "", "i32", _events_len,
                 "Number of events emitted so far in this call.")
READ_EVENT = _fn(
    "chain_api", "read_event", "index ptr len", "i32", _read_event,
    "Copy min(len, event length) bytes of event index to ptr; returns bytes written. "
    "Traps if index is out of range or negative.", outputs="data@ptr/len")
ABORT = _fn(
    "env", "abort", "msg_ptr file_ptr line col", "", _abort,
    "AssemblyScript's abort: ends the call as an abort error with the message, file and "
    "line:col (strings are AssemblyScript strings; 0 means none).",
    inputs="message@msg_ptr file@file_ptr")
#: Every host function SuperVM provides, in documentation order.
HOST_FUNCTIONS: tuple[HostFunction, ...] = (
    STORAGE_GET, STORAGE_READ_VALUE, STORAGE_SET, STORAGE_DELETE,
    BLOCK_NUMBER, TIMESTAMP, EMIT_EVENT, EVENTS_LEN, READ_EVENT,
    ABORT,
)

#: Host functions by ``module.name``.
BY_QUALNAME: dict[str, HostFunction] = {f.qualname: f for f in HOST_FUNCTIONS}


def _probe(st: CallState, e: HostCall | None, probe_id: int) -> None:
    st.probe(probe_id)


#: The import a debug build of a module calls where it can pause (see runtime.instrument).
#: Not part of the ABI: only debug builds may import it, and its calls are not host calls of
#: the trace.
DEBUG_PROBE = _fn("supervm_debug", "probe", "id", "", _probe,
                  "Where a debug build of a module reaches a source line, enters or leaves a "
                  "function.")

#: Every function the executors link: the ABI and the debug builds' probe.
LINKED: tuple[HostFunction, ...] = (*HOST_FUNCTIONS, DEBUG_PROBE)


def find(name: str) -> HostFunction | None:
    """A host function by ``module.name`` or, if unambiguous, by bare name."""
    if name in BY_QUALNAME:
        return BY_QUALNAME[name]
    matches = [f for f in HOST_FUNCTIONS if f.name == name]
    return matches[0] if len(matches) == 1 else None


def markdown_table() -> str:
    """The host ABI as a Markdown table (the README's reference is generated from this)."""
    rows = ["| function | signature | behaviour |", "|---|---|---|"]
    rows += [f"| `{f.qualname}` | `{f.signature}` | {f.doc} |" for f in HOST_FUNCTIONS]
    return "\n".join(rows)
