"""Scripts and CI: -c, --script, stdin; exit statuses; --keep-going; --json (JSON Lines)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from supervm_repl import __version__
from supervm_repl.batch import Batch, statements
from supervm_repl.cli import main
from supervm_repl.session import Session


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stdin is not a terminal (and empty) unless a test feeds it."""
    feed(monkeypatch, "")


def feed(monkeypatch: pytest.MonkeyPatch, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


def json_lines(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.splitlines()]


def test_statements_skip_comments_and_join_inline_modules() -> None:
    lines = ["# setup\n", "\n", ":ctx\n", "(module\n", "  # not a comment inside WAT\n",
             '  (func (export "f")))\n', "  # indented comment\n", ":call f\n", "(module"]
    assert list(statements(lines)) == [
        ":ctx",
        '(module\n  # not a comment inside WAT\n  (func (export "f")))',
        ":call f",
        "(module",
    ]


def test_all_commands_succeed_exit_0(capsys: pytest.CaptureFixture[str], samples: Path) -> None:
    status = main([str(samples / "events.wat"), "--block", "12345", "--timestamp",
                   "1704067200", "-c", ":call run", "-c", ":events"])
    out, err = capsys.readouterr()
    assert status == 0 and err == ""
    assert out.splitlines()[0].startswith("loaded ")
    assert "→ i64 1704079545" in out and '[1] "BlockProcessed"' in out
    assert "\x1b[" not in out  # no colour in batch mode


def test_first_failure_stops_with_exit_1(capsys: pytest.CaptureFixture[str],
                                         samples: Path) -> None:
    status = main([str(samples / "counter.wat"), "-c", ":call increment", "-c", ":cal",
                   "-c", ":call increment"])
    out, err = capsys.readouterr()
    assert status == 1
    assert out.count("→ i64") == 1  # the third command never ran
    assert err == "error: unknown command :cal; did you mean :call or :calls?\n"


def test_keep_going_runs_everything_and_still_exits_1(capsys: pytest.CaptureFixture[str],
                                                      samples: Path) -> None:
    status = main([str(samples / "counter.wat"), "--keep-going", "-c", ":call increment",
                   "-c", ":call nope", "-c", ":call increment"])
    out, err = capsys.readouterr()
    assert status == 1
    assert "→ i64 1" in out and "→ i64 2" in out
    assert err.startswith("error: no exported function 'nope'")


def test_a_failing_start_file_stops_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["/nonexistent.wat", "-c", ":ctx"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: cannot read /nonexistent.wat")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for argv in (["--block", "abc"], ["--fuel", "0"], ["--nope"], ["a.wat", "b.wat"],
                 ["--script", str(tmp_path / "missing.svm")]):
        with pytest.raises(SystemExit) as exit_info:
            status = main(argv)
            raise SystemExit(status)
        assert exit_info.value.code == 2, argv
    err = capsys.readouterr().err
    assert "argument --block: 'abc' is not an integer" in err
    assert "cannot read script" in err and "Traceback" not in err


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"supervm-repl {__version__}\n"
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--db PATH", "--block N", "--timestamp T", "--fuel N", "--json", "-c CMD",
                 "--script FILE", "--keep-going", "--version", "exit status"):
        assert flag in out


def test_stdin_script(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                      samples: Path) -> None:
    feed(monkeypatch, f"""# a script on stdin
:load {samples / 'counter.wat'}
:call increment

   # indented comment
(module
  (func (export "two") (result i32) i32.const 2))
:call two
""")
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "→ i64 1" in out and "loaded <inline>" in out and "→ i32 2" in out


def test_script_file_after_c_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      samples: Path) -> None:
    script = tmp_path / "s.svm"
    script.write_text(":block\n:ts\n")
    assert main(["--script", str(script), "-c", ":block 3", "--json"]) == 0
    lines = json_lines(capsys.readouterr().out)
    assert lines == [
        {"command": ":block", "ok": True, "block_number": 3},
        {"command": ":block", "ok": True, "block_number": 3},
        {"command": ":timestamp", "ok": True, "timestamp": 0},
    ]


def test_quit_ends_a_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", ":block 1", "-c", ":quit", "-c", ":block 2"]) == 0
    assert capsys.readouterr().out == "block 1\n"


def test_json_call_schema(capsys: pytest.CaptureFixture[str], samples: Path) -> None:
    status = main(["--json", str(samples / "events.wat"), "--block", "12345", "--timestamp",
                   "1704067200", "-c", ":call run", "-c", ":call nope"])
    assert status == 1
    load, call, failed = json_lines(capsys.readouterr().out)
    assert load["command"] == ":load" and load["ok"] is True
    assert call["command"] == ":call" and call["ok"] is True
    assert call["results"] == [{"type": "i64", "value": 1704079545}]
    assert call["fuel_used"] == 22
    assert call["events"] == [
        {"index": 0, "hex": "55736572416374696f6e", "text": "UserAction"},
        {"index": 1, "hex": "426c6f636b50726f636573736564", "text": "BlockProcessed"},
    ]
    assert call["storage_changes"] == [
        {"key": {"hex": "6c6173745f626c6f636b", "text": "last_block"}, "old": None,
         "new": {"hex": "3930000000000000", "text": "90\x00\x00\x00\x00\x00\x00"}}]
    assert failed["ok"] is False and failed["command"] == ":call"
    assert failed["error"]["kind"] == "no_such_export" and failed["error"]["message"]


def test_json_float_results_carry_bits(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--json", "-c",
                   '(module (func (export "f") (param f32 f64) (result f32 f64)'
                   " local.get 0 local.get 1))", "-c", ":call f nan 0.1"])
    assert status == 0
    call = json_lines(capsys.readouterr().out)[1]
    assert call["results"] == [
        {"type": "f32", "value": "nan", "bits": "0x7fc00000"},
        {"type": "f64", "value": 0.1, "bits": "0x3fb999999999999a"},
    ]


def test_json_trap_error(capsys: pytest.CaptureFixture[str], samples: Path) -> None:
    assert main(["--json", str(samples / "loop.wat"), "-c", ":call bad_pointer"]) == 1
    error = json_lines(capsys.readouterr().out)[1]["error"]
    assert error["kind"] == "trap" and error["code"] == "host"
    assert "storage_set" in error["message"] and error["backtrace"] == ["bad_pointer @ 0xb8"]


EVERY_COMMAND = """\
:help
:help call
:host
:host storage_get
:load {samples}/events.wat
:reload
:info
:block 12345
:timestamp 1704067200
:ts
:ctx
:fuel 1_000_000
:fuel
:limits
:call run
:call run --dry-run
:calls
:events
:events --all
:mem 0x10 16
:set "k" "v"
:get "k"
:storage
:storage "k" --limit 1
:del "k"
:snapshot
:snapshot named
:snapshots
:restore snap1
:reset
:quit
"""


@pytest.mark.parametrize("json_mode", [False, True])
def test_every_command_in_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                samples: Path, json_mode: bool) -> None:
    script = tmp_path / "all.svm"
    script.write_text(EVERY_COMMAND.format(samples=samples))
    argv = ["--script", str(script)] + (["--json"] if json_mode else [])
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    if json_mode:
        lines = json_lines(out)
        assert len(lines) == len(EVERY_COMMAND.splitlines())
        assert all(line["ok"] is True for line in lines)
        assert [line["command"] for line in lines][:4] == [":help", ":help", ":host", ":host"]
        assert lines[9] == {"command": ":timestamp", "ok": True, "timestamp": 1704067200}
    else:
        for expected in ("Modules", "example: :call add 7 0xff", "loaded ", "exports",
                         "block 12345", "fuel 1,000,000", "→ i64 1704079545", "dry run",
                         "|UserAction......|", '"k" = "v"', "saved snapshot snap1",
                         "restored snap1", "storage, context and event log reset"):
            assert expected in out, expected


def test_binary_junk_and_huge_lines_on_stdin(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    junk = b"\x00\xff\xfe\x80garbage\n:" + b"y" * 10_000_000 + b"\n:block 4\n"
    feed(monkeypatch, junk)
    assert main(["--keep-going"]) == 1
    out, err = capsys.readouterr()
    assert out == "block 4\n"
    errors = err.splitlines()
    assert len(errors) == 2 and all(e.startswith("error: ") for e in errors)
    assert all(len(e) < 200 for e in errors)


def test_debug_shows_tracebacks_of_internal_errors(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def broken(self: Session, name: str | None = None) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(Session, "snapshot", broken)
    assert main(["-c", ":snapshot"]) == 1
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: boom" in err and "Traceback" not in err
    assert main(["--debug", "-c", ":snapshot"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_batch_object_runs_lines(session: Session) -> None:
    out, err = io.StringIO(), io.StringIO()
    batch = Batch(session, out=out, err=err, keep_going=True)
    assert batch.run([":block 1", ":nope", ":block"]) == 1
    assert out.getvalue() == "block 1\nblock 1\n"
    assert "unknown command :nope" in err.getvalue()


class _Terminal(io.StringIO):
    """stdout and stderr as one stream (``2>&1``): what each write put there, in order."""

    def __init__(self, log: list[str], name: str) -> None:
        super().__init__()
        self.log, self.name = log, name

    def write(self, text: str) -> int:
        self.log.append(f"{self.name}:{text}")
        return super().write(text)


def test_buffered_output_keeps_its_order_around_errors(session: Session) -> None:
    log: list[str] = []
    out, err = _Terminal(log, "out"), _Terminal(log, "err")
    batch = Batch(session, out=out, err=err, keep_going=True, buffered=True)
    assert batch.run([":block 1", ":block 2", ":nope", ":block 3"]) == 1
    # The two results before the error come out (together) before it; the last one at the end.
    assert log[0] == "out:block 1\nblock 2\n"
    assert log[1].startswith("err:error: unknown command :nope")
    assert log[2:] == ["out:block 3\n"]


def test_buffered_output_is_written_when_the_run_ends(session: Session) -> None:
    out = io.StringIO()
    batch = Batch(session, out=out, buffered=True)
    batch.run_one(":block 5")
    assert out.getvalue() == ""  # held back (the interval has not passed)
    assert batch.run([":block"]) == 0
    assert out.getvalue() == "block 5\nblock 5\n"


def test_the_largest_allowed_output_renders_in_bounded_memory(tmp_path: Path) -> None:
    """511 events of 64 KiB (just under max_call_bytes) as one JSON line and as text."""
    import tracemalloc

    from tests.runtime.test_runtime import BIG_WRITES

    for json_mode in (True, False):
        session = Session()
        out_path = tmp_path / f"out-{json_mode}"
        with out_path.open("w") as out, (tmp_path / "err").open("w") as err:
            batch = Batch(session, json_mode=json_mode, out=out, err=err)
            assert batch.run_one(BIG_WRITES).ok
            tracemalloc.start()
            try:
                assert batch.run_one(":call events 511").ok
                batch.flush()
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        session.close()
        assert peak < 200 * 1024 * 1024, peak
        if json_mode:
            lines = out_path.read_text().splitlines()
            call = json.loads(lines[-1])
            assert call["command"] == ":call" and len(call["events"]) == 511
            assert len(call["events"][0]["hex"]) == 2 * 65536


def test_a_call_over_the_byte_limit_changes_nothing(tmp_path: Path) -> None:
    from tests.runtime.test_runtime import BIG_WRITES

    session = Session()
    out, err = io.StringIO(), io.StringIO()
    batch = Batch(session, json_mode=True, keep_going=True, out=out, err=err)
    for line in (BIG_WRITES, ':set "k" "v"', ":call events 2", ":call --dry-run same_key 6000",
                 ":call distinct_keys 2000", ":call events 1024"):
        batch.run_one(line)
    batch.flush()
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["ok"] for r in replies] == [True, True, True, False, False, False]
    assert {r["error"]["limit"] for r in replies[3:]} == {"max_call_bytes"}
    assert session.storage.snapshot() == {b"k": b"v"} and len(session.runtime.event_log) == 2
    session.close()


def test_endless_input_is_read_in_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import supervm_repl.batch as batch_module

    monkeypatch.setattr(batch_module, "MAX_LINE", 1000)

    class Endless(io.RawIOBase):
        def readinto(self, buffer: bytearray) -> int:  # /dev/zero
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

        def readable(self) -> bool:
            return True

    lines = batch_module.read_lines(io.BufferedReader(Endless()))
    assert isinstance(next(lines), batch_module.Oversized)
    session = Session()
    out, err = io.StringIO(), io.StringIO()
    status = Batch(session, out=out, err=err).run(batch_module.read_lines(
        io.BufferedReader(Endless())))
    assert status == 1 and "input line longer than 1,000 bytes skipped" in err.getvalue()
    session.close()
