"""Helpers for tests: sample files and WAT contracts importing the whole host ABI."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


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
