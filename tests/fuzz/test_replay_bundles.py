"""Campaign 3: mutated replay bundles, replayed with ``supervm-repl --replay FILE``.

The bundles are real ``:export`` files of calls on the samples, mutated at the JSON level
(dropped and duplicated keys, values of the wrong type, extreme numbers, bad hex and sha256,
``bits`` out of range, deep nesting) and at the byte level. ``supervm_repl.cli.main`` replays
each in a worker process, and a share through the real program: the exit status is 0 or 1, a
failure is exactly one line on stderr (or one JSON object with ``--json``), never a traceback
and never an ``internal`` error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .mutate_json import mutate_bytes, mutate_json
from .support import (
    TRACEBACK,
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
    shorten,
    status_text,
)

DEFAULT_BUNDLES = 100
PROGRAM_EVERY = 40
TIMEOUT = 20.0
CLI_MEMORY = 256 * 1024 * 1024
#: Bundles whose call runs until its fuel is gone: a mutant giving one more fuel than this
#: would replay for hours, by design.
ENDLESS = {"out-of-fuel"}
MAX_ENDLESS_FUEL = 10**7


def test_mutated_replay_bundles(fuzz: FuzzConfig, fuzz_root: Path, repro_root: Path,
                                bundles: dict[str, Path]) -> None:
    stats = new_stats("replay-bundles", repro_root)
    home = fuzz_root / "replay"
    worker = Worker("cli", home / "worker", memory=CLI_MEMORY)
    docs = {name: json.loads(path.read_text()) for name, path in sorted(bundles.items())}
    plan = fuzz.plan(DEFAULT_BUNDLES, 6)
    programs = 0
    background = Background("cli", home / "special", memory=CLI_MEMORY)
    try:
        # Endless devices and a FIFO take seconds each: they run alongside the rest.
        specials = _special_files(home, fuzz_root)
        background.start([(None, {"argv": ["--replay", t]}) for t in specials], 5.0)
        for name, path in sorted(bundles.items()):  # the originals replay identically
            _replay(stats, worker, f"unmutated {name}", path.read_bytes(), home, json_mode=False,
                    expect_identical=True)
        for name in ("add", "float-args"):
            for fuel in (2**64 - 1, 2**64, 2**64 + 1, 2**65 + 3):
                doc = dict(docs[name], fuel_limit=fuel)
                _replay(stats, worker, f"{name} with fuel_limit {fuel}",
                        json.dumps(doc).encode(), home, json_mode=fuel % 2 == 0,
                        fuel_oracle=True)
        for base, edit, value in CURATED:
            doc = json.loads(json.dumps(docs[base]))
            target = doc
            *parents, last = edit
            for part in parents:
                target = target[part]
            if value is DROP:
                del target[last]
            else:
                target[last] = value
            text = json.dumps(doc).replace('"<1e400>"', "1e400").encode()
            _replay(stats, worker, f"{base}: {'/'.join(map(str, edit))} = {value!r}", text, home,
                    json_mode=len(stats.failures) % 2 == 0)
        index = 0
        while plan.more(index):
            rng = fuzz.rng("replay", index)
            base = rng.choice(sorted(docs))
            if rng.random() < 0.8:
                data, what = mutate_json(rng, docs[base])
                data = _bounded(base, data, docs[base])
            else:
                data, what = mutate_bytes(rng, bundles[base].read_bytes())
            label = f"#{index} {base}: {what}"
            _replay(stats, worker, label, data, home, json_mode=index % 2 == 1)
            if index % PROGRAM_EVERY == 0:
                _replay(stats, None, label + " (the real program)", data, home,
                        json_mode=index % 4 == 0)
                programs += 1
            index += 1
        for target, reply in zip(specials, background.finish(), strict=True):
            _check_special(stats, target, reply)
    finally:
        background.stop()
        worker.close()
        stats.finish()
    stats.notes.append(f"runs of the real program: {programs}; worker restarts: "
                       f"{worker.starts - 1}")
    assert not stats.failure_count, stats.report()


DROP = object()
#: Edits every run makes: the fields a replay reads, given what a hand-edited file might hold.
CURATED: list[tuple[str, tuple[str | int, ...], Any]] = [
    ("counter", ("outcome",), DROP), ("counter", ("outcome",), []), ("counter", ("outcome",), "x"),
    ("counter", ("outcome",), None), ("counter", ("outcome",), 7),
    ("token-trap", ("outcome",), DROP), ("token-trap", ("outcome", "error"), "x"),
    ("add", ("args", 0, "bits"), "0x10000000000"), ("add", ("args", 0, "bits"), "-0x1"),
    ("add", ("args", 0, "bits"), "0x"), ("add", ("args", 0, "bits"), 7),
    ("float-args", ("args", 1, "bits"), "0x10000000000000000"),
    ("float-args", ("outcome", "results", 0, "bits"), "-0x1"),
    ("add", ("args", 0, "type"), "v128"), ("add", ("args", 0, "type"), "i64"),
    ("add", ("fuel_limit",), "<1e400>"), ("add", ("fuel_limit",), 1.5),
    ("add", ("fuel_limit",), 0), ("add", ("fuel_limit",), -1), ("add", ("fuel_limit",), "9"),
    ("add", ("limits", "fuel"), 2**64), ("add", ("limits", "max_wasm_stack"), 2**40),
    ("add", ("limits",), {"nope": 1}), ("add", ("context", "block_number"), 2**63),
    ("add", ("context", "timestamp"), "<1e400>"), ("add", ("module", "sha256"), "0" * 64),
    ("add", ("module", "wasm"), "!!"), ("add", ("storage",), [["zz", "00"]]),
    ("add", ("storage",), [["00"]]), ("add", ("trace",), {"a": 1}),
    ("events", ("trace", 0, "effect"), {"event": "x", "data": "zz"}),
    ("events", ("trace", 0), []), ("greet", ("export",), "nope"), ("greet", ("export",), None),
    ("greet", ("version",), 2), ("greet", ("format",), None),
    ("greet", ("limits", "max_module_size"), 0), ("greet", ("limits", "max_events"), 0),
]


def _bounded(base: str, data: bytes, original: dict[str, Any]) -> bytes:
    """A mutant of an endless call keeps a fuel limit it can replay with quickly."""
    if base not in ENDLESS:
        return data
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return data
    fuel = doc.get("fuel_limit") if isinstance(doc, dict) else None
    # Past 2^64 too: whether such a limit is refused, wraps or saturates, the fuel campaign's
    # own checks (on calls that end) tell; here it would only spin.
    if isinstance(fuel, int | float) and not isinstance(fuel, bool) and fuel > MAX_ENDLESS_FUEL:
        doc["fuel_limit"] = original["fuel_limit"]
        return json.dumps(doc).encode()
    return data


def _replay(stats: Stats, worker: Worker | None, label: str, data: bytes, home: Path, *,
            json_mode: bool, expect_identical: bool = False, fuel_oracle: bool = False,
            path: str | None = None) -> None:
    """Replay one bundle (in the worker, or as the real program if ``worker`` is None)."""
    stats.tried += 1
    if path is None:
        target = home / "input.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        path = str(target)
    argv = ["--replay", path, *(["--json"] if json_mode else [])]
    label = f"{label} [supervm-repl {' '.join(argv[:1])} FILE{' --json' if json_mode else ''}]"

    def fail(column: str, detail: str) -> None:
        stats.fail(column, label, detail, data, ".json")

    if worker is None:
        code, stdout, stderr = run_program(program(*argv), cwd=home, timeout=TIMEOUT * 2)
        if code is None:
            fail("hang", f"the program did not finish in {TIMEOUT * 2:.0f} s")
            return
        if code < 0 or code > 2:
            fail("crash", f"{status_text(code)}; stderr: {shorten(stderr, 400)}")
            return
        reply: dict[str, Any] = {"rc": code, "stdout": stdout, "stderr": stderr}
    else:
        answer = worker.request({"argv": argv}, TIMEOUT)
        if answer.status != "ok" or answer.data is None:
            fail("crash" if answer.status == "died" else "hang", answer.detail)
            return
        if "harness_error" in answer.data:
            raise AssertionError(f"the cli worker failed on {label}: "
                                 f"{answer.data['harness_error']}")
        if answer.data.get("harness_memory_error"):
            fail("crash", "the replay exhausted the process's memory")
            return
        reply = answer.data
    _check(stats, fail, reply, json_mode, expect_identical, fuel_oracle)


def _check(stats: Stats, fail: Any, reply: dict[str, Any], json_mode: bool,
           expect_identical: bool, fuel_oracle: bool) -> None:
    if "escaped" in reply:
        last = [x.strip() for x in reply.get("traceback", "").strip().splitlines()][-3:]
        fail("traceback", f"{reply['escaped']} | {' | '.join(last)}")
        return
    rc, stdout, stderr = reply["rc"], reply["stdout"], reply["stderr"]
    if TRACEBACK.search(stderr) or TRACEBACK.search(stdout):
        fail("traceback", f"stderr: {shorten(stderr[-600:], 600)}")
        return
    if rc not in (0, 1):
        fail("wrong", f"exit status {rc} (0 or 1 expected); stderr: {shorten(stderr, 300)}")
        return
    if json_mode:
        objects, problems = json_lines(stdout)
        if problems:
            fail("bad_json", problems[0])
            return
        if len(objects) != 1:
            fail("missing_output", f"{len(objects)} JSON objects (one expected); stderr: "
                                   f"{shorten(stderr, 200)}")
            return
        obj = objects[0]
        if obj["ok"] != (rc == 0):
            fail("wrong", f"exit status {rc} but ok is {obj['ok']}")
            return
        error = obj.get("error")
        kind = None if obj["ok"] else (error or {}).get("kind")
        message = (error or {}).get("message", "")
        if error is not None and (problem := check_error(error)) is not None:
            fail("internal" if kind == "internal" else "wrong", problem)
            return
    else:
        kind = None if rc == 0 else "?"
        message = stderr.strip()
        err_lines = stderr.splitlines()
        if rc == 1 and len(err_lines) != 1:
            fail("wrong", f"{len(err_lines)} lines on stderr (one expected): "
                          f"{shorten(stderr, 400)}")
            return
        if rc == 0 and (stderr.strip() or len(stdout.splitlines()) != 1):
            fail("wrong", f"identical, yet stdout {shorten(stdout, 200)!r} stderr "
                          f"{shorten(stderr, 200)!r}")
            return
        if "internal" in stderr:
            fail("internal", f"stderr: {shorten(stderr, 400)}")
            return
        if rc == 1:
            kind = "replay_divergence" if "diverged at step" in stderr else "io"
    if expect_identical and rc != 0:
        fail("wrong", f"an unmodified bundle did not replay identically: {message[:300]}")
        return
    if fuel_oracle and kind == "replay_divergence":
        fail("wrong", "a fuel limit of 2^64 or more wrapped around instead of being refused or "
                      f"honoured: {message[:300]}")
        return
    if rc == 0:
        stats.success()
    else:
        stats.typed_error(kind or "?")


def _special_files(home: Path, root: Path) -> list[str]:
    """Files that are not bundles: devices, a FIFO, a directory, nothing."""
    fifo = root / "replay-fifo"
    os.mkfifo(fifo)
    empty = home / "empty.json"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_bytes(b"")
    return ["/dev/zero", "/dev/urandom", "/dev/full", str(fifo), str(home), "/dev/null",
            str(empty), str(home / "missing.json"), "", "a\udcffb.json", "/proc/self/mem"]


def _check_special(stats: Stats, target: str, reply: Reply) -> None:
    stats.tried += 1
    label = f"supervm-repl --replay {target!r}"

    def fail(column: str, detail: str) -> None:
        stats.fail(column, label, detail, label, ".txt")

    if reply.status != "ok" or reply.data is None:
        fail("crash" if reply.status == "died" else "hang", reply.detail)
    elif reply.data.get("harness_memory_error"):
        fail("crash", "the replay exhausted the process's memory")
    else:
        _check(stats, fail, reply.data, False, False, False)
