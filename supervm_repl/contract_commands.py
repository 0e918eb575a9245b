"""Commands about the contract: loading it, calling it, and looking at what calls did."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from runtime import BadArgumentsError, Contract, EventEmit, ExportInfo, NoSuchExportError, Value
from runtime.literals import LiteralRangeError, parse_count, parse_value, shorten, unquote
from runtime.values import format_number

from .debug_commands import outcome_reply
from .debugger import View, current_view, describe
from .errors import UsageError
from .registry import Args, Reply, command
from .render import (
    Out,
    bytes_json,
    bytes_text,
    events_json,
    hexdump,
    module_info,
    module_json,
    module_summary,
    table,
    value_json,
    values_text,
)
from .session import CallRecord, Session

#: Bytes ``:mem`` shows when no length is given.
MEM_DEFAULT = 256


def _loaded(session: Session) -> Reply:
    contract = session.require_contract()
    return Reply({"module": module_json(contract.info, contract.name)},
                 module_summary(contract.info, contract.name))


@command("load", "PATH", group="module", summary="load a .wat or .wasm module",
         example=":load samples/counter.wat")
def load(session: Session, args: Args) -> Reply:
    """Load a module from a file (WebAssembly text or binary); later calls go to it. Storage,
    the chain context, the event log and snapshots stay as they are: they belong to the
    session, not to a module. A module can also be typed directly: input starting with
    ``(module`` continues over several lines until its parentheses balance, then loads."""
    path = os.path.expanduser(unquote(args.get("PATH") or ""))
    session.load_file(Path(path))
    return _loaded(session)


def load_inline(session: Session, source: str) -> Reply:
    """Load a module typed at the prompt (``(module …)``)."""
    session.load_text(source)
    return _loaded(session)


@command("reload", group="module", summary="load the current module's file again",
         example=":reload")
def reload(session: Session, args: Args) -> Reply:
    """Read the loaded module's file again, after editing it. State is kept."""
    session.reload()
    return _loaded(session)


@command("info", group="module",
         summary="exports with signatures, imports (✓ provided by SuperVM), memory",
         example=":info")
def info(session: Session, args: Args) -> Reply:
    """Describe the loaded module: its exported functions with their signatures, its imports
    (each marked with whether SuperVM provides it, and why not), its memory, size and hash."""
    contract = session.require_contract()
    return Reply({"module": module_json(contract.info, contract.name)},
                 module_info(contract.info, contract.name))


@command("call", "EXPORT [ARG...]", group="calls", aliases=("c",),
         flags={"--dry-run": "run the call but commit nothing"},
         summary="call an export; shows results, fuel, time, events and storage changes",
         example=":call add 7 0xff")
def call(session: Session, args: Args) -> Reply:
    """Call an exported function with arguments in WebAssembly text-format literal syntax:
    decimal or hex integers with optional ``_`` separators (``1_000``, ``0xFFFF_FFFF``,
    ``-1``), floats (``1.5``, ``-0.0``, ``1e-3``, ``0x1.8p3``, ``inf``, ``-inf``, ``nan``,
    ``nan:0x200000``). Arguments are checked against the export's signature. The call runs
    in the current chain context with the current fuel; its storage writes and events are
    committed only if it returns normally. A failed call shows the error (for a trap: code,
    message and wasm backtrace) and changes nothing. Ctrl-C stops a running call. With
    breakpoints set (``:break``) the call may pause at one: ``:continue``, ``:step`` or
    ``:abort`` then go on."""
    contract = session.require_contract()
    export = unquote(args.get("EXPORT") or "")
    func = _function(contract, export)
    if func is None:
        raise NoSuchExportError(shorten(export, 60), [f.name for f in contract.info.functions])
    tokens = args.list("ARG")
    params = func.params
    if len(tokens) != len(params):
        sig = " ".join(params) or "no arguments"
        raise BadArgumentsError(
            f"{export} takes {len(params)} argument{'s' if len(params) != 1 else ''}"
            f" ({sig}), got {len(tokens)}")
    values: list[Value] = []
    for i, token in enumerate(tokens):
        try:
            values.append(parse_value(token, params[i]))
        except (LiteralRangeError, UsageError) as exc:
            raise type(exc)(f"{export} argument {i + 1} ({params[i]}): {exc}") from None
    dry_run = bool(args.flag("--dry-run"))
    outcome = session.call_or_pause(export, values, dry_run=dry_run)
    return outcome_reply(session, outcome, dry_run)


#: Each contract's exported functions by name, built once: a script calls the same export
#: thousands of times, and ``ModuleInfo.function`` searches the exports every time.
_FUNCTIONS: weakref.WeakKeyDictionary[Contract, dict[str, ExportInfo]] = \
    weakref.WeakKeyDictionary()


def _function(contract: Contract, export: str) -> ExportInfo | None:
    functions = _FUNCTIONS.get(contract)
    if functions is None:
        functions = _FUNCTIONS[contract] = {f.name: f for f in contract.info.functions}
    return functions.get(export)


def _call_label(record: CallRecord) -> str:
    return f"{record.export}(" + ", ".join(format_number(v) for v in record.args) + ")"


@command("calls", group="calls", summary="the calls made this session: arguments, outcome, fuel",
         example=":calls")
def calls(session: Session, args: Args) -> Reply:
    """List every call made in this session (most recent last) with its arguments, its
    results or error, the fuel it used and how long it took."""
    data, rows = [], []
    for r in session.calls:
        data.append({
            "call_id": r.call_id, "export": r.export, "args": [value_json(v) for v in r.args],
            "ok": r.ok,
            "results": None if r.results is None else [value_json(v) for v in r.results],
            "error": None if r.error is None else
            {"kind": r.error.kind, "message": r.error.message},
            "fuel_used": r.fuel_used, "elapsed_ms": round(r.elapsed * 1000, 3),
            "dry_run": r.dry_run,
        })
        # A failed call's message already names what went wrong (trap, out of fuel, abort…).
        outcome = values_text(r.results or []) if r.ok else r.error.message  # type: ignore[union-attr]
        rows.append((f"#{r.call_id}", shorten(_call_label(r), 50),
                     shorten(outcome + (" (dry run)" if r.dry_run else ""), 60),
                     f"{r.fuel_used:,}", f"{r.elapsed * 1000:.2f} ms"))
    if not rows:
        return Reply({"calls": []}, Out().line("no calls yet", "muted").fragments)
    text = table(["call", "export(args)", "outcome", "fuel", "time"], rows,
                 ["muted", "name", "", "number", "muted"])
    return Reply({"calls": data}, text)


@command("events", group="calls", flags={"--all": "the whole event log of the session"},
         summary="events of the last call (--all: the session's event log)",
         example=":events --all")
def events(session: Session, args: Args) -> Reply:
    """Show the events the last call emitted. With --all, show the session's event log: every
    event committed so far, each with the call that emitted it. A call that fails commits no
    events; ``:events`` after it shows the events it emitted before failing, marked
    discarded."""
    if args.flag("--all"):
        log = session.runtime.event_log
        data = [{"call_id": e.call_id, "export": session.exports.get(e.call_id, ""),
                 "index": e.index, **(bytes_json(e.data) or {})} for e in log]
        if not log:
            return Reply({"events": []}, Out().line("the event log is empty", "muted").fragments)
        rows = [(f"#{e.call_id}", session.exports.get(e.call_id, ""), str(e.index),
                 bytes_text(e.data)) for e in log]
        return Reply({"events": data},
                     table(["call", "export", "index", "data"], rows,
                           ["muted", "name", "muted", "bytes"]))
    view = current_view(session.debugger, storage=False)
    if view.events is not None:
        return _events_at(view)
    record = session.last_call
    if record is None:
        return Reply({"call_id": None, "events": []},
                     Out().line("no call yet", "muted").fragments)
    emitted = record.events if record.ok else _emitted_before_failure(record)
    data = {"call_id": record.call_id, "export": record.export,
            "committed": record.ok and not record.dry_run,
            "events": [{"index": i, **(bytes_json(d) or {})} for i, d in enumerate(emitted)]}
    out = Out().add(f"call #{record.call_id} ", "muted").add(record.export, "name")
    if not record.ok:
        out.add("  failed: its events were discarded", "warning")
    elif record.dry_run:
        out.add("  dry run: its events were not committed", "muted")
    out.line()
    if not emitted:
        out.line("  no events", "muted")
    for i, d in enumerate(emitted):
        out.add(f"  [{i}] ", "muted").line(bytes_text(d), "bytes")
    return Reply(data, out.fragments)


def _events_at(view: View) -> Reply:
    """The events as they were at the cursor (or so far in the paused call)."""
    events = view.events or []
    out = Out().line(view.label, "warning")
    if not events and view.emitting is None:
        out.line("  no events yet", "muted")
    for i, d in enumerate(events):
        out.add(f"  [{i}] ", "muted").line(bytes_text(d), "bytes")
    if view.emitting is not None:
        out.add(f"  [{len(events)}] ", "muted").add(bytes_text(view.emitting), "bytes").line(
            "  ◀ emitted by this step", "warning")
    data = {"at": view.at, "events": events_json(events),
            "emitting": bytes_json(view.emitting)}
    return Reply(data, out.fragments)


def _emitted_before_failure(record: CallRecord) -> list[bytes]:
    error = record.error
    trace = error.trace if error is not None else []
    return [e.effect.data for e in trace if isinstance(e.effect, EventEmit)]


@command("mem", "ADDR [LEN]", group="calls",
         summary=f"hexdump of the last call's memory (LEN defaults to {MEM_DEFAULT})",
         example=":mem 0x10 32")
def mem(session: Session, args: Args) -> Reply:
    """Show LEN bytes of the linear memory as the last call left it (also after a failed
    call), starting at ADDR. Addresses and lengths are integers, decimal or hex. While a call
    is paused, this is its memory now; with the time-travel cursor at a step, it is memory as
    it was when that host call was made, rebuilt by re-running the call from its starting
    state (a re-run that does not reproduce the recorded trace is reported as an error)."""
    dbg = session.debugger
    if dbg.active is not None or dbg.position is not None:
        return _mem_at(session, args)
    record = session.last_call
    memory = record.memory if record is not None else None
    if memory is None:
        why = "no call yet" if record is None else "the last call's module has no memory"
        raise UsageError(f"no memory to show: {why}")
    address = parse_count(args.get("ADDR") or "", "ADDR")
    length = parse_count(args.get("LEN") or str(MEM_DEFAULT), "LEN")
    if address > len(memory):
        raise UsageError(f"address 0x{address:x} is past the end of memory (0x{len(memory):x})")
    data = memory[address : address + length]
    out = Out().extend(hexdump(data, address))
    if len(data) < length:
        out.line(f"(memory ends at 0x{len(memory):x})", "muted")
    return Reply({"call_id": record.call_id, "address": address,  # type: ignore[union-attr]
                  "length": len(data), "memory_size": len(memory), "hex": data.hex()},
                 out.fragments)


def _mem_at(session: Session, args: Args) -> Reply:
    dbg = session.debugger
    address = parse_count(args.get("ADDR") or "", "ADDR")
    length = parse_count(args.get("LEN") or str(MEM_DEFAULT), "LEN")
    if dbg.active is not None:
        data, size = dbg.live_memory(address, length)
        label = f"paused call #{dbg.active.number}, before step {dbg.active.step}"
    else:
        assert dbg.position is not None
        memory = dbg.memory_at(dbg.position)
        size = len(memory)
        data = memory[address:address + length]
        where = f"step {dbg.position.step}" if not dbg.position.at_end else "its end"
        label = f"call #{dbg.position.record.number} at {where}"
    if size == 0:
        raise UsageError("no memory to show: the module has no memory")
    if address > size:
        raise UsageError(f"address 0x{address:x} is past the end of memory (0x{size:x})")
    out = Out().line(label, "warning").extend(hexdump(data, address))
    if len(data) < length:
        out.line(f"(memory ends at 0x{size:x})", "muted")
    return Reply({"at": describe(dbg.position, dbg.active), "address": address,
                  "length": len(data), "memory_size": size, "hex": data.hex()}, out.fragments)
