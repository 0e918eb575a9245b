"""Source-level debugging commands: moving by source lines (``:next``, ``:into``, ``:finish``,
``:rnext``), the call stack (``:bt``) and the source text (``:list``).

In a paused call they run the call on (:meth:`runtime.debug.Debugger.resume`); at a step of a
recorded call they move the time-travel cursor through its re-run
(:meth:`runtime.debug.Debugger.by_line`). Either way :attr:`~runtime.debug.Debugger.focus`
then answers ``:storage``, ``:events``, ``:mem`` and ``:bt`` for that moment.
"""

from __future__ import annotations

from typing import Any

from runtime.debug import Focus
from runtime.debuginfo import SourceLocation, SourceMap
from runtime.literals import shorten, unquote
from runtime.modules import Contract

from .debug_commands import outcome_reply, position_reply
from .debug_render import location_json, stack_json, stack_text
from .errors import UsageError
from .registry import Args, Reply, command
from .render import Out
from .session import Session

#: Lines ``:list`` shows (centred on the line it is about).
LIST_LINES = 11


def _by_line(session: Session, how: str) -> Reply:
    dbg = session.debugger
    if dbg.paused is not None:
        if how == "rnext":
            raise UsageError(f"call #{dbg.paused.call_id} is still running and cannot go back: "
                             ":continue it to its end, then :rnext walks it backwards")
        return outcome_reply(session, session.resume(how))
    return position_reply(session, session.run_interruptible(lambda: dbg.by_line(how)))


@command("next", group="debug",
         summary="run to the next source line of this function (over calls)",
         example=":next")
def next_(session: Session, args: Args) -> Reply:
    """Go to the next source line of the current function, running the functions it calls
    to their end (gdb's and pdb's ``next``); at the function's end, its caller's next line.
    In a paused call it runs the call on; at a step of a recorded call (``:back``,
    ``:goto``, ``:rnext``) it moves the cursor forward through it. Needs the contract's
    debug information (DWARF, a source map or WAT text)."""
    return _by_line(session, "next")


@command("into", group="debug",
         summary="run to the next source line, stepping into calls (gdb's step)",
         example=":into")
def into(session: Session, args: Args) -> Reply:
    """Go to the next source line that runs, inside a function the current line calls if it
    calls one (gdb's and pdb's ``step``; ``:step`` here moves by host calls). In a paused
    call it runs the call on; at a step of a recorded call it moves the cursor."""
    return _by_line(session, "into")


@command("finish", group="debug",
         summary="run until the current function returns, to its caller's line",
         example=":finish")
def finish(session: Session, args: Args) -> Reply:
    """Run until the current function returns and stop at the line of its caller that
    goes on from there (gdb's ``finish``, pdb's ``return``). In a paused call it runs the
    call on; at a step of a recorded call it moves the cursor."""
    return _by_line(session, "finish")


@command("rnext", group="debug",
         summary="back to the previous source line of this function (gdb's reverse-next)",
         example=":rnext")
def rnext(session: Session, args: Args) -> Reply:
    """Move the cursor back to the start of the previous source line of the current function
    (or its caller's), over the calls in between, through a recorded call: from the live
    state it enters the last call at its last line. ``:storage``, ``:events``, ``:mem`` and
    ``:bt`` then show the state as it was there; ``:next`` goes forward again."""
    return _by_line(session, "rnext")


def _require_stack(session: Session, focus: Focus, what: str) -> None:
    if focus.state == "live":
        raise UsageError(f"at the live state: {what} shows a paused call or a step of a "
                         "recorded call (:back, :goto, :rnext go into the last call)")
    if not focus.stack:
        contract = focus.contract or session.contract
        sm = contract.source_map if contract is not None else None
        if sm is None or sm.error is not None:
            name = contract.name if contract is not None else "the contract"
            raise UsageError(f"no source lines: {name} has no debug information (DWARF, a "
                             "source map or WAT text)")
        raise UsageError(f"no source line here ({focus.label}): :rnext or :goto a step "
                         "inside the call")


@command("bt", group="debug", summary="the call stack here, with source lines",
         example=":bt")
def bt(session: Session, args: Args) -> Reply:
    """Show the call stack of the paused call, or of the recorded call at the cursor,
    innermost first: each function with its ``file:line:col`` and the text of that line."""
    focus = session.run_interruptible(lambda: session.debugger.focus)
    _require_stack(session, focus, ":bt")
    out = Out().line(focus.label, "warning").extend(stack_text(focus))
    return Reply({"at": focus.at(), "frames": stack_json(focus), "depth": len(focus.stack)},
                 out.fragments)


def _contract(session: Session, focus: Focus) -> Contract:
    # At the live state the loaded module is the one meant; else the call's own contract.
    contract = session.contract if focus.state == "live" else \
        focus.contract or session.contract
    if contract is None:
        raise UsageError("no module loaded: :load one to list its source")
    sm = contract.source_map
    if sm is None or sm.error is not None:
        raise UsageError(f"no source lines: {contract.name} has no debug information (DWARF, "
                         "a source map or WAT text)")
    return contract


def _place(contract: Contract, text: str) -> SourceLocation:
    """``FILE:LINE`` or a function's name (export or source name) → where it is."""
    sm: SourceMap = contract.source_map
    file, colon, line = text.rpartition(":")
    if colon and line.isdigit() and file:
        found = sm.match_file(file)
        if found is None:
            names = ", ".join(f.rsplit("/", 1)[-1] for f in sm.files[:6])
            raise UsageError(f"no source file {shorten(file)!r} in the debug information "
                             f"(files: {names})")
        return SourceLocation(found, int(line))
    exported = [i for i, name in contract.info.export_names.items() if name == text]
    info = next((f for f in sm.functions() if f.index in exported), None) or next(
        (f for f in sm.functions() if text in (f.name, f.name.rsplit("::", 1)[-1],
                                               f.name.rsplit("/", 1)[-1])), None)
    if info is None or info.file is None:
        raise UsageError(f"LOCATION is FILE:LINE or a function of the contract, not "
                         f"{shorten(text)!r}")
    return SourceLocation(info.file, info.line)


@command("list", "[LOCATION]", group="debug",
         summary="the source around the current line (or FILE:LINE, or FUNCTION), marked ▶",
         example=":list token.c:140")
def list_(session: Session, args: Args) -> Reply:
    """Show the source around the line the paused call (or the cursor) is at, the current
    line marked ▶. LOCATION shows another place: ``FILE:LINE`` (``token.c:140``) or a
    function of the contract by its export or source name (``transfer``)."""
    dbg = session.debugger
    focus = session.run_interruptible(lambda: dbg.focus)
    contract = _contract(session, focus)
    sm = contract.source_map
    current = focus.location
    wanted = args.get("LOCATION")
    if wanted is not None:
        where = _place(contract, unquote(wanted))
    elif current is not None:
        where = current
    else:
        raise UsageError("no current line (no call is paused or walked at a line): "
                         ":list FILE:LINE or :list FUNCTION")
    first = max(where.line - LIST_LINES // 2, 1)
    rows: list[dict[str, Any]] = []
    for n in range(first, first + LIST_LINES):
        text = sm.source_line(SourceLocation(where.file, n))
        if text is None:
            break
        rows.append({"line": n, "text": text,
                     "current": current is not None and current.file == where.file
                     and current.line == n})
    if not rows:
        if sm.source_line(SourceLocation(where.file, 1)) is not None:
            raise UsageError(f"{where.file} has no line {where.line}")
        raise UsageError(f"the source of {where.file} cannot be found (looked beside the "
                         "module and where the debug information says it was compiled)")
    width = len(str(rows[-1]["line"]))
    out = Out().line(where.file, "muted")
    for row in rows:
        mark = "▶" if row["current"] else " "
        out.add(f"{mark} ", "ok").add(f"{row['line']:>{width}} ", "muted").line(
            row["text"], "name" if row["current"] else "")
    data = {"at": focus.at(), "file": where.file, "current": location_json(current),
            "lines": rows}
    return Reply(data, out.fragments)
