"""Commands about the contract: loading it, calling it, and looking at what calls did."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from runtime import BadArgumentsError, Contract, ExportInfo, NoSuchExportError, Value
from runtime.debug import Focus
from runtime.literals import LiteralRangeError, parse_count, parse_value, shorten, unquote
from runtime.toolchains import buildable

from .debug_commands import outcome_reply
from .debug_render import call_label
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
from .session import Session

#: Bytes ``:mem`` shows when no length is given.
MEM_DEFAULT = 256


def _loaded(session: Session) -> Reply:
    contract = session.require_contract()
    return Reply({"module": module_json(contract.info, contract.name)},
                 module_summary(contract.info, contract.name))


@command("load", "PATH", group="module",
         summary="load a .wat/.wasm module, or build and load a .ts, .c or .rs contract",
         example=":load samples/counter.wat")
def load(session: Session, args: Args) -> Reply:
    """Load a module from a file (WebAssembly text or binary); later calls go to it. A
    contract source is compiled first, with debug information: ``.ts`` (AssemblyScript's
    ``asc``), ``.c`` (clang and wasm-ld), ``.rs`` (cargo when a ``Cargo.toml`` is found upward,
    else rustc); builds are cached, a compile error shows the compiler's ``file:line:col``
    lines, a missing compiler says how to install it. Storage, the chain context, the event
    log and snapshots stay as they are: they belong to the session, not to a module. A module
    can also be typed directly: input starting with ``(module`` continues over several lines
    until its parentheses balance, then loads."""
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


@command("watch", "[MODE]", group="module",
         summary="reload (and rebuild) the module when its file changes: on or off",
         example=":watch off")
def watch(session: Session, args: Args) -> Reply:
    """With watch on (the default), a ``:call`` first checks whether the loaded module's file
    (a ``.wat``, a ``.wasm``, or a ``.ts``/``.c``/``.rs`` source) changed on disk since it was
    loaded, and if so loads it again (rebuilding a source) and says so. ``:watch off`` keeps
    the module as loaded; ``:watch`` alone shows the setting."""
    mode = args.get("MODE")
    if mode is not None:
        if mode not in ("on", "off"):
            raise UsageError(f"MODE is on or off, not {shorten(mode)!r}")
        session.watch = mode == "on"
    state = "on" if session.watch else "off"
    return Reply({"watch": session.watch}, Out().add("watch ", "muted").line(state).fragments)


@command("info", group="module",
         summary="exports with signatures, imports (✓ provided by SuperVM), memory",
         example=":info")
def info(session: Session, args: Args) -> Reply:
    """Describe the loaded module: its exported functions with their signatures, its imports
    (each marked with whether SuperVM provides it, and why not), its memory, size and hash."""
    contract = session.require_contract()
    return Reply({"module": module_json(contract.info, contract.name)},
                 module_info(contract.info, contract.name))


@command("call", "EXPORT [ARG...]", group="calls",
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
    reloaded = session.reload_if_changed()
    contract = session.require_contract()
    export, tokens = call_form(args.get("EXPORT") or "", args.list("ARG"))
    func = _function(contract, export)
    if func is None:
        raise NoSuchExportError(shorten(export, 60), [f.name for f in contract.info.functions])
    params = func.params
    if len(tokens) != len(params):
        sig = ", ".join(func.parameters) or "no arguments"
        raise BadArgumentsError(
            f"{export} takes {len(params)} argument{'s' if len(params) != 1 else ''}"
            f" ({sig}), got {len(tokens)}")
    values: list[Value] = []
    for i, token in enumerate(tokens):
        try:
            values.append(parse_value(token, params[i]))
        except (LiteralRangeError, UsageError) as exc:
            raise type(exc)(f"{export} argument {i + 1} ({func.parameters[i]}): {exc}") \
                from None
    dry_run = bool(args.flag("--dry-run"))
    reply = outcome_reply(session, session.call(export, values, dry_run=dry_run))
    if reloaded is None:
        return reply
    note = Out().line(f"{reloaded.name} changed on disk: loaded again"
                      + (" (rebuilt)" if buildable(reloaded.name) else ""), "warning").fragments
    return Reply.lazy(lambda: {**reply.data, "reloaded": module_json(reloaded.info,
                                                                     reloaded.name)},
                      lambda: note + reply.text, reply.weight)


def call_form(export: str, tokens: list[str]) -> tuple[str, list[str]]:
    """The export and argument tokens of ``:call``, also from the forms other tools use:
    ``transfer(0, 1, 30)`` and ``transfer 0, 1, 30`` (commas between arguments)."""
    if export.startswith('"'):
        return unquote(export), tokens  # a quoted name is taken as it is
    parenthesised = "(" in export or (tokens and tokens[0].startswith("("))
    if not parenthesised and not any("," in t for t in tokens) and "," not in export:
        return export, tokens  # the shell's own form, the common case
    text = " ".join([export, *tokens])
    if parenthesised:
        name, _, rest = text.partition("(")
        rest = rest.strip()
        if not rest.endswith(")"):
            raise UsageError(f"unclosed ( in {shorten(text, 60)!r}; "
                             f"type :call {name.strip()} ARG... or :call {name.strip()}(ARG, ...)")
        export, text = name.strip(), rest[:-1]
    else:
        text = text[len(export):].strip()
    parts = [p.strip() for p in text.replace(",", " , ").split()]
    args: list[str] = []
    expect_arg = True  # a comma must follow an argument
    for part in parts:
        if part == ",":
            if expect_arg:
                raise UsageError(f"missing argument before a comma in {shorten(text, 60)!r}")
            expect_arg = True
        else:
            args.append(part)
            expect_arg = False
    if args and expect_arg:
        raise UsageError(f"missing argument after the last comma in {shorten(text, 60)!r}")
    return export, args


#: Each contract's exported functions by name, built once: a script calls the same export
#: thousands of times, and ``ModuleInfo.function`` searches the exports every time.
_FUNCTIONS: weakref.WeakKeyDictionary[Contract, dict[str, ExportInfo]] = \
    weakref.WeakKeyDictionary()


def _function(contract: Contract, export: str) -> ExportInfo | None:
    functions = _FUNCTIONS.get(contract)
    if functions is None:
        functions = _FUNCTIONS[contract] = {f.name: f for f in contract.info.functions}
    return functions.get(export)


@command("calls", group="calls", flags={"--limit N": "show the last N calls"},
         summary="the calls made this session: arguments, outcome, fuel", example=":calls")
def calls(session: Session, args: Args) -> Reply:
    """List the calls made in this session (most recent last) with their arguments, their
    results or error, the fuel they used and how long they took. --limit N shows the last
    N."""
    limit_arg = args.flag("--limit")
    limit = parse_count(str(limit_arg), "--limit") if limit_arg else None
    history = session.debugger.history
    data, rows = [], []
    for entry in history.calls(limit):
        r = history.outcome_of(entry)
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
        outcome = values_text(r.results or []) if r.error is None else r.error.message
        rows.append((f"#{r.call_id}", shorten(call_label(r.export, r.args), 50),
                     shorten(outcome + (" (dry run)" if r.dry_run else ""), 60),
                     f"{r.fuel_used:,}", f"{r.elapsed * 1000:.2f} ms"))
    if not rows:
        return Reply({"calls": []}, Out().line("no calls yet", "muted").fragments)
    out = Out()
    earlier = history.call_count - len(rows) + history.dropped_calls
    if earlier > 0:
        out.line(f"the last {len(rows)} calls ({earlier:,} earlier: --limit N)", "muted")
    out.extend(table(["call", "export(args)", "outcome", "fuel", "time"], rows,
                     ["muted", "name", "", "number", "muted"]))
    return Reply({"calls": data}, out.fragments)


@command("events", group="calls", flags={"--all": "the whole event log of the session"},
         summary="events of the last call (--all: the session's event log)",
         example=":events --all")
def events(session: Session, args: Args) -> Reply:
    """Show the events the last call emitted. With --all, show the session's event log: every
    event committed so far, each with the call that emitted it. A call that fails commits no
    events; ``:events`` after it shows the events it emitted before failing, marked
    discarded. At a breakpoint or a step of a past call, the events emitted so far there."""
    if args.flag("--all"):
        log = list(session.runtime.event_log)
        data = [{"call_id": e.call_id, "export": e.export, "index": e.index,
                 **(bytes_json(e.data) or {})} for e in log]
        if not log:
            return Reply({"events": []}, Out().line("the event log is empty", "muted").fragments)
        rows = [(f"#{e.call_id}", e.export, str(e.index), bytes_text(e.data)) for e in log]
        return Reply({"events": data},
                     table(["call", "export", "index", "data"], rows,
                           ["muted", "name", "muted", "bytes"]),
                     weight=sum(len(e.data) for e in log))
    focus = session.debugger.focus
    if focus.state != "live":
        return _events_at(focus)
    last = session.debugger.history.last_call
    if last is None:
        return Reply({"call_id": None, "events": []},
                     Out().line("no call yet", "muted").fragments)
    record = session.debugger.history.outcome_of(last)
    emitted = record.events
    data = {"call_id": record.call_id, "export": record.export,
            "committed": record.committed,
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
    return Reply(data, out.fragments, weight=sum(map(len, emitted)))


def _events_at(focus: Focus) -> Reply:
    """The events as they were at the cursor (or so far in the paused call)."""
    events = focus.events()
    emitting = focus.emitting
    out = Out().line(focus.label, "warning")
    if not events and emitting is None:
        out.line("  no events yet", "muted")
    for i, d in enumerate(events):
        out.add(f"  [{i}] ", "muted").line(bytes_text(d), "bytes")
    if emitting is not None:
        out.add(f"  [{len(events)}] ", "muted").add(bytes_text(emitting), "bytes").line(
            "  ◀ emitted by this step", "warning")
    data = {"at": focus.at(), "events": events_json(events), "emitting": bytes_json(emitting)}
    return Reply(data, out.fragments, weight=sum(map(len, events)))


@command("mem", "ADDR [LEN]", group="calls",
         summary=f"hexdump of the last call's memory (LEN defaults to {MEM_DEFAULT})",
         example=":mem 0x10 32")
def mem(session: Session, args: Args) -> Reply:
    """Show LEN bytes of the linear memory as the last call left it (also after a failed
    call), starting at ADDR. Addresses and lengths are integers, decimal or hex. While a call
    is paused, this is its memory now; with the time-travel cursor at a step, it is memory as
    it was when that host call was made. Memory of a finished call is rebuilt by re-running
    the call from its starting state (a re-run that does not reproduce the recorded trace is
    reported as an error)."""
    address = parse_count(args.get("ADDR") or "", "ADDR")
    length = parse_count(args.get("LEN") or str(MEM_DEFAULT), "LEN")
    focus = session.debugger.focus
    if focus.call_id is None:
        raise UsageError("no memory to show: no call yet")
    data, size = session.run_interruptible(lambda: focus.memory(address, length))
    if size == 0:
        raise UsageError("no memory to show: the module has no memory")
    if address > size:
        raise UsageError(f"address 0x{address:x} is past the end of memory (0x{size:x})")
    out = Out()
    if focus.label:
        out.line(focus.label, "warning")
    out.extend(hexdump(data, address))
    if len(data) < length:
        out.line(f"(memory ends at 0x{size:x})", "muted")
    return Reply({"at": focus.at(), "call_id": focus.call_id, "address": address,
                  "length": len(data), "memory_size": size, "hex": data.hex()}, out.fragments)
