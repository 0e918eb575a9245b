"""The shell as a program: a real pseudo-terminal (pexpect), pipes, and restarts with --db."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests.support import SAMPLES

# A fresh prompt: prompt_toolkit turns bracketed paste on (ESC [?2004h) when a prompt starts,
# which tells it apart from the redraws of the same prompt while typing.
PROMPT = r"\x1b\[\?2004h[^\n]*?\[block \d+\]> "


def spawn(command: list[str], env: dict[str, str], *args: str) -> pexpect.spawn:
    child = pexpect.spawn(command[0], [*command[1:], *args], env=env, encoding="utf-8",
                          timeout=15, dimensions=(40, 120))
    child.expect(PROMPT)
    return child


def finish(child: pexpect.spawn) -> int:
    """Ctrl-D at the next prompt, and the exit status."""
    # Before the prompt is drawn the terminal is not in raw mode, and the terminal driver
    # itself would swallow the Ctrl-D.
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def run(command: list[str], env: dict[str, str], *args: str,
        stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*command, *args], input=stdin, env=env, capture_output=True,
                          timeout=60, check=False)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_interactive_session_in_a_terminal(shell_command: list[str], env: dict[str, str],
                                           samples: Path, tmp_path: Path) -> None:
    child = spawn(shell_command, env, str(samples / "greet.wat"))
    assert "loaded" in child.before and "greet.wat" in child.before
    child.sendline(":call greet")
    child.expect("i32 42")
    child.expect('"Hello, World!"')
    child.expect(PROMPT)
    # Tab completes the export name (the screen shows only what changed: "eet").
    child.send(":call gr")
    child.send("\t")
    child.expect("eet")
    time.sleep(0.2)
    child.send("\r")
    assert child.expect(["i32 42", "no exported function"]) == 0
    assert finish(child) == 0
    # History went to the state directory, not the real home.
    history = tmp_path / "state" / "supervm" / "history"
    assert ":call greet" in history.read_text()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_stops_a_running_call(shell_command: list[str], env: dict[str, str],
                                     samples: Path) -> None:
    child = spawn(shell_command, env, str(samples / "loop.wat"), "--fuel", "1" + "0" * 18)
    child.sendline(':set "k" "v"')
    child.expect(PROMPT)
    child.sendline(":call spin")
    time.sleep(0.5)  # the call is spinning now
    started = time.monotonic()
    child.sendintr()
    child.expect("call interrupted")
    child.expect(PROMPT)
    assert time.monotonic() - started < 1.0
    child.sendline(":storage")
    child.expect(r"\(1 key\)")
    assert '"k"  "v"' in child.before
    child.sendline(":calls")
    child.expect(r"spin\(\)\s+call interrupted")
    assert finish(child) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_at_the_prompt_clears_the_line(shell_command: list[str],
                                              env: dict[str, str]) -> None:
    child = spawn(shell_command, env)
    child.send(":block 42")
    child.sendintr()
    child.expect(PROMPT)
    child.sendline(":block")
    child.expect("block 0\r\n")
    assert finish(child) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_colour_only_without_no_color(shell_command: list[str], env: dict[str, str]) -> None:
    plain = spawn(shell_command, env)
    plain.sendline(":ctx")
    plain.expect(r"timestamp 0")
    assert plain.before.endswith("block 0\r\n")  # no escape codes in the output
    finish(plain)
    env = {k: v for k, v in env.items() if k != "NO_COLOR"}
    coloured = spawn(shell_command, env)
    coloured.sendline(":ctx")
    coloured.expect(r"timestamp")
    assert "\x1b[" in coloured.before.rsplit("block", 1)[1]
    finish(coloured)


def test_piped_script_exit_statuses(shell_command: list[str], env: dict[str, str],
                                    samples: Path) -> None:
    ok = run(shell_command, env, str(samples / "add.wat"), stdin=b":call add 7 8\n")
    assert ok.returncode == 0 and b"i32 15" in ok.stdout and ok.stderr == b""
    failed = run(shell_command, env, str(samples / "add.wat"),
                 stdin=b":call add 1\n:call add 7 8\n")
    assert failed.returncode == 1 and b"i32 15" not in failed.stdout
    assert failed.stderr.startswith(b"error: add takes 2 arguments")
    assert b"Traceback" not in failed.stderr
    usage = run(shell_command, env, "--fuel", "lots")
    assert usage.returncode == 2 and b"usage: supervm-repl" in usage.stderr
    version = run(shell_command, env, "--version")
    assert version.returncode == 0 and version.stdout.startswith(b"supervm-repl ")


def test_restart_with_db_keeps_storage_context_and_snapshots(
        shell_command: list[str], env: dict[str, str], samples: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    first = run(shell_command, env, "--db", db, str(samples / "counter.wat"),
                "--block", "77", "--timestamp", "88",
                "-c", ":call increment", "-c", ":call add 41", "-c", ":snapshot before",
                "-c", ":call increment", "-c", ':set "note" "kept"')
    assert first.returncode == 0, first.stderr
    second = run(shell_command, env, "--db", db, "--json",
                 "-c", ":ctx", "-c", ':get "counter"', "-c", ':get "note"',
                 "-c", ":snapshots", "-c", ":events --all", "-c", ":restore before",
                 "-c", ':get "counter"')
    assert second.returncode == 0, second.stderr
    ctx, counter, note, snaps, log, restored, counter_after = (
        json.loads(line) for line in second.stdout.splitlines())
    assert (ctx["block_number"], ctx["timestamp"]) == (77, 88)
    assert counter["value"]["hex"] == (43).to_bytes(8, "little").hex()
    assert note["value"]["text"] == "kept"
    assert [s["name"] for s in snaps["snapshots"]] == ["before"]
    assert [(e["call_id"], e["export"], e["text"]) for e in log["events"]] == [
        (1, "increment", "counter=1"), (2, "add", "counter=42"), (3, "increment", "counter=43")]
    assert restored["ok"] and counter_after["value"]["hex"] == (42).to_bytes(8, "little").hex()


def test_corrupt_db_is_refused_and_left_alone(shell_command: list[str], env: dict[str, str],
                                              tmp_path: Path) -> None:
    for name, content in (("corrupt.db", b"SQLite format 3\x00" + b"\x07" * 4000),
                          ("notes.txt", b"not a database at all\n")):
        path = tmp_path / name
        path.write_bytes(content)
        result = run(shell_command, env, "--db", str(path), "-c", ":ctx")
        assert result.returncode == 1
        assert result.stderr.startswith(b"supervm-repl: error: cannot open storage")
        assert len(result.stderr.splitlines()) == 1 and result.stdout == b""
        assert path.read_bytes() == content


def test_console_script(env: dict[str, str], samples: Path) -> None:
    script = shutil.which("supervm-repl")
    if script is None:
        pytest.skip("the supervm-repl console script is not installed")
    result = run([script], env, str(samples / "add.wat"), "-c", ":call add 7 8")
    assert result.returncode == 0 and b"i32 15" in result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_breakpoint_pause_continue_and_ctrl_c_abort(shell_command: list[str],
                                                    env: dict[str, str], samples: Path) -> None:
    child = spawn(shell_command, env, str(samples / "token.wat"))
    child.sendline(":call mint 0 100")
    child.expect(PROMPT)
    child.sendline(':break storage_set if key == "bal:bob"')
    child.expect(PROMPT)
    child.sendline(":call transfer 0 1 30")
    child.expect(r"paused call #2 transfer\(0, 1, 30\)\s+before step 4")
    child.expect(r"paused #2 step 4[^\n]*\[block 0\]> ")
    child.sendline(":continue")
    child.expect("i32 1")
    child.expect(PROMPT)
    assert "paused" not in child.after
    # Paused again; Ctrl-C aborts the call and commits nothing.
    child.sendline(":call transfer 0 1 5")
    child.expect(r"paused #3 step 5[^\n]*\[block 0\]> ")
    child.sendintr()
    child.expect(r"call #3 \(transfer\) aborted at step 5; nothing was committed")
    child.expect(PROMPT)
    child.sendline(':get "bal:bob"')
    child.expect(r'"bal:bob" = 0x1e00000000000000')
    assert finish(child) == 0


def test_a_line_breakpoint_session_in_a_terminal(shell_command: list[str],
                                                 env: dict[str, str], samples: Path) -> None:
    child = spawn(shell_command, env, str(samples / "c" / "token.wasm"))
    child.sendline(":call mint 0 100")
    child.expect(PROMPT)
    child.sendline(":break token.c:144")
    child.expect(PROMPT)
    child.sendline(":call transfer 0 1 30")
    child.expect(r"paused call #2 transfer\(0, 1, 30\) at token.c:144:\d+, at breakpoint #1")
    child.expect(r"144 │ set_balance\(src, from_balance")
    child.expect(r"paused #2 token.c:144[^\n]*\[block 0\]> ")
    child.sendline(":next")
    child.expect(r"145 │ set_balance\(dst, to_balance")
    child.expect(r"paused #2 token.c:145[^\n]*\[block 0\]> ")
    child.sendline(":list")
    child.expect(r"▶ 145     set_balance\(dst")
    child.expect(PROMPT)
    child.sendline(":continue")
    child.expect("i32 1")
    child.expect(PROMPT)
    # Back through the finished call by lines; the prompt says where.
    child.sendline(":rnext")
    child.expect(r"at token.c:153:\d+")
    child.expect(r" #2 token.c:153[^\n]*\[block 0\]> ")
    child.sendline(":bt")
    child.expect(r"#0 transfer  token.c:153:\d+")
    assert finish(child) == 0


@pytest.mark.parametrize(("args", "status", "message"), [
    (["--replay", "/dev/zero"], 1, "cannot read /dev/zero: it is a character device"),
    (["--replay", "/dev/urandom", "--json"], 1, None),
    (["--script", "/dev/zero"], 2, "cannot read script /dev/zero: it is a character device"),
    ([str(SAMPLES / "add.wat"), "-c", ":load /dev/zero"], 1, "cannot read /dev/zero"),
])
def test_special_files_on_the_command_line(shell_command: list[str], env: dict[str, str],
                                           args: list[str], status: int,
                                           message: str | None) -> None:
    result = run(shell_command, env, *args)
    assert result.returncode == status
    err = result.stderr.decode()
    assert "Traceback" not in err
    if message is None:
        error = json.loads(result.stdout)["error"]
        assert error["kind"] == "io" and "character device" in error["message"]
    else:
        assert message in err and err.count("\n") == 1


def test_dev_zero_as_stdin_ends_with_one_error(shell_command: list[str],
                                              env: dict[str, str]) -> None:
    with open("/dev/zero", "rb") as zeros:
        result = subprocess.run(shell_command, stdin=zeros, env=env, capture_output=True,
                                timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "error: input line longer than 67,108,864 bytes skipped\n")


def _exported_trap(shell_command: list[str], env: dict[str, str], tmp_path: Path) -> dict:
    """A replay bundle of a trapping transfer, as :export writes it."""
    bundle = tmp_path / "trap.json"
    result = run(shell_command, env, str(SAMPLES / "token.wat"), "--keep-going",
                 "-c", ":call transfer 0 1 5", "-c", f":export {bundle}")
    assert bundle.exists(), result.stderr.decode()
    return json.loads(bundle.read_text())


def test_replay_divergences_stay_on_one_line(shell_command: list[str], env: dict[str, str],
                                             tmp_path: Path) -> None:
    doc = _exported_trap(shell_command, env, tmp_path)
    frames = doc["outcome"]["error"]["backtrace"]
    frames[0] = frames[0].replace("transfer", "trans\rfer\n")
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    result = run(shell_command, env, "--replay", str(tmp_path / "edited.json"))
    err = result.stderr.decode()
    assert result.returncode == 1 and err.count("\n") == 1, err
    assert "diverged at step" in err and "trans\\rfer\\n" in err


def test_a_replayed_module_over_a_limit_is_one_line(shell_command: list[str],
                                                    env: dict[str, str],
                                                    tmp_path: Path) -> None:
    doc = _exported_trap(shell_command, env, tmp_path)
    doc["limits"]["max_module_size"] = 0
    (tmp_path / "limited.json").write_text(json.dumps(doc))
    result = run(shell_command, env, "--replay", str(tmp_path / "limited.json"))
    err = result.stderr.decode()
    assert result.returncode == 1 and err.count("\n") == 1, err
    assert "max_module_size exceeded" in err and "committed" not in err


def test_a_file_name_too_long_is_an_io_error(shell_command: list[str], env: dict[str, str]
                                             ) -> None:
    long = "x" * 300
    result = run(shell_command, env, "--json", "--keep-going", "-c", f":load {long}.wat",
                 "-c", f":load {long}", "-c", f":replay {long}.json", "-c", ":ctx")
    replies = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r["ok"] for r in replies] == [False, False, False, True]
    for reply in replies[:3]:
        assert reply["error"]["kind"] == "io"
        assert "at most 255" in reply["error"]["message"]
    assert "Traceback" not in result.stderr.decode()


def test_a_command_of_two_dashes_is_answered_like_any_other(shell_command: list[str],
                                                             env: dict[str, str]) -> None:
    result = run(shell_command, env, "--json", "--keep-going", "-c=:ctx", "-c=--", "-c=:ctx")
    replies = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r["command"] for r in replies] == [":ctx", "--", ":ctx"]
    assert replies[1]["error"]["kind"] == "usage" and result.returncode == 1
    assert "Traceback" not in result.stderr.decode()
