"""Replay bundles: one call, self-contained in a JSON file, re-executed and compared.

A bundle holds the module (bytes and hash), the whole storage the call started from, the chain
context, the export and its arguments (exact bits), the limits and fuel, and what happened: the
outcome and the full host-call trace. :func:`replay` re-executes it on a fresh in-memory store
and reports either identical, or the first divergent host call with expected vs actual.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ChainContext, Limits
from .errors import CallError, ReplayError, SuperVMError
from .runtime import CallResult, Runtime
from .storage import MemoryStorage
from .trace import HostCall
from .values import Value

FORMAT = "supervm-replay"
VERSION = 1


def make_bundle(
    *, wasm: bytes, name: str, export: str, args: list[Value], context: ChainContext,
    limits: Limits, fuel_limit: int, storage: Mapping[bytes, bytes],
    result: CallResult | None = None, error: CallError | None = None,
) -> dict[str, Any]:
    """The bundle of a call that returned ``result`` or failed with ``error``."""
    if (result is None) == (error is None):
        raise ValueError("a bundle records either a result or an error")
    if result is not None:
        outcome: dict[str, Any] = {
            "ok": True, "results": [{"type": v.type, "bits": hex(v.bits)} for v in result.results],
            "events": [e.hex() for e in result.events], "fuel_used": result.fuel_used,
        }
        trace = result.trace
    else:
        assert error is not None
        outcome = {"ok": False, "error": error.to_dict(), "fuel_used": error.fuel_used}
        trace = error.trace
    return {
        "format": FORMAT, "version": VERSION,
        "module": {"name": name, "sha256": hashlib.sha256(wasm).hexdigest(),
                   "wasm": base64.b64encode(wasm).decode("ascii")},
        "export": export,
        "args": [{"type": v.type, "bits": hex(v.bits)} for v in args],
        "context": {"block_number": context.block_number, "timestamp": context.timestamp},
        "limits": limits.to_dict(), "fuel_limit": fuel_limit,
        "storage": [[k.hex(), v.hex()] for k, v in sorted(storage.items())],
        "outcome": outcome,
        "trace": [e.to_dict() for e in trace],
    }


def write_bundle(path: str | Path, bundle: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(bundle, indent=1) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Bundle:
    """A validated replay bundle."""

    data: dict[str, Any]
    wasm: bytes
    name: str
    export: str
    args: list[Value]
    context: ChainContext
    limits: Limits
    fuel_limit: int
    storage: dict[bytes, bytes]
    trace: list[HostCall]

    @classmethod
    def load(cls, path: str | Path) -> Bundle:
        """Read and validate a bundle file; :class:`ReplayError` says what is wrong."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ReplayError(f"cannot read replay bundle {path}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReplayError(f"{path} is not JSON: {exc}") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Any, where: str = "bundle") -> Bundle:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ReplayError(f"{where} is not a SuperVM replay bundle")
        if data.get("version") != VERSION:
            raise ReplayError(f"{where}: unsupported bundle version {data.get('version')!r}")
        try:
            module = data["module"]
            wasm = base64.b64decode(module["wasm"], validate=True)
            if hashlib.sha256(wasm).hexdigest() != module["sha256"]:
                raise ReplayError(f"{where}: the module does not match its sha256")
            args = [Value(a["type"], int(a["bits"], 16)) for a in data["args"]]
            context = ChainContext(int(data["context"]["block_number"]),
                                   int(data["context"]["timestamp"]))
            return cls(
                data=data, wasm=wasm, name=str(module.get("name", "<bundle>")),
                export=str(data["export"]), args=args, context=context,
                limits=Limits.from_dict(data["limits"]), fuel_limit=int(data["fuel_limit"]),
                storage={bytes.fromhex(k): bytes.fromhex(v) for k, v in data["storage"]},
                trace=[HostCall.from_dict(e) for e in data["trace"]],
            )
        except ReplayError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, SuperVMError) as exc:
            raise ReplayError(f"{where}: malformed bundle ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class Divergence:
    """Where a replay first differed from the recording."""

    step: int
    what: str
    expected: Any
    actual: Any


@dataclass(frozen=True)
class ReplayReport:
    identical: bool
    divergence: Divergence | None
    steps: int

    def __str__(self) -> str:
        if self.identical:
            return f"identical: {self.steps} host calls, results, events and fuel match"
        d = self.divergence
        assert d is not None
        return f"diverged at step {d.step} ({d.what}): expected {d.expected}, got {d.actual}"


def replay(bundle: Bundle) -> ReplayReport:
    """Re-execute a bundle's call from its recorded start and compare everything."""
    runtime = Runtime(MemoryStorage(bundle.storage), limits=bundle.limits,
                      context=bundle.context, trace=True)
    contract = runtime.load(bundle.wasm, bundle.name)
    outcome: dict[str, Any]
    try:
        result = runtime.call(contract, bundle.export, bundle.args, fuel=bundle.fuel_limit,
                              dry_run=True)
        trace = result.trace
        outcome = {"ok": True,
                   "results": [{"type": v.type, "bits": hex(v.bits)} for v in result.results],
                   "events": [e.hex() for e in result.events], "fuel_used": result.fuel_used}
    except CallError as exc:
        trace = exc.trace
        outcome = {"ok": False, "error": exc.to_dict(), "fuel_used": exc.fuel_used}
    expected = bundle.data["outcome"]
    for want, have in zip(bundle.trace, trace, strict=False):
        if want.to_dict() != have.to_dict():
            return ReplayReport(False, Divergence(want.index, "host call", _show(want),
                                                  _show(have)), len(trace))
    if len(trace) != len(bundle.trace):
        step = min(len(trace), len(bundle.trace))
        extra = bundle.trace[step] if len(bundle.trace) > step else trace[step]
        return ReplayReport(False, Divergence(
            step, "number of host calls", f"{len(bundle.trace)} host calls",
            f"{len(trace)} host calls (first unmatched: {_show(extra)})"), len(trace))
    for key in ("ok", "results", "events", "error", "fuel_used"):
        if expected.get(key) != outcome.get(key):
            return ReplayReport(False, Divergence(len(trace), key, expected.get(key),
                                                  outcome.get(key)), len(trace))
    return ReplayReport(True, None, len(trace))


def _show(entry: HostCall) -> str:
    payloads = ", ".join(f"{k}={v!r}" for k, v in entry.payloads.items())
    return f"{entry.func}{entry.args} -> {entry.result} [{payloads}]"
