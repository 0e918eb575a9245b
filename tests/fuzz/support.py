"""What every hostile-input campaign shares: the command list, the session state, worker
processes that may die, outcome counts and reproducers.

The campaigns in this directory feed SuperVM inputs that are wrong on purpose and check its
promise: every such input gets a one-line typed error (a ``SuperVMError`` with a documented
``kind``), the process stays alive, and storage, events and session state are as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import documented_kinds

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
LIMITED = Path(__file__).resolve().parent / "limited.py"

#: The error kinds the README documents (tests/test_errors.py checks every error class is
#: there), less ``internal``: documented, but always a bug.
DOCUMENTED_KINDS = frozenset(documented_kinds() - {"internal"})

#: Kinds of errors that end a call that ran: such a call is recorded, and by design it ends a
#: paused call and returns the time-travel cursor to the live state.
CALL_KINDS = frozenset({"trap", "out_of_fuel", "limit", "abort", "interrupted", "host_fault"})

#: Memory a worker process may allocate (RLIMIT_DATA): an input that makes SuperVM read or
#: keep unbounded data fails here in a second or two instead of exhausting the machine.
WORKER_MEMORY = 768 * 1024 * 1024

#: What a Python traceback looks like in a process's output.
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".*\", line \d+",
                       re.MULTILINE)

#: Failure columns, in the order the summary table shows them.
FAILURE_COLUMNS = ("crash", "hang", "traceback", "internal", "bad_json", "missing_output",
                   "state_change", "wrong", "mismatch")


# --- the shell's commands -------------------------------------------------------------------


@dataclass(frozen=True)
class ShellCommand:
    """One shell command as the line generator needs it."""

    name: str
    aliases: tuple[str, ...]
    #: Positional arguments: (name, completion source or None, optional, repeated).
    params: tuple[tuple[str, str | None, bool, bool], ...]
    #: Options: (name, value placeholder or None).
    flags: tuple[tuple[str, str | None], ...]


def shell_commands() -> list[ShellCommand]:
    """Every command of the shell, read from its command registry (so new commands are fuzzed
    as soon as they are registered). The one place that knows where the registry lives."""
    from supervm_repl.commands import default_commands

    commands = default_commands().commands

    return [
        ShellCommand(
            cmd.name, tuple(cmd.aliases),
            tuple((p.name, p.source, p.optional, p.repeat) for p in cmd.params),
            tuple((f.name, f.value) for f in cmd.flags),
        )
        for cmd in commands()
    ]


# --- the session's state --------------------------------------------------------------------


def session_state(session: Any) -> dict[str, Any]:
    """Everything a failed command must leave as it was: storage, chain context, event log,
    snapshots, the loaded contract, limits and fuel, breakpoints, the paused call and the
    time-travel cursor. Not the call history, which records failed calls by design.

    The contract, the paused call and the cursor's call are compared by identity.
    """
    debugger = session.debugger
    paused = debugger.paused
    position = debugger.position
    contract = session.contract
    return {
        "storage": dict(session.storage.snapshot()),
        "context": (session.context.block_number, session.context.timestamp),
        "events": [(e.call_id, e.index, e.data, e.export) for e in session.runtime.event_log],
        "snapshots": {name: (snap.storage, (snap.context.block_number, snap.context.timestamp),
                             [(e.call_id, e.index, e.data, e.export) for e in snap.events],
                             snap.created)
                      for name, snap in session.snapshots.items()},
        "contract": None if contract is None else (Same(contract), contract.sha256),
        "contract_path": None if session.contract_path is None else str(session.contract_path),
        "limits": session.runtime.limits.to_dict(),
        "breakpoints": [(bp.number, str(bp), bp.enabled, bp.ignore, bp.temporary)
                        for bp in debugger.breakpoints],
        "paused": None if paused is None else (Same(paused), paused.call_id, paused.step),
        "cursor": None if position is None else (Same(position.entry), position.step,
                                                 position.stop),
    }


class Same:
    """Equal only to a holder of the very same object (identity, not value)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __repr__(self) -> str:
        return f"<{type(self.obj).__name__} at {id(self.obj):#x}>"


def state_difference(before: dict[str, Any], after: dict[str, Any], kind: str) -> list[str]:
    """The parts of the session state that differ after a failed command of ``kind``.

    A call that ran and failed ends a paused call and returns to the live state by design.
    """
    exempt = {"paused", "cursor"} if kind in CALL_KINDS else set()
    return [name for name in before if name not in exempt and before[name] != after.get(name)]


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzConfig:
    """``--fuzz-budget`` (seconds per campaign, None: the small default run) and
    ``--fuzz-seed``."""

    budget: float | None
    seed: int
    jobs: int = 1

    def plan(self, default_inputs: int, default_seconds: float) -> Plan:
        """How long a campaign runs: a fixed number of inputs (but never more than a few
        times the expected time) by default, the budget's seconds with ``--fuzz-budget``."""
        if self.budget is None:
            return Plan(default_inputs, time.monotonic() + 3 * default_seconds)
        return Plan(None, time.monotonic() + self.budget)

    def rng(self, campaign: str, index: int) -> random.Random:
        """The generator of input ``index`` of ``campaign``: an input reproduces on its own."""
        return random.Random(f"{self.seed}:{campaign}:{index}")


@dataclass
class Plan:
    """When a campaign stops: after ``inputs`` inputs (None: no count) or at ``deadline``."""

    inputs: int | None
    deadline: float

    def more(self, done: int) -> bool:
        if self.inputs is not None and done >= self.inputs:
            return False
        return time.monotonic() < self.deadline

    def fraction(self, share: float) -> Plan:
        """A plan for part of a campaign: ``share`` of the inputs and of the time left."""
        now = time.monotonic()
        inputs = None if self.inputs is None else max(1, int(self.inputs * share))
        return Plan(inputs, now + max(0.0, self.deadline - now) * share)

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


# --- counts and reproducers -----------------------------------------------------------------


@dataclass
class Failure:
    """One input that broke the promise."""

    column: str
    input: str
    detail: str
    reproducer: Path | None = None

    @property
    def signature(self) -> str:
        """What kind of failure this is, with the particulars (numbers, paths) left out, so
        that one bug found a thousand times is reported once."""
        text = re.sub(r"'[^']*'|\"[^\"]*\"", "Q", self.detail)
        text = re.sub(r"0x[0-9a-fA-F]+|\d+", "N", text)
        text = re.sub(r"/[^\s'\"]+", "PATH", text)
        return f"{self.column}: {text[:90]}"


@dataclass
class Stats:
    """One campaign's counts: inputs tried, successes, typed errors by kind, failures."""

    campaign: str
    tried: int = 0
    ok: int = 0
    typed: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    repro_dir: Path | None = None
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)
    _saved: int = 0
    _seen: set[str] = field(default_factory=set)

    #: Failures kept with their input (the counts cover all of them).
    KEEP = 400
    #: Reproducer files written per campaign (besides one for each kind of failure).
    SAVE = 40

    def success(self) -> None:
        self.ok += 1

    def typed_error(self, kind: str) -> None:
        self.typed[kind] += 1

    def fail(self, column: str, input_text: str, detail: str,
             data: bytes | str | None = None, suffix: str = ".txt") -> Failure:
        """Count a failure; keep it (and write its reproducer) while there are few."""
        assert column in FAILURE_COLUMNS, column
        self.failed[column] += 1
        failure = Failure(column, input_text, " ".join(detail.split())[:600])
        new_kind = failure.signature not in self._seen
        self._seen.add(failure.signature)
        if len(self.failures) < self.KEEP or new_kind:
            self.failures.append(failure)
            # Every kind of failure gets a reproducer file; repeats only while there are few.
            if data is not None and self.repro_dir is not None and (
                    new_kind or self._saved < self.SAVE):
                self._saved += 1
                self.repro_dir.mkdir(parents=True, exist_ok=True)
                raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
                name = f"{self._saved:03d}-{column}-{hashlib.sha256(raw).hexdigest()[:10]}"
                path = self.repro_dir / f"{name}{suffix}"
                path.write_bytes(raw)
                failure.reproducer = path
        return failure

    @property
    def failure_count(self) -> int:
        return sum(self.failed.values())

    def finish(self) -> None:
        """Stop the clock; list every failure kept in ``failures.json`` beside the
        reproducers."""
        self.elapsed = time.monotonic() - self.started
        if self.failures and self.repro_dir is not None:
            self.repro_dir.mkdir(parents=True, exist_ok=True)
            listing = [{"column": f.column, "input": f.input, "detail": f.detail,
                        "reproducer": None if f.reproducer is None else str(f.reproducer)}
                       for f in self.failures]
            (self.repro_dir / "failures.json").write_text(json.dumps(listing, indent=1))

    def minimal(self, limit: int = 5) -> list[Failure]:
        """Up to ``limit`` reproducers: the shortest input of each kind of failure."""
        best: dict[str, Failure] = {}
        for f in self.failures:
            known = best.get(f.signature)
            if known is None or len(f.input) < len(known.input):
                best[f.signature] = f
        ordered = sorted(best.values(), key=lambda f: (FAILURE_COLUMNS.index(f.column),
                                                       len(f.input)))
        return ordered[:limit]

    def signatures(self) -> Counter[str]:
        return Counter(f.signature for f in self.failures)

    def report(self, limit: int = 5) -> str:
        """The failure message: the counts, then the minimal reproducers."""
        lines = [f"{self.campaign}: {self.failure_count} of {self.tried} inputs broke the "
                 f"promise ({', '.join(f'{k} {v}' for k, v in self.failed.items())})"]
        for f in self.minimal(limit):
            lines.append(f"  [{f.column}] input: {shorten(f.input, 300)}")
            lines.append(f"      what went wrong: {shorten(f.detail, 400)}")
            if f.reproducer is not None:
                lines.append(f"      reproducer: {f.reproducer}")
        kinds = self.signatures()
        if len(kinds) > limit:
            lines.append(f"  ... {len(kinds)} kinds of failure in all:")
            lines += [f"    {n:5d} x {sig}" for sig, n in kinds.most_common(25)]
        return "\n".join(lines)


#: Every campaign's counts in this run, for the summary at the end.
ALL_STATS: list[Stats] = []


def new_stats(campaign: str, repro_root: Path) -> Stats:
    stats = Stats(campaign, repro_dir=repro_root / campaign)
    ALL_STATS.append(stats)
    return stats


def shorten(text: str, limit: int) -> str:
    """``text`` for a report: at most ``limit`` characters, invisible characters escaped."""
    shown = text.encode("unicode_escape", "backslashreplace").decode("ascii") \
        if not text.isprintable() else text
    return shown if len(shown) <= limit else shown[:limit - 20] + f"… ({len(text)} chars)"


def summary_table(stats: list[Stats]) -> list[str]:
    """The counts of every campaign as a text table."""
    header = ["campaign", "inputs", "ok", "typed", *FAILURE_COLUMNS, "seconds"]
    rows = [header]
    for s in stats:
        rows.append([s.campaign, str(s.tried), str(s.ok), str(sum(s.typed.values())),
                     *(str(s.failed.get(c, 0)) for c in FAILURE_COLUMNS), f"{s.elapsed:.1f}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in
                       enumerate(zip(row, widths, strict=True))) for row in rows]
    for s in stats:
        if s.typed:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.typed.items()))
            lines.append(f"{s.campaign} typed errors: {kinds}")
        lines += [f"{s.campaign}: {note}" for note in s.notes]
    return lines


# --- checking outcomes ----------------------------------------------------------------------


def check_error(error: Any) -> str | None:
    """What is wrong with an ``error`` object of the ``--json`` output (None: nothing)."""
    if not isinstance(error, dict):
        return f"error is not an object: {error!r}"
    kind, message = error.get("kind"), error.get("message")
    if kind == "internal":
        return f"internal error: {message}"
    if kind not in DOCUMENTED_KINDS:
        return f"undocumented error kind {kind!r}: {message}"
    if not isinstance(message, str) or not message.strip():
        return f"{kind} error without a message"
    if "\n" in message or "\r" in message:
        return f"{kind} error message spans several lines: {message!r}"
    if "wasm trap:" in message or "Traceback" in message:
        return f"{kind} error message leaks engine or Python internals: {message}"
    if kind == "trap" and error.get("code") == "instantiate" and "exceeds" in message \
            and "limits" in message:
        return f"a declaration above a configured limit is a trap, not a limit: {message}"
    return None


def json_lines(stdout: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON objects of a ``--json`` run's output and what is wrong with it."""
    objects: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(stdout.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as exc:
            problems.append(f"stdout line {number} is not JSON ({exc}): {line[:200]!r}")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("command"), str) \
                or not isinstance(obj.get("ok"), bool):
            problems.append(f"stdout line {number} lacks command/ok: {line[:200]!r}")
            continue
        objects.append(obj)
    return objects, problems


# --- processes ------------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a SuperVM process started by a campaign: the repository importable,
    no colour, no user history or config touched."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    env.update(NO_COLOR="1", TERM="dumb", PYTHONDONTWRITEBYTECODE="1",
               PYTHONHASHSEED="0", PYTHONIOENCODING="utf-8")
    env.pop("PYTHONUNBUFFERED", None)
    env.update(extra)
    return env


def limited(argv: list[str], memory: int = WORKER_MEMORY) -> list[str]:
    """``argv`` run with at most ``memory`` bytes of data and no core dumps."""
    return [sys.executable, str(LIMITED), str(memory), *argv]


def program(*args: str) -> list[str]:
    """The command line of the real ``supervm-repl`` program (under the memory limit)."""
    return limited([sys.executable, "-m", "supervm_repl", *args])


@dataclass
class Reply:
    """A worker's answer: ``status`` is ``ok``, ``died`` or ``timeout``."""

    status: str
    data: dict[str, Any] | None = None
    detail: str = ""


class Worker:
    """A long-lived worker process (``tests/fuzz/worker.py KIND``) that handles one request
    at a time, restarted when an input kills it or runs too long."""

    def __init__(self, kind: str, home: Path, *, env: dict[str, str] | None = None,
                 memory: int = WORKER_MEMORY, args: tuple[str, ...] = ()) -> None:
        self.kind, self.home, self.memory, self.args = kind, home, memory, args
        self.env = env or child_env()
        self.env.setdefault("HOME", str(home))
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._buffer = b""
        self._mark = 0
        home.mkdir(parents=True, exist_ok=True)
        self.stderr_path = home / f"worker-{kind}.stderr"

    def _start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        argv = limited([sys.executable, "-X", "faulthandler", "-m", "tests.fuzz.worker",
                        self.kind, *self.args], self.memory)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, cwd=self.home, env=self.env)
        self._buffer = b""
        return self.proc

    def send(self, request: dict[str, Any]) -> bool:
        """Hand ``request`` over; False if the worker died on the way."""
        proc = self.proc if self.proc is not None and self.proc.poll() is None else \
            self._start()
        try:
            self._mark = self.stderr_path.stat().st_size
        except OSError:
            self._mark = 0
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(request).encode("ascii") + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def receive(self, timeout: float) -> Reply:
        """The answer to the request sent, or why there is none (the worker is then gone)."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                return Reply("timeout", detail=f"no answer within {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return Reply("died", detail=self._death())
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        data = json.loads(line)
        if data.get("harness_memory_error"):
            # The worker ran out of memory and is ending itself: its next input starts afresh.
            self.stop()
        return Reply("ok", data)

    def start(self) -> None:
        """Start the process now and wait until it is ready for work."""
        if not self.send({"ping": True}):
            raise AssertionError(f"worker {self.kind} did not start: {self._death()}")

    def ready(self, timeout: float = 60) -> None:
        reply = self.receive(timeout)
        assert reply.status == "ok", f"worker {self.kind} did not start: {reply.detail}"

    def request(self, request: dict[str, Any], timeout: float) -> Reply:
        if not self.send(request):
            return Reply("died", detail=self._death())
        return self.receive(timeout)

    def _death(self) -> str:
        proc = self.proc
        self.proc = None
        if proc is None:
            return "worker not running"
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return f"worker process {how}; stderr: {self.last_words()}"

    def last_words(self) -> str:
        """What the worker printed while handling the fatal input: the messages, and the
        innermost SuperVM frame of the dump faulthandler wrote."""
        try:
            with open(self.stderr_path, "rb") as file:
                file.seek(self._mark)
                text = file.read(200_000).decode("utf-8", "replace")
        except OSError:
            return ""
        messages: list[str] = []
        frame = ""
        current = True  # frames of the thread that crashed come first, after "Current thread"
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith(("Current thread", "Thread 0x")):
                current = line.startswith("Current thread")
                continue
            if not line or line.startswith(("Stack (most", "Extension modules",
                                            "<no Python frame>")):
                continue
            match = re.match(r'File "(.*)", line (\d+) in (\S+)', line)
            if match:
                where = match[1]
                for root in ("runtime/", "supervm_repl/"):
                    if current and root in where and not frame:
                        frame = f"at {where[where.index(root):]}:{match[2]} in {match[3]}"
                continue
            if len(messages) < 3:
                messages.append(line[:200])
        return " | ".join([*messages, frame] if frame else messages) or "(nothing)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()

    def close(self) -> None:
        """Ask the worker to finish, then make sure it did."""
        proc = self.proc
        if proc is not None and proc.poll() is None and proc.stdin is not None:
            try:
                proc.stdin.close()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.stop()


class Background:
    """Inputs that each get a worker of their own and run alongside the rest of a campaign:
    reading an endless device or opening a FIFO takes seconds of waiting (or a timeout),
    which need not hold anything else up."""

    def __init__(self, kind: str, home: Path, *, memory: int = WORKER_MEMORY) -> None:
        self.kind, self.home, self.memory = kind, home, memory
        self.jobs: list[tuple[Worker, dict[str, Any]]] = []
        self.deadline = self.timeout = 0.0

    def start(self, requests: list[tuple[dict[str, Any] | None, dict[str, Any]]],
              timeout: float) -> None:
        """Start a worker per (set-up request or None, request), set each up, hand each its
        request; answers are due ``timeout`` seconds from now."""
        workers = [Worker(self.kind, self.home / f"bg{i}", memory=self.memory)
                   for i in range(len(requests))]
        for worker, (setup, _) in zip(workers, requests, strict=True):
            worker.send(setup or {"ping": True})
        for worker, (_, request) in zip(workers, requests, strict=True):
            reply = worker.receive(120)
            assert reply.status == "ok" and reply.data is not None, reply.detail
            assert not reply.data.get("setup_problems"), reply.data
            worker.send(request)
            self.jobs.append((worker, request))
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout

    def finish(self) -> list[Reply]:
        """The answers, in order (a worker that has not answered by the deadline: timeout)."""
        replies = []
        for worker, _ in self.jobs:
            reply = worker.receive(max(0.1, self.deadline - time.monotonic()))
            if reply.status == "timeout":
                reply.detail = f"no answer within {self.timeout:.0f} s"
            replies.append(reply)
            worker.stop()
        self.jobs = []
        return replies

    def stop(self) -> None:
        for worker, _ in self.jobs:
            worker.stop()
        self.jobs = []


def run_program(argv: list[str], *, cwd: Path, stdin: bytes = b"", timeout: float = 60,
                env: dict[str, str] | None = None) -> tuple[int | None, str, str]:
    """Run a program; (exit status or None if it timed out and was killed, stdout, stderr)."""
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, cwd=cwd, timeout=timeout,
                              env=env or child_env(HOME=str(cwd)), check=False)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        err = exc.stderr or b""
        return None, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    return (done.returncode, done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"))


def status_text(code: int | None) -> str:
    if code is None:
        return "timed out"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
