"""The debugger's commands: traces, time travel, breakpoints, key history (replay bundles are
:mod:`replay_commands`).

They parse and render; the debugger itself is :class:`runtime.debug.Debugger`
(``session.debugger``), and :attr:`~runtime.debug.Debugger.focus` answers for wherever the user
is: the live state, a paused call, or a step of a recorded call.
"""

from __future__ import annotations

from typing import Any

from runtime import CallResult, HostCall
from runtime.abi import find as find_host_function
from runtime.debug import Paused, Position
from runtime.literals import parse_bytes, parse_count, shorten, unquote

from .debug_render import (
    access_json,
    access_row,
    call_label,
    call_site_text,
    diff_json,
    diff_text,
    entry_detail,
    entry_json,
    location_json,
    site_text,
    source_line_text,
    stack_json,
    trace_table,
)
from .errors import UsageError
from .inputs import inputs_reply
from .registry import Args, Reply, command
from .render import Out, bytes_json, bytes_text, call_json, call_result, plural, table
from .session import Session

#: Accesses ``:history`` lists when no --limit is given (the most recent ones).
HISTORY_DEFAULT = 50

# --- replies shared with :call ------------------------------------------------------------------


def paused_reply(session: Session, paused: Paused) -> Reply:
    """What the shell shows when a call stops at a breakpoint, a step or a source line."""
    active = session.debugger.paused_call
    assert active is not None
    focus = session.debugger.focus
    bp = paused.breakpoint
    location = paused.stop.location if paused.stop is not None else None
    out = Out().add("paused ", "warning").add(f"call #{paused.call_id} ", "muted").add(
        shorten(f"{active.export}({', '.join(map(str, (v.value for v in active.args)))})", 60),
        "name")
    at_bp = f", at breakpoint #{bp.number}" if bp else ""
    if paused.entry is None:
        out.line(f" at {location}{at_bp}", "muted")
        out.extend(source_line_text(focus, location))
    else:
        out.line(f" before step {paused.entry.index}{at_bp}", "muted")
        out.extend(call_site_text(focus))
        out.extend(entry_detail(paused.entry, paused.inputs, pending=True,
                                 views=session.views))
    out.line("go on: :next :into :finish :step :continue :abort   look: :bt :list :where "
             ":trace :storage :events :mem" if paused.stop else
             ":where :trace :storage :events :mem show this point; :continue, :step or :abort "
             "go on", "muted")
    data = {"paused": True, "at": focus.at(), "call_id": paused.call_id,
            "export": active.export, "step": paused.step,
            "breakpoint": None if bp is None else {"number": bp.number, "spec": str(bp)},
            "host_call": None if paused.entry is None else
            entry_json(paused.entry, paused.inputs, location),
            "source": location_json(location, None if location is None
                                    else focus.source_line(location)),
            "stack": stack_json(focus)}
    return Reply(data, out.fragments)


def outcome_reply(session: Session, outcome: CallResult | Paused) -> Reply:
    if isinstance(outcome, Paused):
        return paused_reply(session, outcome)
    weight = sum(map(len, outcome.events)) + sum(
        len(c.old or b"") + len(c.new or b"") for c in outcome.storage_changes)
    return Reply.lazy(lambda: {**call_json(outcome), "paused": False},
                      lambda: call_result(outcome, session.views), weight)


def position_reply(session: Session, position: Position) -> Reply:
    """Where the time-travel cursor is: a host call of a recorded call, or a source line."""
    entry = position.entry
    outcome = session.debugger.history.outcome_of(entry)
    focus = session.debugger.focus
    location = focus.location
    out = Out().add(f"call #{entry.call_id} ", "muted").add(
        shorten(call_label(entry.export, outcome.args), 50), "name")
    host_call = outcome.trace[position.step] \
        if position.step < position.steps and position.stop is None else None
    if position.stop is not None:
        out.line(f"  at {location}  ({position.step} of {position.steps} host calls done)",
                 "muted")
        out.extend(source_line_text(focus, location))
    elif host_call is None:
        out.line(f"  after its last host call ({position.steps} steps)", "muted")
    else:
        out.line(f"  step {position.step}/{position.steps}", "muted")
        out.extend(call_site_text(focus))
        out.extend(entry_detail(host_call, views=session.views))
    if position.live:
        out.line("back at the live state", "muted")
    data = {"at": focus.at(), "call_id": entry.call_id,
            "step": position.step, "steps": position.steps,
            "host_call": None if host_call is None else entry_json(host_call, None, location),
            "source": location_json(location, None if location is None
                                    else focus.source_line(location)),
            "stack": stack_json(focus)}
    return Reply(data, out.fragments)


def _limit(args: Args) -> int | None:
    value = args.flag("--limit")
    return parse_count(str(value), "--limit") if value else None


# --- the trace ----------------------------------------------------------------------------------


@command("trace", "[FUNCTION]", group="debug", flags={"--limit N": "show at most N host calls"},
         summary="the host calls of the last call (or the paused one), decoded",
         example=":trace storage_set")
def trace(session: Session, args: Args) -> Reply:
    """Show the host calls of the call the cursor is in (by default the last call; while a
    call is paused, the host calls it has made so far): step number, host function, decoded
    arguments (keys, values and event data as text or hex; a pointer shows the bytes it points
    to, or that the host wrote there), the value returned, the fuel left when it was entered,
    and its effect (a storage key's old → new value, or the event number). With the contract's
    debug information a ``source`` column gives the line that made each host call (found by
    re-running a finished call on its debug build, once). FUNCTION
    (``storage_set`` or ``storage_api.storage_set``) keeps only that host function's calls.
    The cursor's step is marked ▶. A long trace is shown a screen at a time."""
    dbg = session.debugger
    name = args.get("FUNCTION")
    fn = None
    if name is not None:
        fn = find_host_function(unquote(name))
        if fn is None:
            raise UsageError(f"no host function {shorten(name)!r}; :host lists them")
    limit = _limit(args)
    focus = dbg.focus
    entries = focus.trace()
    pending = focus.inputs if focus.pending else None
    header = f"call #{focus.call_id} {shorten(call_label(focus.export, focus.args), 50)}" + (
        " (paused)" if focus.pending else "")
    call_id, cursor, truncated = focus.call_id, focus.step, focus.truncated
    total = len(entries)
    if fn is not None:
        entries = [e for e in entries if e.func == fn.qualname]
    shown = entries[:limit] if limit is not None else entries
    sites = session.run_interruptible(focus.sites)

    def site(e: HostCall) -> Any:
        return sites[e.index] if e.index < len(sites) else None

    data: dict[str, Any] = {"call_id": call_id, "steps": total, "count": len(entries),
                            "truncated": truncated, "cursor": cursor,
                            "host_calls": [entry_json(e, None, site(e)) for e in shown]}
    out = Out().add(header, "name").line(
        f"  {plural(total, 'host call')}" + (f", {len(entries)} of {fn.name}" if fn else ""),
        "muted")
    if shown:
        out.extend(trace_table(shown, cursor, pending, sites, session.views))
    else:
        out.line("  no host calls" + (f" of {fn.name}" if fn else ""), "muted")
    if len(shown) < len(entries):
        out.line(f"({len(entries) - len(shown)} more not shown)", "muted")
    if truncated:
        out.line("the trace was cut at the max_trace limit: later host calls are not shown, "
                 "and the state at steps after it is incomplete", "warning")
    weight = sum(len(v) for e in shown for v in e.payloads.values())
    return Reply(data, out.fragments, weight=weight)


@command("where", group="debug", summary="the host call at the cursor (or the paused one), in full",
         example=":where")
def where(session: Session, args: Args) -> Reply:
    """Show where the debugger is: the paused call's current host call (with the bytes it is
    about to read) or source line, the host call at the cursor with its result and effect, or
    that the shell is at the live state. With debug information a host call is shown with the
    line that makes it and the functions that called it."""
    dbg = session.debugger
    if dbg.paused is not None:
        return paused_reply(session, dbg.paused)
    if dbg.position is not None:
        return position_reply(session, dbg.position)
    last = dbg.history.last_call
    text = "at the live state" + (
        f" (after call #{last.call_id}); :back, :first or :goto N go into its host calls"
        if last is not None else "")
    return Reply({"at": dbg.focus.at()}, Out().line(text, "muted").fragments)


# --- time travel --------------------------------------------------------------------------------


@command("step", "[N]", group="debug",
         summary="paused: run to the next host call; else move the cursor N steps forward",
         example=":step 2")
def step(session: Session, args: Args) -> Reply:
    """While a call is paused, let it run its current host call and pause before the next
    one (N times). Otherwise move the time-travel cursor N host calls forward (default 1)
    through the call it is in; past the last host call of the latest call is the live
    state again. ``:step`` moves by host calls, whatever the source; ``:next``, ``:into``
    and ``:finish`` move by source lines (``:into`` is what gdb and pdb call ``step``)."""
    n = parse_count(args.get("N") or "1", "N")
    dbg = session.debugger
    if dbg.paused is None:
        return position_reply(session, dbg.forward(n))
    outcome: CallResult | Paused = dbg.paused
    for _ in range(max(n, 1)):
        outcome = session.resume("step")
        if not isinstance(outcome, Paused):
            break
    return outcome_reply(session, outcome)


@command("back", "[N]", group="debug", summary="move the cursor N host calls back (default 1)",
         example=":back")
def back(session: Session, args: Args) -> Reply:
    """Move the time-travel cursor N host calls back (default 1). From the live state this
    enters the last call at its last host call. ``:storage`` and ``:events`` then show the
    state as it was there."""
    return position_reply(session, session.debugger.back(parse_count(args.get("N") or "1",
                                                                       "N")))


@command("goto", "TARGET", group="debug",
         summary="move the cursor to step N, or to CALL.STEP of any call",
         example=":goto 3.2")
def goto(session: Session, args: Args) -> Reply:
    """Move the time-travel cursor: ``N`` is step N of the call the cursor is in (or of the
    last call); ``CALL.STEP`` (e.g. ``3.2``, as ``:history`` lists them) is a step of any call
    of the session; ``end`` or ``CALL.end`` is after a call's last host call."""
    return position_reply(session, session.debugger.goto(args.get("TARGET") or ""))


@command("first", group="debug", summary="move the cursor to the first host call",
         example=":first")
def first(session: Session, args: Args) -> Reply:
    """Move the time-travel cursor to step 0 of the call it is in (or of the last call)."""
    return position_reply(session, session.debugger.first())


@command("last", group="debug", summary="move the cursor to the last host call",
         example=":last")
def last(session: Session, args: Args) -> Reply:
    """Move the time-travel cursor to the last host call of the call it is in (or of the last
    call)."""
    return position_reply(session, session.debugger.last())


@command("live", group="debug", summary="leave time travel: back to the live state",
         example=":live")
def live(session: Session, args: Args) -> Reply:
    """Put the cursor back at the live state (a new ``:call`` does this too)."""
    session.debugger.live()
    return Reply({"at": session.debugger.focus.at()},
                 Out().line("at the live state", "muted").fragments)


@command("diff", "A B", group="debug", summary="storage and event changes between two steps",
         example=":diff 0 end")
def diff(session: Session, args: Args) -> Reply:
    """Show how storage and the events changed from step A to step B of the call the cursor
    is in (or of the last call). Steps are numbers; ``end`` is after the last host call. With
    A after B the changes are shown backwards (new → old)."""
    dbg = session.debugger
    if dbg.paused is not None:
        raise UsageError(":diff compares steps of finished calls; a call is paused")
    entry = dbg.current_entry()
    steps = len(dbg.history.trace_of(entry))

    def step_of(name: str) -> int:
        text = args.get(name) or ""
        value = steps if text == "end" else parse_count(text, name)
        if value > steps:
            raise UsageError(f"call #{entry.call_id} has steps 0 to {steps} (end), not {value}")
        return value

    a, b = step_of("A"), step_of("B")
    changes, events = dbg.history.diff(entry, a, b)
    outcome = dbg.history.outcome_of(entry)
    out = Out().add(f"call #{entry.call_id} ", "muted").add(
        shorten(call_label(entry.export, outcome.args), 50), "name")
    out.line(f"  step {a} → step {b}", "muted").extend(diff_text(changes, events,
                                                                 session.views))
    return Reply({"call_id": entry.call_id, "from": a, "to": b, **diff_json(changes, events)},
                 out.fragments)


@command("history", "[KEY]", group="debug",
         flags={"--limit N": f"show the last N (default {HISTORY_DEFAULT})"},
         summary="KEY: every read and write of KEY (:goto CALL.STEP jumps there); "
                 "no KEY: the commands typed (!N runs one again)",
         example=':history "bal:bob"')
def history(session: Session, args: Args) -> Reply:
    """Without KEY, list the commands typed in this session, numbered: ``!N`` or ``:rerun N``
    runs command N again, ``!!`` the last one.

    With KEY, list the accesses to KEY by the session's calls, in order (the most recent 50 unless
    --limit says otherwise): the call and step (``#3.2``, which ``:goto 3.2`` jumps to), the
    call, the host function, read or write, and the value read or the write's old → new
    value, and with debug information the source line that made the access. Direct edits
    (``:set``, ``:del``, ``:restore``, ``:reset``) are listed too. Failed calls' accesses are
    included (their writes were not committed)."""
    limit = _limit(args)
    if args.get("KEY") is None:
        return inputs_reply(session.inputs, limit)
    key = parse_bytes(args.get("KEY") or "")
    hist = session.debugger.history
    accesses, total = hist.key_history(key, HISTORY_DEFAULT if limit is None else limit)
    data = {"key": bytes_json(key), "count": total,
            "accesses": [access_json(a) for a in accesses]}
    if not accesses:
        return Reply(data, Out().line(f"no call read or wrote {bytes_text(key)}", "muted")
                     .fragments)
    rows = []
    sites: dict[int, list[Any]] = {}
    for a, data_ in zip(accesses, data["accesses"], strict=True):
        label, site = "", None
        if a.call_id is not None:
            entry = hist.entry(a.call_id)
            outcome = hist.outcome_of(entry)
            label = call_label(outcome.export, outcome.args)
            if a.call_id not in sites:
                sites[a.call_id] = session.run_interruptible(
                    lambda entry=entry: session.debugger.host_sites(entry))
            known = sites[a.call_id]
            stop = known[a.step] if not a.is_edit and a.step < len(known) else None
            site = stop.location if stop is not None else None
        data_["source"] = location_json(site)
        rows.append((*access_row(a, label, session.views, key), site_text(site)))
    out = Out()
    if total > len(accesses):
        out.line(f"the last {len(accesses)} of {total:,} accesses (--limit N for more)",
                 "muted")
    headers = ["where", "call", "host function", "access", "value", "source"]
    styles = ["muted", "name", "", "", "bytes", "bytes"]
    if not any(r[-1] for r in rows):
        headers, styles, rows = headers[:-1], styles[:-1], [r[:-1] for r in rows]
    out.extend(table(headers, rows, styles))
    return Reply(data, out.fragments)


# --- breakpoints --------------------------------------------------------------------------------


def _breakpoint_reply(bp: Any, verb: str = "breakpoint") -> Reply:
    return Reply({"number": bp.number, "spec": str(bp), "target": bp.target,
                  "function": bp.func.qualname if bp.func is not None else None,
                  "condition": bp.condition, "enabled": bp.enabled,
                  "temporary": bp.temporary, "ignore": bp.ignore},
                 Out().add(f"{verb} ", "muted").line(str(bp), "name").fragments)


@command("break", "LOCATION [CONDITION...]", group="debug",
         flags={"--temporary": "delete the breakpoint when it first pauses a call"},
         summary="pause calls before a host function, a source line or a function, "
                 "optionally if CONDITION holds",
         example=':break storage_set if key == "bal:alice"')
def break_(session: Session, args: Args) -> Reply:
    """Set a breakpoint. LOCATION is a host function (a later ``:call`` pauses just before
    it runs), ``FILE:LINE`` of the loaded contract's source (``token.c:144``: the call pauses
    before that line runs) or a function of the contract, by export or source name
    (``transfer``, ``append_u64``: it pauses at the function's first line).

    The condition after ``if`` compares what the host call is given: its parameters
    (``key_len``, ``index``...), the bytes it reads (``key``, ``value``, ``data``), ``fuel``
    and ``step``, with literals written as everywhere in the shell (``"text"``, ``0x…``
    bytes, ``i64:N``, integers), using ``== != < <= > >=``, ``contains`` and ``startswith``;
    clauses join with ``and``/``or``. At a line or function, a condition can test ``fuel``,
    ``step`` (host calls made so far) and ``depth`` (of the call stack). Examples:
    ``:break emit_event``, ``:break storage_set if key == "bal:bob" and value_len == 8``,
    ``:break storage_get if key startswith "bal:"``, ``:break token.c:144 if step > 3``.
    ``:disable``, ``:enable``, ``:ignore`` and ``:condition`` change a breakpoint later."""
    spec = " ".join([args.get("LOCATION") or "", *args.list("CONDITION")])
    bp = session.debugger.add_breakpoint(spec, session.contract,
                                         temporary=bool(args.flag("--temporary")))
    return _breakpoint_reply(bp)


@command("breaks", group="debug", summary="list the breakpoints", example=":breaks")
def breaks(session: Session, args: Args) -> Reply:
    """List the breakpoints with their conditions, whether each is enabled, its ignore count
    and how often it was hit."""
    bps = list(session.debugger.breakpoints)
    data = {"breakpoints": [{"number": b.number, "target": b.target,
                             "function": b.func.qualname if b.func is not None else None,
                             "condition": b.condition, "hits": b.hits, "enabled": b.enabled,
                             "temporary": b.temporary, "ignore": b.ignore} for b in bps]}
    if not bps:
        return Reply(data, Out().line("no breakpoints", "muted").fragments)
    rows = [(f"#{b.number}", "yes" if b.enabled else "no", b.target,
             b.condition or "", str(b.hits),
             ", ".join(filter(None, ["temporary" if b.temporary else "",
                                     f"ignore next {b.ignore}" if b.ignore else ""])))
            for b in bps]
    return Reply(data, table(["#", "enabled", "where", "condition", "hits", ""], rows,
                             ["muted", "", "name", "", "number", "muted"]))


def _number(args: Args, name: str = "N") -> int:
    return parse_count((args.get(name) or "").lstrip("#"), name)


@command("unbreak", "N", group="debug", summary="remove breakpoint N (or all)",
         example=":unbreak 1")
def unbreak(session: Session, args: Args) -> Reply:
    """Remove breakpoint N (as ``:breaks`` numbers them), or every breakpoint with
    ``:unbreak all``."""
    table_ = session.debugger.breakpoints
    everything = (args.get("N") or "") == "all"
    removed = table_.clear() if everything else [table_.remove(_number(args))]
    return Reply({"removed": [b.number for b in removed]},
                 Out().line(f"removed {plural(len(removed), 'breakpoint')}", "muted").fragments)


@command("disable", "N", group="debug", summary="keep breakpoint N but stop pausing at it",
         example=":disable 1")
def disable(session: Session, args: Args) -> Reply:
    """Disable breakpoint N: it stays in ``:breaks`` and ``:enable N`` turns it back on."""
    return _breakpoint_reply(session.debugger.breakpoints.enable(_number(args), False),
                             "disabled")


@command("enable", "N", group="debug", summary="pause at breakpoint N again",
         example=":enable 1")
def enable(session: Session, args: Args) -> Reply:
    """Enable breakpoint N again after ``:disable``."""
    return _breakpoint_reply(session.debugger.breakpoints.enable(_number(args), True),
                             "enabled")


@command("ignore", "N COUNT", group="debug",
         summary="let breakpoint N's next COUNT hits pass without pausing",
         example=":ignore 1 3")
def ignore(session: Session, args: Args) -> Reply:
    """Set breakpoint N's ignore count: its next COUNT hits (those whose condition holds) do
    not pause the call. ``:ignore N 0`` pauses at the next hit again."""
    bp = session.debugger.breakpoints.set_ignore(_number(args),
                                                 parse_count(args.get("COUNT") or "", "COUNT"))
    return _breakpoint_reply(bp)


@command("condition", "N [CONDITION...]", group="debug",
         summary="set or remove breakpoint N's condition", example=':condition 1 key == "bal:bob"')
def condition(session: Session, args: Args) -> Reply:
    """Give breakpoint N a new condition (the part after ``if`` in ``:break``), or remove its
    condition when none is given."""
    text = " ".join(args.list("CONDITION")).strip()
    if text.startswith("if "):
        text = text[3:].strip()
    bp = session.debugger.breakpoints.set_condition(_number(args), text or None)
    return _breakpoint_reply(bp)


@command("continue", group="debug",
         summary="run the paused call to the next breakpoint or its end", example=":continue")
def continue_(session: Session, args: Args) -> Reply:
    """Let the paused call run on until the next breakpoint pauses it again or it ends; when
    it ends its results are shown and (if it returned normally) committed, as for ``:call``."""
    if session.debugger.paused is None:
        raise UsageError("no call is paused: :continue (:c) goes on from a breakpoint "
                         "(:break sets one); :call EXPORT runs a call")
    return outcome_reply(session, session.resume("continue"))


@command("abort", group="debug",
         summary="end the paused call as failed: nothing is committed (Ctrl-C too)",
         example=":abort")
def abort(session: Session, args: Args) -> Reply:
    """End the paused call as a failed call: its storage writes and events are discarded,
    and it is recorded as failed in ``:calls``. Ctrl-C while a call is paused does the
    same."""
    paused, error = session.debugger.abort()
    where = f"at {paused.stop.location} (step {paused.step})" \
        if paused.entry is None and paused.stop is not None else f"at step {paused.step}"
    text = f"call #{paused.call_id} ({paused.export}) aborted {where}; nothing was committed"
    return Reply({"call_id": paused.call_id, "step": paused.step,
                  "error": {"kind": error.kind, "message": error.message}},
                 Out().line(text, "warning").fragments)
