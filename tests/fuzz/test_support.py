"""The campaigns' own instruments: the command list, the session state, the checks."""

from __future__ import annotations

import random

import pytest

from supervm_repl.commands import execute
from supervm_repl.session import Session

from .lines import LineGenerator, Paths
from .modules import leb, mutate, read_leb, sections, seeds
from .mutate_json import mutate_json
from .support import (
    ALL_STATS,
    SAMPLES,
    Stats,
    check_error,
    json_lines,
    session_state,
    shell_commands,
    state_difference,
)


def test_every_registered_command_is_fuzzed() -> None:
    from supervm_repl.registry import DEFAULT_COMMANDS

    names = {c.name for c in shell_commands()}
    assert names == {c.name for c in DEFAULT_COMMANDS.values()}
    assert {"call", "load", "replay", "export", "break"} <= names
    assert any(source == "path" for c in shell_commands() for _, source, _, _ in c.params)


@pytest.fixture
def session() -> Session:
    s = Session()
    assert execute(s, f":load {SAMPLES / 'counter.wat'}").ok
    assert execute(s, ":call increment").ok
    yield s
    s.close()


@pytest.mark.parametrize("line", [
    ':set "x" "y"', ":block 5", ":ts 9", ":fuel 5", ":snapshot zz", ":break emit_event",
    f":load {SAMPLES / 'add.wat'}", ":reset", ":back 1", ":call increment",
])
def test_session_state_sees_every_change(session: Session, line: str) -> None:
    before = session_state(session)
    assert execute(session, line).ok
    assert state_difference(before, session_state(session), "usage")


def test_session_state_is_stable(session: Session) -> None:
    before = session_state(session)
    for line in [":storage", ":events --all", ":calls", ":info", ":help", ":limits"]:
        assert execute(session, line).ok
    assert state_difference(before, session_state(session), "usage") == []


def test_the_cursor_may_move_when_a_call_fails(session: Session) -> None:
    execute(session, ":back 1")
    before = session_state(session)
    execute(session, f":load {SAMPLES / 'loop.wat'}")
    before = session_state(session)
    assert execute(session, ":call spin").error.kind == "out_of_fuel"
    assert state_difference(before, session_state(session), "out_of_fuel") == []


def test_check_error() -> None:
    assert check_error({"kind": "usage", "message": "no"}) is None
    assert "internal" in check_error({"kind": "internal", "message": "boom"})
    assert "undocumented" in check_error({"kind": "error", "message": "x"})
    assert "several lines" in check_error({"kind": "io", "message": "a\nb"})
    assert check_error({"kind": "trap", "message": "trap (x): 1: wasm trap: oob"})


def test_json_lines() -> None:
    objects, problems = json_lines('{"command": ":x", "ok": true}\nnope\n{"ok": 1}\n')
    assert len(objects) == 1 and len(problems) == 2


def test_leb_round_trip() -> None:
    for value in (0, 1, 127, 128, 2**32 - 1, 2**63):
        for width in (0, 5, 10):
            data = leb(value, width)
            assert read_leb(data, 0, 12) == (value, len(data))


def test_mutants_are_deterministic() -> None:
    pool = seeds()
    assert all(sections(s.wasm) is not None for s in pool)
    a = [mutate(random.Random(i), pool[i % len(pool)].wasm, pool[0].wasm) for i in range(50)]
    b = [mutate(random.Random(i), pool[i % len(pool)].wasm, pool[0].wasm) for i in range(50)]
    assert a == b
    doc = {"a": [1, {"b": "00ff"}], "c": "x"}
    assert mutate_json(random.Random(3), doc) == mutate_json(random.Random(3), doc)


def test_lines_cover_every_command() -> None:
    paths = Paths(["s.wat"], "b.json", "dir", "fifo", "missing")
    generator = LineGenerator(shell_commands(), paths, ["storage_api.storage_get"])
    rng = random.Random(1)
    seen = {line.split()[0] for line in (generator.line(rng) for _ in range(5000))
            if line.startswith(":") and line.split()}
    for cmd in shell_commands():
        assert any(f":{n}" in seen for n in (cmd.name, *cmd.aliases)), cmd.name
    assert all(any(line.startswith(f":{c.name}") for line in generator.corpus())
               for c in shell_commands())


def test_stats_report_groups_failures() -> None:
    stats = Stats("demo")
    for i in range(10):
        stats.fail("internal", f"line {i}", f"internal error: ValueError {i}")
    stats.fail("crash", "x", "killed by SIGABRT")
    assert stats.failure_count == 11
    assert len(stats.minimal()) == 2
    assert "demo" in stats.report()
    assert stats not in ALL_STATS
