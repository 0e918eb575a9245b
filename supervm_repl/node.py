"""``supervm-node``: the node-core demo of SuperVM v0.1.0, in Python.

It runs Demo 1 (``add(7,8)``) and Demo 2 (storage + events + chain context through
``execute_with_context``) from ``samples/`` and logs what they return. With ``--once`` it exits
after the demos; otherwise it goes on producing a block every ``node.block_interval`` seconds
(running Demo 2 in each) until Ctrl-C.

Configuration is TOML (default ``config.toml``; a missing file means the defaults)::

    [chain]
    block_number = 12345
    timestamp = 1704067200

    [storage]
    backend = "memory"        # or "sqlite"
    path = "supervm.db"       # for the sqlite backend

    [limits]                  # any field of runtime.Limits
    fuel = 10000000

    [node]
    block_interval = 5.0      # seconds between blocks without --once
    samples = "samples"       # where add.wat and events.wat are (default: the checkout's)
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime import ChainContext, Limits, MemoryStorage, Runtime, SqliteStorage, Storage
from runtime.errors import CallInterruptedError, SuperVMError
from runtime.files import read_text
from runtime.literals import parse_timestamp

from . import __version__

log = logging.getLogger("node_core")

#: Largest configuration file read.
MAX_CONFIG = 1024 * 1024

DEFAULT_SAMPLES = Path(__file__).resolve().parent.parent / "samples"


class ConfigError(Exception):
    """The configuration file is unreadable or invalid."""


@dataclass
class NodeConfig:
    """The node's settings, from TOML."""

    context: ChainContext = field(default_factory=lambda: ChainContext(12345, 1704067200))
    backend: str = "memory"
    db_path: Path = Path("supervm.db")
    limits: Limits = field(default_factory=Limits)
    block_interval: float = 5.0
    samples: Path = DEFAULT_SAMPLES

    @classmethod
    def from_toml(cls, text: str, base: Path) -> NodeConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML: {exc}") from None
        unknown = sorted(set(data) - {"chain", "storage", "limits", "node"})
        if unknown:
            raise ConfigError(f"unknown section [{unknown[0]}]")
        config = cls()
        try:
            chain = _table(data, "chain", {"block_number", "timestamp"})
            when = chain.get("timestamp")
            if isinstance(when, datetime.date):
                # A TOML date or date-time: UTC unless it has an offset, as in the shell.
                chain["timestamp"] = parse_timestamp(when.isoformat())
            config.context = ChainContext(**{**vars(config.context), **chain})
            storage = _table(data, "storage", {"backend", "path"})
            config.backend = storage.get("backend", config.backend)
            if config.backend not in ("memory", "sqlite"):
                raise ConfigError(
                    f"storage backend must be \"memory\" or \"sqlite\", not {config.backend!r}")
            if "path" in storage:
                config.db_path = base / str(storage["path"])
            config.limits = Limits.from_dict(_table(data, "limits", None))
            node = _table(data, "node", {"block_interval", "samples"})
            if "block_interval" in node:
                interval = node["block_interval"]
                if isinstance(interval, bool) or not isinstance(interval, int | float) \
                        or interval <= 0:
                    raise ConfigError("node.block_interval must be a positive number")
                config.block_interval = float(interval)
            if "samples" in node:
                config.samples = base / str(node["samples"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
        return config


def _table(data: dict[str, Any], name: str, allowed: set[str] | None) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table")
    if allowed is not None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            known = ", ".join(sorted(allowed))
            raise ConfigError(f"unknown key {name}.{unknown[0]}; known: {known}")
    return table


def load_config(path: Path) -> NodeConfig:
    """The configuration at ``path``; defaults (and a log line saying so) if it does not exist."""
    if not os.path.lexists(path):
        log.info("Config file %s not found; using defaults", path)
        return NodeConfig()
    try:
        text = read_text(path, limit=MAX_CONFIG, what="configuration")
    except SuperVMError as exc:
        raise ConfigError(str(exc)) from None
    return NodeConfig.from_toml(text, path.parent)


def open_storage(config: NodeConfig) -> Storage:
    if config.backend == "sqlite":
        return SqliteStorage(config.db_path)
    return MemoryStorage()


def run_demos(runtime: Runtime, config: NodeConfig, context: ChainContext) -> None:
    """Demo 1 and Demo 2 of the v0.1.0 node, logged as it logged them."""
    add = (config.samples / "add.wat").read_text(encoding="utf-8")
    log.info("Demo 1: add(7,8) => %d", runtime.execute_add(add, 7, 8))
    events_wat = (config.samples / "events.wat").read_text(encoding="utf-8")
    result, events, block, timestamp = runtime.execute_with_context(
        events_wat, "run", context.block_number, context.timestamp
    )
    log.info("Demo 2: execute_with_context results:")
    log.info("  Function returned: %s", result)
    log.info("  Block number: %d, Timestamp: %d", block, timestamp)
    log.info("  Events collected: %d events", len(events))
    for i, event in enumerate(events, 1):
        log.info("    Event %d: %s", i, event.decode("utf-8", errors="backslashreplace"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="supervm-node",
        description="Run the SuperVM node demo: Demo 1 (add) and Demo 2 (storage, events "
                    "and chain context), then produce blocks until Ctrl-C.",
    )
    parser.add_argument("--config", default="config.toml", metavar="PATH",
                        help="TOML configuration (default: config.toml; missing = defaults)")
    parser.add_argument("--once", action="store_true",
                        help="run the demos once and exit (for CI and scripts)")
    parser.add_argument("--version", action="version", version=f"supervm-node {__version__}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    log.info("Starting node (PoC) with config: %s", args.config)
    try:
        config = load_config(Path(args.config))
    except ConfigError as exc:
        log.error("%s: %s", args.config, exc)
        return 2
    stop = threading.Event()
    try:
        with _closing(open_storage(config)) as storage:
            runtime = Runtime(storage, limits=config.limits, context=config.context)
            context = config.context
            run_demos(runtime, config, context)
            if args.once:
                return 0
            log.info("Producing a block every %gs; press Ctrl-C to stop", config.block_interval)
            while not stop.wait(config.block_interval):
                context = context.with_(block_number=context.block_number + 1,
                                        timestamp=context.timestamp
                                        + max(1, round(config.block_interval)))
                log.info("Block %d", context.block_number)
                run_demos(runtime, config, context)
    except (KeyboardInterrupt, CallInterruptedError):
        # Ctrl-C may land inside a call, which then ends as interrupted (nothing committed).
        log.info("Shutting down")
        return 0
    except (SuperVMError, OSError) as exc:
        log.error("%s", exc)
        return 1
    return 0


class _closing:
    """Close a storage backend that has ``close()`` (SqliteStorage) on exit."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def __enter__(self) -> Storage:
        return self.storage

    def __exit__(self, *exc: object) -> None:
        close = getattr(self.storage, "close", None)
        if close is not None:
            close()


if __name__ == "__main__":
    sys.exit(main())
