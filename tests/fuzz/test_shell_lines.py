"""Campaign 2: random shell lines, in batch/JSON mode.

Most lines run in worker processes that keep a :class:`~supervm_repl.session.Session` seeded
with a sample contract and some state, through ``supervm_repl.commands.execute``: the outcome's
JSON must serialise strictly, and after every failed line :func:`session_state` must be as
before. A share of the lines runs through the real program (``python -m supervm_repl --json
--keep-going``, from stdin and as ``-c`` arguments): one JSON object per command on stdout, exit
status 0 or 1, no traceback on stderr.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime import HOST_FUNCTIONS

from .lines import ORACLES, LineGenerator, default_paths, restore_samples
from .support import (
    Background,
    FuzzConfig,
    Reply,
    Stats,
    Worker,
    check_error,
    json_lines,
    new_stats,
    program,
    run_program,
    shell_commands,
    shorten,
    status_text,
)

#: Random lines in the default run (besides the fixed corpus and the checked sequences).
DEFAULT_LINES = 1500
#: Lines a session lives for before it is seeded afresh (successful lines change it).
SESSION_LINES = 80
#: Random lines per run of the real program, and how often one runs.
PROGRAM_LINES = 80
PROGRAM_EVERY = 1200
LINE_TIMEOUT = 6.0
#: For lines that read an endless device or open a FIFO.
SLOW_TIMEOUT = 5.0
#: Worker memory: enough for any sane line, and /dev/zero fills it in about a second.
SHELL_MEMORY = 256 * 1024 * 1024


def setups(pristine: Path) -> dict[str, tuple[list[str], bool]]:
    """Ways to seed a session: (lines, whether the session keeps a --db file). The modules
    come from ``pristine``, a copy of the samples no fuzzed line names."""
    s = str(pristine)
    token = [f":load {s}/token.wat", ":call mint 0 100", ":call transfer 0 1 30",
             "#may-fail :call transfer 0 1 1000", ':set "k" "v"', ':set 0x00ff i64:7',
             ":snapshot s1", ":block 12345", ":ts 1704067200", ":export good.json"]
    counter = [f":load {s}/counter.wat", ":call increment", ":call increment",
               ":call add -3", ":snapshot", ":call reset", ":back 1"]
    paused = [f":load {s}/token.wat", ":call mint 0 50", ":snapshot s1",
              ":break storage_set if key == \"bal:bob\"", ":call transfer 0 1 5"]
    events = [f":load {s}/events.wat", ":block 7", ":call run", ":snapshot s1",
              f":load {s}/abort.wat", "#may-fail :call fail", f":load {s}/loop.wat",
              "#may-fail :call bad_pointer"]
    assemblyscript = [f":load {s}/assemblyscript/counter.wasm", ":call increment",
                      "#may-fail :call decrement", "#may-fail :call decrement"]
    out: dict[str, tuple[list[str], bool]] = {}
    for name, lines in [("token", token), ("counter", counter), ("paused", paused),
                        ("events", events), ("assemblyscript", assemblyscript),
                        ("empty", [])]:
        out[name] = (lines, False)
        out[name + "+db"] = (lines, True)
    return out


@dataclass
class Runner:
    """One worker process and the session in it."""

    worker: Worker
    setup: str = ""
    lines_left: int = 0

    def seed(self, name: str, setup: tuple[list[str], bool], *, strict: bool = True
             ) -> list[str]:
        """A new session, seeded; the setup lines that failed (none allowed if ``strict``)."""
        lines, db = setup
        reply = self.worker.request({"op": "reset", "setup": lines, "db": db}, 60)
        assert reply.status == "ok" and reply.data is not None, \
            f"cannot seed a session ({name}): {reply.detail}"
        assert "harness_error" not in reply.data, reply.data["harness_error"]
        problems = reply.data.get("setup_problems", [])
        assert not (strict and problems), f"seeding {name} failed: {problems}"
        self.setup, self.lines_left = name, SESSION_LINES
        return problems


def test_random_shell_lines(fuzz: FuzzConfig, fuzz_root: Path, repro_root: Path,
                            bundles: dict[str, Path]) -> None:
    stats = new_stats("shell-lines", repro_root)
    home = fuzz_root / "shell"
    home.mkdir()
    bundle = home / "bundle.json"  # a copy: lines may :export over it
    shutil.copyfile(bundles["token-transfer"], bundle)
    paths = default_paths(fuzz_root, bundle)
    commands = shell_commands()
    generator = LineGenerator(commands, paths, [f.qualname for f in HOST_FUNCTIONS],
                              slow_share=0.0005)
    pristine = fuzz_root / "pristine-samples"
    restore_samples(pristine)
    seeding = setups(pristine)
    plan = fuzz.plan(DEFAULT_LINES, 10)
    runners = [Runner(Worker("shell", home / f"w{i}", memory=SHELL_MEMORY))
               for i in range(fuzz.jobs)]
    quits = {f":{n}" for c in commands if c.name == "quit" for n in (c.name, *c.aliases)}
    background = Background("shell", home / "slow", memory=SHELL_MEMORY)
    try:
        started = time.monotonic()
        _oracles(stats, runners[0], pristine)
        corpus = generator.corpus()
        slow = [line for line in corpus if any(p in line for p in paths.slow)]
        quick = [line for line in corpus if line not in slow]
        _run_lines(stats, runners, [(line, "token") for line in quick], seeding)
        if fuzz.budget is None:
            slow = [line for line in slow if line.startswith(":load") or "zero" in line][:6]
        stats.notes.append(f"fixed corpus: {len(quick)} lines in "
                           f"{time.monotonic() - started:.1f} s, and {len(slow)} slow ones "
                           "(endless devices, a FIFO) alongside the random lines")
        background.start(_slow_requests(slow, seeding["token"], paths.fifo), SLOW_TIMEOUT)
        index = 0
        since_program = 0
        program_runs = 0
        while plan.more(index):
            batch = []
            for runner in runners:
                rng = fuzz.rng("shell", index)
                if runner.lines_left <= 0 or not runner.setup:
                    name = rng.choice(sorted(seeding))
                else:
                    name = runner.setup
                batch.append((generator.line(rng), name))
                index += 1
            if any(runner.lines_left <= 0 for runner in runners):
                restore_samples(Path(paths.samples[0]).parent)
            _run_lines(stats, runners, batch, seeding)
            since_program += len(batch)
            if since_program >= PROGRAM_EVERY or (program_runs < 2 and index >= 200 * (
                    program_runs + 1)):
                since_program = 0
                rng = fuzz.rng("shell-program", program_runs)
                lines = [generator.line(rng) for _ in range(PROGRAM_LINES * 2)]
                _program_run(stats, fuzz_root, seeding["token"][0], lines,
                             use_stdin=program_runs % 2 == 0, quits=quits)
                program_runs += 1
        for line, reply in zip(slow, background.finish(), strict=True):
            _classify_line(stats, line, "token", seeding["token"][0], reply)
        stats.notes.append(f"runs of the real program: {program_runs}; worker restarts: "
                           f"{sum(r.worker.starts for r in runners) - len(runners)}")
    finally:
        background.stop()
        for runner in runners:
            runner.worker.close()
        stats.finish()
    assert not stats.failure_count, stats.report()


def _run_lines(stats: Stats, runners: list[Runner], lines: list[tuple[str, str]],
               seeding: dict[str, tuple[list[str], bool]]) -> None:
    """Run ``(line, setup)`` pairs, one per runner at a time."""
    for start in range(0, len(lines), len(runners)):
        group = list(zip(runners, lines[start:start + len(runners)], strict=False))
        for runner, (_, setup) in group:
            if runner.setup != setup or runner.lines_left <= 0:
                runner.seed(setup, seeding[setup])
        sent = [(runner, line, setup, runner.worker.send({"line": line}))
                for runner, (line, setup) in group]
        for runner, line, setup, ok in sent:
            reply = runner.worker.receive(LINE_TIMEOUT) if ok else Reply("died",
                                                                          detail="worker gone")
            runner.lines_left -= 1
            _classify_line(stats, line, setup, seeding[setup][0], reply)
            if reply.status != "ok":
                runner.setup = ""  # the worker is new: seed it again


def _classify_line(stats: Stats, line: str, setup: str, setup_lines: list[str],
                   reply: Reply) -> None:
    stats.tried += 1
    shown = f"{shorten(line, 2000)}   [session: {setup}]"
    script = "\n".join([line.removeprefix("#may-fail ") for line in setup_lines] + [line])

    def fail(column: str, detail: str) -> None:
        stats.fail(column, shown, detail, script, ".svm")

    if reply.status == "died":
        fail("crash", reply.detail)
        return
    if reply.status == "timeout":
        fail("hang", reply.detail)
        return
    data = reply.data or {}
    if "harness_error" in data:
        raise AssertionError(f"the shell worker failed on {line!r}: {data['harness_error']}")
    if data.get("harness_memory_error"):
        fail("wrong", "the line exhausted the shell's memory outside the command")
        return
    if "bad_json" in data:
        fail("bad_json", f"outcome.to_json() does not serialise: {data['bad_json']}")
    if data.get("ok"):
        stats.success()
        return
    error = data.get("error") or {}
    kind = error.get("kind", "?")
    problem = check_error(error)
    if problem is not None:
        where = ""
        if data.get("traceback"):
            lines = [x.strip() for x in data["traceback"].strip().splitlines()]
            where = " | " + " | ".join(lines[-3:])
        fail("internal" if kind == "internal" else "wrong", problem + where)
    else:
        stats.typed_error(kind)
    if data.get("state_diff"):
        fail("state_change", f"failed ({kind}: {shorten(error.get('message', ''), 150)}) "
                             f"yet changed {'; '.join(data['state_diff'])}")


def _oracles(stats: Stats, runner: Runner, pristine: Path) -> None:
    """Lines whose outcome is known exactly."""
    samples = str(pristine)
    for setup_lines, line, expect, why in ORACLES:
        lines = [x.replace("{samples}", samples) for x in setup_lines]
        problems = runner.seed("oracle", (lines, False), strict=False)
        stats.tried += 1
        shown = f"{line}   [after: {'; '.join(lines)}]"
        script = "\n".join([*lines, line])
        if problems:
            kind = "internal" if any("internal" in p for p in problems) else "wrong"
            stats.fail(kind, shown, f"{why}: the set-up failed: {problems[0][:300]}", script,
                       ".svm")
            continue
        reply = runner.worker.request({"line": line}, LINE_TIMEOUT)
        runner.setup = ""
        if reply.status != "ok" or reply.data is None:
            stats.fail("crash" if reply.status == "died" else "hang", shown, reply.detail,
                       script, ".svm")
            continue
        data = reply.data
        if data.get("ok"):
            got = "paused" if data.get("data", {}).get("paused") else "ok"
        else:
            got = "error:" + data.get("error", {}).get("kind", "?")
        if got == expect:
            stats.success()
        else:
            message = data.get("error", {}).get("message", "")
            kind = "internal" if got == "error:internal" else "wrong"
            stats.fail(kind, shown, f"{why}: expected {expect}, got {got} {message}", script,
                       ".svm")


def _slow_requests(lines: list[str], setup: tuple[list[str], bool], fifo: str
                   ) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """Set-up and line requests for lines that read endless devices or block on a FIFO.
    Each line gets a FIFO of its own: two lines on one FIFO, a reader and a writer, would
    unblock each other."""
    requests: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
    for i, line in enumerate(lines):
        if fifo in line:
            path = f"{fifo}-{i}"
            if not os.path.exists(path):
                os.mkfifo(path)
            line = line.replace(fifo, path)
        requests.append(({"op": "reset", "setup": setup[0], "db": setup[1]}, {"line": line}))
    return requests


# --- the real program -----------------------------------------------------------------------


def _program_run(stats: Stats, root: Path, setup: list[str], candidates: list[str],
                 *, use_stdin: bool, quits: set[str]) -> None:
    """Lines through ``python -m supervm_repl --json --keep-going``: every one answered by one
    JSON object, in order."""
    lines = [line for line in candidates if _one_statement(line, quits, use_stdin)]
    lines = lines[:PROGRAM_LINES]
    setup = [line for line in setup if not line.startswith("#may-fail ")]
    statements = [*setup, *lines]
    cwd = root / "shell-program"
    cwd.mkdir(exist_ok=True)
    if use_stdin:
        data = "".join(s + "\n" for s in statements).encode("utf-8", "surrogateescape")
        code, stdout, stderr = run_program(program("--json", "--keep-going"), cwd=cwd,
                                           stdin=data, timeout=120)
        how = "stdin"
    else:
        # "-cLINE": a line starting with "-" would otherwise be read as an option.
        argv = [f"-c{s}" for s in statements]
        code, stdout, stderr = run_program(program("--json", "--keep-going", *argv), cwd=cwd,
                                           timeout=120)
        how = "-c"
        data = "\n".join(statements).encode("utf-8", "surrogateescape")
    stats.tried += len(lines)
    objects, problems = json_lines(stdout)
    shown = f"supervm-repl --json --keep-going with {len(statements)} commands on {how}"

    def fail(column: str, detail: str, line: str | None = None) -> None:
        where = f"{shorten(line, 300)}   [{shown}]" if line is not None else shown
        stats.fail(column, where, detail, data, ".svm")

    for problem in problems:
        fail("bad_json", problem)
    if code is None or code not in (0, 1):
        column = "hang" if code is None else "crash"
        fail(column, f"{status_text(code)}; stderr: {shorten(stderr[-500:], 500)}",
             statements[min(len(objects), len(statements) - 1)])
    if "Traceback" in stderr:
        fail("traceback", f"stderr: {shorten(stderr[-800:], 800)}")
    extra = objects[len(statements):]
    if len(objects) < len(statements):
        fail("missing_output", f"{len(objects)} JSON objects for {len(statements)} commands "
                               f"(the first unanswered is #{len(objects) + 1})",
             statements[len(objects)])
    elif extra and not (len(extra) == 1 and extra[0].get("command") == ":abort"):
        fail("bad_json", f"{len(objects)} JSON objects for {len(statements)} commands")
    for statement, obj in zip(statements, objects, strict=False):
        if obj.get("ok"):
            stats.success()
            continue
        error = obj.get("error")
        problem = check_error(error)
        if problem is not None:
            fail("internal" if isinstance(error, dict) and error.get("kind") == "internal"
                 else "wrong", problem, statement)
        else:
            stats.typed_error(error["kind"])


def _one_statement(line: str, quits: set[str], use_stdin: bool) -> bool:
    """Whether ``line`` is exactly one statement of a script, and one that lets the rest run."""
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "(")) or "\n" in line:
        return False
    if stripped.split()[0] in quits:
        return False
    if stripped.split()[0] == ":fuel":
        return False  # a huge fuel and then an endless loop would run for hours, by design
    if any(p in line for p in ("/dev/zero", "/dev/urandom", "a-fifo")) or len(line) > 100_000:
        return False
    try:
        line.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False  # a lone surrogate no terminal, file or argument can carry
    return use_stdin or "\x00" not in line

