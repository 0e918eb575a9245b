"""The debugger's commands: traces, time travel, breakpoints, key history (replay bundles are
:mod:`replay_commands`).

The state they work on is :class:`~supervm_repl.debugger.Debugger` (``session.debugger``) and
the session's :class:`~runtime.debug.History`; the machinery is in :mod:`runtime.debug` and
:mod:`runtime.replay`.
"""

from __future__ import annotations

from typing import Any

from runtime import CallResult
from runtime.abi import find as find_host_function
from runtime.debug import Paused
from runtime.literals import parse_count, shorten, unquote

from .debug_render import (
    access_json,
    access_row,
    diff_json,
    diff_text,
    entry_detail,
    entry_json,
    record_label,
    trace_table,
)
from .debugger import Position, describe
from .errors import UsageError
from .registry import Args, Reply, command
from .render import Out, bytes_json, bytes_text, call_json, call_result, plural, table
from .session import Session

# --- replies shared with :call ------------------------------------------------------------------


def paused_reply(session: Session, paused: Paused) -> Reply:
    """What the shell shows when a call stops at a breakpoint or a step."""
    active = session.debugger.active
    assert active is not None
    bp = paused.breakpoint
    out = Out().add("paused ", "warning").add(f"call #{active.number} ", "muted").add(
        shorten(f"{active.export}({', '.join(map(str, (v.value for v in active.args)))})", 60),
        "name")
    out.line(f" before step {paused.entry.index}" + (f", at breakpoint #{bp.number}" if bp else ""),
             "muted")
    out.extend(entry_detail(paused.entry, paused.inputs, pending=True))
    out.line(":where :trace :storage :events :mem show this point; "
             ":continue, :step or :abort go on", "muted")
    data = {"paused": True, "at": describe(None, active), "call_id": active.number,
            "export": active.export,
            "step": paused.entry.index,
            "breakpoint": None if bp is None else {"number": bp.number, "spec": str(bp)},
            "host_call": entry_json(paused.entry, paused.inputs)}
    return Reply(data, out.fragments)


def outcome_reply(session: Session, outcome: CallResult | Paused, dry_run: bool) -> Reply:
    if isinstance(outcome, Paused):
        return paused_reply(session, outcome)
    weight = sum(map(len, outcome.events)) + sum(
        len(c.old or b"") + len(c.new or b"") for c in outcome.storage_changes)
    return Reply.lazy(lambda: {**call_json(outcome, dry_run), "paused": False},
                      lambda: call_result(outcome, dry_run), weight)


def _position_reply(session: Session, position: Position) -> Reply:
    record = position.record
    total = len(record.trace)
    live = session.debugger.position is None
    out = Out().add(f"call #{record.number} ", "muted").add(shorten(record_label(record), 50),
                                                             "name")
    entry = position.entry
    if entry is None:
        out.line(f"  after its last host call ({total} steps)", "muted")
    else:
        out.line(f"  step {position.step}/{total}", "muted")
        out.extend(entry_detail(entry))
    if live:
        out.line("back at the live state", "muted")
    data = {"at": describe(session.debugger.position, None),
            "call_id": record.number, "step": position.step, "steps": total,
            "host_call": None if entry is None else entry_json(entry)}
    return Reply(data, out.fragments)


# --- the trace ----------------------------------------------------------------------------------


@command("trace", "[FUNCTION]", group="debug", flags={"--limit N": "show at most N host calls"},
         summary="the host calls of the last call (or the paused one), decoded",
         example=":trace storage_set")
def trace(session: Session, args: Args) -> Reply:
    """Show the host calls of the call the cursor is in (by default the last call; while a
    call is paused, the host calls it has made so far): step number, host function, decoded
    arguments (keys, values and event data as text or hex; a pointer shows the bytes it points
    to, or that the host wrote there), the value returned, the fuel left when it was entered,
    and its effect (a storage key's old → new value, or the event number). FUNCTION
    (``storage_set`` or ``storage_api.storage_set``) keeps only that host function's calls.
    The cursor's step is marked ▶. A long trace is shown a screen at a time."""
    dbg = session.debugger
    name = args.get("FUNCTION")
    fn = None
    if name is not None:
        fn = find_host_function(unquote(name))
        if fn is None:
            raise UsageError(f"no host function {shorten(name)!r}; :host lists them")
    limit_arg = args.flag("--limit")
    limit = parse_count(str(limit_arg), "--limit") if limit_arg else None
    truncated = False
    pending = None
    if dbg.active is not None:
        pending = dbg.active.paused.inputs
        entries = dbg.live_trace()
        cursor: int | None = dbg.active.step
        header = f"call #{dbg.active.number} {dbg.active.export} (paused)"
        call_id = dbg.active.number
    else:
        record = dbg.record()
        entries = record.trace
        cursor = dbg.position.step if dbg.position is not None else None
        header = f"call #{record.number} {shorten(record_label(record), 50)}"
        call_id = record.number
        truncated = record.trace_truncated
    total = len(entries)
    if fn is not None:
        entries = [e for e in entries if e.func == fn.qualname]
    shown = entries[:limit] if limit is not None else entries
    data: dict[str, Any] = {"call_id": call_id, "steps": total, "count": len(entries),
                            "truncated": truncated, "cursor": cursor,
                            "host_calls": [entry_json(e) for e in shown]}
    out = Out().add(header, "name").line(
        f"  {plural(total, 'host call')}" + (f", {len(entries)} of {fn.name}" if fn else ""),
        "muted")
    if shown:
        out.extend(trace_table(shown, cursor, pending))
    else:
        out.line("  no host calls" + (f" of {fn.name}" if fn else ""), "muted")
    if len(shown) < len(entries):
        out.line(f"({len(entries) - len(shown)} more not shown)", "muted")
    if truncated:
        out.line("the trace was cut at the max_trace limit: later host calls are not shown, "
                 "and the state at steps after it is incomplete", "warning")
    return Reply(data, out.fragments)


@command("where", group="debug", summary="the host call at the cursor (or the paused one), in full",
         example=":where")
def where(session: Session, args: Args) -> Reply:
    """Show where the debugger is: the paused call's current host call (with the bytes it is
    about to read), the host call at the cursor with its result and effect, or that the shell
    is at the live state."""
    dbg = session.debugger
    if dbg.active is not None:
        return paused_reply(session, dbg.active.paused)
    if dbg.position is not None:
        return _position_reply(session, dbg.position)
    record = session.last_call
    text = "at the live state" + (
        f" (after call #{record.number}); :back, :first or :goto N go into its host calls"
        if record is not None else "")
    return Reply({"at": describe(None, None)}, Out().line(text, "muted").fragments)


# --- time travel --------------------------------------------------------------------------------


@command("step", "[N]", group="debug",
         summary="paused: run to the next host call; else move the cursor N steps forward",
         example=":step 2")
def step(session: Session, args: Args) -> Reply:
    """While a call is paused, let it run its current host call and pause before the next
    one (N times). Otherwise move the time-travel cursor N host calls forward (default 1)
    through the call it is in; past the last host call of the latest call is the live
    state again."""
    n = parse_count(args.get("N") or "1", "N")
    dbg = session.debugger
    active = dbg.active
    if active is not None:
        outcome: CallResult | Paused = active.paused
        for _ in range(max(n, 1)):
            outcome = dbg.resume("step")
            if not isinstance(outcome, Paused):
                break
        return outcome_reply(session, outcome, active.dry_run)
    return _position_reply(session, dbg.step(n))


@command("back", "[N]", group="debug", summary="move the cursor N host calls back (default 1)",
         example=":back")
def back(session: Session, args: Args) -> Reply:
    """Move the time-travel cursor N host calls back (default 1). From the live state this
    enters the last call at its last host call. ``:storage`` and ``:events`` then show the
    state as it was there."""
    return _position_reply(session, session.debugger.back(parse_count(args.get("N") or "1",
                                                                       "N")))


@command("goto", "TARGET", group="debug",
         summary="move the cursor to step N, or to CALL.STEP of any call",
         example=":goto 3.2")
def goto(session: Session, args: Args) -> Reply:
    """Move the time-travel cursor: ``N`` is step N of the call the cursor is in (or of the
    last call); ``CALL.STEP`` (e.g. ``3.2``, as ``:history`` lists them) is a step of any call
    of the session; ``end`` or ``CALL.end`` is after a call's last host call."""
    return _position_reply(session, session.debugger.goto(args.get("TARGET") or ""))


@command("first", group="debug", summary="move the cursor to the first host call",
         example=":first")
def first(session: Session, args: Args) -> Reply:
    """Move the time-travel cursor to step 0 of the call it is in (or of the last call)."""
    return _position_reply(session, session.debugger.first())


@command("last", group="debug", summary="move the cursor to the last host call",
         example=":last")
def last(session: Session, args: Args) -> Reply:
    """Move the time-travel cursor to the last host call of the call it is in (or of the last
    call)."""
    return _position_reply(session, session.debugger.last())


@command("live", group="debug", summary="leave time travel: back to the live state",
         example=":live")
def live(session: Session, args: Args) -> Reply:
    """Put the cursor back at the live state (a new ``:call`` does this too)."""
    session.debugger.live()
    return Reply({"at": describe(None, None)}, Out().line("at the live state", "muted").fragments)


@command("diff", "A B", group="debug", summary="storage and event changes between two steps",
         example=":diff 0 end")
def diff(session: Session, args: Args) -> Reply:
    """Show how storage and the events changed from step A to step B of the call the cursor
    is in (or of the last call). Steps are numbers; ``end`` is after the last host call. With
    A after B the changes are shown backwards (new → old)."""
    dbg = session.debugger
    if dbg.active is not None:
        raise UsageError(":diff compares steps of finished calls; a call is paused")
    record = dbg.record()
    steps = len(record.trace)

    def step_of(name: str) -> int:
        text = args.get(name) or ""
        value = steps if text == "end" else parse_count(text, name)
        if value > steps:
            raise UsageError(f"call #{record.number} has steps 0 to {steps} (end), not {value}")
        return value

    a, b = step_of("A"), step_of("B")
    changes, events = session.history.diff(record, a, b)
    out = Out().add(f"call #{record.number} ", "muted").add(shorten(record_label(record), 50),
                                                             "name")
    out.line(f"  step {a} → step {b}", "muted").extend(diff_text(changes, events))
    return Reply({"call_id": record.number, "from": a, "to": b, **diff_json(changes, events)},
                 out.fragments)


@command("history", "KEY", group="debug",
         summary="every read and write of KEY in this session (:goto CALL.STEP jumps there)",
         example=':history "bal:bob"')
def history(session: Session, args: Args) -> Reply:
    """List every access to KEY by the session's calls, in order: the call and step
    (``#3.2``, which ``:goto 3.2`` jumps to), the call, the host function, read or write, and
    the value read or the write's old → new value. Direct edits (``:set``, ``:del``,
    ``:restore``, ``:reset``) are listed too. Failed calls' accesses are included (their
    writes were not committed)."""
    from runtime.literals import parse_bytes

    key = parse_bytes(args.get("KEY") or "")
    accesses = session.history.key_history(key)
    records = {r.number: r for r in session.calls}
    data = {"key": bytes_json(key), "accesses": [access_json(a) for a in accesses]}
    if not accesses:
        return Reply(data, Out().line(f"no call read or wrote {bytes_text(key)}", "muted")
                     .fragments)
    rows = []
    for a in accesses:
        record = None if a.is_edit else records.get(a.call)
        row = access_row(a, record)
        if record is not None and not record.ok:
            row = (*row[:-1], row[-1] + "  (call failed)")
        rows.append(row)
    return Reply(data, table(["where", "call", "host function", "access", "value"], rows,
                             ["muted", "name", "", "", "bytes"]))


# --- breakpoints --------------------------------------------------------------------------------


@command("break", "FUNCTION [CONDITION...]", group="debug",
         summary="pause calls before a host function, optionally if CONDITION holds",
         example=':break storage_set if key == "bal:alice"')
def break_(session: Session, args: Args) -> Reply:
    """Set a breakpoint: a later ``:call`` pauses just before the host function runs. The
    condition after ``if`` compares what the host call is given: its parameters (``key_len``,
    ``index``...), the bytes it reads (``key``, ``value``, ``data``), ``fuel`` and ``step``,
    with ``"text"``, ``0x…`` bytes or integers, using ``== != < <= > >=``, ``contains`` and
    ``startswith``; clauses join with ``and``/``or``. Examples: ``:break emit_event``,
    ``:break storage_set if key == "bal:bob" and value_len == 8``,
    ``:break storage_get if key startswith "bal:"``."""
    spec = " ".join([args.get("FUNCTION") or "", *args.list("CONDITION")])
    bp = session.debugger.add_breakpoint(spec)
    return Reply({"number": bp.number, "spec": str(bp), "function": bp.func.qualname,
                  "condition": bp.condition},
                 Out().add("breakpoint ", "muted").line(str(bp), "name").fragments)


@command("breaks", group="debug", summary="list the breakpoints", example=":breaks")
def breaks(session: Session, args: Args) -> Reply:
    """List the breakpoints with their conditions and how often each has paused a call."""
    bps = session.debugger.breakpoints
    data = {"breakpoints": [{"number": b.number, "function": b.func.qualname,
                             "condition": b.condition, "hits": b.hits} for b in bps]}
    if not bps:
        return Reply(data, Out().line("no breakpoints", "muted").fragments)
    rows = [(f"#{b.number}", b.func.qualname, b.condition or "", str(b.hits)) for b in bps]
    return Reply(data, table(["#", "host function", "condition", "hits"], rows,
                             ["muted", "name", "", "number"]))


@command("unbreak", "N", group="debug", summary="remove breakpoint N (or all)",
         example=":unbreak 1")
def unbreak(session: Session, args: Args) -> Reply:
    """Remove breakpoint N (as ``:breaks`` numbers them), or every breakpoint with
    ``:unbreak all``."""
    dbg = session.debugger
    text = (args.get("N") or "").lstrip("#")
    if text == "all":
        removed = list(dbg.breakpoints)
        dbg.breakpoints.clear()
    else:
        removed = [dbg.remove_breakpoint(parse_count(text, "N"))]
    return Reply({"removed": [b.number for b in removed]},
                 Out().line(f"removed {plural(len(removed), 'breakpoint')}", "muted").fragments)


@command("continue", group="debug", aliases=("cont",),
         summary="run the paused call to the next breakpoint or its end", example=":continue")
def continue_(session: Session, args: Args) -> Reply:
    """Let the paused call run on until the next breakpoint pauses it again or it ends; when
    it ends its results are shown and (if it returned normally) committed, as for ``:call``."""
    dbg = session.debugger
    active = dbg.require_paused(":continue")
    outcome = dbg.resume("continue")
    return outcome_reply(session, outcome, active.dry_run)


@command("abort", group="debug",
         summary="end the paused call as failed: nothing is committed (Ctrl-C too)",
         example=":abort")
def abort(session: Session, args: Args) -> Reply:
    """End the paused call as a failed call: its storage writes and events are discarded,
    and it is recorded as failed in ``:calls``. Ctrl-C while a call is paused does the
    same."""
    active, error = session.debugger.abort()
    text = f"call #{active.number} ({active.export}) aborted at step {active.step}; " \
           "nothing was committed"
    return Reply({"call_id": active.number, "step": active.step,
                  "error": {"kind": error.kind, "message": error.message}},
                 Out().line(text, "warning").fragments)
