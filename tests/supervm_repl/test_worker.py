"""The worker thread: results and errors come back; Ctrl-C in the caller interrupts the work."""

from __future__ import annotations

import _thread
import threading

import pytest

from supervm_repl.commands import execute
from supervm_repl.session import Session
from supervm_repl.worker import Worker


def test_results_and_errors_come_back() -> None:
    worker = Worker(lambda: None)
    assert worker.run(lambda: 42) == 42
    assert worker.run(threading.current_thread).name == "supervm-calls"
    with pytest.raises(ZeroDivisionError):
        worker.run(lambda: 1 / 0)
    worker.close()
    assert worker.run(lambda: "restarted") == "restarted"
    worker.close()


def test_ctrl_c_in_the_caller_calls_interrupt() -> None:
    stop = threading.Event()
    worker = Worker(stop.set)

    def work() -> str:
        # Stands for a running call: it ends when interrupted.
        return "stopped" if stop.wait(5) else "not interrupted"

    threading.Timer(0.1, _thread.interrupt_main).start()
    assert worker.run(work) == "stopped"
    worker.close()


def test_ctrl_c_during_another_command_is_an_interrupted_error(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(session, "reset", slow)
    error = execute(session, ":reset").to_json()["error"]
    assert error == {"kind": "interrupted", "message": "interrupted"}
