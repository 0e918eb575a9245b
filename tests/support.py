"""Helpers for tests: sample files and WAT contracts importing the whole host ABI."""

from __future__ import annotations

import re
from pathlib import Path

from runtime import Storage

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
README = SAMPLES.parent / "README.md"


def documented_kinds() -> set[str]:
    """The error kinds of the README's table (``error.kind`` is one of: ...)."""
    text = README.read_text(encoding="utf-8")
    table = text.split("`error.kind` is one of:", 1)[1].split("\n\n", 2)[1]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))


def sample(name: str) -> str:
    """The text of ``samples/<name>``."""
    return (SAMPLES / name).read_text(encoding="utf-8")


IMPORTS = """
  (import "storage_api" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "storage_api" "storage_read_value" (func $read_value (param i32 i32) (result i32)))
  (import "storage_api" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "storage_api" "storage_delete" (func $delete (param i32 i32) (result i32)))
  (import "chain_api" "block_number" (func $block_number (result i64)))
  (import "chain_api" "timestamp" (func $timestamp (result i64)))
  (import "chain_api" "emit_event" (func $emit (param i32 i32) (result i32)))
  (import "chain_api" "events_len" (func $events_len (result i32)))
  (import "chain_api" "read_event" (func $read_event (param i32 i32 i32) (result i32)))
"""


def contract(body: str, *, memory: int = 1, data: str = "") -> str:
    """A WAT module importing the whole host ABI, with ``body`` as its functions."""
    return f'(module {IMPORTS} (memory (export "memory") {memory}) {data} {body})'


class MyStorage(Storage):
    """A user-defined backend written the simplest way, like v0.1.0's ``MyStorage`` example:
    only the four methods of the storage trait."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)

    def scan(self, prefix: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        return sorted((k, v) for k, v in self.data.items() if k.startswith(prefix))[:limit]
