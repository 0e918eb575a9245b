"""The worker thread: results and errors come back; Ctrl-C in the caller interrupts the work."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from supervm_repl.commands import execute
from supervm_repl.session import Session
from supervm_repl.worker import Worker


def test_results_and_errors_come_back() -> None:
    worker = Worker(lambda: None)
    assert worker.run(lambda: 42) == 42
    # On the main thread work runs right there: no hand-off per call.
    assert worker.run(threading.current_thread) is threading.main_thread()
    with pytest.raises(ZeroDivisionError):
        worker.run(lambda: 1 / 0)
    worker.close()
    assert worker.run(lambda: "restarted") == "restarted"
    worker.close()


def test_off_the_main_thread_work_goes_to_the_worker_thread() -> None:
    worker = Worker(lambda: None)
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(worker.run(
        lambda: threading.current_thread().name)))
    thread.start()
    thread.join()
    assert seen == ["supervm-calls"]
    worker.close()


def test_a_real_ctrl_c_calls_interrupt_while_work_runs_here() -> None:
    stop = threading.Event()
    worker = Worker(stop.set)

    def work() -> str:
        # Stands for a running call: it ends when interrupted.
        return "stopped" if stop.wait(5) else "not interrupted"

    threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
    assert worker.run(work) == "stopped"
    # After the work, Ctrl-C is a KeyboardInterrupt again.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    worker.close()


def test_a_script_installs_the_handler_once_and_ctrl_c_between_calls_stops_it() -> None:
    stop = threading.Event()
    worker = Worker(stop.set)

    def work() -> str:
        return "stopped" if stop.wait(5) else "not interrupted"

    with worker.handling_ctrl_c():
        handler = signal.getsignal(signal.SIGINT)
        assert worker.run(lambda: 1) == 1
        assert signal.getsignal(signal.SIGINT) is handler  # not swapped around each call
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        assert worker.run(work) == "stopped"
        with pytest.raises(KeyboardInterrupt):  # between two calls: as without the worker
            os.kill(os.getpid(), signal.SIGINT)
            threading.Event().wait(1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    worker.close()


def test_ctrl_c_during_another_command_is_an_interrupted_error(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(session, "reset", slow)
    error = execute(session, ":reset").to_json()["error"]
    assert error == {"kind": "interrupted", "message": "interrupted"}
