"""Shared fixtures: the samples directory and a fresh runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import MemoryStorage, Runtime
from tests.support import SAMPLES


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def rt() -> Runtime:
    return Runtime(MemoryStorage())


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here rather than in tests/fuzz/conftest.py: options must be known wherever pytest starts.
    group = parser.getgroup("fuzz", "hostile-input campaigns (tests/fuzz)")
    group.addoption("--fuzz-budget", type=float, default=None, metavar="SECONDS",
                    help="run each fuzz campaign for about SECONDS (default: a short fixed run)")
    group.addoption("--fuzz-seed", type=int, default=20240601, metavar="N",
                    help="seed of the fuzz campaigns' inputs (default 20240601)")
    group.addoption("--fuzz-jobs", type=int, default=1, metavar="N",
                    help="worker processes per fuzz campaign where inputs are independent")
