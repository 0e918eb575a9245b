"""Rendering the debugger's objects: host calls (decoded from the ABI table), traces, pauses.

A host call's arguments are decoded with the host function's entry in
:data:`runtime.abi.HOST_FUNCTIONS`: a pointer with its length shows the bytes it points to
(``key@0x11="bal:alice"``), a pointer the host wrote through shows what it wrote
(``ptr=0x100←0x6400…``), other arguments are numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime import EventEmit, HostCall, StorageChange, StorageWrite
from runtime.abi import BY_QUALNAME, HostFunction
from runtime.debug import Focus, KeyAccess
from runtime.debug.breakpoints import input_payloads
from runtime.debuginfo import SourceLocation
from runtime.values import Value, format_number

from .render import (
    MAX_FRAMES,
    MAX_JSON_FRAMES,
    Fragments,
    Out,
    bytes_json,
    bytes_text,
    change_text,
    changes_json,
    table,
)
from .views import AUTO, Views, value_text

#: Width of a byte string inside a trace row.
ARG_WIDTH = 34


def _function(entry: HostCall) -> HostFunction | None:
    return BY_QUALNAME.get(entry.func)


def _outputs(fn: HostFunction, entry: HostCall) -> list[str]:
    """The payloads the host wrote or reported (the ABI table's ``outputs``) in this entry."""
    return [p.name for p in fn.outputs if p.name in entry.payloads]


def decoded_args(entry: HostCall, payloads: dict[str, bytes] | None = None,
                 width: int | None = ARG_WIDTH, views: Views = AUTO) -> str:
    """The arguments of a host call, pointers shown with their bytes."""
    fn = _function(entry)
    if fn is None:
        return ", ".join(map(str, entry.args))
    payloads = entry.payloads if payloads is None else payloads
    inputs = input_payloads(fn)
    by_ptr = {p: name for name, (p, _) in inputs.items()}
    lengths = {n for _, n in inputs.values()}
    written = {p.ptr: p.name for p in fn.outputs if p.ptr is not None}
    parts = []
    for i, ((name, _), value) in enumerate(zip(fn.params, entry.args, strict=False)):
        if i in lengths:
            continue
        if i in by_ptr:
            payload = by_ptr[i]
            n = entry.args[inputs[payload][1]]
            if payload not in payloads:
                shown = f"({n} bytes)"
            elif payload == "value":  # as its key's view shows it
                shown = views.text(payloads.get("key"), payloads[payload], width)
            else:
                shown = bytes_text(payloads[payload], width)
            parts.append(f"{payload}@0x{value:x}={shown}")
        elif i in fn.pointers:
            out = written.get(i)
            wrote = f"←{bytes_text(entry.payloads[out], width)}" \
                if out is not None and out in entry.payloads and payloads is entry.payloads \
                else ""
            parts.append(f"{name}=0x{value:x}{wrote}")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def result_text(entry: HostCall, width: int | None = ARG_WIDTH) -> str:
    """The return value; for storage_get also the value found (it has no pointer for it)."""
    if entry.error is not None:
        return "failed"
    text = "" if entry.result is None else str(entry.result)
    fn = _function(entry)
    if fn is not None:
        # What the host found and reports by its result (no pointer shows it).
        extra = [f"{p.name}={bytes_text(entry.payloads[p.name], width)}" for p in fn.outputs
                 if p.ptr is None and p.name in entry.payloads]
        text = " ".join([text, *extra]).strip()
    return text or "-"


def effect_text(entry: HostCall, width: int | None = 24, views: Views = AUTO) -> str:
    if entry.error is not None:
        return f"error: {entry.error}"
    effect = entry.effect
    if isinstance(effect, StorageWrite):
        return "".join(t for _, t in change_text(effect.key, effect.old, effect.new, views,
                                                  width))
    if isinstance(effect, EventEmit):
        return f"event #{effect.index}"
    return ""


def entry_json(entry: HostCall, payloads: dict[str, bytes] | None = None,
               site: SourceLocation | None = None) -> dict[str, Any]:
    """A host call for ``--json``: raw and decoded arguments, bytes as ``{"hex", "text"}``,
    and ``source``, the line it was made from (None when not known)."""
    fn = _function(entry)
    names = [n for n, _ in fn.params] if fn is not None else [f"arg{i}" for i in
                                                                 range(len(entry.args))]
    shown = dict(entry.payloads if payloads is None else payloads)
    data: dict[str, Any] = {
        "step": entry.index, "func": entry.func, "name": entry.name,
        "args": dict(zip(names, entry.args, strict=False)),
        "payloads": {k: bytes_json(v) for k, v in shown.items()},
        "result": entry.result, "fuel": entry.fuel, "effect": None,
        "source": location_json(site),
    }
    if isinstance(entry.effect, StorageWrite):
        data["effect"] = {"storage": bytes_json(entry.effect.key),
                          "old": bytes_json(entry.effect.old),
                          "new": bytes_json(entry.effect.new)}
    elif isinstance(entry.effect, EventEmit):
        data["effect"] = {"event": entry.effect.index, **(bytes_json(entry.effect.data) or {})}
    if entry.error is not None:
        data["error"] = entry.error
    return data


def trace_table(entries: Sequence[HostCall], cursor: int | None,
                pending: dict[str, bytes] | None = None,
                sites: Sequence[SourceLocation | None] = (), views: Views = AUTO) -> Fragments:
    """One row per host call; the cursor's row is marked ``▶``. ``pending``: the inputs of
    the paused host call at the cursor (it has not run, so its entry has no payloads yet).
    ``sites``: the source line each host call (by step) was made from; a column when known."""
    rows = [("▶" if e.index == cursor else " ", str(e.index), e.name,
             decoded_args(e, pending, views=views) if pending is not None and e.index == cursor
             else decoded_args(e, views=views),
             "(paused)" if pending is not None and e.index == cursor else result_text(e),
             f"{e.fuel:,}", effect_text(e, views=views)) for e in entries]
    headers = ["", "step", "host function", "arguments", "result", "fuel left", "effect"]
    styles = ["ok", "muted", "name", "bytes", "number", "muted", ""]
    # Narrowed to fit the screen, the host function, arguments and effect stay readable.
    minimums = [0, 0, 11, 14, 0, 0, 20]
    if any(sites):
        # The call site goes beside the host function's name: narrow, and read with it.
        rows = [(*r[:3], site_text(sites[e.index] if e.index < len(sites) else None), *r[3:])
                for r, e in zip(rows, entries, strict=True)]
        headers.insert(3, "source")
        styles.insert(3, "bytes")
        minimums.insert(3, 14)  # file:line, short: cut the arguments instead
    return table(headers, rows, styles, minimums=minimums)


def entry_detail(entry: HostCall, payloads: dict[str, bytes] | None = None,
                 pending: bool = False, views: Views = AUTO) -> Fragments:
    """``:where``: one host call in full (arguments raw and decoded, payloads unabridged)."""
    fn = _function(entry)
    out = Out().add(f"step {entry.index}  ", "muted").line(
        fn.format_call(entry.args) if fn is not None else f"{entry.func}{entry.args}", "name")
    out.add("  arguments  ", "muted").line(decoded_args(entry, payloads, None, views))
    shown = entry.payloads if payloads is None else payloads
    for name, data in shown.items():
        # A value is shown as its key's view shows it; other payloads (keys, events) as bytes.
        text = views.text(shown.get("key"), data) if name == "value" else bytes_text(data, None)
        out.add(f"  {name}", "muted").add(f" ({len(data)} bytes)  ", "muted").line(text, "bytes")
    if pending:
        out.line("  (paused before it runs: no result yet)", "muted")
    else:
        out.add("  result     ", "muted").line(result_text(entry, None))
        effect = effect_text(entry, None, views)
        if effect:
            out.add("  effect     ", "muted").line(effect)
    out.add("  fuel left  ", "muted").line(f"{entry.fuel:,}", "number")
    return out.fragments


def call_label(export: str, args: Sequence[Value]) -> str:
    """``transfer(0, 1, 30)``."""
    return f"{export}(" + ", ".join(format_number(v) for v in args) + ")"


def diff_text(changes: Sequence[StorageChange], events: Sequence[bytes],
              views: Views = AUTO) -> Fragments:
    out = Out()
    if not changes and not events:
        return out.line("no storage changes and no events between these steps", "muted").fragments
    if changes:
        out.line(f"storage changes ({len(changes)})", "header")
        for c in changes:
            out.add("  ").extend(change_text(c.key, c.old, c.new, views)).line()
    if events:
        out.line(f"events ({len(events)})", "header")
        for data in events:
            out.add("  ").line(bytes_text(data), "bytes")
    return out.fragments


def diff_json(changes: Sequence[StorageChange], events: Sequence[bytes]) -> dict[str, Any]:
    return {"storage_changes": changes_json(changes),
            "events": [bytes_json(d) for d in events]}


def access_row(access: KeyAccess, label: str, views: Views = AUTO,
               key: bytes | None = None) -> tuple[str, ...]:
    """A row of ``:history``: values as the view of ``key`` (the key listed) shows them."""
    where = f"#{access.call_id}.{access.step}" if not access.is_edit else "edit"
    kind = "write" if access.is_write else "read"
    name = access.func.rpartition(".")[2]
    view = views.view_for(key)
    change = f"{value_text(access.old, view, 30)} → {value_text(access.new, view, 30)}" \
        if access.is_write else value_text(access.old, view, 30)
    if access.failed:
        change += "  (call failed)"
    return where, label, name, kind, change


def access_json(access: KeyAccess) -> dict[str, Any]:
    return {"call_id": access.call_id,
            "step": None if access.is_edit else access.step,
            "func": access.func, "access": "write" if access.is_write else "read",
            "old": bytes_json(access.old), "new": bytes_json(access.new)}


# --- source lines -------------------------------------------------------------------------------


def location_json(location: SourceLocation | None, text: str | None = None
                  ) -> dict[str, Any] | None:
    """``{"file", "line", "col"}`` (and ``text`` when given), or None."""
    if location is None:
        return None
    data: dict[str, Any] = {"file": location.file, "line": location.line, "col": location.col}
    if text is not None:
        data["text"] = text.strip()
    return data


def site_text(location: SourceLocation | None) -> str:
    """A trace row's source column: ``token.c:68`` (the file's name and the line)."""
    if location is None:
        return ""
    return f"{location.file.rsplit('/', 1)[-1]}:{location.line}"


def source_line_text(focus: Focus, location: SourceLocation | None,
                     indent: str = "  ") -> Fragments:
    """``  144 │ set_balance(src, …);`` for a location whose text is known, else nothing."""
    if location is None:
        return []
    text = focus.source_line(location)
    if text is None:
        return []
    return Out().add(f"{indent}{location.line} │ ", "muted").line(text.strip()).fragments


def call_site_text(focus: Focus) -> Fragments:
    """Where the host call here is made: ``from token.c:61:21  read_u64`` and its callers,
    then the line's text (nothing without debug information)."""
    stack = focus.stack
    if not stack or stack[0].location is None:
        return []
    out = Out().add("  from ", "muted").add(str(stack[0].location), "bytes").add(
        f"  {stack[0].function}", "name")
    callers = [f"{f.function} ({site_text(f.location)})" if f.location else f.function
               for f in stack[1:4]]
    if callers:
        more = f" … {len(stack) - 4} more" if len(stack) > 4 else ""
        out.add(", called from " + " ← ".join(callers) + more, "muted")
    out.line()
    return out.extend(source_line_text(focus, stack[0].location)).fragments


def stack_json(focus: Focus, limit: int = MAX_JSON_FRAMES) -> list[dict[str, Any]]:
    """The call stack here for ``--json``, innermost first (the innermost ``limit`` frames:
    a deep recursion has thousands)."""
    return [{"function": f.function,
             "source": location_json(f.location, focus.source_line(f.location)
                                     if f.location is not None else None)}
            for f in focus.stack[:limit]]


def stack_text(focus: Focus, limit: int = 4 * MAX_FRAMES) -> Fragments:
    """``:bt``: ``#0 function  file:line:col`` and the line's text, innermost first."""
    out = Out()
    stack = focus.stack
    i = shown = 0
    while i < len(stack) and shown < limit:
        frame, same = stack[i], 1
        # A deep recursion repeats one frame thousands of times: show it once.
        while i + same < len(stack) and (stack[i + same].function, stack[i + same].location) \
                == (frame.function, frame.location):
            same += 1
        out.add(f"#{i} ", "muted").add(frame.function, "name")
        out.add(f"  {frame.location}" if frame.location is not None else "  (no source line)",
                "bytes" if frame.location is not None else "muted")
        out.line(f"  (and {same - 1:,} more like it)" if same > 1 else "", "muted")
        out.extend(source_line_text(focus, frame.location, "     "))
        i, shown = i + same, shown + 1
    if len(stack) > i:
        out.line(f"… {len(stack) - i:,} more frames", "muted")
    return out.fragments
