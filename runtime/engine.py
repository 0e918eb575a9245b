"""The wasmtime engine SuperVM runs contracts on, and the compiled-module cache.

The engine is configured for deterministic contract execution: fuel metering, epoch
interruption, canonical NaNs, no threads, no relaxed SIMD. Instances come from wasmtime's pooling
allocator when the installed library has it (every call instantiates its contract afresh, and a
pooled slot is several times cheaper to set up than a fresh memory mapping); see
:data:`POOL_SLOTS`. ``SUPERVM_POOLING=0`` turns it off. Engines are shared per configuration;
modules compile once per content hash and engine; an optional disk cache keeps serialized code
keyed by content hash, wasmtime version and the whole engine configuration, and loads only files
it wrote itself (each carries an HMAC under a key kept in the cache directory).
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import logging
import mmap
import os
import secrets
import threading
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import wasmtime
from wasmtime import _ffi

from .errors import FileError
from .files import read_file

log = logging.getLogger(__name__)

WASMTIME_VERSION = metadata.version("wasmtime")

_MAGIC = b"SVMCWASM2\n"
#: Compiled modules (and their descriptions) an engine keeps in memory; the oldest go first.
MODULES_KEPT = 256
#: Largest compiled-module cache entry read.
MAX_CACHE_ENTRY = 1 << 30
#: Instances (each with its memory and table) alive at once per engine under the pooling
#: allocator. A call's instance lives for the call (and while a debugger holds it paused). Each
#: memory slot reserves 4 GiB of address space plus guard pages, virtual only: 256 slots are
#: about 1 TiB of the 128 TiB a 64-bit process has, and no memory is committed until used.
POOL_SLOTS = 256
#: GC heaps alive at once (instances of modules using the GC proposal).
POOL_GC_HEAPS = 16
#: Elements of a pooled table: ten times the default ``Limits.max_table_elements``; a module
#: with a larger table is refused at load (``SUPERVM_POOLING=0`` lifts this bound).
POOL_TABLE_ELEMENTS = 1 << 20
#: Address space one pooled slot maps (its 4 GiB memory, guard pages, its table), measured
#: with margin: it is checked to be available before the pool is created.
POOL_SLOT_RESERVATION = 9 << 29
#: Memory a pooled slot keeps mapped between instances (reset by copying, not by re-mapping).
POOL_KEEP_RESIDENT = 64 * 1024


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
        "allocation": "pooling" if pooling_wanted() else "on-demand",
    }


def _memory_rlimited() -> bool:
    """Whether this process runs under a data-segment or address-space limit."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return False
    return any(resource.getrlimit(which)[0] != resource.RLIM_INFINITY
               for which in (resource.RLIMIT_DATA, resource.RLIMIT_AS))


def _can_reserve(size: int, *, writable: bool) -> bool:
    """Whether ``size`` bytes of address space can be mapped now (no memory committed): the
    pooling allocator maps that much when its engine is created, memories inaccessible until
    used (counted by ``ulimit -v``) and tables writable (counted by ``ulimit -d`` too)."""
    prot = mmap.PROT_READ | mmap.PROT_WRITE if writable else 0
    try:
        probe = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
                          | getattr(mmap, "MAP_NORESERVE", 0), prot=prot)
    except (OSError, OverflowError, ValueError):
        return False
    probe.close()
    return True


def pooling_wanted() -> bool:
    """Whether engines use the pooling allocator: unless ``SUPERVM_POOLING=0``."""
    return os.environ.get("SUPERVM_POOLING", "1").strip() not in ("0", "off", "no", "false")


def _use_pooling(config: wasmtime.Config) -> bool:
    """Give ``config`` the pooling allocator (sized for SuperVM's limits); False if the
    installed wasmtime library does not export it."""
    dll = _ffi.dll
    try:
        new = dll.wasmtime_pooling_allocation_config_new
        strategy_set = dll.wasmtime_pooling_allocation_strategy_set
        delete = dll.wasmtime_pooling_allocation_config_delete
    except AttributeError:
        return False
    new.restype, new.argtypes = ctypes.c_void_p, []
    strategy_set.restype, strategy_set.argtypes = None, [ctypes.c_void_p, ctypes.c_void_p]
    delete.restype, delete.argtypes = None, [ctypes.c_void_p]
    if _memory_rlimited():
        # Under ulimit -d/-v the pool accounts memory differently: a memory above the limits is
        # refused by the operating system before SuperVM's own limit can say which one.
        log.debug("a data or address-space ulimit is set: instances allocated on demand")
        return False
    if not (_can_reserve((POOL_SLOTS + POOL_GC_HEAPS) * POOL_SLOT_RESERVATION, writable=False)
            and _can_reserve(5 * POOL_SLOTS * POOL_TABLE_ELEMENTS * 8 // 4, writable=True)):
        # wasmtime aborts the process, not returns an error, when the pool cannot be mapped.
        log.debug("address space for %d pooled instances cannot be reserved (ulimit -v or "
                  "-d?): "
                  "instances allocated on demand", POOL_SLOTS)
        return False
    pool = new()
    if not pool:
        return False
    u32, size = ctypes.c_uint32, ctypes.c_size_t
    # Sized so that nothing Limits allows is refused by the pool: memories up to 4 GiB grow in
    # place (so the fast path's cached memory views stay valid), tables ten times the default
    # max_table_elements.
    settings = (("total_core_instances", u32, POOL_SLOTS), ("total_memories", u32, POOL_SLOTS),
                ("total_tables", u32, POOL_SLOTS), ("max_memory_size", size, 4 << 30),
                # Fibre stacks serve async calls only, which SuperVM does not make; GC heaps
                # serve only modules of the GC proposal.
                ("total_stacks", u32, 1), ("total_gc_heaps", u32, POOL_GC_HEAPS),
                ("table_elements", size, POOL_TABLE_ELEMENTS),
                ("linear_memory_keep_resident", size, POOL_KEEP_RESIDENT),
                ("table_keep_resident", size, POOL_KEEP_RESIDENT))
    try:
        for name, kind, value in settings:
            setter = getattr(dll, f"wasmtime_pooling_allocation_config_{name}_set")
            setter.restype, setter.argtypes = None, [ctypes.c_void_p, kind]
            setter(pool, value)
        strategy_set(ctypes.cast(config.ptr(), ctypes.c_void_p), pool)
    except AttributeError:
        return False
    finally:
        delete(pool)
    return True


class EngineHandle:
    """One configured wasmtime engine and the modules compiled for it."""

    def __init__(self, max_wasm_stack: int) -> None:
        self.settings = engine_settings(max_wasm_stack)
        pooled = self.settings["allocation"] == "pooling"
        self.engine = self._engine(pooled)
        if pooled and self.engine is None:
            self.settings["allocation"] = "on-demand"
        if self.engine is None:
            self.engine = self._engine(False)
        assert self.engine is not None
        self.fingerprint = hashlib.sha256(
            repr((WASMTIME_VERSION, sorted(self.settings.items()))).encode()
        ).hexdigest()
        self._modules: BoundedDict[str, wasmtime.Module] = BoundedDict(MODULES_KEPT)
        #: Descriptions of compiled modules by digest (``modules.ModuleInfo``): describing a
        #: large module costs milliseconds.
        self.described: BoundedDict[str, Any] = BoundedDict(MODULES_KEPT)
        self._lock = threading.Lock()

    def _engine(self, pooled: bool) -> wasmtime.Engine | None:
        """An engine with these settings; None if the pooling allocator is not available or
        its address-space reservation is refused (``ulimit -v``): then on-demand it is."""
        config = wasmtime.Config()
        for name, value in self.settings.items():
            if name != "allocation":
                setattr(config, name, value)
        if pooled and not _use_pooling(config):
            log.debug("the wasmtime library has no pooling allocator: instances allocated "
                      "on demand")
            return None
        try:
            return wasmtime.Engine(config)
        except wasmtime.WasmtimeError as exc:
            if not pooled:
                raise
            log.warning("pooling allocator unavailable (%s); instances allocated on demand",
                        str(exc).splitlines()[0])
            return None

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
