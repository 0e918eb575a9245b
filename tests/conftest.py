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
