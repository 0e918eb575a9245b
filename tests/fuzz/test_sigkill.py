"""Campaign 5: SIGKILL while a shell commits calls to its ``--db`` file.

A shell with ``--db`` runs ``:call increment`` on ``samples/counter.wat`` as fast as it can
(each call commits the counter and emits ``counter=<n>``) and is killed with SIGKILL at a
random moment, several times on the same file. After every kill the file must open cleanly and
hold an exact prefix of the work: the counter equals the number of events, the events are
``counter=1`` … ``counter=n`` in call order with unique call ids, and ``n`` is what the shell
reported committed, or one more (a call committed but not yet reported).
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from .support import (
    FuzzConfig,
    Stats,
    Worker,
    check_error,
    child_env,
    json_lines,
    new_stats,
    program,
    run_program,
)

DEFAULT_KILLS = 4
KILLS_PER_FILE = 6
#: Longest wait before the kill (the shell needs about 0.3 s to start).
MAX_DELAY = 1.4


def test_sigkill_during_committing_calls(fuzz: FuzzConfig, fuzz_root: Path,
                                         repro_root: Path) -> None:
    from .lines import restore_samples

    stats = new_stats("sigkill", repro_root)
    home = fuzz_root / "sigkill"
    home.mkdir()
    samples = home / "samples"
    restore_samples(samples)
    inspector = Worker("db", home / "inspector")
    plan = fuzz.plan(DEFAULT_KILLS, 6)
    calls_total = 0
    try:
        kill = 0
        db = home / "file-0.db"
        committed = 0  # what the file must hold at least, by the shells' own replies
        while plan.more(kill):
            if kill and kill % KILLS_PER_FILE == 0:
                _open_with_program(stats, db, home, committed)
                db = home / f"file-{kill // KILLS_PER_FILE}.db"
                committed = 0
            rng = fuzz.rng("sigkill", kill)
            delay = rng.uniform(0.0, MAX_DELAY)
            replies, stderr = _run_and_kill(db, samples / "counter.wat", delay, home)
            objects, problems = json_lines(replies)
            calls = [o for o in objects if o["command"] == ":call"]
            calls_total += len(calls)
            reported = sum(1 for o in calls if o["ok"] and o.get("committed"))
            label = f"kill #{kill} of {db.name} after {delay:.3f} s ({reported} calls reported " \
                    f"committed, {committed} before)"
            stats.tried += 1
            bad = [p for p in problems if not _last_line_cut(p, replies)]
            for o in calls:
                if not o["ok"]:
                    problem = check_error(o.get("error"))
                    if problem is not None:
                        bad.append(f"a failed call: {problem}")
                    else:
                        stats.typed_error(o["error"]["kind"])
            if "Traceback" in stderr:
                bad.append(f"traceback on stderr: {stderr[-300:]}")
            state = inspector.request({"db": str(db)}, 30)
            if state.status != "ok" or state.data is None:
                stats.fail("crash", label, f"inspecting the file: {state.detail}",
                           _read(db), ".db")
            else:
                bad += _prefix_problems(state.data, committed, reported)
                if "events" in state.data:
                    committed = len(state.data["events"])
            if bad:
                column = "traceback" if any("traceback" in b for b in bad) else "wrong"
                stats.fail(column, label, "; ".join(bad), _read(db), ".db")
            else:
                stats.success()
            kill += 1
        _open_with_program(stats, db, home, committed)
    finally:
        inspector.close()
        stats.finish()
    stats.notes.append(f"calls answered before the kills: {calls_total}")
    assert not stats.failure_count, stats.report()


def _run_and_kill(db: Path, module: Path, delay: float, cwd: Path) -> tuple[str, str]:
    """Start the shell feeding it calls, SIGKILL it after ``delay`` s; its stdout, stderr."""
    proc = subprocess.Popen(program("--db", str(db), "--json", str(module)),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=cwd, env=child_env(HOME=str(cwd)))
    out: list[bytes] = []
    err: list[bytes] = []

    def feed() -> None:
        assert proc.stdin is not None
        block = b"".join(b":call increment\n" if i % 50 else b":block %d\n" % i
                         for i in range(1, 201))
        with contextlib.suppress(OSError):
            while proc.poll() is None:
                proc.stdin.write(block)
                proc.stdin.flush()

    def drain(stream: Any, into: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            into.append(chunk)

    threads = [threading.Thread(target=feed, daemon=True),
               threading.Thread(target=drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=drain, args=(proc.stderr, err), daemon=True)]
    for thread in threads:
        thread.start()
    time.sleep(delay)
    proc.kill()
    proc.wait()
    for thread in threads:
        thread.join(10)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            stream.close()  # type: ignore[union-attr]
    return b"".join(out).decode("utf-8", "replace"), b"".join(err).decode("utf-8", "replace")


def _last_line_cut(problem: str, stdout: str) -> bool:
    """A kill may cut the last line of output short; only that line may be incomplete."""
    lines = stdout.splitlines()
    return bool(lines) and not stdout.endswith("\n") and f"line {len(lines)} " in problem


def _prefix_problems(state: dict[str, Any], before: int, reported: int) -> list[str]:
    """What is wrong with the file's contents after a kill."""
    if "open_error" in state:
        return [f"the file does not open after the kill: {state['open_error']['message']}"]
    if "escaped" in state:
        return [f"opening the file raised {state['escaped']}"]
    events = state["events"]
    problems = []
    values = [e[2] for e in events]
    expected = [f"counter={i}" for i in range(1, len(events) + 1)]
    if values != expected:
        first = next(i for i, (a, b) in enumerate(zip(values, expected, strict=False))
                     if a != b) if values[:len(expected)] != expected else len(expected)
        problems.append(f"the events are not counter=1..{len(events)}: event {first} is "
                        f"{values[first] if first < len(values) else None!r}")
    ids = [e[0] for e in events]
    if len(set(ids)) != len(ids) or ids != sorted(ids):
        problems.append(f"call ids of the events are not unique and increasing: {ids[:20]}")
    counter = state["counter"] or 0
    if counter != len(events):
        problems.append(f"the counter is {counter} but {len(events)} increments are in the "
                        "event log")
    if not before + reported <= len(events) <= before + reported + 1:
        problems.append(f"{len(events)} increments in the file, but {before} were there before "
                        f"and the shell reported {reported} more committed")
    return problems


def _open_with_program(stats: Stats, db: Path, cwd: Path, committed: int) -> None:
    """The shell itself opens the file after its last kill and sees the same counter."""
    if not db.exists():
        return
    code, stdout, stderr = run_program(
        program("--db", str(db), "--json", "-c", ':get "counter"', "-c", ":events --all"),
        cwd=cwd)
    stats.tried += 1
    objects, problems = json_lines(stdout)
    value = objects[0].get("value") if objects else None
    raw = bytes.fromhex(value["hex"]) if isinstance(value, dict) else b""
    counter = int.from_bytes(raw, "little", signed=True) if raw else 0
    events = objects[1].get("events", []) if len(objects) > 1 else []
    if code != 0 or problems or counter != committed or len(events) != committed:
        stats.fail("wrong", f"supervm-repl --db {db.name} after the kills",
                   f"exit status {code}, counter {counter}, {len(events)} events, expected "
                   f"{committed}; {problems[:1]} {stderr[-300:]}", _read(db), ".db")
    else:
        stats.success()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""
