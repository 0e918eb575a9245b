"""The host-call trace: one :class:`HostCall` per host function a call invoked.

Entries are small slotted objects; payload bytes (keys, values, event data) are kept only when the
trace is on. Each entry's ``effect`` says what it changed, which is enough to rebuild the call's
view of storage and its events at any step (:func:`storage_at`, :func:`events_at`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StorageChange:
    """A storage key changed from ``old`` to ``new`` (``None`` = absent): the effect of one host
    call, or what a whole call changed."""

    key: bytes
    old: bytes | None
    new: bytes | None


#: The name a trace entry's storage effect goes by.
StorageWrite = StorageChange


@dataclass(frozen=True, slots=True)
class EventEmit:
    """Event number ``index`` (0-based, within the call) was emitted."""

    index: int
    data: bytes


Effect = StorageWrite | EventEmit


@dataclass(slots=True)
class HostCall:
    """One host-function invocation.

    ``args`` are the raw wasm arguments (pointers as unsigned numbers), ``payloads`` the bytes
    read from or written to guest memory by name (``key``, ``value``, ``data``, ...), ``result``
    the value returned to the guest (``None`` if it returned nothing or failed), ``fuel`` the fuel
    remaining when it was entered, ``effect`` its change to storage or the event log.
    """

    index: int
    func: str
    args: tuple[int, ...]
    fuel: int
    result: int | None = None
    payloads: dict[str, bytes] = field(default_factory=dict)
    effect: Effect | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        """The function's name without its module (``storage_set``)."""
        return self.func.rpartition(".")[2]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; bytes as hex strings."""
        out: dict[str, Any] = {
            "index": self.index, "func": self.func, "args": list(self.args),
            "fuel": self.fuel, "result": self.result,
            "payloads": {k: v.hex() for k, v in self.payloads.items()},
        }
        if isinstance(self.effect, StorageWrite):
            out["effect"] = {"storage": self.effect.key.hex(),
                             "old": None if self.effect.old is None else self.effect.old.hex(),
                             "new": None if self.effect.new is None else self.effect.new.hex()}
        elif isinstance(self.effect, EventEmit):
            out["effect"] = {"event": self.effect.index, "data": self.effect.data.hex()}
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostCall:
        """Inverse of :meth:`to_dict` (raises KeyError/ValueError/TypeError on bad data)."""
        effect: Effect | None = None
        raw = data.get("effect")
        if raw is not None:
            if "storage" in raw:
                effect = StorageWrite(bytes.fromhex(raw["storage"]), _hex(raw["old"]),
                                      _hex(raw["new"]))
            else:
                effect = EventEmit(int(raw["event"]), bytes.fromhex(raw["data"]))
        return cls(
            index=int(data["index"]), func=str(data["func"]),
            args=tuple(int(a) for a in data["args"]), fuel=int(data["fuel"]),
            result=None if data["result"] is None else int(data["result"]),
            payloads={str(k): bytes.fromhex(v) for k, v in data["payloads"].items()},
            effect=effect, error=data.get("error"),
        )


def format_bytes(data: bytes | None, width: int | None = None) -> str:
    """Bytes as SuperVM shows them: ``"text"`` when printable UTF-8, else ``0x…`` hex;
    ``(absent)`` for None; cut to ``width`` characters with ``…``."""
    if data is None:
        return "(absent)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable():
        shown = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        # Only what can be shown is converted: a value may be a megabyte long.
        shown = "0x" + (data if width is None else data[: width // 2]).hex()
    if width is not None and len(shown) > width:
        shown = shown[: width - 1] + "…"
    return shown


def _hex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


def storage_at(
    trace: Sequence[HostCall], step: int, base: Callable[[bytes], bytes | None]
) -> Callable[[bytes], bytes | None]:
    """A lookup of storage as the call saw it just before ``trace[step]`` ran.

    ``base`` looks keys up in the storage the call started from. ``step == len(trace)`` is the
    state after the last recorded host call.
    """
    overlay = writes_before(trace, step)

    def lookup(key: bytes) -> bytes | None:
        return overlay[key] if key in overlay else base(key)

    return lookup


def writes_before(trace: Iterable[HostCall], step: int) -> dict[bytes, bytes | None]:
    """Every key written by the steps before ``step``, with its value after them."""
    overlay: dict[bytes, bytes | None] = {}
    for entry in trace:
        if entry.index >= step:
            break
        if isinstance(entry.effect, StorageWrite):
            overlay[entry.effect.key] = entry.effect.new
    return overlay


def events_at(trace: Iterable[HostCall], step: int) -> list[bytes]:
    """The events the call had emitted before ``trace[step]`` ran."""
    return [e.effect.data for e in trace
            if e.index < step and isinstance(e.effect, EventEmit)]
