"""Files as a newcomer meets them: paths completed a directory at a time, a misnamed .wasm
file said to be text, and a --db file bringing back the module and breakpoints."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from runtime import InvalidModuleError, MemoryStorage, Runtime
from supervm_repl.cli import main
from supervm_repl.commands import Outcome
from tests.supervm_repl.test_process import PROMPT, finish, spawn

Run = Callable[[str], Outcome]


@pytest.mark.parametrize(("content", "says"), [
    (b"(module)", "it looks like WAT text: name it .wat"),
    (b";; a comment\n(module)", "it looks like WAT text"),
    (b"hello", "it looks like a text file"),
    (b"", "it is empty"),
    (b"\xff\xfe\x00", "it does not start with \\0asm"),
])
def test_a_wasm_file_that_is_not_binary(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "x.wasm"
    path.write_bytes(content)
    with pytest.raises(InvalidModuleError) as error:
        Runtime(MemoryStorage()).load_file(path)
    assert str(error.value) == f"{path} is not a wasm binary ({says})" or says in str(error.value)


def test_the_shell_says_it_in_one_line(run: Run, tmp_path: Path) -> None:
    (tmp_path / "x.wasm").write_text("(module)")
    error = run(f":load {tmp_path / 'x.wasm'}").to_json()["error"]
    assert error["kind"] == "invalid_module" and "looks like WAT text" in error["message"]


def test_db_restores_the_module_and_breakpoints(tmp_path: Path, samples: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "state.db")
    module = tmp_path / "token.wat"
    module.write_bytes((samples / "token.wat").read_bytes())
    assert main(["--db", db, str(module), "-c", ':break storage_set if key == "bal:bob"',
                 "-c", ":break emit_event --temporary", "-c", ":ignore 2 3",
                 "-c", ":disable 1"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "--json", "-c", ":info", "-c", ":breaks"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    info, breaks = (__import__("json").loads(line) for line in out.splitlines())
    assert info["module"]["name"] == str(module)
    listed = [(b["function"], b["condition"], b["enabled"], b["temporary"], b["ignore"])
              for b in breaks["breakpoints"]]
    assert listed == [("storage_api.storage_set", 'key == "bal:bob"', False, False, 0),
                      ("chain_api.emit_event", None, True, True, 3)]
    # What cannot be restored is said on start.
    module.unlink()
    assert main(["--db", db, "-c", ":breaks"]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"supervm-repl: not restored from {db}: module {module}: cannot read")


def test_a_file_given_replaces_the_saved_module(tmp_path: Path, samples: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "state.db")
    assert main(["--db", db, str(samples / "token.wat"), "-c", ":ctx"]) == 0
    assert main(["--db", db, str(samples / "counter.wat"), "-c", ":call increment"]) == 0
    assert main(["--db", db, "-c", ":call increment"]) == 0
    assert "→ i64 2" in capsys.readouterr().out


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_tab_completes_a_directory_with_its_slash(shell_command: list[str],
                                                  env: dict[str, str], samples: Path) -> None:
    child = spawn(shell_command, env)
    child.send(f":load {samples.parent}/sam")
    child.send("\t")
    child.expect("ples/")
    time.sleep(0.2)
    child.send("cou\t")  # the second Tab goes on inside the directory
    child.expect("nter.wat")
    time.sleep(0.2)
    child.send("\r")
    child.expect("loaded")
    assert finish(child) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_the_shell_says_what_it_restored(shell_command: list[str], env: dict[str, str],
                                         samples: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    assert main(["--db", db, str(samples / "token.wat"), "-c", ":break emit_event"]) == 0
    child = pexpect.spawn(shell_command[0], [*shell_command[1:], "--db", db], env=env,
                          encoding="utf-8", timeout=15, dimensions=(30, 120))
    child.expect(PROMPT)
    assert f"restored from {db}: module {samples / 'token.wat'}, 1 breakpoint" in child.before
    child.sendline(":breaks")
    assert finish(child) == 0


def test_breakpoints_are_kept_as_they_change(tmp_path: Path, samples: Path) -> None:
    from supervm_repl.commands import execute
    from supervm_repl.session import META_BREAKPOINTS, Session

    session = Session(tmp_path / "state.db")
    try:
        execute(session, f":load {samples / 'token.wat'}")
        execute(session, ":break emit_event")
        # Written at once, not only when the shell ends (a killed shell keeps them).
        assert b"chain_api.emit_event" in (session.storage.get_meta(META_BREAKPOINTS) or b"")
        execute(session, ":unbreak 1")
        assert session.storage.get_meta(META_BREAKPOINTS) is None
    finally:
        session.close()
