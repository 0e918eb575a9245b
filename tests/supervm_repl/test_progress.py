"""A long call shows that it is running: elapsed time, fuel so far, and that Ctrl-C stops it."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path

import pytest

from runtime import CallInterruptedError, MemoryStorage, Runtime
from runtime.runtime import CallProgress
from supervm_repl.progress import Ticker, status_text
from tests.supervm_repl.test_process import finish, spawn
from tests.support import contract


def test_status_text() -> None:
    assert status_text(CallProgress("spin", 0, None), 1.25) == \
        "running spin: 1.2 s, no host call yet; Ctrl-C stops it"
    assert status_text(CallProgress("run", 3, 1234), 2.0) == \
        "running run: 2.0 s, 3 host calls, fuel used 1,234 at the last one; Ctrl-C stops it"


def test_the_ticker_shows_after_a_moment_and_erases_itself() -> None:
    written: list[str] = []
    with Ticker(lambda: CallProgress("spin", 1, 10), written.append, lambda: 30,
                after=0.05, every=0.01):
        time.sleep(0.2)
    assert written[0].startswith("\rrunning spin: ") and written[-1] == "\r\x1b[K"
    assert all(len(w.rstrip("\x1b[K")) <= 31 for w in written)
    quick: list[str] = []
    with Ticker(lambda: CallProgress("f", 0, None), quick.append, after=5):
        pass
    assert quick == []  # a quick command shows nothing


def test_the_runtime_reports_a_running_calls_progress() -> None:
    runtime = Runtime(MemoryStorage())
    # Host calls in an endless loop: the fuel used is known as of each one.
    spin = runtime.load(contract('''(func (export "spin") (loop
        (drop (call $block_number)) (br 0)))'''))
    assert runtime.progress() is None
    seen: list[CallProgress | None] = []
    thread = threading.Thread(target=lambda: _interrupted(runtime, spin))
    thread.start()
    time.sleep(0.3)
    seen.append(runtime.progress())
    runtime.interrupt()
    thread.join()
    progress = seen[0]
    assert progress is not None and progress.export == "spin" and progress.host_calls > 0
    assert progress.fuel_used is not None and progress.fuel_used > 0
    assert runtime.progress() is None


def _interrupted(runtime: Runtime, module: object) -> None:
    with contextlib.suppress(CallInterruptedError):  # the interrupt ends it
        runtime.call(module, "spin", fuel=10**15)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_a_long_call_shows_its_progress(shell_command: list[str], env: dict[str, str],
                                        samples: Path) -> None:
    child = spawn(shell_command, env, str(samples / "loop.wat"), "--fuel", "1" + "0" * 18)
    child.sendline(":call spin")
    child.expect(r"running spin: 1\.\d s, no host call yet; Ctrl-C stops it", timeout=5)
    child.sendintr()
    child.expect("call interrupted")
    assert finish(child) == 0
