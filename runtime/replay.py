"""Replay bundles: one call, self-contained in a JSON file, re-executed and compared.

A bundle holds the module (bytes and hash), the whole storage the call started from, the chain
context, the export and its arguments (exact bits), the limits and fuel, and what happened: the
outcome and the full host-call trace. :func:`replay` re-executes it on a fresh in-memory store
(through :mod:`runtime.rerun`) and reports either identical, or the first difference.

The format, version 1 (every field required; a bundle is checked against this before it runs)::

    {"format": "supervm-replay", "version": 1,
     "module": {"name": str, "sha256": hex digest, "wasm": base64},
     "export": str,
     "args": [{"type": "i32"|"i64"|"f32"|"f64", "bits": "0x…" (fits the type)}],
     "context": {"block_number": i64, "timestamp": i64},
     "limits": {limit name: int, …} (see runtime.Limits), "fuel_limit": int in 1..2^64-1,
     "storage": [[key hex, value hex], …],
     "outcome": {"ok": true, "results": [{"type", "bits"}], "events": [hex], "fuel_used": int}
              | {"ok": false, "error": {"kind": str, "message": str, …}, "fuel_used": int},
     "trace": [{"index", "func", "args", "fuel", "result", "payloads", "effect"?, "error"?}]}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ChainContext, Limits
from .debuginfo import SourceLocation
from .errors import CallError, FileError, ReplayError, SuperVMError
from .files import read_file, write_file
from .modules import Contract
from .rerun import Divergence, compare_outcomes, compare_traces, outcome_of, re_execute
from .runtime import Runtime
from .trace import EventEmit, HostCall, StorageWrite
from .values import NUMERIC, Value

FORMAT = "supervm-replay"
VERSION = 1
#: Largest bundle file read (it holds the module, the starting storage and the trace).
MAX_BUNDLE_BYTES = 64 * 1024 * 1024

_WIDTH = {"i32": 32, "i64": 64, "f32": 32, "f64": 64}


def make_bundle(
    *, wasm: bytes, name: str, export: str, args: list[Value], context: ChainContext,
    limits: Limits, fuel_limit: int, storage: Mapping[bytes, bytes],
    result: Any = None, error: CallError | None = None, trace: list[HostCall] | None = None,
) -> dict[str, Any]:
    """The bundle of a call that returned ``result`` or failed with ``error``."""
    if (result is None) == (error is None):
        raise ValueError("a bundle records either a result or an error")
    if trace is None:
        trace = result.trace if result is not None else error.trace  # type: ignore[union-attr]
    return {
        "format": FORMAT, "version": VERSION,
        "module": {"name": name, "sha256": hashlib.sha256(wasm).hexdigest(),
                   "wasm": base64.b64encode(wasm).decode("ascii")},
        "export": export,
        "args": [{"type": v.type, "bits": hex(v.bits)} for v in args],
        "context": {"block_number": context.block_number, "timestamp": context.timestamp},
        "limits": limits.to_dict(), "fuel_limit": fuel_limit,
        "storage": [[k.hex(), v.hex()] for k, v in sorted(storage.items())],
        "outcome": outcome_of(result=result, error=error),
        "trace": [e.to_dict() for e in trace],
    }


def write_bundle(path: str | Path, bundle: dict[str, Any]) -> None:
    """Write ``bundle`` as JSON (:class:`~runtime.errors.FileError` if it cannot be written)."""
    write_file(path, (json.dumps(bundle, indent=1) + "\n").encode("utf-8"), what="replay bundle")


@dataclass(frozen=True)
class Bundle:
    """A validated replay bundle."""

    wasm: bytes
    name: str
    export: str
    args: list[Value]
    context: ChainContext
    limits: Limits
    fuel_limit: int
    storage: dict[bytes, bytes]
    outcome: dict[str, Any]
    trace: list[HostCall]

    @classmethod
    def load(cls, path: str | Path) -> Bundle:
        """Read and validate a bundle file; :class:`ReplayError` says what is wrong where."""
        try:
            raw = read_file(path, limit=MAX_BUNDLE_BYTES, what="replay bundle")
        except FileError as exc:
            raise ReplayError(str(exc)) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ReplayError(f"{path} is not a replay bundle: not UTF-8 text "
                              f"(offset {exc.start})") from None
        except json.JSONDecodeError as exc:
            raise ReplayError(f"{path} is not JSON: {exc}") from None
        except ValueError as exc:  # an integer of thousands of digits
            raise ReplayError(f"{path} is not a replay bundle: {str(exc).split(';')[0]}"
                              ) from None
        except RecursionError:
            raise ReplayError(f"{path} is not a replay bundle: nested too deeply") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Any, where: str = "bundle") -> Bundle:
        """A bundle from parsed JSON, checked field by field against the format."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ReplayError(f"{where} is not a SuperVM replay bundle")
        if data.get("version") != VERSION:
            raise ReplayError(f"{where}: unsupported bundle version {_brief(data.get('version'))}")
        r = _Reader(where)
        module = r.obj(data, "module")
        wasm = r.base64(module, "wasm", "module.wasm")
        if hashlib.sha256(wasm).hexdigest() != r.string(module, "sha256", "module.sha256"):
            raise ReplayError(f"{where}: the module does not match its sha256")
        args = [r.value(a, f"args[{i}]") for i, a in enumerate(r.array(data, "args"))]
        context_data = r.obj(data, "context")
        try:
            context = ChainContext(r.integer(context_data, "block_number", "context.block_number"),
                                   r.integer(context_data, "timestamp", "context.timestamp"))
            limits = Limits.from_dict(r.obj(data, "limits"))
        except (TypeError, ValueError) as exc:
            raise ReplayError(f"{where}: malformed bundle: {exc}") from None
        fuel_limit = r.integer(data, "fuel_limit", low=1, high=2**64 - 1)
        storage: dict[bytes, bytes] = {}
        for i, pair in enumerate(r.array(data, "storage")):
            if not isinstance(pair, list) or len(pair) != 2:
                r.fail(f"storage[{i}]", "expected a [key hex, value hex] pair", pair)
            storage[r.hex(pair[0], f"storage[{i}][0]")] = r.hex(pair[1], f"storage[{i}][1]")
        outcome = r.outcome(r.obj(data, "outcome"))
        trace = [r.host_call(e, f"trace[{i}]") for i, e in enumerate(r.array(data, "trace"))]
        return cls(wasm=wasm, name=r.string(module, "name", "module.name"),
                   export=r.string(data, "export"), args=args, context=context, limits=limits,
                   fuel_limit=fuel_limit, storage=storage, outcome=outcome, trace=trace)


class _Reader:
    """Typed access to a bundle's fields; every failure is a ReplayError naming the field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field: str, expected: str, got: Any) -> None:
        raise ReplayError(f"{self.where}: malformed bundle: {field}: {expected}, "
                          f"got {_brief(got)}")

    def get(self, data: Any, key: str, field: str | None = None) -> Any:
        if key not in data:
            raise ReplayError(f"{self.where}: malformed bundle: {field or key} is missing")
        return data[key]

    def obj(self, data: dict[str, Any], key: str, field: str | None = None) -> dict[str, Any]:
        value = self.get(data, key, field)
        if not isinstance(value, dict):
            self.fail(field or key, "expected an object", value)
        return value  # type: ignore[no-any-return]

    def array(self, data: dict[str, Any], key: str, field: str | None = None) -> list[Any]:
        value = self.get(data, key, field)
        if not isinstance(value, list):
            self.fail(field or key, "expected a list", value)
        return value  # type: ignore[no-any-return]

    def string(self, data: dict[str, Any], key: str, field: str | None = None) -> str:
        value = self.get(data, key, field)
        if not isinstance(value, str):
            self.fail(field or key, "expected a string", value)
        return value  # type: ignore[no-any-return]

    def integer(self, data: dict[str, Any], key: str, field: str | None = None, *,
                low: int = -(2**63), high: int = 2**63 - 1) -> int:
        value = self.get(data, key, field)
        return self.int_value(value, field or key, low, high)

    def int_value(self, value: Any, field: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "expected an integer", value)
        if not low <= value <= high:
            self.fail(field, f"expected an integer from {low} to {high}", value)
        return value  # type: ignore[no-any-return]

    def hex(self, value: Any, field: str) -> bytes:
        if not isinstance(value, str):
            self.fail(field, "expected a hex string", value)
        try:
            return bytes.fromhex(value)
        except ValueError:
            self.fail(field, "expected a hex string", value)
        raise AssertionError  # unreachable: fail() raises

    def base64(self, data: dict[str, Any], key: str, field: str) -> bytes:
        value = self.string(data, key, field)
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            self.fail(field, "expected base64", value)
        raise AssertionError

    def value(self, data: Any, field: str) -> Value:
        if not isinstance(data, dict):
            self.fail(field, 'expected {"type", "bits"}', data)
        type_ = self.string(data, "type", f"{field}.type")
        if type_ not in NUMERIC:
            self.fail(f"{field}.type", "expected i32, i64, f32 or f64", type_)
        bits = self.string(data, "bits", f"{field}.bits")
        try:
            number = int(bits, 16) if bits.lower().startswith("0x") else None
        except ValueError:
            number = None
        if number is None or not 0 <= number < 1 << _WIDTH[type_]:
            self.fail(f"{field}.bits", f"expected the {type_} bits as hex (0x0 to "
                                       f"0x{(1 << _WIDTH[type_]) - 1:x})", bits)
        return Value(type_, number)  # type: ignore[arg-type]

    def outcome(self, data: dict[str, Any]) -> dict[str, Any]:
        ok = self.get(data, "ok", "outcome.ok")
        if not isinstance(ok, bool):
            self.fail("outcome.ok", "expected true or false", ok)
        self.integer(data, "fuel_used", "outcome.fuel_used", low=0, high=2**64 - 1)
        if ok:
            for i, v in enumerate(self.array(data, "results", "outcome.results")):
                self.value(v, f"outcome.results[{i}]")
            for i, e in enumerate(self.array(data, "events", "outcome.events")):
                self.hex(e, f"outcome.events[{i}]")
        else:
            error = self.obj(data, "error", "outcome.error")
            self.string(error, "kind", "outcome.error.kind")
            self.string(error, "message", "outcome.error.message")
        return data

    def host_call(self, data: Any, field: str) -> HostCall:
        if not isinstance(data, dict):
            self.fail(field, "expected an object", data)
        args = self.array(data, "args", f"{field}.args")
        effect_data = data.get("effect")
        effect: StorageWrite | EventEmit | None = None
        if effect_data is not None:
            if not isinstance(effect_data, dict):
                self.fail(f"{field}.effect", "expected an object or null", effect_data)
            if "storage" in effect_data:
                old, new = (None if effect_data.get(k) is None else
                            self.hex(effect_data.get(k), f"{field}.effect.{k}")
                            for k in ("old", "new"))
                effect = StorageWrite(self.hex(effect_data["storage"], f"{field}.effect.storage"),
                                      old, new)
            else:
                effect = EventEmit(self.integer(effect_data, "event", f"{field}.effect.event"),
                                   self.hex(self.get(effect_data, "data", f"{field}.effect.data"),
                                            f"{field}.effect.data"))
        result = self.get(data, "result", f"{field}.result")
        payloads = self.obj(data, "payloads", f"{field}.payloads")
        error = data.get("error")
        if error is not None and not isinstance(error, str):
            self.fail(f"{field}.error", "expected a string or null", error)
        return HostCall(
            index=self.integer(data, "index", f"{field}.index", low=0),
            func=self.string(data, "func", f"{field}.func"),
            args=tuple(self.int_value(a, f"{field}.args[{i}]", 0, 2**64 - 1)
                       for i, a in enumerate(args)),
            fuel=self.integer(data, "fuel", f"{field}.fuel", low=0, high=2**64 - 1),
            result=None if result is None else self.int_value(result, f"{field}.result",
                                                              -(2**63), 2**64 - 1),
            payloads={str(k): self.hex(v, f"{field}.payloads.{k}") for k, v in payloads.items()},
            effect=effect, error=error,
        )


def _brief(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


@dataclass(frozen=True)
class ReplayReport:
    """What :func:`replay` found: identical, or the first :class:`Divergence`."""

    identical: bool
    divergence: Divergence | None
    steps: int
    #: Where the re-run made the divergent host call, when the module has source lines.
    source: SourceLocation | None = None

    def __str__(self) -> str:
        if self.divergence is None:
            return f"identical: {self.steps} host calls, results, events and fuel match"
        made = f" (made at {self.source})" if self.source is not None else ""
        return f"diverged at {self.divergence}{made}"


def replay(bundle: Bundle) -> ReplayReport:
    """Re-execute a bundle's call from its recorded start and compare everything."""
    contract = Runtime(limits=bundle.limits).load(bundle.wasm, bundle.name)
    try:
        rerun = re_execute(contract, bundle.export, bundle.args, storage=bundle.storage,
                           context=bundle.context, limits=bundle.limits, fuel=bundle.fuel_limit)
    except SuperVMError as exc:
        if isinstance(exc, CallError):
            raise
        # The call could not start (no such export, bad arguments, a missing import): that is
        # an outcome to compare like any other.
        rerun_outcome = {"ok": False, "error": exc.to_dict(), "fuel_used": 0}
        divergence = compare_traces(bundle.trace, []) or compare_outcomes(
            bundle.outcome, rerun_outcome, 0)
        return ReplayReport(divergence is None, divergence, 0)
    steps = len(rerun.trace)
    divergence = compare_traces(bundle.trace, rerun.trace)
    if divergence is None and rerun.outcome is not None:
        divergence = compare_outcomes(bundle.outcome, rerun.outcome, steps)
    source = _site(contract, bundle, divergence.step) \
        if divergence is not None and divergence.step < steps else None
    return ReplayReport(divergence is None, divergence, steps, source)


def _site(contract: Contract, bundle: Bundle, step: int) -> SourceLocation | None:
    """The source line the re-run's host call ``step`` was made from (its debug build re-run
    once more), or None without debug information."""
    from .debug.source import record  # here: runtime.debug is imported after this module

    sm = contract.source_map
    if sm is None or sm.error is not None:
        return None
    try:
        timeline = record(contract, bundle.export, bundle.args, storage=bundle.storage,
                          context=bundle.context, limits=bundle.limits, fuel=bundle.fuel_limit)
    except SuperVMError:
        return None
    site = timeline.host_site(step)
    return site.location if site is not None else None
