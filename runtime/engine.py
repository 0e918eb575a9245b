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
from typing import Any, TypeVar

import wasmtime

from .errors import FileError
from .files import read_file

log = logging.getLogger(__name__)

WASMTIME_VERSION = metadata.version("wasmtime")

_MAGIC = b"SVMCWASM2\n"
#: Compiled modules (and their descriptions) an engine keeps in memory; the oldest go first.
MODULES_KEPT = 256
#: Largest compiled-module cache entry read.
MAX_CACHE_ENTRY = 1 << 30


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
        self._modules: BoundedDict[str, wasmtime.Module] = BoundedDict(MODULES_KEPT)
        #: Descriptions of compiled modules by digest (``modules.ModuleInfo``): describing a
        #: large module costs milliseconds.
        self.described: BoundedDict[str, Any] = BoundedDict(MODULES_KEPT)
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
            self._modules.put(digest, module)
        return module

    def _key(self, digest: str) -> str:
        return hashlib.sha256(f"{digest}:{self.fingerprint}".encode()).hexdigest()


K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(dict[K, V]):
    """A dict that forgets its oldest entries beyond ``size`` (use :meth:`put` to add)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: K, value: V) -> V:
        if key not in self and len(self) >= self.size:
            del self[next(iter(self))]
        self[key] = value
        return value


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
        data = read_file(path, limit=64, what="cache key")
        if len(data) == 32:
            return data
    except FileError:
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
    if not path.exists():
        return None
    try:
        blob = read_file(path, limit=MAX_CACHE_ENTRY, what="module cache entry")
    except FileError as exc:
        log.warning("ignoring module cache entry: %s; recompiling", exc)
        return None
    try:
        mac, payload = blob[len(_MAGIC):len(_MAGIC) + 32], blob[len(_MAGIC) + 32:]
        expected = _mac(_secret(cache_dir), key, payload)
        if not blob.startswith(_MAGIC) or not hmac.compare_digest(mac, expected):
            log.warning("ignoring module cache entry %s: not written by SuperVM for this module "
                        "and engine, or damaged; recompiling", path)
            return None
        # Safe: the HMAC proves this process's cache wrote these bytes.
        return wasmtime.Module.deserialize(engine, payload)
    except (OSError, wasmtime.WasmtimeError) as exc:
        log.warning("ignoring module cache entry %s: %s", path, exc)
        return None


def _mac(secret: bytes, key: str, payload: bytes) -> bytes:
    """The entry's signature: over its key (module hash, engine configuration, wasmtime version)
    and its payload, so an entry only ever loads as the module it was stored for."""
    return hmac.new(secret, key.encode() + b"\0" + payload, hashlib.sha256).digest()


def _store_cached(cache_dir: Path, key: str, module: wasmtime.Module) -> None:
    try:
        payload = module.serialize()
        mac = _mac(_secret(cache_dir), key, payload)
        tmp = cache_dir / f".{key}.{os.getpid()}.tmp"
        tmp.write_bytes(_MAGIC + mac + payload)
        os.replace(tmp, cache_dir / f"{key}.cwasm")
    except (OSError, wasmtime.WasmtimeError) as exc:
        # A cache that cannot be written only costs speed.
        log.warning("cannot write module cache in %s: %s", cache_dir, exc)
