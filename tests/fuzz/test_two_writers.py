"""Campaign 6: two shells writing to one ``--db`` file at the same time.

Two real ``supervm-repl --db SAME`` processes run concurrently, each many read-modify-write
calls (``increment`` of ``samples/counter.wat``) and event-emitting calls that write the value
back unchanged (``add 0``). Afterwards: the counter is the number of successful increments both
shells reported, every successful call's event is in the log exactly once (the increments'
events are ``counter=1`` … ``counter=n``, each once), and every call id is unique, in the
replies and in the event log. A call that could not commit must say so with a typed error.
"""

from __future__ import annotations

import subprocess
from collections import Counter
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
    status_text,
)

#: Increments and ``add 0`` calls per shell in the default run (long enough to overlap).
DEFAULT_CALLS = (300, 60)


def test_two_writers_on_one_db(fuzz: FuzzConfig, fuzz_root: Path, repro_root: Path) -> None:
    from .lines import restore_samples

    stats = new_stats("two-writers", repro_root)
    home = fuzz_root / "two-writers"
    home.mkdir()
    samples = home / "samples"
    restore_samples(samples)
    inspector = Worker("db", home / "inspector")
    plan = fuzz.plan(1, 8)
    try:
        trial = 0
        while plan.more(trial):
            rng = fuzz.rng("two-writers", trial)
            increments, adds = DEFAULT_CALLS if trial == 0 else (
                rng.choice([50, 300, 1000]), rng.choice([0, 20, 200]))
            _trial(stats, inspector, home, samples / "counter.wat", trial, increments, adds)
            trial += 1
    finally:
        inspector.close()
        stats.finish()
    assert not stats.failure_count, stats.report()


def _trial(stats: Stats, inspector: Worker, home: Path, module: Path, trial: int,
           increments: int, adds: int) -> None:
    db = home / f"shared-{trial}.db"
    scripts = []
    for who in ("a", "b"):
        lines = [":call increment"] * increments
        step = max(1, increments // max(1, adds)) if adds else 0
        for i in range(adds):
            lines.insert(min(len(lines), (i + 1) * step + i), ":call add 0")
        script = home / f"script-{trial}-{who}.svm"
        script.write_text("\n".join(lines) + "\n")
        scripts.append(script)
    env = child_env(HOME=str(home))
    procs = [subprocess.Popen(program("--db", str(db), "--json", "--keep-going", str(module),
                                      "--script", str(script)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=home, env=env)
             for script in scripts]
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        outputs.append((proc.returncode, out.decode("utf-8", "replace"),
                        err.decode("utf-8", "replace")))
    label = (f"trial {trial}: two shells on one --db, each {increments} increments and {adds} "
             "add 0 calls")
    problems: list[str] = []
    ok_increments = ok_adds = 0
    reply_ids: list[int] = []
    for who, (code, stdout, stderr) in zip("ab", outputs, strict=True):
        if code not in (0, 1):
            problems.append(f"shell {who}: {status_text(code)}; {stderr[-300:]}")
        if "Traceback" in stderr:
            problems.append(f"shell {who}: traceback on stderr: {stderr[-300:]}")
        objects, bad = json_lines(stdout)
        problems += [f"shell {who}: {b}" for b in bad]
        calls = [o for o in objects if o["command"] == ":call"]
        if len(calls) != increments + adds:
            problems.append(f"shell {who}: {len(calls)} replies to {increments + adds} calls")
        for obj in calls:
            if obj["ok"]:
                reply_ids.append(obj["call_id"])
                if obj.get("export") == "increment":
                    ok_increments += 1
                else:
                    ok_adds += 1
            else:
                problem = check_error(obj.get("error"))
                if problem is not None:
                    problems.append(f"shell {who}: a call failed untyped: {problem}")
                else:
                    stats.typed_error(obj["error"]["kind"])
    stats.tried += 2 * (increments + adds)
    stats.ok += ok_increments + ok_adds
    state = inspector.request({"db": str(db)}, 60)
    if state.status != "ok" or state.data is None or "events" not in state.data:
        problems.append(f"the file does not open afterwards: {state.detail or state.data}")
    else:
        problems += _consistency(state.data, ok_increments, ok_adds, reply_ids)
    if problems:
        stats.fail("wrong", label, "; ".join(problems[:6]), db.read_bytes() if db.exists()
                   else b"", ".db")


def _consistency(state: dict[str, Any], increments: int, adds: int, reply_ids: list[int]
                 ) -> list[str]:
    problems = []
    events = state["events"]
    counter = state["counter"] or 0
    if counter != increments:
        problems.append(f"lost updates: the counter is {counter} after {increments} "
                        "successful increments")
    if len(events) != increments + adds:
        problems.append(f"{len(events)} events in the log for {increments + adds} successful "
                        "calls")
    duplicates = [i for i, n in Counter(reply_ids).items() if n > 1]
    if duplicates:
        problems.append(f"{len(duplicates)} call ids were given to two calls (e.g. "
                        f"{duplicates[:5]})")
    log_ids = Counter(e[0] for e in events)
    shared = [i for i, n in log_ids.items() if n > 1]
    if shared:
        problems.append(f"{len(shared)} call ids have more than one event in the log (e.g. "
                        f"{shared[:5]})")
    exports = state.get("exports", {})
    values = Counter(e[2] for e in events if exports.get(str(e[0])) == "increment")
    if exports:
        wanted = Counter(f"counter={i}" for i in range(1, increments + 1))
        if values != wanted:
            missing = sorted(wanted - values, key=lambda v: int(v.split("=")[1]))[:5]
            twice = [v for v, n in values.items() if n > 1][:5]
            problems.append(f"the increments' events are not counter=1..{increments} once "
                            f"each (missing {missing}, repeated {twice})")
    return problems
