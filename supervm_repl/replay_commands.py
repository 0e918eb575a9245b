"""Replay bundles: ``:export`` writes a call as one self-contained JSON file, ``:replay`` (and
``supervm-repl --replay``) re-executes one and compares it with its recording.

The bundle format and the comparison are :mod:`runtime.replay`.
"""

from __future__ import annotations

import os
from typing import Any

from runtime import CallInterruptedError
from runtime.literals import shorten, unquote
from runtime.replay import Bundle, make_bundle, replay, write_bundle
from runtime.rerun import ReplayDivergenceError

from .debug_render import call_label
from .errors import UsageError
from .registry import Args, Reply, command
from .render import Out, plural
from .session import Session


@command("export", "FILE", group="debug",
         summary="write the last call as a replay bundle (JSON)", example=":export transfer.json")
def export(session: Session, args: Args) -> Reply:
    """Write the call the cursor is in (by default the last call) as one self-contained JSON
    file: the module (bytes and sha256), the whole storage the call started from, the chain
    context, the arguments, the fuel limit and limits, the results or error, and the full
    host-call trace. ``:replay FILE`` or ``supervm-repl --replay FILE`` re-executes it."""
    dbg = session.debugger
    if dbg.paused is not None:
        raise UsageError(":export writes a finished call; a call is paused")
    entry = dbg.current_entry()
    outcome = dbg.history.outcome_of(entry)
    if isinstance(outcome.error, CallInterruptedError):
        raise UsageError(f"call #{entry.call_id} was interrupted or aborted: there is no "
                         "complete run to export")
    trace = dbg.history.trace_of(entry)
    assert outcome.contract is not None
    path = os.path.expanduser(unquote(args.get("FILE") or ""))
    bundle = make_bundle(
        wasm=outcome.contract.wasm, name=os.path.basename(outcome.contract.name),
        export=outcome.export, args=list(outcome.args), context=outcome.context,
        limits=session.runtime.limits, fuel_limit=outcome.fuel_limit,
        storage=dbg.history.starting_storage(entry),
        result=outcome if outcome.ok else None, error=outcome.error, trace=trace)
    write_bundle(path, bundle)
    text = (f"wrote call #{entry.call_id} {shorten(call_label(outcome.export, outcome.args), 40)}"
            f" to {path}: {plural(len(trace), 'host call')}, "
            f"{plural(len(bundle['storage']), 'key')} of starting storage")
    return Reply({"path": path, "call_id": entry.call_id, "host_calls": len(trace),
                  "keys": len(bundle["storage"]), "sha256": bundle["module"]["sha256"]},
                 Out().line(text, "ok").fragments)


def replay_file(session: Session | None, path: str) -> tuple[dict[str, Any], str]:
    """Replay a bundle file: JSON data and one line of text; raises if it diverged."""
    bundle = Bundle.load(path)
    report = replay(bundle) if session is None else session.run_interruptible(
        lambda: replay(bundle))
    data: dict[str, Any] = {"path": path, "identical": report.identical, "steps": report.steps,
                            "export": bundle.export, "module": bundle.name}
    if report.divergence is not None:
        raise ReplayDivergenceError(f"{path}: {report}", report.divergence)
    return data, f"{path}: {report}"


@command("replay", "FILE", group="debug",
         summary="re-execute a replay bundle and compare it with its recording",
         example=":replay transfer.json")
def replay_(session: Session, args: Args) -> Reply:
    """Re-execute the call recorded in a bundle (written by ``:export``) on a fresh in-memory
    store with the recorded storage, context, arguments and fuel, and compare every host call,
    the results, the events and the fuel. The session's own state is not touched. A bundle
    that replays differently is an error naming the first divergent host call, expected vs
    actual; a file that is not a valid bundle is an ``io`` error."""
    path = os.path.expanduser(unquote(args.get("FILE") or ""))
    data, text = replay_file(session, path)
    return Reply(data, Out().line(text, "ok").fragments)
