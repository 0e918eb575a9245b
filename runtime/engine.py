"""The wasmtime engine SuperVM runs contracts on, and the compiled-module cache.

The engine is configured for deterministic contract execution: fuel metering, epoch
interruption, canonical NaNs, no threads, no relaxed SIMD. Engines are shared per configuration;
modules compile once per content hash and engine; an optional disk cache keeps serialized code
keyed by content hash, wasmtime version and the whole engine configuration, and loads only files
it wrote itself (each carries an HMAC under a key kept in the cache directory).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import wasmtime

log = logging.getLogger(__name__)

WASMTIME_VERSION = metadata.version("wasmtime")

_MAGIC = b"SVMCWASM1\n"


def engine_settings(max_wasm_stack: int) -> dict[str, object]:
    """Every engine setting SuperVM makes, in order: the engine's identity for caching."""
    return {
        "consume_fuel": True,
        "epoch_interruption": True,
        "cranelift_nan_canonicalization": True,
        # Relaxed SIMD must be off before anything else touches SIMD (the bindings abort
        # otherwise); threads off rejects shared memory, a source of nondeterminism.
        "wasm_relaxed_simd": False,
        "wasm_threads": False,
        "wasm_multi_value": True,
        "wasm_bulk_memory": True,
        "wasm_reference_types": True,
        "wasm_simd": True,
        "cranelift_opt_level": "speed",
        "parallel_compilation": False,
        "max_wasm_stack": max_wasm_stack,
    }


class EngineHandle:
    """One configured wasmtime engine and the modules compiled for it."""

    def __init__(self, max_wasm_stack: int) -> None:
        self.settings = engine_settings(max_wasm_stack)
        config = wasmtime.Config()
        for name, value in self.settings.items():
            setattr(config, name, value)
        self.engine = wasmtime.Engine(config)
        self.fingerprint = hashlib.sha256(
            repr((WASMTIME_VERSION, sorted(self.settings.items()))).encode()
        ).hexdigest()
        self._modules: dict[str, wasmtime.Module] = {}
        #: Descriptions of compiled modules by digest (``modules.ModuleInfo``): describing walks
        #: every export through the bindings, which costs milliseconds on large modules.
        self.described: dict[str, Any] = {}
        self._lock = threading.Lock()

    def compile(self, wasm: bytes, digest: str, cache_dir: Path | None = None) -> wasmtime.Module:
        """The compiled module for ``wasm`` (whose sha256 is ``digest``), compiling at most once.

        Raises ``wasmtime.WasmtimeError`` for an invalid module.
        """
        with self._lock:
            module = self._modules.get(digest)
        if module is not None:
            return module
        module = _load_cached(self.engine, cache_dir, self._key(digest)) if cache_dir else None
        if module is None:
            module = wasmtime.Module(self.engine, wasm)
            if cache_dir:
                _store_cached(cache_dir, self._key(digest), module)
        with self._lock:
            self._modules[digest] = module
        return module

    def _key(self, digest: str) -> str:
        return hashlib.sha256(f"{digest}:{self.fingerprint}".encode()).hexdigest()


_ENGINES: dict[int, EngineHandle] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(max_wasm_stack: int) -> EngineHandle:
    """The shared engine for a configuration (the stack size is the only variable setting)."""
    with _ENGINES_LOCK:
        handle = _ENGINES.get(max_wasm_stack)
        if handle is None:
            handle = _ENGINES[max_wasm_stack] = EngineHandle(max_wasm_stack)
        return handle


def _secret(cache_dir: Path) -> bytes:
    path = cache_dir / "key"
    try:
        data = path.read_bytes()
        if len(data) == 32:
            return data
    except OSError:
        pass
    cache_dir.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(32)
    tmp = cache_dir / f".key.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return data


def _load_cached(engine: wasmtime.Engine, cache_dir: Path, key: str) -> wasmtime.Module | None:
    path = cache_dir / f"{key}.cwasm"
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    try:
        mac, payload = blob[len(_MAGIC):len(_MAGIC) + 32], blob[len(_MAGIC) + 32:]
        expected = hmac.new(_secret(cache_dir), payload, hashlib.sha256).digest()
        if not blob.startswith(_MAGIC) or not hmac.compare_digest(mac, expected):
            log.warning("ignoring module cache entry %s: not written by SuperVM or damaged", path)
            return None
        # Safe: the HMAC proves this process's cache wrote these bytes.
        return wasmtime.Module.deserialize(engine, payload)
    except (OSError, wasmtime.WasmtimeError) as exc:
        log.warning("ignoring module cache entry %s: %s", path, exc)
        return None


def _store_cached(cache_dir: Path, key: str, module: wasmtime.Module) -> None:
    try:
        payload = module.serialize()
        mac = hmac.new(_secret(cache_dir), payload, hashlib.sha256).digest()
        tmp = cache_dir / f".{key}.{os.getpid()}.tmp"
        tmp.write_bytes(_MAGIC + mac + payload)
        os.replace(tmp, cache_dir / f"{key}.cwasm")
    except (OSError, wasmtime.WasmtimeError) as exc:
        # A cache that cannot be written only costs speed.
        log.warning("cannot write module cache in %s: %s", cache_dir, exc)
