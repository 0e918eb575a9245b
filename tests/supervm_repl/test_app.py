"""The interactive shell driven through prompt_toolkit's pipe input: keys in, output captured."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from supervm_repl.app import Shell, history_path, open_history, use_color
from supervm_repl.render import Fragments, plain
from supervm_repl.session import Session


class Driver:
    """A shell on a pipe: ``keys`` are typed, ``run`` returns the exit status."""

    def __init__(self, session: Session, pipe: PipeInput, **options: Any) -> None:
        self.pipe = pipe
        self.printed: list[str] = []
        self.history = options.pop("history", InMemoryHistory())
        self.shell = Shell(session, color=False, history=self.history, input=pipe,
                           output=DummyOutput(), printer=self._print, **options)

    def _print(self, fragments: Fragments) -> None:
        self.printed.append(plain(fragments))

    def keys(self, text: str) -> Driver:
        self.pipe.send_text(text)
        return self

    def run(self) -> int:
        return self.shell.run()

    def type_slowly(self, *chunks: str) -> int:
        """Run the shell while another thread types ``chunks`` a moment apart (completion
        and history loading run in the background, so keys must not outrun them). If the
        shell is still running two seconds after the last chunk, the input is closed."""
        finished = threading.Event()

        def typist() -> None:
            for chunk in chunks:
                time.sleep(0.15)
                self.pipe.send_text(chunk)
            if not finished.wait(2):
                self.stuck = True
                self.pipe.close()

        self.stuck = False
        thread = threading.Thread(target=typist, daemon=True)
        thread.start()
        try:
            return self.run()
        finally:
            finished.set()
            thread.join()
            assert not self.stuck, "the shell did not exit after the last key"

    @property
    def output(self) -> str:
        return "".join(self.printed)


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe:
        yield pipe


@pytest.fixture
def driver(session: Session, pipe: PipeInput) -> Driver:
    return Driver(session, pipe)


def test_tab_completes_an_export_and_calls_it(driver: Driver, session: Session,
                                              samples: Path) -> None:
    session.load_file(samples / "greet.wat")
    status = driver.type_slowly(":call gr\t", "\r", "\x04")
    assert status == 0
    assert driver.output.startswith("→ i32 42\n")
    assert '[0] "Hello, World!"' in driver.output


def test_tab_completes_a_command_name(driver: Driver) -> None:
    driver.type_slowly(":ct\t", "\r", "\x04")
    assert "block 0\ntimestamp 0" in driver.output


def test_multi_line_inline_module(driver: Driver, session: Session) -> None:
    driver.keys("(module\r")
    driver.keys('  (func (export "seven") (result i32)\r')
    driver.keys("    i32.const 7))\r")
    driver.keys(":call seven\r\x04")
    assert driver.run() == 0
    assert "loaded <inline>: 1 export (seven)" in driver.output
    assert "→ i32 7" in driver.output
    assert session.contract is not None and session.contract.name == "<inline>"


def test_ctrl_d_exits_with_status_zero(driver: Driver) -> None:
    assert driver.keys("\x04").run() == 0
    assert driver.output == ""


def test_quit_command(driver: Driver) -> None:
    assert driver.keys(":quit\r:ctx\r").run() == 0
    assert "block" not in driver.output


def test_ctrl_c_clears_the_line(driver: Driver) -> None:
    driver.keys(":block 99").keys("\x03").keys(":block\r\x04").run()
    assert driver.output == "block 0\n"


def test_errors_do_not_end_the_shell(driver: Driver) -> None:
    driver.keys(":cal\r:load /nonexistent.wat\r\x00\x01junk\r:ctx\r\x04").run()
    out = driver.output
    assert "error: unknown command :cal; did you mean :call or :calls?" in out
    assert "error: cannot read /nonexistent.wat" in out
    assert out.endswith("block 0\ntimestamp 0 (1970-01-01T00:00:00Z)\n")


def test_prompt_shows_module_and_block(driver: Driver, session: Session, samples: Path) -> None:
    assert "".join(t for _, t in driver.shell._message()) == "supervm [block 0]> "
    session.load_file(samples / "greet.wat")
    session.set_context(block=12345)
    assert "".join(t for _, t in driver.shell._message()) == "greet.wat [block 12345]> "


def test_history_and_ctrl_r(driver: Driver) -> None:
    # Ctrl-R searches back for "block 5"; Enter ends the search, Enter again runs the line.
    driver.type_slowly(":block 5\r", ":block 6\r", "\x12", "block 5", "\r", "\r", "\x04")
    assert driver.output == "block 5\nblock 6\nblock 5\n"
    assert list(driver.history.load_history_strings())[:3] == [":block 5", ":block 6", ":block 5"]


def test_long_output_is_paged(session: Session, pipe: PipeInput) -> None:
    for i in range(100):
        session.set(f"key{i:03}".encode(), b"v")
    driver = Driver(session, pipe)
    driver.keys(":storage\r").keys(" ").keys("q").keys("\x04")
    driver.run()
    out = driver.output
    # The dummy screen has 40 rows: two pages of 38 lines (the header, then keys 0 to 74)
    # were shown, then q stopped it.
    assert "key000" in out and "key074" in out and "key075" not in out


def test_json_mode(session: Session, pipe: PipeInput) -> None:
    driver = Driver(session, pipe, json_mode=True)
    driver.keys(":block 3\r:nope\r\x04").run()
    lines = [json.loads(line) for line in driver.output.splitlines()]
    assert lines == [
        {"command": ":block", "ok": True, "block_number": 3},
        {"command": ":nope", "ok": False,
         "error": {"kind": "usage", "message": "unknown command :nope; :help lists the commands"}},
    ]


def test_history_file_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert history_path() == tmp_path / "state" / "supervm" / "history"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_path() == tmp_path / ".local" / "state" / "supervm" / "history"
    history = open_history(history_path())
    history.append_string(":ctx")
    assert (tmp_path / ".local" / "state" / "supervm" / "history").read_text().strip().endswith(
        "+:ctx")
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert type(open_history(blocked / "sub" / "history")).__name__ == "InMemoryHistory"


def test_color_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())
    monkeypatch.delenv("NO_COLOR")
    assert not use_color(object())
