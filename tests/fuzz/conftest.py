"""Fixtures of the hostile-input campaigns, and the summary table printed after the run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from .support import ALL_STATS, FuzzConfig, child_env, run_program, summary_table


@pytest.fixture(scope="session")
def fuzz(request: pytest.FixtureRequest) -> FuzzConfig:
    """The campaigns' budget and seed (``--fuzz-budget``, ``--fuzz-seed``, ``--fuzz-jobs``)."""
    config = request.config
    return FuzzConfig(config.getoption("--fuzz-budget"), config.getoption("--fuzz-seed"),
                      max(1, config.getoption("--fuzz-jobs")))


@pytest.fixture(scope="session")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the whole run: workers' homes, inputs, reproducers."""
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="session")
def repro_root(fuzz_root: Path) -> Path:
    return fuzz_root / "reproducers"


@pytest.fixture(scope="session")
def bundles(fuzz_root: Path) -> dict[str, Path]:
    """Valid replay bundles of real calls on the samples (written by ``:export``), by name.

    Campaigns must not write to these: copy one first.
    """
    from .lines import restore_samples

    out = fuzz_root / "bundles"
    out.mkdir()
    samples = fuzz_root / "bundle-samples"
    restore_samples(samples)
    scripts = {
        "token-transfer": ("token.wat", [":call mint 0 100", ":call transfer 0 1 30"]),
        "token-trap": ("token.wat", [":call mint 0 10", ":call transfer 0 1 30"]),
        "counter": ("counter.wat", [":call increment", ":call add -5"]),
        "events": ("events.wat", [":block 12345", ":ts 1704067200", ":call run"]),
        "echo": ("events.wat", [":call echo_first_event"]),
        "greet": ("greet.wat", [":call greet"]),
        "abort": ("abort.wat", [":call fail"]),
        "out-of-fuel": ("loop.wat", [":fuel 5000", ":call spin"]),
        "bad-pointer": ("loop.wat", [":call bad_pointer"]),
        "add": ("add.wat", [":call add 7 0xff"]),
        "float-args": (None, ['(module (func (export "f") (param f32 f64) (result f64) '
                              "(f64.add (f64.promote_f32 (local.get 0)) (local.get 1))))",
                              ":call f nan:0x1 -0.0"]),
    }
    # One session makes them all: each script loads its module, calls, and exports the call.
    argv = ["--json", "--keep-going"]
    for name, (sample, lines) in scripts.items():
        if sample is not None:
            argv += ["-c", f"{_load(samples / sample)}"]
        for line in [":reset", *lines, f":export {out / (name + '.json')}", ":fuel 10_000_000"]:
            argv += ["-c", line]
    code, stdout, stderr = run_program([sys.executable, "-m", "supervm_repl", *argv], cwd=out,
                                       env=child_env(HOME=str(out)))
    made: dict[str, Path] = {}
    for name in scripts:
        path = out / f"{name}.json"
        assert path.exists(), f"cannot make bundle {name}: {code} {stdout} {stderr}"
        json.loads(path.read_text())
        made[name] = path
    return made


def _load(path: Path) -> str:
    return ":load " + str(path)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    """The counts of every campaign that ran, shown even without ``-s``."""
    if not ALL_STATS:
        return
    seed = config.getoption("--fuzz-seed")
    budget = config.getoption("--fuzz-budget")
    terminalreporter.section(
        f"SuperVM hostile-input campaigns (seed {seed}, "
        f"{'budget ' + str(budget) + ' s each' if budget else 'default run'})")
    for line in summary_table(ALL_STATS):
        terminalreporter.write_line(line)
    for stats in ALL_STATS:
        if stats.failure_count:
            terminalreporter.write_line("")
            for line in stats.report().splitlines():
                terminalreporter.write_line(line)
