"""A campaign's worker process: ``python -m tests.fuzz.worker KIND``.

It reads one JSON request per line on stdin and answers each with one JSON line on stdout,
running the input in this process, so that thousands of inputs cost one start-up. An input
that kills the process (an abort, a segfault) or makes it hang is seen by the campaign, which
attributes it to that input and starts a new worker. Anything the code under test prints goes
to stderr, never into the answers.

Kinds: ``modules`` (load and call a module), ``shell`` (shell lines against a session),
``cli`` (``supervm_repl.cli.main`` with an argument list), ``db`` (what a ``--db`` file holds).
"""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import io
import json
import math
import os
import random
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fuzz.support import REPO, SAMPLES, session_state, state_difference

#: Exported functions called per module (a module may export thousands).
MAX_EXPORTS = 24
#: Trace entries sent back in full (the rest is compared by hash).
TRACE_SHOWN = 3
#: Host calls traced per call.
MAX_TRACE = 4000


def escaped(exc: BaseException) -> dict[str, Any]:
    """An exception that came out of SuperVM's API: it would reach the user as a traceback."""
    return {"escaped": f"{type(exc).__name__}: {exc}"[:500],
            "traceback": "".join(traceback.format_exception(exc))[-3000:]}


def error_dict(error: Any) -> dict[str, Any]:
    data = {"kind": error.kind, "message": error.message}
    for name in ("code", "fuel_used"):
        if hasattr(error, name):
            data[name] = getattr(error, name)
    data["dict"] = json.loads(json.dumps(error.to_dict(), default=repr))
    cause = getattr(error, "original", None) or error.__cause__
    if cause is not None:
        data["cause"] = type(cause).__name__
    return data


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=repr).encode()).hexdigest()[:16]


# --- modules --------------------------------------------------------------------------------


_EDGE_INT = {"i32": [0, 1, -1, 0x7FFF_FFFF, -0x8000_0000, 0xFFFF_FFFF, 65536, 0xFFFF_FF9C],
             "i64": [0, 1, -1, 2**63 - 1, -(2**63), 2**64 - 1, 1 << 32]}
_EDGE_FLOAT = [0.0, -0.0, 1.5, math.inf, -math.inf, math.nan, 5e-324, 3.4028234663852886e38,
               1e308]


def _zero(params: tuple[str, ...]) -> list[Any]:
    return [0.0 if t in ("f32", "f64") else 0 for t in params]


def _edge(params: tuple[str, ...], rng: random.Random) -> list[Any]:
    from runtime import Value

    out: list[Any] = []
    for t in params:
        if t in _EDGE_INT:
            out.append(rng.choice(_EDGE_INT[t]))
        elif t in ("f32", "f64"):
            if rng.random() < 0.2:  # a NaN with a payload, as exact bits
                out.append(Value(t, 0x7FA0_0001 if t == "f32" else 0x7FF4_0000_0000_0001))
            else:
                out.append(rng.choice(_EDGE_FLOAT))
        else:
            out.append(0)
    return out


def _call(rt: Any, contract: Any, export: str, args: list[Any], **options: Any
          ) -> dict[str, Any]:
    from runtime import CallError, SuperVMError

    before = (rt.storage.snapshot(), len(rt.event_log))
    try:
        result = rt.call(contract, export, args, **options)
    except CallError as error:
        trace = [e.to_dict() for e in error.trace]
        out = {"error": error_dict(error), "fuel": error.fuel_used,
               "frames": [str(f) for f in getattr(error, "frames", [])]}
    except SuperVMError as error:
        trace = []
        out = {"error": error_dict(error)}
    except Exception as exc:
        return escaped(exc)
    else:
        trace = [e.to_dict() for e in result.trace]
        out = {"results": [[v.type, v.bits] for v in result.results],
               "events": [e.hex() for e in result.events], "fuel": result.fuel_used,
               "changes": [[c.key.hex(), None if c.old is None else c.old.hex(),
                            None if c.new is None else c.new.hex()]
                           for c in result.storage_changes],
               "truncated": result.trace_truncated}
    out["trace_len"], out["trace_hash"] = len(trace), digest(trace)
    out["trace_head"] = [{k: (v if len(str(v)) < 200 else str(v)[:200] + "…")
                          for k, v in entry.items()} for entry in trace[:TRACE_SHOWN]]
    if "error" in out and (rt.storage.snapshot(), len(rt.event_log)) != before:
        out["state_changed"] = True
    return out


def _info(info: Any) -> dict[str, Any]:
    return {
        "exports": [[e.name, e.kind, list(e.params), list(e.results)] for e in info.exports],
        "imports": [[i.module, i.name, i.kind, list(i.params), list(i.results), i.provided,
                     i.problem] for i in info.imports],
        "memory": None if info.memory is None else [info.memory.min_pages,
                                                    info.memory.max_pages,
                                                    info.memory.exported],
    }


def _load(rt: Any, source: Any) -> tuple[Any, dict[str, Any] | str]:
    from runtime import SuperVMError

    try:
        return rt.load(source, name="input.wasm"), "ok"
    except SuperVMError as error:
        return None, error_dict(error)
    except Exception as exc:
        return None, escaped(exc)


def handle_module(request: dict[str, Any]) -> dict[str, Any]:
    """Load the module and call every exported function with zero and edge arguments."""
    from runtime import Limits, MemoryStorage, Runtime

    data = base64.b64decode(request["wasm"])
    source: bytes | str = data
    if request.get("text"):
        # Text that is not UTF-8 goes in as bytes, as a file's contents would.
        with contextlib.suppress(UnicodeDecodeError):
            source = data.decode("utf-8")
    # A short trace keeps host-call floods cheap to compare (and covers truncation).
    rt = Runtime(MemoryStorage(), limits=Limits(fuel=request["fuel"], max_trace=MAX_TRACE))
    contract, load = _load(rt, source)
    out: dict[str, Any] = {"load": load}
    if request.get("checks") and not request.get("text"):
        out["bytearray"] = _bytearray_checks(data, load, contract, rt.limits)
    if contract is None:
        return out
    out["info"] = _info(contract.info)
    rng = random.Random(request["edge_seed"])
    calls = []
    for func in contract.info.functions[:MAX_EXPORTS]:
        calls.append([func.name, "zero", _call(rt, contract, func.name, _zero(func.params))])
        calls.append([func.name, "edge", _call(rt, contract, func.name,
                                               _edge(func.params, rng))])
    out["calls"] = calls
    out["storage"] = digest(sorted((k.hex(), v.hex()) for k, v in rt.storage.snapshot().items()))
    out["event_log"] = len(rt.event_log)
    if request.get("checks"):
        out["fuel_wrap"] = _fuel_wrap(rt, contract, calls)
    executor = getattr(rt, "_executor", None)
    out["executor"] = getattr(executor, "name", None)
    return out


def _bytearray_checks(data: bytes, load: Any, contract: Any, limits: Any) -> list[str]:
    """A module given as a ``bytearray`` must behave as the same ``bytes``."""
    from runtime import MemoryStorage, Runtime

    problems = []
    rt = Runtime(MemoryStorage(), limits=limits)
    _, again = _load(rt, bytearray(data))
    kind = load if isinstance(load, str) else load.get("kind", "escaped")
    kind2 = again if isinstance(again, str) else again.get("kind", again.get("escaped"))
    if kind != kind2:
        problems.append(f"Runtime.load(bytearray) gave {kind2}, bytes gave {kind}")
    if contract is not None and contract.info.functions:
        func = contract.info.functions[0]
        first = _call(rt, contract, func.name, _zero(func.params))
        second = _call(rt, bytearray(data), func.name, _zero(func.params))
        a = "ok" if "results" in first else first.get("error", {}).get("kind", "escaped")
        b = "ok" if "results" in second else second.get("error", {}).get(
            "kind", second.get("escaped"))
        if a != b:
            problems.append(f"Runtime.call(bytearray module, {func.name[:40]!r}) gave {b}, "
                            f"the loaded contract gave {a}")
        if func.name == "add" and func.params == ("i32", "i32"):
            try:
                got = rt.execute_add(bytearray(data), 7, 8)
                if got != rt.execute_add(data, 7, 8):
                    problems.append("execute_add(bytearray) differs from bytes")
            except Exception as exc:
                problems.append(f"execute_add(bytearray) raised {type(exc).__name__}: {exc}")
    return problems


def _fuel_wrap(rt: Any, contract: Any, calls: list[Any]) -> str | None:
    """Fuel of 2^64 and more must not wrap around to a small amount."""
    for name, variant, seen in calls:
        if variant == "zero" and "results" in seen and seen["fuel"] > 10:
            func = contract.info.function(name)
            again = _call(rt, contract, name, _zero(func.params), fuel=2**64 + 5, dry_run=True)
            kind = again.get("error", {}).get("kind")
            if kind == "out_of_fuel" or ("results" not in again and kind != "bad_arguments"):
                return (f"call {name!r} with fuel 2**64 + 5 (it needs {seen['fuel']}) ended "
                        f"{kind or again.get('escaped')}: {again.get('error', {}).get('message')}")
            return None
    return None


# --- shell lines ----------------------------------------------------------------------------

#: Fuel the harness caps a session at between lines: a line may set any fuel, and a later
#: infinite loop would then run for hours by design.
FUEL_CAP = 10_000_000


class ShellDriver:
    """A session seeded with a contract and state, and lines run against it."""

    def __init__(self) -> None:
        self.session: Any = None
        self.number = 0

    def reset(self, request: dict[str, Any]) -> dict[str, Any]:
        from supervm_repl.commands import execute
        from supervm_repl.session import Session

        if self.session is not None:
            with contextlib.suppress(Exception):
                self.session.close()
            # What the last session kept (a failed call's trace of megabyte values, say)
            # must not crowd the next one out of this process's memory.
            self.session = None
            gc.collect()
        self.number += 1
        db = None
        if request.get("db"):
            db = Path(f"session-{os.getpid()}-{self.number}.db")
            with contextlib.suppress(FileNotFoundError):
                db.unlink()
        self.session = Session(db)
        problems = []
        for line in request["setup"]:
            may_fail = line.startswith("#may-fail ")
            outcome = execute(self.session, line.removeprefix("#may-fail "))
            if not outcome.ok and not may_fail:
                problems.append(f"{line}: {outcome.to_json()}")
        gc.collect()
        return {"setup_problems": problems}

    def line(self, request: dict[str, Any]) -> dict[str, Any]:
        from supervm_repl.commands import execute

        session = self.session
        if session.fuel > FUEL_CAP:
            session.runtime.limits = session.runtime.limits.with_(fuel=FUEL_CAP)
        before = session_state(session)
        outcome = execute(session, request["line"])
        reply: dict[str, Any] = {"ok": outcome.ok, "command": outcome.command}
        try:
            data = outcome.to_json()
            text = json.dumps(data, allow_nan=False)
            json.loads(text)
        except Exception as exc:
            reply["bad_json"] = f"{type(exc).__name__}: {exc}"[:400]
            data = {}
        if not isinstance(outcome.command, str):
            reply["bad_json"] = f"command is {type(outcome.command).__name__}"
        if not outcome.ok:
            reply["error"] = data.get("error") or {"kind": outcome.error.kind,
                                                   "message": str(outcome.error)}
            if outcome.traceback:
                reply["traceback"] = outcome.traceback[-2500:]
            after = session_state(session)
            reply["state_diff"] = [
                f"{name}: {_show(before[name])} -> {_show(after.get(name))}"
                for name in state_difference(before, after, reply["error"].get("kind", ""))]
        else:
            # Read back a few facts for the campaign's oracles.
            reply["data"] = {k: data[k] for k in ("identical", "number", "paused")
                             if k in data}
        return reply


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "…"


# --- the command line, in this process ------------------------------------------------------


def handle_cli(request: dict[str, Any]) -> dict[str, Any]:
    """``supervm_repl.cli.main(argv)`` with its output captured: exit status, stdout, stderr;
    or the exception that came out of it (the program would show a traceback)."""
    from supervm_repl import cli

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr = out, err
    sys.stdin = io.StringIO(request.get("stdin", ""))
    reply: dict[str, Any] = {}
    try:
        reply["rc"] = cli.main(request["argv"])
    except SystemExit as exc:
        reply["rc"] = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:
        reply.update(escaped(exc))
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
    reply["stdout"], reply["stderr"] = _digest_lines(out.getvalue()), err.getvalue()[-20_000:]
    gc.collect()
    return reply


def _digest_lines(text: str, longest: int = 100_000) -> str:
    """Output with each very long line replaced by what the campaign checks in it: a JSON
    object's ``command``, ``ok`` and ``error`` (or the line's start, if it is not JSON)."""
    if len(text) <= longest:
        return text
    lines = []
    for line in text.split("\n"):
        if len(line) > longest:
            try:
                obj = json.loads(line)
                line = json.dumps({k: obj[k] for k in ("command", "ok", "error") if k in obj})
            except ValueError:
                line = line[:1000]
        lines.append(line)
    return "\n".join(lines)


# --- the module disk cache -----------------------------------------------------------------


def handle_cache(request: dict[str, Any]) -> dict[str, Any]:
    """Load modules with a disk cache; the cache file each one added, what each one is."""
    from runtime import MemoryStorage, Runtime, SuperVMError

    directory = Path(request["dir"])
    out: dict[str, Any] = {"files": [], "loaded": []}
    for source in request["modules"]:
        before = {p.name for p in directory.glob("*.cwasm")}
        rt = Runtime(MemoryStorage(), cache_dir=directory)
        try:
            contract = rt.load(source)
            names = [f.name for f in contract.info.functions]
            result = rt.call(contract, names[0]).value if names else None
            out["loaded"].append({"exports": names, "result": result})
        except SuperVMError as error:
            out["loaded"].append({"error": error_dict(error)})
        except Exception as exc:
            out["loaded"].append(escaped(exc))
        added = sorted({p.name for p in directory.glob("*.cwasm")} - before)
        out["files"].append(added[0] if added else None)
    return out


# --- what a --db file holds -----------------------------------------------------------------


def handle_db(request: dict[str, Any]) -> dict[str, Any]:
    """Open a ``--db`` file as the shell does; the counter, the event log and the call ids."""
    from runtime import SuperVMError
    from supervm_repl.session import Session

    try:
        session = Session(request["db"])
    except SuperVMError as error:
        return {"open_error": error_dict(error)}
    except Exception as exc:
        return escaped(exc)
    try:
        raw = session.storage.get(b"counter")
        logged = list(session.runtime.event_log)
        log = [[e.call_id, e.index, e.data.decode("utf-8", "replace")] for e in logged]
        return {"counter": None if raw is None else int.from_bytes(raw, "little", signed=True),
                "counter_bytes": None if raw is None else raw.hex(), "events": log,
                "exports": {str(e.call_id): e.export for e in logged},
                "block": session.context.block_number}
    finally:
        session.close()


# --- the loop -------------------------------------------------------------------------------


def main() -> None:
    kind = sys.argv[1]
    # Answers go to the original stdout; whatever else is printed goes to stderr.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.environ.setdefault("HOME", os.getcwd())
    sys.path.insert(0, str(REPO))
    assert SAMPLES.is_dir()
    shell = ShellDriver()
    handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "modules": handle_module,
        "cli": handle_cli,
        "db": handle_db,
        "cache": handle_cache,
        "shell": lambda r: shell.reset(r) if r.get("op") == "reset" else shell.line(r),
    }
    handler = handlers[kind]
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"pong": True} if request.get("ping") else handler(request)
        except MemoryError:
            # The code under test exhausted this process's memory: say so, and start afresh.
            answer = {"harness_memory_error": True}
            answers.write(json.dumps(answer) + "\n")
            answers.flush()
            os._exit(3)
        except BaseException as exc:
            answer = {"harness_error": "".join(traceback.format_exception(exc))[-3000:]}
        answers.write(json.dumps(answer, default=repr) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
