"""Every command, in human and JSON output, and every failure leaving the session unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from supervm_repl.commands import Outcome, execute
from supervm_repl.session import Session

Run = Callable[[str], Outcome]
TextOf = Callable[[Outcome], str]
StateOf = Callable[[Session], dict[str, Any]]


@pytest.fixture
def events_session(session: Session, samples: Path, run: Run) -> Session:
    """events.wat loaded, in block 12345 at 2024-01-01, after one call of ``run``."""
    assert run(f":load {samples / 'events.wat'}").ok
    assert run(":block 12345").ok
    assert run(":ts 1704067200").ok
    assert run(":call run").ok
    return session


def test_load_and_info(run: Run, text: TextOf, samples: Path) -> None:
    out = run(f":load {samples / 'token.wat'}")
    assert out.ok and out.command == ":load"
    assert "4 exports (mint, balance_of, total_supply, transfer)" in text(out)
    data = out.to_json()
    assert data["module"]["name"].endswith("token.wat")
    assert {"name": "mint", "kind": "func", "params": ["i32", "i64"], "results": ["i64"]} in \
        data["module"]["exports"]
    info = run(":info")
    shown = text(info)
    assert "mint(to: i32, amount: i64) -> i64" in shown
    assert "✓ storage_api.storage_get" in shown
    assert "memory  1 page" in shown
    assert info.to_json()["module"]["memory"] == {"min_pages": 1, "max_pages": None,
                                                  "exported": True}
    assert run(":reload").ok


def test_info_marks_imports_superVM_lacks(run: Run, text: TextOf) -> None:
    out = run('(module (import "env" "nope" (func)) (func (export "f")))')
    assert out.ok and "warning: env.nope" in text(out)
    shown = text(run(":info"))
    assert "✗ env.nope" in shown and "SuperVM provides no such import" in shown
    err = run(":call f")
    assert err.to_json()["error"]["kind"] == "missing_import"


def test_inline_module_spanning_lines(run: Run, text: TextOf) -> None:
    out = run('(module\n  (func (export "seven") (result i32)\n    i32.const 7))')
    assert out.ok and out.command == ":load"
    assert "i32 7" in text(run(":call seven"))


def test_call_human_output(events_session: Session, run: Run, text: TextOf) -> None:
    out = run(":call run")
    shown = text(out)
    assert shown.startswith("→ i64 1704079545\n")
    assert "fuel 22" in shown and "time" in shown
    assert '[0] "UserAction"' in shown and '[1] "BlockProcessed"' in shown
    assert '"last_block": 0x3930000000000000 → 0x3930000000000000' not in shown  # unchanged
    assert "storage changes" not in shown  # the second run writes the same value


def test_call_json_schema(session: Session, run: Run, samples: Path) -> None:
    run(f":load {samples / 'events.wat'}")
    run(":block 12345")
    run(":ts 1704067200")
    data = run(":call run").to_json()
    assert data["command"] == ":call" and data["ok"] is True
    assert data["results"] == [{"type": "i64", "value": 1704079545}]
    assert data["fuel_used"] == 22 and data["fuel_limit"] == 10_000_000
    assert data["events"] == [
        {"index": 0, "hex": b"UserAction".hex(), "text": "UserAction"},
        {"index": 1, "hex": b"BlockProcessed".hex(), "text": "BlockProcessed"},
    ]
    assert data["storage_changes"] == [{
        "key": {"hex": b"last_block".hex(), "text": "last_block"},
        "old": None,
        "new": {"hex": (12345).to_bytes(8, "little").hex(),
                "text": (12345).to_bytes(8, "little").decode()},
    }]
    assert data["committed"] is True
    assert data["context"] == {"block_number": 12345, "timestamp": 1704067200}


def test_call_results_of_every_type(run: Run) -> None:
    run('(module (func (export "all") (param i32 i64 f32 f64) (result i32 i64 f32 f64)'
        " local.get 0 local.get 1 local.get 2 local.get 3))")
    data = run(":call all 0xFFFF_FFFF -9_223_372_036_854_775_808 -inf 0x1p-1074").to_json()
    assert data["results"] == [
        {"type": "i32", "value": -1},
        {"type": "i64", "value": -(2**63)},
        {"type": "f32", "value": "-inf", "bits": "0xff800000"},
        {"type": "f64", "value": 5e-324, "bits": "0x0000000000000001"},
    ]
    data = run(":call all 1 2 1.5 nan").to_json()
    assert data["results"][2] == {"type": "f32", "value": 1.5, "bits": "0x3fc00000"}
    assert data["results"][3] == {"type": "f64", "value": "nan", "bits": "0x7ff8000000000000"}


def test_call_binary_event_has_no_text(run: Run) -> None:
    run('(module (import "chain_api" "emit_event" (func $e (param i32 i32) (result i32)))'
        ' (memory (export "memory") 1) (data (i32.const 0) "\\ff\\fe")'
        ' (func (export "f") (drop (call $e (i32.const 0) (i32.const 2)))))')
    data = run(":call f").to_json()
    assert data["events"] == [{"index": 0, "hex": "fffe"}]


def test_dry_run(session: Session, run: Run, text: TextOf, samples: Path) -> None:
    run(f":load {samples / 'counter.wat'}")
    out = run(":call increment --dry-run")
    assert "dry run" in text(out) and out.to_json()["committed"] is False
    assert session.get(b"counter") is None


def test_trap_shows_code_message_backtrace(session: Session, run: Run, text: TextOf, samples: Path,
                                           state: StateOf) -> None:
    run(f":load {samples / 'token.wat'}")
    run(":call mint 0 100")
    before = state(session)
    out = run(":call transfer 0 1 1000")
    assert not out.ok
    shown = text(out)
    assert shown.startswith("error: trap (unreachable)")
    assert "code unreachable" in shown and "backtrace:" in shown and "#0 transfer" in shown
    # The .wat is its own source: the frame names its line, and shows it.
    assert "token.wat:181:" in shown and "(then (unreachable))" in shown
    assert "nothing was committed" in shown
    error = out.to_json()["error"]
    assert error["kind"] == "trap" and error["code"] == "unreachable"
    assert error["backtrace"] and error["fuel_used"] > 0 and error["export"] == "transfer"
    frame = error["frames"][0]
    assert frame["function"] == "transfer" and frame["source"]["file"] == "token.wat"
    assert frame["source"]["line"] == 181
    after = state(session)
    assert after.pop("calls") == before.pop("calls") + 1  # the failed call is in :calls
    assert after == before


def test_stack_overflow_backtrace_is_cut(run: Run, text: TextOf, samples: Path) -> None:
    run(f":load {samples / 'loop.wat'}")
    out = run(":call recurse 0")
    assert "more like it" in text(out)  # thousands of recursive frames, shown once
    assert len(text(out).splitlines()) < 25
    error = out.to_json()["error"]
    assert error["code"] == "stack_overflow" and len(error["backtrace"]) <= 100


def test_abort_and_out_of_fuel(run: Run, samples: Path) -> None:
    run(f":load {samples / 'abort.wat'}")
    error = run(":call fail").to_json()["error"]
    assert error["kind"] == "abort" and error["reason"] == "insufficient balance"
    assert error["file"] == "assembly/index.ts" and error["line"] == 42
    run(f":load {samples / 'loop.wat'}")
    run(":fuel 1000")
    assert run(":call spin").to_json()["error"]["kind"] == "out_of_fuel"


def test_calls_table(events_session: Session, run: Run, text: TextOf) -> None:
    run(":call nope")  # never ran: not a call
    run(":call run --dry-run")
    out = run(":calls")
    shown = text(out)
    assert "#1" in shown and "run()" in shown and "i64 1704079545" in shown
    assert "(dry run)" in shown
    calls = out.to_json()["calls"]
    assert [c["call_id"] for c in calls] == [1, 2]
    assert calls[0]["ok"] and calls[0]["results"] == [{"type": "i64", "value": 1704079545}]


def test_calls_shows_failures(run: Run, text: TextOf, samples: Path) -> None:
    assert "no calls yet" in text(run(":calls"))
    run(f":load {samples / 'token.wat'}")
    run(":call transfer 0 1 5")
    calls = run(":calls").to_json()["calls"]
    assert calls[0]["ok"] is False and calls[0]["error"]["kind"] == "trap"
    assert calls[0]["args"] == [{"type": "i32", "value": 0}, {"type": "i32", "value": 1},
                                {"type": "i64", "value": 5}]


def test_events(events_session: Session, run: Run, text: TextOf) -> None:
    last = run(":events")
    assert '[0] "UserAction"' in text(last)
    assert last.to_json()["events"][1] == {"index": 1, "hex": b"BlockProcessed".hex(),
                                           "text": "BlockProcessed"}
    run(":call run")
    log = run(":events --all")
    rows = log.to_json()["events"]
    assert [(e["call_id"], e["index"], e["text"]) for e in rows] == [
        (1, 0, "UserAction"), (1, 1, "BlockProcessed"),
        (2, 0, "UserAction"), (2, 1, "BlockProcessed")]
    assert all(e["export"] == "run" for e in rows)
    assert "#2    run" in text(log)


def test_events_after_a_failed_call(run: Run, text: TextOf, samples: Path) -> None:
    assert "no call yet" in text(run(":events"))
    assert "empty" in text(run(":events --all"))
    run(f":load {samples / 'loop.wat'}")
    run(":call bad_pointer")
    out = run(":events")
    assert "discarded" in text(out) and out.to_json()["committed"] is False


def test_mem(events_session: Session, run: Run, text: TextOf) -> None:
    out = run(":mem 0x10 16")
    assert text(out) == "00000010  55 73 65 72 41 63 74 69 6f 6e 00 00 00 00 00 00  " \
        "|UserAction......|\n"
    assert out.to_json()["hex"] == b"UserAction".hex() + "00" * 6
    assert len(run(":mem 0").to_json()["hex"]) == 512
    end = run(":mem 0xfff8 64")
    assert end.to_json()["length"] == 8 and "memory ends" in text(end)
    assert run(":mem 0x20000").to_json()["error"]["kind"] == "usage"


def test_mem_without_memory(run: Run, samples: Path) -> None:
    assert run(":mem 0").to_json()["error"]["kind"] == "usage"
    run(f":load {samples / 'add.wat'}")
    run(":call add 1 2")
    assert "no memory" in run(":mem 0").to_json()["error"]["message"]


def test_context_commands(session: Session, run: Run, text: TextOf) -> None:
    assert run(":block").to_json() == {"command": ":block", "ok": True, "block_number": 0}
    assert text(run(":block 0x10")) == "block 16\n"
    assert run(":block 5").to_json()["block_number"] == 5
    out = run(":timestamp 1_704_067_200")
    assert text(out) == "timestamp 1704067200 (2024-01-01T00:00:00Z)\n"
    assert run(":ts").to_json() == {"command": ":timestamp", "ok": True,
                                    "timestamp": 1704067200}
    assert run(":ctx").to_json() == {"command": ":ctx", "ok": True, "block_number": 5,
                                     "timestamp": 1704067200}
    assert run(":ts -5").ok and "Z)" not in text(run(":ts"))


def test_fuel_and_limits(run: Run, text: TextOf) -> None:
    assert run(":fuel").to_json()["fuel"] == 10_000_000
    assert text(run(":fuel 1_000")) == "fuel 1,000\n"
    limits = run(":limits")
    assert limits.to_json()["limits"]["fuel"] == 1000
    assert "max_memory_pages" in text(limits)


def test_storage_commands(session: Session, run: Run, text: TextOf) -> None:
    assert "storage is empty" in text(run(":storage"))
    assert run(':set "bal:alice" i64:100').to_json()["new"] == {
        "hex": "6400000000000000", "text": "d\x00\x00\x00\x00\x00\x00\x00"}
    run(':set "bal:bob" "ten"')
    run(":set 0x00ff 0xdeadbeef")
    out = run(":storage")
    shown = text(out)
    assert '"bal:bob"    "ten"' in shown and "0x00ff       0xdeadbeef" in shown
    assert "(3 keys)" in shown
    data = out.to_json()
    assert data["count"] == 3 and not data["truncated"]
    assert data["entries"][0] == {"key": {"hex": "00ff"}, "value": {"hex": "deadbeef"}}
    prefixed = run(':storage "bal:" --limit 1')
    assert prefixed.to_json()["count"] == 1 and prefixed.to_json()["truncated"]
    assert "more not shown" in text(prefixed)
    assert "no keys start with" in text(run(':storage "zzz"'))
    got = run(':get "bal:bob"')
    assert got.to_json()["value"] == {"hex": "74656e", "text": "ten"}
    assert '"bal:bob" = "ten"' in text(got) and "0x74656e" in text(got)
    assert "absent" in text(run(':get "nope"'))
    assert run(':get "nope"').to_json()["value"] is None
    deleted = run(':del "bal:bob"')
    assert deleted.to_json()["old"] == {"hex": "74656e", "text": "ten"}
    assert "was absent" in text(run(':delete "bal:bob"'))
    assert session.get(b"bal:bob") is None


def test_storage_long_values_are_cut_in_tables_not_in_json(run: Run, text: TextOf) -> None:
    run(f':set "k" "{"x" * 200}"')
    out = run(":storage")
    assert "…" in text(out)
    assert out.to_json()["entries"][0]["value"]["text"] == "x" * 200


def test_snapshot_commands(session: Session, run: Run, text: TextOf) -> None:
    assert "no snapshots" in text(run(":snapshots"))
    run(':set "a" "1"')
    first = run(":snapshot")
    assert first.to_json()["name"] == "snap1" and "saved snapshot snap1: 1 key," in text(first)
    run(':set "a" "2"')
    run(":block 9")
    assert run(":snapshot mine").to_json()["name"] == "mine"
    listed = run(":snapshots").to_json()["snapshots"]
    assert [s["name"] for s in listed] == ["snap1", "mine"]
    assert listed[1]["block_number"] == 9
    assert "restored snap1" in text(run(":restore snap1"))
    assert session.get(b"a") == b"1" and session.context.block_number == 0
    assert run(":reset").ok
    assert session.scan() == [] and session.context.block_number == 0
    assert sorted(session.snapshots) == ["mine", "snap1"]
    run(":restore mine")
    assert session.get(b"a") == b"2" and session.context.block_number == 9


def test_help(run: Run, text: TextOf) -> None:
    out = run(":help")
    shown = text(out)
    for name in (":load", ":call", ":storage", ":snapshot", ":quit", ":events", ":mem"):
        assert name in shown
    names = [c["name"] for c in out.to_json()["commands"]]
    assert ":call" in names and ":ts" not in names
    one = run(":help call")
    assert "example: :call add 7 0xff" in text(one) and "--dry-run" in text(one)
    assert run(":help :ts").to_json()["name"] == ":timestamp"
    assert run(":? set").ok
    assert run(":help nope").to_json()["error"]["kind"] == "usage"


def test_host(run: Run, text: TextOf) -> None:
    shown = text(run(":host"))
    assert "storage_api.storage_get" in shown and "env.abort" in shown
    one = run(":host emit_event")
    assert one.to_json()["host_functions"][0]["name"] == "emit_event"
    assert '(import "chain_api" "emit_event"' in text(one)
    assert "did you mean storage_get" in run(":host storage_gte").to_json()["error"]["message"]


def test_quit(run: Run) -> None:
    assert run(":quit").quit and run(":q").quit and run(":exit").quit
    assert run(":quit").to_json() == {"command": ":quit", "ok": True}


def test_unknown_command_suggests(run: Run) -> None:
    error = run(":cal 1").to_json()
    assert error["command"] == ":cal" and error["ok"] is False
    assert error["error"] == {"kind": "usage", "message":
                              "unknown command :cal; did you mean :call or :calls?"}
    assert "did you mean :storage" in run(":storag").to_json()["error"]["message"]
    assert run("call add 1 2").to_json()["error"]["message"].endswith("; type :call add 1 2")


FAILING = [
    (":cal", "usage"),
    (":help nope", "usage"),
    ("load add.wat", "usage"),
    (":load /nonexistent/x.wat", "io"),
    (":load", "usage"),
    (":load a b", "usage"),
    (":call mint 1", "bad_arguments"),
    (":call mint 1 2 3", "bad_arguments"),
    (":call mint 1 x", "usage"),
    (":call mint 1.5 1", "bad_arguments"),
    (":call mint 0x1_0000_0000 1", "bad_arguments"),
    (":call mint 0 -0x8000_0000_0000_0001", "bad_arguments"),
    (":call nope", "no_such_export"),
    (":call mint 1 2 --fast", "usage"),
    (":call transfer 0 1 99999", "trap"),
    (":call transfer 7 1 0", "trap"),
    (":block x", "usage"),
    (":block 99999999999999999999", "bad_arguments"),
    (":ts 1.5", "bad_arguments"),
    (":fuel 0", "bad_arguments"),
    (":fuel 0x1_0000_0000_0000_0000", "bad_arguments"),
    (":fuel -5", "bad_arguments"),
    (":get counter", "usage"),
    (':get "open', "usage"),
    (":set 0x1 0x00", "usage"),
    (':set "k"', "usage"),
    (':set "k" 5x', "usage"),
    (":storage --limit", "usage"),
    (":storage --limit x", "usage"),
    (":restore nope", "usage"),
    (":snapshot bad/name", "usage"),
    (":mem -1", "usage"),
    (":events --every", "usage"),
    ("(module (func", "wat_syntax"),
    ("(module (func (export \"x\") (result i32)))", "invalid_module"),
    ("\x00\x01\x02\xff garbage", "usage"),
    (":" + "x" * 10_000_000, "usage"),
    (":call mint 0 " + "1" * 10_000_000, "usage"),
    (":call " + "1" * 10_000_000, "no_such_export"),
    (':set "k" "' + "v" * 2_000_000 + '"', "usage"),
    # Hostile inputs found by the fuzz campaigns.
    (":load /dev/zero", "io"),
    (":load /dev/urandom", "io"),
    (":load /", "io"),
    (':load "a\\00b"', "io"),
    (":replay /dev/zero", "io"),
    (':replay "\\00"', "io"),
    (':export "\\00"', "io"),
    (":export /dev/null", "io"),
    (":break storage_set if key_len == 0x", "usage"),
    (':break storage_set if key == "\\x41"', "usage"),
    (':break storage_set if key == "\\N{LATIN CAPITAL LETTER A}"', "usage"),
    (":goto 9.1", "usage"),
    (":goto 1.inf0", "usage"),
    (":goto 9.9/etc/passwd0xff9", "usage"),
    (":fuel 18446744073709551621", "bad_arguments"),
]


@pytest.mark.parametrize(("line", "kind"), FAILING, ids=lambda v: repr(v)[:40])
def test_failures_are_one_line_and_change_nothing(session: Session, samples: Path, line: str,
                                                  kind: str, state: StateOf, text: TextOf) -> None:
    execute(session, f":load {samples / 'token.wat'}")
    execute(session, ":call mint 0 50")
    execute(session, ':set "note" "x"')
    execute(session, ":snapshot base")
    before = state(session)
    out = execute(session, line)
    assert not out.ok
    data = out.to_json()
    json.dumps(data)
    assert data["ok"] is False and data["error"]["kind"] == kind, data["error"]
    assert len(data["command"]) <= 41
    message = data["error"]["message"]
    assert "\n" not in message and len(message) < 400
    assert "Traceback" not in text(out)
    after = state(session)
    if kind == "trap":
        assert after.pop("calls") == before.pop("calls") + 1
    assert after == before


def test_internal_errors_are_contained(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(session, "snapshot", broken)
    out = execute(session, ":snapshot")
    assert out.to_json()["error"]["kind"] == "internal"
    assert "boom" in out.to_json()["error"]["message"]
    assert out.traceback is not None and "ZeroDivisionError" in out.traceback


def test_blank_and_comment_lines(session: Session) -> None:
    from supervm_repl.commands import is_comment

    assert is_comment("") and is_comment("   ") and is_comment("# a comment")
    assert not is_comment(":ctx")
    assert execute(session, "   ").to_json()["error"]["kind"] == "usage"


def test_every_limit_is_shown_and_can_be_set(run: Run, text: TextOf, samples: Path) -> None:
    from runtime import Limits

    shown = run(":limits").to_json()["limits"]
    assert shown == Limits().to_dict()
    assert all(name in text(run(":limits")) for name in shown)
    assert run(":limits max_events 1").to_json()["limits"] == {"max_events": 1}
    assert run(":limits max_events").to_json()["limits"] == {"max_events": 1}
    run(f":load {samples / 'events.wat'}")
    error = run(":call run").to_json()["error"]
    assert error["kind"] == "limit" and error["limit"] == "max_events"
    assert run(":limits fuel 1_000").ok and run(":fuel").to_json()["fuel"] == 1000


@pytest.mark.parametrize(("line", "says"), [
    (":limits nope 5", "unknown limit 'nope'"),
    (":limits fuel 0", "fuel must be between 1"),
    (":limits max_wasm_stack 5", "between 65536 and 2097152"),
    (":limits max_events -1", "non-negative"),
    (":limits max_memory_pages 70000", "at most 65536"),
    (":limits max_events x", "not an integer"),
])
def test_limits_are_checked_as_limits_checks_them(run: Run, line: str, says: str) -> None:
    before = run(":limits").to_json()["limits"]
    error = run(line).to_json()["error"]
    assert error["kind"] in ("usage", "bad_arguments") and says in error["message"]
    assert run(":limits").to_json()["limits"] == before
