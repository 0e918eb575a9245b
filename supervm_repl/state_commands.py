"""Commands about the session's state: chain context, limits, storage and snapshots."""

from __future__ import annotations

from typing import Any

from runtime import ChainContext
from runtime.literals import (
    LiteralRangeError,
    iso_utc,
    parse_bytes,
    parse_count,
    parse_integer,
    parse_timestamp,
    shorten,
    unquote,
)

from .errors import UsageError
from .registry import Args, Reply, command
from .render import (
    CELL_WIDTH,
    Out,
    bytes_json,
    bytes_text,
    change_text,
    plural,
    table,
)
from .session import Session
from .views import check_view, integer_bytes


def _when(timestamp: int) -> str:
    """`` (2024-01-01T00:00:00Z)`` for a plausible Unix time (1970 to 9999), else nothing."""
    iso = iso_utc(timestamp)
    return f" ({iso})" if iso else ""


#: The largest block number: the contract reads it as a signed i64.
MAX_BLOCK = 2**63 - 1


def parse_block(text: str) -> int:
    """A block number: an integer literal from 0 to :data:`MAX_BLOCK`."""
    value = parse_integer(text)
    if not 0 <= value <= MAX_BLOCK:
        raise LiteralRangeError(
            f"block numbers are 0 to 2^63 - 1 ({MAX_BLOCK:,}), not {shorten(text)}")
    return value


def _context_reply(context: ChainContext) -> Reply:
    data = {"block_number": context.block_number, "timestamp": context.timestamp}
    out = Out().add("block ", "muted").line(str(context.block_number), "number")
    out.add("timestamp ", "muted").add(str(context.timestamp), "number").line(
        _when(context.timestamp), "muted")
    return Reply(data, out.fragments)


@command("block", "[N]", group="context",
         summary="show or set the block number calls execute in", example=":block 12345")
def block(session: Session, args: Args) -> Reply:
    """Show the block number, or set it for later calls (what ``chain_api.block_number``
    returns). N is an integer literal from 0 to 2^63 - 1 (the contract reads it as an i64,
    so a larger number would look negative to it)."""
    value = args.get("N")
    if value is not None:
        session.set_context(block=parse_block(value))
    n = session.context.block_number
    return Reply({"block_number": n}, Out().add("block ", "muted").line(str(n), "number").fragments)


@command("timestamp", "[T]", group="context",
         summary="show or set the block timestamp (seconds, or a date: 2024-01-01)",
         example=":ts 2024-01-01T12:00:00Z")
def timestamp(session: Session, args: Args) -> Reply:
    """Show the block timestamp, or set it for later calls (what ``chain_api.timestamp``
    returns, in seconds). T is an integer literal (i64) or an ISO 8601 date or time, UTC
    unless it gives an offset: ``2024-01-01``, ``2024-01-01T12:00:00Z``. It is shown with
    its date in UTC."""
    value = args.get("T")
    if value is not None:
        session.set_context(timestamp=parse_timestamp(unquote(value)))
    t = session.context.timestamp
    out = Out().add("timestamp ", "muted").add(str(t), "number").line(_when(t), "muted")
    return Reply({"timestamp": t}, out.fragments)


@command("ctx", group="context", summary="show the chain context (block number and timestamp)",
         example=":ctx")
def ctx(session: Session, args: Args) -> Reply:
    """Show the chain context later calls execute in."""
    return _context_reply(session.context)


@command("fuel", "[N]", group="context", summary="show or set the fuel each call gets",
         example=":fuel 1_000_000")
def fuel(session: Session, args: Args) -> Reply:
    """Show or set the fuel each call gets (roughly one unit per wasm instruction). A call
    that uses it all fails with out_of_fuel and commits nothing."""
    value = args.get("N")
    if value is not None:
        session.set_fuel(parse_integer(value))
    return Reply({"fuel": session.fuel},
                 Out().add("fuel ", "muted").line(f"{session.fuel:,}", "number").fragments)


#: What each limit bounds, as ``:limits`` explains it.
LIMITS_HELP = {
    "fuel": "fuel each call gets (about one unit per wasm instruction)",
    "max_memory_pages": "linear memory, in 64 KiB pages (at most 65536)",
    "max_wasm_stack": "native stack for wasm, bytes (65536 to 2097152)",
    "max_module_size": "largest module, bytes",
    "max_key_size": "largest storage key, bytes",
    "max_value_size": "largest storage value, bytes",
    "max_event_size": "largest event, bytes",
    "max_events": "events a call may emit",
    "max_trace": "host calls a call's trace records",
    "max_table_elements": "elements of a table",
    "max_call_bytes": "bytes a call may hold (pending writes, events, trace payloads)",
}


@command("limits", "[NAME] [VALUE]", group="context",
         summary="show the limits every call runs under, or set one",
         example=":limits max_events 10")
def limits(session: Session, args: Args) -> Reply:
    """Show every per-call limit with its value and what it bounds: fuel, memory pages, wasm
    stack, module, key, value and event sizes, number of events, trace length, table
    elements, bytes a call holds. ``:limits NAME VALUE`` sets one for later calls (checked as
    the runtime checks it: fuel from 1 to 2^64 - 1, the others non-negative, the stack between
    64 KiB and 2 MiB, memory at most 65536 pages); ``:limits NAME`` shows one. A later run
    starts from the defaults again (and ``--fuel``)."""
    name, value = args.get("NAME"), args.get("VALUE")
    if name is not None:
        name = unquote(name)
        if value is not None:
            session.set_limit(name, parse_integer(value))
        current = session.runtime.limits.to_dict()
        if name not in current:
            raise UsageError(f"no limit {shorten(name)!r}; limits: {', '.join(current)}")
        return Reply({"limits": {name: current[name]}},
                     Out().add(name, "name").add(" ").line(f"{current[name]:,}", "number")
                     .fragments)
    values = session.runtime.limits.to_dict()
    rows = [(name, f"{value:,}", LIMITS_HELP.get(name, "")) for name, value in values.items()]
    return Reply({"limits": values},
                 table(["limit", "value", "bounds"], rows, ["name", "number", "muted"]))


# --- storage ------------------------------------------------------------------------------------


@command("storage", "[PREFIX]", group="storage",
         flags={"--limit N": "show at most N keys",
                "--as VIEW": "show values as VIEW (auto, hex, text, i32, u32, i64, u64)"},
         summary="table of keys and values (optionally those starting with PREFIX)",
         example=':storage "bal:"')
def storage(session: Session, args: Args) -> Reply:
    """Show the stored pairs in key order, as text where they are printable UTF-8 and as hex
    otherwise; a value of 4 or 8 bytes also as its little-endian integer (``--as VIEW`` or
    ``:view`` choose another view). PREFIX (``"text"`` or ``0x…``) keeps only the keys
    starting with it. In the
    shell a long table is shown a screen at a time; scripts print it all unless --limit is
    given. While a call is paused this is storage as that call sees it (its own writes so
    far included); with the time-travel cursor at a step (``:back``, ``:goto``), storage as
    it was there. The keys the current step changes are marked ◀ with their new value."""
    prefix = parse_bytes(args.get("PREFIX") or '""')
    limit_arg = args.flag("--limit")
    limit = parse_count(str(limit_arg), "--limit") if limit_arg else None
    view = _view_flag(args)
    width = CELL_WIDTH
    views = session.views
    focus = session.debugger.focus
    pairs = focus.storage().scan(prefix, None if limit is None else limit + 1)
    truncated = limit is not None and len(pairs) > limit
    pairs = pairs[:limit] if limit is not None else pairs
    changing = {k: v for k, v in focus.changing.items() if k.startswith(prefix)}
    stored = dict(pairs)
    # A key the current step creates is shown too, as absent with its coming value.
    keys = sorted({*stored, *(k for k in changing if not pairs or k <= pairs[-1][0]
                              or not truncated)})
    rows, entries = [], []
    for k in keys:
        entry: dict[str, Any] = {"key": bytes_json(k), "value": bytes_json(stored.get(k))}
        mark = ""
        if k in changing:
            entry["changes_to"] = bytes_json(changing[k])
            mark = f"◀ this step: → {views.text(k, changing[k], 40, view)}"
        entries.append(entry)
        rows.append((bytes_text(k, width), views.text(k, stored.get(k), width, view), mark))
    data: dict[str, Any] = {"prefix": bytes_json(prefix), "count": len(entries),
                            "truncated": truncated, "entries": entries}
    out = Out()
    if focus.label:
        data["at"] = focus.at()
        out.line(focus.label, "warning")
    if not rows:
        what = f"no keys start with {bytes_text(prefix)}" if prefix else (
            "storage is empty" if not focus.label else "storage was empty")
        if truncated:  # --limit 0 with keys present
            what = "keys not shown (--limit 0); without --limit all are shown"
        return Reply(data, out.line(what, "muted").fragments)
    if changing:
        out.extend(table(["key", "value", ""], rows, ["bytes", "", "warning"]))
    else:
        out.extend(table(["key", "value"], [r[:2] for r in rows], ["bytes", ""]))
    if not focus.label:
        noun = "key" if len(rows) == 1 else "keys"
        out.line(f"({len(rows)} {noun}" + (", more not shown)" if truncated else ")"), "muted")
    weight = sum(len(k) + len(v) for k, v in pairs)
    return Reply(data, out.fragments, weight=weight)


@command("get", "KEY", group="storage", flags={"--as VIEW": "show the value as VIEW"},
         summary="show one stored value", example=':get "counter"')
def get(session: Session, args: Args) -> Reply:
    """Show the value stored under KEY (``"text"`` or ``0x…`` bytes): as the key's view
    shows it (text if printable, else hex, and a 4- or 8-byte value also as its
    little-endian integer), then always as hex, and its size."""
    key = parse_bytes(args.get("KEY") or "")
    value = session.debugger.focus.storage().get(key)
    data = {"key": bytes_json(key), "value": bytes_json(value)}
    if value is None:
        return Reply(data, Out().add(bytes_text(key), "bytes").line("  absent", "muted").fragments)
    shown = session.views.text(key, value, None, _view_flag(args))
    out = Out().add(bytes_text(key), "bytes").add(" = ").line(shown)
    if not shown.startswith("0x"):
        out.line(f"  0x{value.hex()}", "muted")
    out.line(f"  {len(value)} byte{'s' if len(value) != 1 else ''}", "muted")
    return Reply(data, out.fragments)


def _view_flag(args: Args) -> str | None:
    value = args.flag("--as")
    return check_view(str(value)) if value else None


@command("view", "[PREFIX] [VIEW]", group="storage",
         summary="show the values of keys starting with PREFIX as VIEW, for the session",
         example=':view "bal:" u64')
def view(session: Session, args: Args) -> Reply:
    """Choose how the values of keys starting with PREFIX are shown everywhere (``:get``,
    ``:storage``, ``:trace``, ``:history``, a call's storage changes) for the rest of the
    session: ``auto`` (the default: text if printable, else hex, and 4 or 8 bytes also as
    their little-endian signed integer), ``hex``, ``text``, ``i32``, ``u32``, ``i64`` or
    ``u64``. Bytes that do not fit the view are shown as ``auto`` shows them. The longest
    matching prefix wins; ``auto`` removes a choice. PREFIX is ``"text"``, ``0x…``, or plain
    text such as ``bal:``. Without VIEW, show the view of PREFIX; without arguments, list
    the choices made. An integer view also decides what ``:set KEY N`` writes for a bare N."""
    prefix_arg, view_arg = args.get("PREFIX"), args.get("VIEW")
    views = session.views
    if prefix_arg is not None:
        prefix = _prefix(prefix_arg)
        if view_arg is not None:
            views.set(prefix, view_arg)
        shown = views.view_for(prefix) if view_arg is None else check_view(view_arg)
        return Reply({"prefix": bytes_json(prefix), "view": shown},
                     Out().add(bytes_text(prefix), "bytes").line(f"  {shown}").fragments)
    data = [{"prefix": bytes_json(p), "view": v} for p, v in views.by_prefix.items()]
    if not data:
        return Reply({"views": []}, Out().line(
            "every value is shown as auto (text, else hex; 4 and 8 bytes also as integers)",
            "muted").fragments)
    rows = [(bytes_text(p), v) for p, v in sorted(views.by_prefix.items())]
    return Reply({"views": data}, table(["prefix", "view"], rows, ["bytes", "name"]))


def _prefix(token: str) -> bytes:
    """A prefix of ``:view``: a literal, or plain text (``bal:`` is unambiguous there)."""
    try:
        return parse_bytes(token)
    except UsageError:
        return token.encode("utf-8", "surrogatepass")


@command("set", "KEY VALUE", group="storage", summary="store a value directly (no contract call)",
         example=':set "counter" 41')
def set_(session: Session, args: Args) -> Reply:
    """Write VALUE under KEY. Both are ``"text"`` (with escapes such as ``\\n`` or ``\\00``),
    ``0x…`` hex bytes, or ``i32:N``/``i64:N`` for an integer as little-endian bytes. A bare
    decimal integer VALUE (``41``, ``-1``) is an i64: 8 bytes, little-endian, as contracts
    usually store numbers (under a key with an integer ``:view``, that type instead)."""
    key = parse_bytes(args.get("KEY") or "")
    token = args.get("VALUE") or ""
    value = integer_bytes(token, session.views.view_for(key))
    if value is None:
        value = parse_bytes(token)
    old = session.set(key, value)
    out = Out().extend(change_text(key, old, value, session.views)).line()
    return Reply({"key": bytes_json(key), "old": bytes_json(old), "new": bytes_json(value)},
                 out.fragments)


@command("del", "KEY", group="storage",
         summary="delete a key directly (no contract call)", example=':del "counter"')
def del_(session: Session, args: Args) -> Reply:
    """Delete KEY from storage; deleting an absent key is not an error."""
    key = parse_bytes(args.get("KEY") or "")
    old = session.delete(key)
    text = "deleted" if old is not None else "was absent"
    return Reply({"key": bytes_json(key), "old": bytes_json(old)},
                 Out().add(bytes_text(key), "bytes").line(f"  {text}", "muted").fragments)


# --- snapshots ----------------------------------------------------------------------------------


@command("snapshot", "[NAME]", group="snapshots",
         flags={"--force": "replace an existing snapshot of that name"},
         summary="save storage, context and event log (named snap1, snap2… by default)",
         example=":snapshot before-transfer")
def snapshot(session: Session, args: Args) -> Reply:
    """Save the storage, the chain context and the event log under NAME (letters, digits,
    ``_ . -``). An existing snapshot of that name is kept unless --force is given. Without
    NAME the snapshot is called snap1, snap2, … With --db, snapshots are kept in the file."""
    name = args.get("NAME")
    name = unquote(name) if name is not None else None
    if name is not None and name in session.snapshots and not args.flag("--force"):
        old = session.snapshots[name]
        raise UsageError(f"snapshot {name} exists (saved {_saved(old.created)}); "
                         f":snapshot {name} --force replaces it")
    snap = session.snapshot(name)
    out = Out().add("saved snapshot ").add(snap.name, "name").line(
        f": {plural(len(snap.storage), 'key')}, block {snap.context.block_number}, "
        f"{plural(len(snap.events), 'event')}", "muted")
    return Reply(_snapshot_json(snap), out.fragments)


def _snapshot_json(snap: Any) -> dict[str, Any]:
    return {"name": snap.name, "keys": len(snap.storage), "events": len(snap.events),
            "block_number": snap.context.block_number, "timestamp": snap.context.timestamp,
            "created": snap.created}


@command("restore", "SNAPSHOT", group="snapshots",
         summary="put storage, context and event log back as a snapshot saved them",
         example=":restore before-transfer")
def restore(session: Session, args: Args) -> Reply:
    """Make the storage, the chain context and the event log exactly what they were when the
    snapshot was saved. The snapshot itself is kept, so it can be restored again."""
    snap = session.restore(unquote(args.get("SNAPSHOT") or ""))
    out = Out().add("restored ").add(snap.name, "name").line(
        f": {plural(len(snap.storage), 'key')}, block {snap.context.block_number}, "
        f"{plural(len(snap.events), 'event')}", "muted")
    return Reply(_snapshot_json(snap), out.fragments)


@command("snapshots", group="snapshots", summary="list the saved snapshots", example=":snapshots")
def snapshots(session: Session, args: Args) -> Reply:
    """List the snapshots with their size, chain context and time of saving."""
    snaps = sorted(session.snapshots.values(), key=lambda s: s.created)
    if not snaps:
        return Reply({"snapshots": []}, Out().line("no snapshots", "muted").fragments)
    rows = [(s.name, str(len(s.storage)), str(len(s.events)), str(s.context.block_number),
             f"{s.context.timestamp}{_when(s.context.timestamp)}", _saved(s.created))
            for s in snaps]
    return Reply({"snapshots": [_snapshot_json(s) for s in snaps]},
                 table(["name", "keys", "events", "block", "timestamp", "saved"], rows,
                       ["name", "number", "number", "number", "number", "muted"]))


def _saved(created: float) -> str:
    """When a snapshot was saved, in UTC as timestamps are shown."""
    return iso_utc(created) or str(created)


@command("reset", group="snapshots",
         summary="empty storage, default context, empty event log (snapshots are kept)",
         example=":reset")
def reset(session: Session, args: Args) -> Reply:
    """Start over: empty the storage and the event log and set the chain context to block 0,
    timestamp 0. Snapshots are kept, so ``:snapshot`` first makes ``:reset`` undoable. No
    confirmation is asked."""
    session.reset()
    return Reply.say("storage, context and event log reset", "muted")
