"""supervm-node: the v0.1.0 node-core demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = [
    "Demo 1: add(7,8) => 15",
    "Function returned: 1704079545",
    "Block number: 12345, Timestamp: 1704067200",
    "Events collected: 2 events",
    "Event 1: UserAction",
    "Event 2: BlockProcessed",
]


def node(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supervm_repl.node", *args], cwd=cwd, capture_output=True,
        text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_once_logs_the_seed_lines_in_order(tmp_path: Path) -> None:
    result = node("--once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "Config file config.toml not found; using defaults" in result.stderr
    positions = [next(i for i, line in enumerate(lines) if want in line) for want in EXPECTED]
    assert positions == sorted(positions)


def test_config_sets_context_and_sqlite_backend(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text(
        '[chain]\nblock_number = 1\ntimestamp = 10\n[storage]\nbackend = "sqlite"\n'
        'path = "n.db"\n[limits]\nfuel = 1000000\n'
    )
    result = node("--config", "node.toml", "--once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Function returned: 11" in result.stderr
    assert (tmp_path / "n.db").exists()


def test_invalid_config_exits_2(tmp_path: Path) -> None:
    for text, message in [("x = [", "invalid TOML"), ("[limits]\ngas = 1", "unknown limit"),
                          ('[storage]\nbackend = "redis"', "backend must be")]:
        (tmp_path / "bad.toml").write_text(text)
        result = node("--config", "bad.toml", "--once", cwd=tmp_path)
        assert result.returncode == 2
        assert message in result.stderr and "Traceback" not in result.stderr


def test_runs_until_ctrl_c(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[node]\nblock_interval = 0.1\n")
    child = subprocess.Popen(
        [sys.executable, "-m", "supervm_repl.node"], cwd=tmp_path, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stderr is not None
    deadline = time.monotonic() + 30
    seen = ""
    while "Block 12347" not in seen and time.monotonic() < deadline:
        seen += child.stderr.readline()
    child.send_signal(signal.SIGINT)
    rest = child.communicate(timeout=30)[1]
    assert child.returncode == 0
    assert "Block 12347" in seen and "Shutting down" in rest and "Traceback" not in rest
