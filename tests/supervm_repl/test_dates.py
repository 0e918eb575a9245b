"""Timestamps as dates: ISO dates and times accepted wherever a timestamp is set (UTC unless
an offset is given), and shown beside the number."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.errors import UsageError
from runtime.literals import iso_utc, parse_timestamp
from supervm_repl.cli import main
from supervm_repl.commands import Outcome
from supervm_repl.node import NodeConfig

Run = Callable[[str], Outcome]
TextOf = Callable[[Outcome], str]


@pytest.mark.parametrize(("text", "seconds"), [
    ("2024-01-01", 1704067200),
    ("2024-01-01T12:00:00Z", 1704110400),
    ("2024-01-01T12:00", 1704110400),
    ("2024-01-01 12:00:00", 1704110400),
    ("2024-01-01T14:00:00+02:00", 1704110400),
    ("1704067200", 1704067200),
    ("0x10", 16),
    ("-5", -5),
])
def test_parse_timestamp(text: str, seconds: int) -> None:
    assert parse_timestamp(text) == seconds


@pytest.mark.parametrize("text", ["2024-13-01", "2024-01-01T25:00", "yesterday", "2024-1-1"])
def test_bad_dates_are_one_line_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_timestamp(text)


def test_iso_utc() -> None:
    assert iso_utc(1704067200) == "2024-01-01T00:00:00Z"
    assert iso_utc(-1) is None and iso_utc(2**62) is None


def test_ts_takes_a_date_and_shows_it(run: Run, text: TextOf) -> None:
    assert text(run(":ts 2024-01-01")) == "timestamp 1704067200 (2024-01-01T00:00:00Z)\n"
    assert run(':ts "2024-01-01 12:00"').to_json()["timestamp"] == 1704110400
    assert "not a date" in run(":ts 2024-02-30").to_json()["error"]["message"]
    assert run(":ts").to_json()["timestamp"] == 1704110400


def test_snapshots_show_dates(run: Run, text: TextOf) -> None:
    run(":ts 2024-01-01")
    run(":snapshot s")
    listing = text(run(":snapshots"))
    assert "1704067200 (2024-01-01T00:00:00Z)" in listing
    assert listing.splitlines()[1].endswith("Z")  # saved, in UTC too


def test_timestamp_flag_takes_a_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--timestamp", "2024-01-01T12:00:00Z", "-c", ":ts"]) == 0
    assert capsys.readouterr().out == "timestamp 1704110400 (2024-01-01T12:00:00Z)\n"


def test_node_config_takes_a_toml_date(tmp_path: Path) -> None:
    config = NodeConfig.from_toml("[chain]\ntimestamp = 2024-01-01T12:00:00Z\n", tmp_path)
    assert config.context.timestamp == 1704110400
    config = NodeConfig.from_toml("[chain]\ntimestamp = 2024-01-01\n", tmp_path)
    assert config.context.timestamp == 1704067200
