"""Campaign 4: mutated ``--db`` files, opened by the shell.

A real ``--db`` file (calls, snapshots, a chain context, a direct edit) is damaged at the byte
level (flips, truncation, header fields, stray WAL files) or edited with ``sqlite3`` (values
of other SQL types in ``kv``, meta values as TEXT or garbage JSON, extra and dropped tables,
other ``application_id``/``user_version``), then opened with a few commands. Either the run is
clean (one JSON object per command, no ``internal`` error) or the file is refused with one
line on stderr and exit status 1; never a traceback.
"""

from __future__ import annotations

import random
import re
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

from .support import (
    TRACEBACK,
    FuzzConfig,
    Stats,
    Worker,
    check_error,
    child_env,
    json_lines,
    new_stats,
    program,
    run_program,
    shorten,
    status_text,
)

DEFAULT_FILES = 50
PROGRAM_EVERY = 25
TIMEOUT = 30.0
COMMANDS = [':storage', ':snapshots', ':snapshot x', ':restore s1', ':events --all',
            ':call increment', ':get "k"', ':ctx', ':calls']
#: The last-resort message of the shell for an exception nobody foresaw (a bug).
UNFORESEEN = re.compile(r"cannot start: [A-Za-z]+(Error|Exception)\b")


def make_db(directory: Path, samples: Path) -> Path:
    """A ``--db`` file with storage, events, snapshots and a chain context in it."""
    db = directory / "valid.db"
    argv = ["--db", str(db), "--json", str(samples / "token.wat")]
    for line in [":call mint 0 100", ":call transfer 0 1 30", ":snapshot s1", ":block 7",
                 ":ts 99", ':set "k" "v"', ':set 0x00ff i64:-1', ":snapshot s2",
                 ":call transfer 0 1 5", f":load {samples / 'counter.wat'}", ":call increment",
                 ":call increment"]:
        argv += ["-c", line]
    code, stdout, stderr = run_program([sys.executable, "-m", "supervm_repl", *argv],
                                       cwd=directory, env=child_env(HOME=str(directory)))
    assert code == 0, f"cannot make a --db file: {stdout} {stderr}"
    return db


def test_mutated_db_files(fuzz: FuzzConfig, fuzz_root: Path, repro_root: Path) -> None:
    from .lines import restore_samples

    stats = new_stats("db-files", repro_root)
    home = fuzz_root / "db"
    home.mkdir()
    samples = home / "samples"
    restore_samples(samples)
    valid = make_db(home, samples)
    worker = Worker("cli", home / "worker", memory=384 * 1024 * 1024)
    plan = fuzz.plan(DEFAULT_FILES, 8)
    programs = 0
    try:
        index = 0
        while plan.more(index):
            rng = fuzz.rng("db", index)
            target = home / "input.db"
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(target) + suffix).unlink(missing_ok=True)
            shutil.copyfile(valid, target)
            what = _mutate(rng, target)
            data = target.read_bytes()
            label = f"#{index} {what}"
            argv = ["--db", str(target), "--json", "--keep-going", str(samples / "counter.wat")]
            argv += [a for c in COMMANDS for a in ("-c", c)]
            stats.tried += 1
            if index % PROGRAM_EVERY == 0:
                programs += 1
                code, stdout, stderr = run_program(program(*argv), cwd=home, timeout=TIMEOUT)
                if code is None or code < 0:
                    stats.fail("hang" if code is None else "crash", label + " (the program)",
                               status_text(code), data, ".db")
                else:
                    _check(stats, label + " (the program)", data,
                           {"rc": code, "stdout": stdout, "stderr": stderr})
            else:
                reply = worker.request({"argv": argv}, TIMEOUT)
                if reply.status != "ok" or reply.data is None:
                    stats.fail("crash" if reply.status == "died" else "hang", label,
                               reply.detail, data, ".db")
                else:
                    _check(stats, label, data, reply.data)
            index += 1
    finally:
        worker.close()
        stats.finish()
    stats.notes.append(f"runs of the real program: {programs}")
    assert not stats.failure_count, stats.report()


def _check(stats: Stats, label: str, data: bytes, reply: dict[str, Any]) -> None:
    def fail(column: str, detail: str) -> None:
        stats.fail(column, label, detail, data, ".db")

    if "harness_error" in reply:
        raise AssertionError(f"the cli worker failed on {label}: {reply['harness_error']}")
    if "escaped" in reply:
        last = [x.strip() for x in reply.get("traceback", "").strip().splitlines()][-3:]
        fail("traceback", f"{reply['escaped']} | {' | '.join(last)}")
        return
    if reply.get("harness_memory_error"):
        fail("crash", "opening the file exhausted the process's memory")
        return
    rc, stdout, stderr = reply["rc"], reply["stdout"], reply["stderr"]
    if TRACEBACK.search(stderr):
        fail("traceback", f"stderr: {shorten(stderr[-600:], 600)}")
        return
    if rc not in (0, 1):
        fail("wrong", f"exit status {rc}; stderr: {shorten(stderr, 300)}")
        return
    if not stdout.strip():
        lines = stderr.splitlines()
        if rc != 1 or len(lines) != 1:
            fail("wrong", f"no output, exit status {rc}, {len(lines)} lines on stderr: "
                          f"{shorten(stderr, 300)}")
        elif UNFORESEEN.search(stderr):
            fail("internal", f"refused through the last-resort handler: {stderr.strip()}")
        else:
            stats.typed_error("io (refused at open)")
        return
    objects, problems = json_lines(stdout)
    if problems:
        fail("bad_json", problems[0])
        return
    if len(objects) != len(COMMANDS) + 1:
        fail("missing_output", f"{len(objects)} JSON objects for {len(COMMANDS) + 1} commands")
        return
    failed = False
    for command, obj in zip([":load", *COMMANDS], objects, strict=True):
        error = obj.get("error")
        if obj["ok"]:
            continue
        problem = check_error(error)
        if problem is not None:
            fail("internal" if error.get("kind") == "internal" else "wrong",
                 f"{command}: {problem}")
            return
        failed = True
        stats.typed_error(f"{error['kind']} (in a command)")
    if not failed:
        stats.success()


# --- mutations ------------------------------------------------------------------------------

#: (offset, size) of the SQLite header fields worth editing.
HEADER_FIELDS = [(16, 2), (18, 1), (19, 1), (20, 1), (21, 1), (24, 4), (28, 4), (32, 4),
                 (36, 4), (40, 4), (44, 4), (48, 4), (52, 4), (56, 4), (60, 4), (64, 4),
                 (68, 4), (92, 4), (96, 4)]


def _mutate(rng: random.Random, path: Path) -> str:
    if rng.random() < 0.45:
        return _bytes(rng, path)
    try:
        return _sql(rng, path)
    except sqlite3.Error as exc:
        return f"sql edit failed ({exc}); file as it is"


def _bytes(rng: random.Random, path: Path) -> str:
    data = bytearray(path.read_bytes())
    op = rng.randrange(7)
    if op == 0:
        offset, size = rng.choice(HEADER_FIELDS)
        value = rng.choice([0, 1, 2, 3, 5, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x80000000, 4096, 512])
        data[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "big")
        what = f"header field @{offset} = {value}"
    elif op == 1:
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
        what = f"bit flip @{pos}"
    elif op == 2:
        for _ in range(rng.choice([1, 10, 100])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        what = "random bytes"
    elif op == 3:
        size = rng.choice([0, 1, 15, 16, 99, 100, 4095, 4096, 4097, len(data) // 2,
                           len(data) - 1])
        del data[size:]
        what = f"truncated to {size}"
    elif op == 4:
        page = rng.randrange(max(1, len(data) // 4096))
        data[page * 4096:(page + 1) * 4096] = bytes(4096)
        what = f"page {page + 1} zeroed"
    elif op == 5:
        Path(str(path) + "-wal").write_bytes(bytes(rng.randrange(256) for _ in range(
            rng.choice([8, 32, 4128]))))
        what = "a garbage -wal file beside it"
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.choice([1, 100, 4096])))
        what = "trailing garbage"
    path.write_bytes(bytes(data))
    return what


META_GARBAGE = [b"", b"not json", b"[1]", b'{"x": 1}', b"[1e400, 0]", b'["a", "b"]',
                b"[null, null]", b"[1180591620717411303424, 0]", b"\xff\xfe", b"[" * 5000,
                b"1" * 5000, b'[1, "x", ["zz"]]', b'[1, "x", "ab"]', b'["1", 2, []]',
                b'[-5, "x", []]', b'[1e400, "x", []]', b"[1, 2, 3, 4]",
                b'{"storage": [["zz", "00"]], "context": [0, 0], "events": [], "exports": {},'
                b' "created": 0}',
                b'{"storage": [], "context": ["a", 0], "events": [], "exports": {}, '
                b'"created": 0}',
                b'{"storage": [], "context": [0, 0], "events": [[1, 2]], "exports": {}, '
                b'"created": 0}',
                b'{"storage": [], "context": [0, 0], "events": [], "exports": [], '
                b'"created": "x"}',
                b'{"storage": [], "context": [0, 0], "events": [], "exports": {"x": 1}, '
                b'"created": 1e400}']


def _sql(rng: random.Random, path: Path) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        op = rng.randrange(12)
        if op == 0:
            value = rng.choice(["'text'", "42", "1.5", "-7", "'ünï'", "9223372036854775807",
                                "1e308"])
            conn.execute(f"UPDATE kv SET value = {value}")
            return f"every kv value set to {value}"
        if op == 1:
            key, value = rng.choice([("'k'", "'text'"), ("42", "43"), ("1.5", "2.5"),
                                     ("x'00'", "'text'"), ("'bal:alice'", "100"),
                                     ("x'6b'", "x'01'"), ("''", "''")])
            conn.execute(f"INSERT OR REPLACE INTO kv VALUES ({key}, {value})")
            return f"kv row ({key}, {value})"
        if op == 2:
            conn.execute("UPDATE meta SET value = CAST(value AS TEXT)")
            return "every meta value stored as TEXT"
        if op == 3:
            names = [n for (n,) in conn.execute("SELECT name FROM meta")]
            name = rng.choice(names) if names else "repl/context"
            value = rng.choice(META_GARBAGE)
            conn.execute("UPDATE meta SET value = ? WHERE name = ?", (value, name))
            return f"meta {name} = {value[:40]!r}"
        if op == 4:
            name = rng.choice(["repl/events/abc", "repl/events/" + "9" * 30, "repl/snapshot/",
                               "repl/snapshot/a b", "repl/snapshot/" + "x" * 100,
                               "repl/events/-000000000001", "repl/other", "", "repl/context"])
            value = rng.choice([*META_GARBAGE, b'[1, "x", []]', b"[0, 0]"])
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))
            return f"meta row {name!r} = {value[:40]!r}"
        if op == 5:
            sql = rng.choice(["CREATE TABLE extra(x)", "CREATE INDEX kv_value ON kv(value)",
                              "CREATE VIEW v AS SELECT * FROM kv",
                              "CREATE TRIGGER t AFTER INSERT ON kv BEGIN DELETE FROM kv; END",
                              "CREATE TABLE sqlite_stat1x(a)"])
            conn.execute(sql)
            return sql
        if op == 6:
            table = rng.choice(["kv", "meta"])
            conn.execute(f"DROP TABLE {table}")
            return f"DROP TABLE {table}"
        if op == 7:
            value = rng.choice([0, 1, -1, 0x53564D30, 0x53564D31, 0x7FFFFFFF])
            conn.execute(f"PRAGMA application_id = {value}")
            return f"application_id = {value:#x}"
        if op == 8:
            value = rng.choice([0, 2, -1, 99, 1])
            conn.execute(f"PRAGMA user_version = {value}")
            return f"user_version = {value}"
        if op == 9:
            conn.execute("DROP TABLE kv")
            schema = rng.choice(["CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB NOT NULL)",
                                 "CREATE TABLE kv(key, value)",
                                 "CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB, extra)",
                                 "CREATE TABLE kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID"])
            conn.execute(schema)
            return f"kv recreated as {schema}"
        if op == 10:
            mode = rng.choice(["DELETE", "TRUNCATE", "MEMORY", "OFF"])
            conn.execute(f"PRAGMA journal_mode = {mode}")
            return f"journal_mode = {mode}"
        conn.execute("BEGIN")  # one transaction, not one per row
        conn.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)",
                         ((i.to_bytes(4, "big"), b"v" * rng.choice([1, 100]))
                          for i in range(rng.choice([1000, 20000]))))
        conn.execute("COMMIT")
        return "many kv rows"
    finally:
        conn.close()

