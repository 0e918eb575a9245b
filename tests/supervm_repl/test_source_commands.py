"""Source-level debugging in the shell, a session per language: a trap at its line, host calls
at the lines that make them, line breakpoints, :next/:into/:finish in a running call, :rnext
and :next through a recorded one with the storage of each moment, :list and :bt."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from supervm_repl.commands import Outcome, execute
from supervm_repl.render import plain
from supervm_repl.session import Session
from tests.support import SAMPLES

ALICE_100 = (100).to_bytes(8, "little").hex()
ALICE_70 = (70).to_bytes(8, "little").hex()


@dataclass(frozen=True)
class Language:
    """A token sample and the source lines its tests are about (found by their text)."""

    module: str
    source: str
    trap: str  # the insufficient-funds check
    write: str  # where write_u64 calls storage_set
    debit: str  # transfer's line writing the sender's balance
    credit: str  # ... and the receiver's

    @property
    def file(self) -> str:
        return Path(self.source).name

    def line(self, text: str) -> int:
        lines = (SAMPLES / self.source).read_text(encoding="utf-8").splitlines()
        found = [i for i, line in enumerate(lines, 1) if text in line]
        assert len(found) == 1, (text, found)
        return found[0]


LANGUAGES = {
    "wat": Language("token.wat", "token.wat", "(if (i64.lt_u (local.get $from_balance)",
                    "(drop (call $storage_set",
                    "(call $set_balance (local.get $from_record)",
                    "(call $set_balance (local.get $to_record)"),
    "c": Language("c/token.wasm", "c/token.c", "__builtin_trap();   // insufficient funds",
                  "storage_set(key, key_len, &value", "set_balance(src, from_balance",
                  "set_balance(dst, to_balance"),
    "assemblyscript": Language("assemblyscript/token.wasm", "assemblyscript/token.ts",
                               'assert(fromBalance >= amt', "storage_set(changetype",
                               'writeU64("bal:" + fromName', 'writeU64("bal:" + toName'),
    "rust": Language("rust/token.wasm", "rust/token.rs", 'panic!("insufficient funds")',
                     "storage_set(key.as_ptr()", "write_u64(from_key, from_balance - amount)",
                     "write_u64(to_key, to_balance + amount)"),
}


def _runner(session: Session) -> Callable[[str], dict[str, Any]]:
    def run(line: str) -> dict[str, Any]:
        outcome = execute(session, line)
        data = outcome.to_json()
        json.dumps(data, allow_nan=False)
        assert outcome.ok, (line, data)
        return data
    return run


@pytest.fixture(params=list(LANGUAGES))
def lang(request: pytest.FixtureRequest) -> Language:
    language = LANGUAGES[request.param]
    if not (SAMPLES / language.module).exists():
        pytest.skip(f"{language.module} is not built")
    return language


def _storage(run: Callable[[str], dict[str, Any]]) -> dict[str, str | None]:
    entries = run(':storage "bal:"')["entries"]
    return {e["key"]["text"]: e["value"]["hex"] if e["value"] else None for e in entries}


def _line(data: dict[str, Any]) -> int:
    return data["source"]["line"]


def _until(run: Callable[[str], dict[str, Any]], command: str, line: int,
           limit: int = 40) -> dict[str, Any]:
    """``command`` again until it lands on ``line`` of the outermost function."""
    for _ in range(limit):
        data = run(command)
        if data.get("source") and _line(data) == line and len(data["stack"]) == 1:
            return data
    raise AssertionError(f"{command} never reached line {line}")


def _plain_transfer(lang: Language) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    s = Session()
    try:
        run = _runner(s)
        run(f':load "{SAMPLES / lang.module}"')
        run(":call mint 0 100")
        result = run(":call transfer 0 1 30")
        return result, run(":trace")["host_calls"]
    finally:
        s.close()


def test_a_session_at_source_level(lang: Language, session: Session) -> None:
    run = _runner(session)
    run(f':load "{SAMPLES / lang.module}"')
    run(":call mint 0 100")
    debit, credit = lang.line(lang.debit), lang.line(lang.credit)

    # A line breakpoint pauses the call before that line runs, with the storage of then.
    assert run(f":break {lang.file}:{debit}")["target"] == f"{lang.file}:{debit}"
    paused = run(":call transfer 0 1 30")
    assert paused["paused"] and paused["host_call"] is None and _line(paused) == debit
    assert paused["source"]["file"].endswith(lang.file)
    assert paused["stack"][0]["function"].endswith("transfer")
    assert _storage(run) == {"bal:alice": ALICE_100}
    listed = run(":list")
    current = [row for row in listed["lines"] if row["current"]]
    assert [row["line"] for row in current] == [debit] and lang.debit in current[0]["text"]
    assert re.search(rf"^▶ +{debit} ", plain(execute(session, ":list").text()), re.M)

    # :next runs the debit over: the next line of transfer, alice already debited.
    run(":unbreak all")
    at_credit = _until(run, ":next", credit)
    assert lang.credit in at_credit["source"]["text"]
    assert _storage(run) == {"bal:alice": ALICE_70}
    # :into enters the write; :finish comes back out of it.
    inside = run(":into")
    for _ in range(5):  # a WAT line's folded arguments are lines of their own
        if len(inside["stack"]) > 1:
            break
        inside = run(":into")
    assert len(inside["stack"]) > 1 and inside["stack"][-1]["function"].endswith("transfer")
    depth = len(inside["stack"])
    back = run(":finish")
    assert back["paused"] is False or len(back["stack"]) < depth
    if back["paused"]:
        run(":continue")

    # The same results and fuel as a call that ran plain; host calls at the lines making them.
    expected, expected_trace = _plain_transfer(lang)
    last = run(":calls")["calls"][-1]
    assert last["ok"] and last["results"] == expected["results"]
    assert last["fuel_used"] == expected["fuel_used"]
    trace = run(":trace")["host_calls"]
    assert [{k: v for k, v in e.items() if k != "source"} for e in trace] == \
        [{k: v for k, v in e.items() if k != "source"} for e in expected_trace]
    writes = [e["source"] for e in trace if e["name"] == "storage_set"]
    assert len(writes) == 2 and all(w["line"] == lang.line(lang.write) for w in writes)
    assert all(w["file"].endswith(lang.file) for w in writes)

    # Back through the recorded call by lines: the storage of each moment.
    at_credit = _until(run, ":rnext", credit)
    assert at_credit["at"]["state"] == "history"
    assert _storage(run) == {"bal:alice": ALICE_70}
    _until(run, ":rnext", debit)
    assert _storage(run) == {"bal:alice": ALICE_100}
    assert run(":bt")["frames"][0]["source"]["line"] == debit
    assert _line(_until(run, ":next", credit)) == credit
    run(":live")

    # A trap is shown at its line.
    failed = execute(session, ":call transfer 0 1 1000")
    frames = failed.to_json()["error"]["frames"]
    assert (lang.file, lang.line(lang.trap)) in {
        (Path(f["source"]["file"]).name, f["source"]["line"]) for f in frames if f["source"]}


def test_mistakes_are_one_line_errors(session: Session, tmp_path: Path) -> None:
    def error(line: str) -> str:
        out = execute(session, line)
        assert not out.ok and out.to_json()["error"]["kind"] == "usage", line
        message = out.to_json()["error"]["message"]
        assert "\n" not in message and "Traceback" not in message
        return message

    assert "no call yet" in error(":next")
    assert "live state" in error(":bt")
    execute(session, f':load "{SAMPLES / "c" / "token.wasm"}"')
    assert "no code at token.c:999" in error(":break token.c:999")
    assert "no source file" in error(":list nosuch.c:3")
    assert "has no line 99999" in error(":list token.c:99999")
    assert "FILE:LINE or a function" in error(":list no_such_function")
    assert "neither a host function" in error(":break no_such_function")
    assert execute(session, ":call mint 0 5").ok
    assert "no current line" in error(":list")
    assert execute(session, ":break token.c:144").ok
    assert execute(session, ":call transfer 0 1 1").to_json()["paused"]
    assert "cannot go back" in error(":rnext")
    assert execute(session, ":abort").ok

    # A module without debug information.
    import wasmtime

    bare = tmp_path / "bare.wasm"
    bare.write_bytes(wasmtime.wat2wasm((SAMPLES / "token.wat").read_text(encoding="utf-8")))
    execute(session, ":unbreak all")
    assert execute(session, f':load "{bare}"').ok
    assert execute(session, ":call mint 0 5").ok
    assert "no debug information" in error(":list")
    assert "no source lines" in error(":rnext")
    assert execute(session, ":back").ok
    assert "no debug information" in error(":bt")
    assert "no source lines" in error(":break token.wat:100")
    assert "no source lines" in error(":break transfer")  # refused, not failing every call
    assert execute(session, ":break storage_set").ok  # host-call breakpoints keep working
    assert execute(session, ":call transfer 0 1 1").to_json()["paused"]
    assert "without debug information" in error(":next")


def test_list_a_function_and_the_paused_prompt_text(session: Session) -> None:
    run = _runner(session)
    run(f':load "{SAMPLES / "c" / "token.wasm"}"')
    listed = run(":list append_u64")
    assert any("static char *append_u64" in row["text"] for row in listed["lines"])
    run(":call mint 0 100")
    run(":break append_u64")
    paused = run(":call transfer 0 1 30")
    assert paused["stack"][0]["function"] == "append_u64"
    shown = plain(execute(session, ":where").text())
    assert "at token.c:" in shown and "│" in shown
    bt = plain(execute(session, ":bt").text())
    assert "#0 append_u64" in bt and "#1 transfer" in bt
    aborted = execute(session, ":abort").to_json()
    assert aborted["ok"] and aborted["step"] == 5


def outcome_facts(data: dict[str, Any]) -> dict[str, Any]:
    """What debugging must not change about a call: results (or the error), fuel, events,
    storage changes."""
    if not data["ok"]:
        return {"error": data["error"]["kind"], "fuel": data["error"].get("fuel_used")}
    return {k: data[k] for k in ("results", "fuel_used", "events", "storage_changes")}


def _trace(session: Session) -> list[dict[str, Any]]:
    data = execute(session, ":trace").to_json()
    return [{k: v for k, v in e.items() if k != "source"} for e in data["host_calls"]]


# Every sample, with calls that return and calls that fail.
CALLS: dict[str, list[str]] = {
    "add.wat": ["add 7 8"],
    "greet.wat": ["greet"],
    "events.wat": ["run", "events_count", "echo_first_event"],
    "counter.wat": ["increment", "add 5", "get"],
    "loop.wat": ["recurse 5", "grow_by 1"],
    "abort.wat": ["fail"],
    "token.wat": ["mint 0 100", "transfer 0 1 30", "balance_of 1", "transfer 0 1 1000"],
    "c/token.wasm": ["mint 0 100", "transfer 0 1 30", "total_supply", "transfer 0 9 1"],
    "rust/token.wasm": ["mint 0 100", "transfer 0 1 30", "transfer 0 1 1000"],
    "assemblyscript/token.wasm": ["mint 0 100", "transfer 0 1 30", "transfer 0 1 1000"],
    "assemblyscript/counter.wasm": ["increment", "get", "decrement", "decrement"],
}


def _export(call: str) -> str:
    return call.split()[0]


def _call(session: Session, call: str, how: str) -> Outcome:
    """``plain``, ``breakpoints`` (paused at the export's first line, then continued) or
    ``stepped`` (paused there, then :next to the end)."""
    if how == "plain":
        return execute(session, f":call {call}")
    assert execute(session, f":break {_export(call)}").ok
    outcome = execute(session, f":call {call}")
    for _ in range(300):
        data = outcome.to_json()
        if not data.get("paused"):
            break
        outcome = execute(session, ":next" if how == "stepped" else ":continue")
    else:
        execute(session, ":unbreak all")
        outcome = execute(session, ":continue")
    execute(session, ":unbreak all")
    return outcome


@pytest.mark.parametrize("sample", list(CALLS))
def test_debugging_changes_nothing_on_any_sample(sample: str) -> None:
    """Plain, under breakpoints, stepped by lines, and re-run for walking back: the same
    results, fuel, events, storage changes and host calls."""
    seen: dict[str, list[Any]] = {}
    for how in ("plain", "breakpoints", "stepped"):
        s = Session()
        try:
            assert execute(s, f':load "{SAMPLES / sample}"').ok
            facts = []
            for call in CALLS[sample]:
                outcome = _call(s, call, how)
                data = outcome.to_json()
                facts.append((call, outcome_facts(data), _trace(s)))
                if how == "plain" and data["ok"]:
                    # Walking the recorded call back re-runs it on its debug build: the re-run
                    # must make the same host calls (else :rnext reports a divergence).
                    back = execute(s, ":rnext").to_json()
                    assert back["ok"] or "ran no source line" in back["error"]["message"] \
                        or "made no host calls" in back["error"]["message"], back
                    execute(s, ":live")
            seen[how] = [facts, s.storage.snapshot(), list(s.runtime.event_log)]
        finally:
            s.close()
    assert seen["breakpoints"] == seen["plain"]
    assert seen["stepped"] == seen["plain"]


def test_host_call_steps_from_a_source_line(session: Session) -> None:
    """From a line, :step goes to the next host call (the one the line is before) and :back to
    the one before it."""
    run = _runner(session)
    run(f':load "{SAMPLES / "c" / "token.wasm"}"')
    run(":call mint 0 100")
    run(":call transfer 0 1 30")
    credit = LANGUAGES["c"].line(LANGUAGES["c"].credit)
    at = _until(run, ":rnext", credit)
    assert at["step"] == 4 and at["host_call"] is None
    forward = run(":step")
    assert forward["step"] == 4 and forward["host_call"]["name"] == "storage_set"
    assert forward["source"]["line"] == LANGUAGES["c"].line(LANGUAGES["c"].write)
    _until(run, ":rnext", credit)
    assert run(":back")["step"] == 3


def test_a_replay_divergence_names_the_line(session: Session, tmp_path: Path) -> None:
    run = _runner(session)
    run(f':load "{SAMPLES / "c" / "token.wasm"}"')
    run(":call mint 0 100")
    run(":call transfer 0 1 30")
    bundle = tmp_path / "transfer.json"
    run(f':export "{bundle}"')
    data = json.loads(bundle.read_text())
    # As if storage had held more for bob when it was recorded: step 2's read now differs.
    data["trace"][2]["result"] = 8
    bundle.write_text(json.dumps(data))
    failed = execute(session, f':replay "{bundle}"').to_json()
    assert failed["error"]["kind"] == "replay_divergence"
    write = LANGUAGES["c"].line("if (storage_get(key, key_len) != 0)")
    assert f"(made at token.c:{write}:" in failed["error"]["message"]


def test_memory_and_events_as_they_were_at_a_line(session: Session) -> None:
    """The C transfer builds its event text in memory piece by piece, a line each."""
    run = _runner(session)
    run(f':load "{SAMPLES / "c" / "token.wasm"}"')
    run(":call mint 0 100")
    run(":call transfer 0 1 30")
    event = run(":trace emit_event")["host_calls"][0]["args"]["data_ptr"]
    c = LANGUAGES["c"]
    _until(run, ":rnext", c.line("p = append_name(p, dst);"))
    assert bytes.fromhex(run(f":mem {event} 16")["hex"]) == b"transfer:alice->"
    assert run(":events")["events"] == []
    _until(run, ":next", c.line("return 1;"))
    assert bytes.fromhex(run(f":mem {event} 22")["hex"]) == b"transfer:alice->bob:30"
    assert [e["text"] for e in run(":events")["events"]] == ["transfer:alice->bob:30"]


def test_a_deep_stack_is_shown_briefly(session: Session) -> None:
    assert execute(session, f':load "{SAMPLES / "loop.wat"}"').ok
    assert not execute(session, ":call recurse 0").ok  # a stack overflow
    assert execute(session, ":rnext").ok
    bt = execute(session, ":bt")
    data = bt.to_json()
    assert data["depth"] > 1000 and len(data["frames"]) <= 100
    assert "more like it" in plain(bt.text()) and len(plain(bt.text()).splitlines()) < 10
