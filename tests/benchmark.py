"""SuperVM benchmarks: where a call's time goes, against the floor the machine allows.

Run on demand (not a test; pytest does not collect it)::

    python tests/benchmark.py              # everything, 1,000,000-key stores
    python tests/benchmark.py --quick      # fewer rounds, 100,000-key stores, no REPL runs
    python tests/benchmark.py --keys 200000 --rounds 9

Everything is measured in one run; the call and storage cases are interleaved round by round
(in a shuffled order each round) so machine noise hits all alike. Times are medians over the
rounds; a ratio is the median over rounds of the ratio within each round. The targets are
printed with PASS/MISS.

The C API floor does the same work as a SuperVM call with nothing else: a fresh store, fuel and
an epoch deadline (the engine requires both), instantiation from a pre-linked module, the export
looked up by name, ``wasmtime_func_call_unchecked`` with a raw value buffer; its host function
reads its two i32 arguments from the raw buffer, copies 13 bytes out of a memoryview of linear
memory cached for the call, and writes its result back.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import wasmtime  # noqa: E402
from wasmtime import _ffi as ffi  # noqa: E402

from runtime import MemoryStorage, Runtime, SqliteStorage  # noqa: E402
from runtime.engine import WASMTIME_VERSION, EngineHandle  # noqa: E402
from runtime.modules import compile_contract  # noqa: E402

ADD_WAT = (ROOT / "samples" / "add.wat").read_text()

#: The host-call module: ``one`` makes 1 host call, ``hundred`` 100; each reads a 13-byte key.
HOST_WAT = """
(module
  (import "storage_api" "storage_get" (func $get (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, world!")
  (func (export "one") (result i64)
    (call $get (i32.const 16) (i32.const 13)))
  (func (export "hundred") (result i64)
    (local $i i32) (local $sum i64)
    (loop $again
      (local.set $sum (i64.add (local.get $sum) (call $get (i32.const 16) (i32.const 13))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100))))
    (local.get $sum)))
"""

#: ``many`` makes 100,000 host calls (the trace memory measurement).
MANY_WAT = """
(module
  (import "storage_api" "storage_get" (func $get (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, world!")
  (func (export "many") (result i64)
    (local $i i32) (local $sum i64)
    (loop $again
      (local.set $sum (i64.add (local.get $sum) (call $get (i32.const 16) (i32.const 13))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100000))))
    (local.get $sum)))
"""
MANY = 100_000

FUEL = 10_000_000
CALLS = (("add", "add(7,8)"), ("one", "1 host call"), ("hundred", "100 host calls"))


# --- timing ---------------------------------------------------------------------------------------


class Case:
    """One measured operation: ``op()`` runs it once; samples are seconds per op."""

    def __init__(self, name: str, op: Callable[[], object], budget: float = 0.01) -> None:
        self.name, self.op, self.budget = name, op, budget
        self.batch = 1
        self.samples: list[float] = []

    def calibrate(self) -> None:
        """Choose a batch size so one sample takes about ``budget`` seconds."""
        self.op()
        n = 1
        while True:
            elapsed = self._time(n)
            if elapsed >= self.budget / 4 or n >= 1 << 20:
                break
            n *= 4
        self.batch = max(1, int(n * self.budget / max(elapsed, 1e-9)))

    def _time(self, n: int) -> float:
        op = self.op
        start = time.perf_counter()
        for _ in range(n):
            op()
        return time.perf_counter() - start

    def sample(self) -> None:
        self.samples.append(self._time(self.batch) / self.batch)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def ratio(a: Case, b: Case) -> float:
    """Median over rounds of a/b within each round (robust to slow drift of the machine)."""
    return statistics.median(x / y for x, y in zip(a.samples, b.samples, strict=True))


def run_interleaved(cases: list[Case], rounds: int, label: str) -> None:
    for case in cases:
        case.calibrate()
    rng = random.Random(5)
    for r in range(rounds):
        order = cases[:]
        rng.shuffle(order)
        for case in order:
            gc.collect()
            case.sample()
        print(f"\r  {label}: round {r + 1}/{rounds}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


# --- the C API floor --------------------------------------------------------------------------


class Floor:
    """The same operations straight through the C API, with nothing else."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        holding = ctypes.PyDLL(ffi.dll._name)  # short calls keep the GIL
        releasing = ffi.dll  # calls that run wasm release it

        def fn(lib: ctypes.CDLL, name: str, restype: object) -> ctypes._CFuncPtr:  # type: ignore[name-defined]
            f = lib[name]
            f.restype, f.argtypes = restype, None  # arguments are ready ctypes objects
            return f

        class Handle(ctypes.c_void_p):
            pass

        self.store_new = fn(holding, "wasmtime_store_new", Handle)
        self.store_context = fn(holding, "wasmtime_store_context", Handle)
        self.store_delete = fn(holding, "wasmtime_store_delete", None)
        self.set_fuel = fn(holding, "wasmtime_context_set_fuel", ctypes.c_void_p)
        self.set_deadline = fn(holding, "wasmtime_context_set_epoch_deadline", None)
        self.instantiate = fn(releasing, "wasmtime_instance_pre_instantiate", ctypes.c_void_p)
        self.export_get = fn(holding, "wasmtime_instance_export_get", ctypes.c_bool)
        self.call = fn(releasing, "wasmtime_func_call_unchecked", ctypes.c_void_p)
        self.memory_data = fn(holding, "wasmtime_memory_data", ctypes.c_void_p)
        self.memory_size = fn(holding, "wasmtime_memory_data_size", ctypes.c_size_t)
        self.engine = ctypes.cast(engine.ptr(), Handle)
        self.fuel = ctypes.c_uint64(FUEL)
        self.one = ctypes.c_uint64(1)
        self.instance = ffi.wasmtime_instance_t()
        self.instance_ref = ctypes.byref(self.instance)
        self.trap = ctypes.c_void_p()
        self.trap_ref = ctypes.byref(self.trap)
        self.func = ffi.wasmtime_extern_t()
        self.func_ref, self.func_of = ctypes.byref(self.func), ctypes.byref(self.func, 8)
        self.memory = ffi.wasmtime_extern_t()
        self.memory_ref, self.memory_of = ctypes.byref(self.memory), ctypes.byref(self.memory, 8)
        self.values = (ctypes.c_ubyte * 32)()
        self.values_ref = ctypes.byref(self.values)
        self.two = ctypes.c_size_t(2)
        self.names = {n: (ctypes.create_string_buffer(n.encode()), ctypes.c_size_t(len(n)))
                      for n in ("add", "one", "hundred", "memory")}
        self.args = struct.Struct("<I12xI12x")
        self.ctx: object = None
        self.view: memoryview | None = None

        # The host function: two raw i32 arguments in, 13 bytes read, an i64 result out.
        raw = memoryview((ctypes.c_ubyte * sys.maxsize).from_address(0))
        unpack, pack = struct.Struct("<I12xI").unpack_from, struct.Struct("<Q").pack_into

        def storage_get(env: int, caller: int, values: int, count: int) -> int:
            ptr, length = unpack(raw, values)
            view = self.view
            if view is None:
                base = self.memory_data(self.ctx, self.memory_of)
                size = self.memory_size(self.ctx, self.memory_of)
                view = self.view = memoryview((ctypes.c_ubyte * size).from_address(base))
            data = bytes(view[ptr:ptr + length])
            pack(raw, values, len(data))
            return 0

        self.callback = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.c_void_p, ctypes.c_size_t)(storage_get)
        self.linker = wasmtime.Linker(engine)
        functype = wasmtime.FuncType([wasmtime.ValType.i32()] * 2, [wasmtime.ValType.i64()])
        define = ffi.dll["wasmtime_linker_define_func_unchecked"]
        define.restype = ctypes.c_void_p
        define.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                           ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                           ctypes.c_void_p]
        error = define(ctypes.cast(self.linker.ptr(), ctypes.c_void_p), b"storage_api", 11,
                       b"storage_get", 11, ctypes.cast(functype.ptr(), ctypes.c_void_p),
                       ctypes.cast(self.callback, ctypes.c_void_p), None, None)
        assert not error
        self._functype = functype
        self._pres: list[wasmtime.InstancePre] = []

    def pre(self, module: wasmtime.Module) -> ctypes.c_void_p:
        pre = self.linker.instantiate_pre(module)
        self._pres.append(pre)  # kept alive while the floor runs
        return ctypes.cast(pre.ptr(), ctypes.c_void_p)

    def run(self, pre: ctypes.c_void_p, export: str, args: tuple[int, ...] = ()) -> int:
        store = self.store_new(self.engine, None, None)
        ctx = self.ctx = self.store_context(store)
        self.set_fuel(ctx, self.fuel)
        self.set_deadline(ctx, self.one)
        self.trap.value = None
        error = self.instantiate(pre, ctx, self.instance_ref, self.trap_ref)
        assert not error and not self.trap.value
        name, length = self.names[export]
        self.export_get(ctx, self.instance_ref, name, length, self.func_ref)
        if export != "add":
            name, length = self.names["memory"]
            self.export_get(ctx, self.instance_ref, name, length, self.memory_ref)
            self.view = None
        else:
            self.args.pack_into(self.values, 0, *args)
        error = self.call(ctx, self.func_of, self.values_ref, self.two, self.trap_ref)
        assert not error and not self.trap.value
        result = int.from_bytes(bytes(self.values[0:8]), "little")
        self.view = None
        self.store_delete(store)
        return result


# --- wasmtime's stock Python path -------------------------------------------------------------


class Stock:
    """``Store`` + ``Linker.instantiate`` + ``Func.__call__``; host function via
    ``Linker.define_func`` reading memory with ``caller["memory"].read``."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self.engine = engine
        self.linker = wasmtime.Linker(engine)

        def storage_get(caller: wasmtime.Caller, ptr: int, length: int) -> int:
            ptr &= 0xFFFF_FFFF
            data = caller["memory"].read(caller, ptr, ptr + length)  # type: ignore[union-attr]
            return len(data)

        functype = wasmtime.FuncType([wasmtime.ValType.i32()] * 2, [wasmtime.ValType.i64()])
        self.linker.define_func("storage_api", "storage_get", functype, storage_get,
                                access_caller=True)

    def run(self, module: wasmtime.Module, export: str, args: tuple[int, ...] = ()) -> object:
        store = wasmtime.Store(self.engine)
        store.set_fuel(FUEL)
        store.set_epoch_deadline(1)
        instance = self.linker.instantiate(store, module)
        return instance.exports(store)[export](store, *args)  # type: ignore[operator]


# --- the call benchmarks ----------------------------------------------------------------------


@contextlib.contextmanager
def executor_choice(name: str) -> Iterator[None]:
    old = os.environ.get("SUPERVM_EXECUTOR")
    os.environ["SUPERVM_EXECUTOR"] = name
    try:
        yield
    finally:
        if old is None:
            del os.environ["SUPERVM_EXECUTOR"]
        else:
            os.environ["SUPERVM_EXECUTOR"] = old


def call_cases() -> tuple[list[Case], dict[str, dict[str, Case]]]:
    """Cases by path (rows) and call (columns)."""
    rows: dict[str, dict[str, Case]] = {}
    probe = Runtime()
    engine = probe.engine.engine
    add_module = probe.load(ADD_WAT).module
    host_module = probe.load(HOST_WAT).module

    floor = Floor(engine)
    pres = {"add": floor.pre(add_module), "one": floor.pre(host_module),
            "hundred": floor.pre(host_module)}
    assert floor.run(pres["add"], "add", (7, 8)) == 15
    assert floor.run(pres["hundred"], "hundred") == 1300
    rows["C API floor"] = {
        call: Case(f"floor {call}", lambda c=call: floor.run(pres[c], c,
                                                             (7, 8) if c == "add" else ()))
        for call, _ in CALLS}

    stock = Stock(engine)
    modules = {"add": add_module, "one": host_module, "hundred": host_module}
    assert stock.run(add_module, "add", (7, 8)) == 15
    rows["wasmtime stock Python"] = {
        call: Case(f"stock {call}", lambda c=call: stock.run(modules[c], c,
                                                             (7, 8) if c == "add" else ()))
        for call, _ in CALLS}

    for executor in ("fast", "public"):
        for trace in (True, False):
            with executor_choice(executor):
                rt = Runtime(MemoryStorage(), trace=trace)
                add, host = rt.load(ADD_WAT), rt.load(HOST_WAT)
                assert rt.call(add, "add", (7, 8)).value == 15
            actual = rt._executor.name  # type: ignore[union-attr]
            contracts = {"add": add, "one": host, "hundred": host}
            label = f"Runtime.call {actual}, trace {'on' if trace else 'off'}"
            rows[label] = {
                call: Case(f"{label} {call}",
                           lambda c=call, r=rt, k=contracts: r.call(
                               k[c], c, (7, 8) if c == "add" else ()))
                for call, _ in CALLS}
    cases = [case for row in rows.values() for case in row.values()]
    return cases, rows


def host_call_samples(row: dict[str, Case]) -> list[float]:
    """Per round, the cost of one more host call: (100 host calls - 1 host call) / 99."""
    return [(h - o) / 99 for h, o in zip(row["hundred"].samples, row["one"].samples,
                                         strict=True)]


def per_host_call(row: dict[str, Case]) -> float:
    return statistics.median(host_call_samples(row))


def host_call_ratio(row: dict[str, Case], floor: dict[str, Case]) -> float:
    return statistics.median(a / b for a, b in zip(host_call_samples(row),
                                                   host_call_samples(floor), strict=True))


def trace_memory(present: bool) -> tuple[int, int, int]:
    """Bytes the trace of one call making 100,000 ``storage_get``s holds (tracemalloc around
    ``Runtime.call``, traced minus untraced), its entries, and the untraced call's bytes.

    ``present`` stores the key so that each entry also carries the value read."""
    import tracemalloc

    def measure(trace: bool) -> tuple[int, int]:
        storage = MemoryStorage()
        if present:
            storage.set(b"hello, world!", b"v" * 8)
        rt = Runtime(storage, trace=trace, limits=Runtime().limits.with_(fuel=10**9))
        contract = rt.load(MANY_WAT)
        rt.call(contract, "many")  # warm: compiled, converters built
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            result = rt.call(contract, "many")
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert len(result.trace) == (MANY if trace else 0)
        return held, len(result.trace)

    traced, entries = measure(True)
    untraced, _ = measure(False)
    return traced - untraced, entries, untraced


# --- module loading ---------------------------------------------------------------------------


def big_module(variant: int) -> bytes:
    """A module of 300 functions (~45 KB); ``variant`` changes one constant so each variant
    compiles anew."""
    funcs = []
    for i in range(300):
        body = " ".join(
            f"(local.set $x (i64.add (i64.mul (local.get $x) (i64.const {i * 7 + j + 3})) "
            f"(i64.const {variant if i == 0 and j == 0 else j})))"
            for j in range(12))
        funcs.append(f"(func (export \"f{i}\") (param $x i64) (result i64) {body} "
                     "(local.get $x))")
    return wasmtime.wat2wasm("(module " + " ".join(funcs) + ")")


def load_cases(tmp: Path, samples: int) -> dict[str, list[float]]:
    """Compile vs in-process cache hit vs disk-cache load (each through compile_contract)."""
    stack = 512 * 1024
    results: dict[str, list[float]] = {"compile": [], "in-process cache hit": [],
                                       "disk cache load": []}
    cache = tmp / "module-cache"
    limit = 16 * 1024 * 1024
    for i in range(samples):
        wasm = big_module(1000 + i)
        engine = EngineHandle(stack)
        start = time.perf_counter()
        compile_contract(engine, wasm, max_size=limit, cache_dir=cache)
        results["compile"].append(time.perf_counter() - start)  # includes writing the cache
        start = time.perf_counter()
        compile_contract(engine, wasm, max_size=limit, cache_dir=cache)
        results["in-process cache hit"].append(time.perf_counter() - start)
        fresh = EngineHandle(stack)  # same configuration, empty in-process cache
        start = time.perf_counter()
        compile_contract(fresh, wasm, max_size=limit, cache_dir=cache)
        results["disk cache load"].append(time.perf_counter() - start)
    return results


# --- debug information ------------------------------------------------------------------------

RUST_SAMPLE = ROOT / "samples" / "rust" / "token.wasm"


def without_debug_info(wasm: bytes) -> bytes:
    """The module with its ``.debug_*`` custom sections removed (what a release build ships)."""
    out, pos = bytearray(wasm[:8]), 8
    while pos < len(wasm):
        start, section_id = pos, wasm[pos]
        pos += 1
        size = shift = 0
        while True:
            byte = wasm[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        end = pos + size
        if section_id == 0:
            name_len = wasm[pos]  # the samples' section names are shorter than 128 bytes
            if wasm[pos + 1:pos + 1 + name_len].startswith(b".debug"):
                pos = end
                continue
        out += wasm[start:end]
        pos = end
    return bytes(out)


def debug_info_load_cases(samples: int) -> dict[str, list[float]]:
    """Loading the Rust sample (megabytes of DWARF) with and without its debug information,
    each on a fresh engine (no cache), as ``:load`` does; and reading the DWARF on first use."""
    with_info = RUST_SAMPLE.read_bytes()
    without = without_debug_info(with_info)
    limit = 16 * 1024 * 1024
    results: dict[str, list[float]] = {"with": [], "without": [], "first source lookup": []}
    for _ in range(samples):
        for name, wasm in (("with", with_info), ("without", without)):
            engine = EngineHandle(512 * 1024)
            start = time.perf_counter()
            contract = compile_contract(engine, wasm, name=str(RUST_SAMPLE), max_size=limit)
            contract.path = RUST_SAMPLE
            results[name].append(time.perf_counter() - start)
            if name == "with":
                start = time.perf_counter()
                assert contract.source_map is not None
                contract.source_map.locate(contract.source_map.functions()[-1].low)
                results["first source lookup"].append(time.perf_counter() - start)
    return results


def debug_info_call_cases() -> dict[str, Case]:
    """The same call through the debugger (no breakpoint, no stepping) on the Rust sample with
    and without its debug information: nothing source-level is in use, so nothing may cost."""
    from runtime.debug import Debugger

    cases = {}
    for name, wasm in (("with", RUST_SAMPLE.read_bytes()),
                       ("without", without_debug_info(RUST_SAMPLE.read_bytes()))):
        rt = Runtime(MemoryStorage())
        dbg = Debugger(rt)
        contract = rt.load(wasm, name=str(RUST_SAMPLE))
        dbg.call(contract, "mint", (0, 100))
        cases[name] = Case(f"rust balance_of, debug info {name}",
                           lambda d=dbg, c=contract: d.call(c, "balance_of", (0,)))
    return cases


# --- storage ----------------------------------------------------------------------------------


def key(i: int) -> bytes:
    return b"key:%08d" % i


def storage_cases(tmp: Path, big: int) -> dict[tuple[str, int], dict[str, Case]]:
    """get / set / 100-key prefix scan on 1,000-key and ``big``-key stores of both backends."""
    out: dict[tuple[str, int], dict[str, Case]] = {}
    value = b"v" * 32
    for size in (1000, big):
        memory = MemoryStorage()
        memory.apply((key(i), value) for i in range(size))
        started = time.perf_counter()
        sqlite = SqliteStorage(tmp / f"kv-{size}.db")
        sqlite.apply((key(i), value) for i in range(size))
        print(f"  built {size:,}-key stores (SQLite {time.perf_counter() - started:.1f} s)",
              file=sys.stderr)
        for name, storage in (("MemoryStorage", memory), ("SqliteStorage", sqlite)):
            rng = random.Random(size)
            keys = [key(rng.randrange(size)) for _ in range(4096)]
            # key:%08d with the last two digits free: exactly 100 keys per prefix.
            prefixes = [b"key:%06d" % rng.randrange(size // 100) for _ in range(4096)]
            assert len(storage.scan(prefixes[0], 100)) == 100
            counter = iter(range(1 << 62))

            def get(s=storage, k=keys, c=counter) -> object:
                return s.get(k[next(c) & 4095])

            def set_(s=storage, k=keys, c=counter) -> object:
                return s.set(k[next(c) & 4095], value)

            def scan(s=storage, p=prefixes, c=counter) -> object:
                return s.scan(p[next(c) & 4095], 100)

            budget = 0.01
            out[(name, size)] = {"get": Case(f"{name} {size} get", get, budget),
                                 "set": Case(f"{name} {size} set", set_, budget),
                                 "scan 100": Case(f"{name} {size} scan", scan, budget)}
    return out


# --- supervm-repl (batch mode, start-up) ------------------------------------------------------


def repl_available() -> bool:
    return (ROOT / "supervm_repl" / "__main__.py").exists()


def repl_batch_per_call(tmp: Path, calls: int = 10_000, runs: int = 3) -> float | None:
    """Per-call time of ``supervm-repl --script`` running ``calls`` lines of ``:call add 7 8``.

    The same script with no ``:call`` lines (start-up, load) is subtracted.
    """
    if not repl_available():
        print("  supervm_repl not found: batch mode skipped", file=sys.stderr)
        return None
    full, empty = tmp / "calls.svm", tmp / "empty.svm"
    full.write_text(":call add 7 8\n" * calls)
    empty.write_text("# nothing\n")
    command = [sys.executable, "-m", "supervm_repl", str(ROOT / "samples" / "add.wat"),
               "--script"]

    def wall(script: Path) -> float:
        start = time.perf_counter()
        subprocess.run([*command, str(script)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    totals, bases = [], []
    for _ in range(runs):
        totals.append(wall(full))
        bases.append(wall(empty))
    return (statistics.median(totals) - statistics.median(bases)) / calls


def startup_times(runs: int = 7) -> dict[str, float] | None:
    """Start-up to the first prompt (a pty; ``-c :quit`` if pexpect is missing) vs the bare
    ``import wasmtime, prompt_toolkit``."""
    if not repl_available():
        print("  supervm_repl not found: start-up skipped", file=sys.stderr)
        return None
    env = {**os.environ, "HOME": tempfile.mkdtemp(prefix="supervm-home-"), "TERM": "dumb"}

    def bare() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import wasmtime, prompt_toolkit"], check=True)
        return time.perf_counter() - start

    def quit_proxy() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "supervm_repl", "-c", ":quit"], cwd=ROOT,
                       env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    try:
        import pexpect
    except ImportError:
        pexpect = None

    def to_prompt() -> float:
        start = time.perf_counter()
        child = pexpect.spawn(sys.executable, ["-m", "supervm_repl"], cwd=str(ROOT), env=env,
                              timeout=30, encoding="utf-8")
        child.expect(r"\[block \d+\]> ")
        elapsed = time.perf_counter() - start
        child.terminate(force=True)
        return elapsed

    samples: dict[str, list[float]] = {"bare import": [], "supervm-repl -c :quit": []}
    if pexpect is not None:
        samples["supervm-repl to first prompt"] = []
    for _ in range(runs):
        samples["bare import"].append(bare())
        samples["supervm-repl -c :quit"].append(quit_proxy())
        if pexpect is not None:
            samples["supervm-repl to first prompt"].append(to_prompt())
    return {k: statistics.median(v) for k, v in samples.items()}


# --- long sessions ----------------------------------------------------------------------------

TOKEN = ROOT / "samples" / "token.wat"


def _session(keys: int = 0) -> tuple[Any, Any]:
    """A shell session on the token contract (the shell's command set), ``keys`` extra keys
    stored, Alice minted a large balance."""
    from supervm_repl.commands import default_commands, execute
    from supervm_repl.session import Session

    session, commands = Session(), default_commands()
    for i in range(keys):  # straight into the store: the fill is not what is measured
        session.storage.set(key(i), b"v" * 8)
    for line in (f":load {TOKEN}", ":call mint 0 1000000000000"):
        reply = execute(session, line, commands)
        assert reply.ok, (line, reply)
    return session, lambda line: _ok(execute(session, line, commands), line)


def _ok(reply: Any, line: str) -> Any:
    assert reply.ok, (line, reply)
    return reply


def _command_time(run: Callable[[str], Any], line: str, repeat: int = 7) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(line)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def long_session_rows(calls: int, big: int, rounds: int) -> list[tuple[Any, ...]]:
    """The long-session targets: GC pauses and call time over ``calls`` shell calls, history
    views after them, views at a cursor in a ``big``-key store, memory size."""
    targets: list[tuple[Any, ...]] = []
    session, run = _session()
    gc.freeze()  # as supervm-repl does once started: the imported modules are not traversed
    pauses: list[float] = []
    started: list[float] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append(time.perf_counter() - started.pop())

    chunk = 2_000
    head: list[float] = []
    tail: list[float] = []
    early: dict[str, float] = {}
    views = (':history "bal:bob" --limit 20', ":calls --limit 20")
    gc.callbacks.append(watch)
    try:
        for i in range(calls):
            start = time.perf_counter()
            session.call("transfer", (0, 1 + i % 2, 1))
            elapsed = time.perf_counter() - start
            if i < chunk:
                head.append(elapsed)
            elif i >= calls - chunk:
                tail.append(elapsed)
            if i + 1 == 1_000:
                early = {line: _command_time(run, line) for line in views}
            if (i + 1) % 10_000 == 0:
                print(f"\r  long session: {i + 1:,}/{calls:,} calls", end="", file=sys.stderr,
                      flush=True)
    finally:
        gc.callbacks.remove(watch)
    print(file=sys.stderr)
    worst = max(pauses, default=0.0)
    end_vs_start = statistics.median(tail) / statistics.median(head)
    print(f"  {calls:,} shell calls (token transfer): first {chunk:,} "
          f"{us(statistics.median(head))} µs, last {chunk:,} {us(statistics.median(tail))} µs "
          f"per call; {len(pauses):,} collections, the longest {worst * 1e3:.1f} ms")
    targets.append((f"longest GC pause in {calls:,} calls <= 50 ms", worst * 1e3, 50.0, "",
                    "ms"))
    targets.append((f"a call after {calls:,} calls <= 1.2x a call at the start",
                    end_vs_start, 1.2, ""))
    for line in views:
        late = _command_time(run, line)
        print(f"  {line:34s} after 1,000 calls {us(early[line])} µs, after {calls:,} "
              f"{us(late)} µs")
        targets.append((f"{line} after {calls:,} calls <= 3x after 1,000",
                        late / early[line], 3.0, ""))
    gc.unfreeze()
    del session, run
    gc.collect()

    # Views at a time-travel cursor: a few calls, then the cursor on the first one.
    cases: dict[int, dict[str, Case]] = {}
    for keys in (1_000, big):
        session, run = _session(keys)
        run(":call transfer 0 1 5")
        run(":call transfer 0 2 7")
        run(":goto 1.0")
        cases[keys] = {line: Case(f"{line} at {keys:,} keys", lambda r=run, x=line: r(x))
                       for line in (":storage --limit 5", ":diff 0 end")}
    every = [c for row in cases.values() for c in row.values()]
    run_interleaved(every, rounds, "views at a cursor")
    for line in (":storage --limit 5", ":diff 0 end"):
        small, large = cases[1_000][line], cases[big][line]
        factor = ratio(large, small)
        print(f"  {line:34s} at a cursor: 1,000 keys {us(small.median)} µs, {big:,} keys "
              f"{us(large.median)} µs ({factor:.2f}x)")
        targets.append((f"{line} at a cursor, {big:,} keys <= 3x 1,000 keys", factor, 3.0, ""))

    # A shell call on a module with 256 pages of memory vs one page.
    def pages_module(pages: int) -> str:
        return HOST_WAT.replace('(memory (export "memory") 1)',
                                f'(memory (export "memory") {pages})')

    by_pages: dict[int, Case] = {}
    for pages in (1, 256):
        session, _ = _session()
        contract = session.load_text(pages_module(pages), f"pages{pages}.wat")
        assert contract is session.contract
        by_pages[pages] = Case(f"{pages}-page call",
                               lambda s=session: s.call("one", ()))
    run_interleaved(list(by_pages.values()), rounds, "memory size")
    factor = ratio(by_pages[256], by_pages[1])
    print(f"  shell call, 1 host call: 1-page module {us(by_pages[1].median)} µs, 256-page "
          f"module {us(by_pages[256].median)} µs ({factor:.2f}x)")
    targets.append(("a shell call on a 256-page module <= 1.5x on a 1-page module",
                    factor, 1.5, ""))
    return targets


# --- report -----------------------------------------------------------------------------------


# --- contract testing ---------------------------------------------------------------------


def testing_cases(rounds: int) -> dict[str, float]:
    """Fuzzing, coverage and worker processes on the token's ``transfer``, side by side.

    A fuzz run and a plain call get the same inputs (those the campaign generates, most of
    which trap: unknown accounts, insufficient funds); ratios are medians of per-round ratios.
    """
    from runtime.errors import CallError
    from runtime.testing.coverage import Coverage
    from runtime.testing.fuzz import fuzz
    from runtime.testing.inputs import InputSpace
    from runtime.testing.parallel import close_pool, pool

    runtime = Runtime(MemoryStorage())
    token = runtime.load((ROOT / "samples" / "token.wat").read_text(), name="token.wat")
    runtime.call(token, "mint", (0, 1_000_000))
    runtime.observers.clear()  # nobody records the benchmark's calls
    space = InputSpace.of(token, "transfer")
    inputs = [space.input(1, i) for i in range(512)]
    coverage = Coverage()
    target, hook = coverage.runner(token)
    state = {"i": 0}

    def call(contract: object, **kw: object) -> None:
        i = state["i"] = (state["i"] + 1) % len(inputs)
        with contextlib.suppress(CallError):
            runtime.call(contract, "transfer", inputs[i], **kw)  # type: ignore[arg-type]

    runs = 512
    per_run = Case("fuzz transfer, per run",
                   lambda: fuzz(runtime, token, "transfer", runs=runs, seed=1,
                                expect="ok == 1 or ok == 0", record=False), 0.05)
    plain = Case("Runtime.call transfer", lambda: call(token), 0.05)
    covered = Case("Runtime.call transfer, coverage on",
                   lambda: call(target, probe_hook=hook), 0.05)
    run_interleaved([per_run, plain, covered], rounds, "fuzzing and coverage")
    fuzz_ratio = statistics.median(f / runs / p for f, p in
                                   zip(per_run.samples, plain.samples, strict=True))
    print(f"  fuzz run {us(per_run.median / runs)} µs, plain call {us(plain.median)} µs, "
          f"coverage on {us(covered.median)} µs per call", file=sys.stderr)
    pool(2)  # started (and warm) before timing: a session keeps its pool
    fuzz(runtime, token, "transfer", runs=64, seed=2, workers=2, record=False,
         expect="ok == 1 or ok == 0")
    big = 6000
    one = Case("fuzz, 1 worker", lambda: fuzz(runtime, token, "transfer", runs=big, seed=1,
                                               expect="ok == 1 or ok == 0", record=False), 0)
    two = Case("fuzz, 2 workers", lambda: fuzz(runtime, token, "transfer", runs=big, seed=1,
                                                workers=2, expect="ok == 1 or ok == 0",
                                                record=False), 0)
    # The machine's own parallelism, for comparison: the same pure-Python work in 1 and in 2
    # spawned processes (a shared or loaded machine gives less than 2x here too).
    control_one = Case("spin, 1 process", lambda: [_spin(2_000_000) for _ in range(2)], 0)
    control_two = Case("spin, 2 processes",
                       lambda: list(pool(2).map(_spin, [2_000_000] * 2)), 0)
    run_interleaved([one, two, control_one, control_two], max(3, rounds // 3),
                    "worker processes")
    close_pool()
    return {
        "fuzz run per plain call": fuzz_ratio,
        "coverage on per call": ratio(covered, plain),
        "2 workers time per 1 worker": ratio(two, one),
        "fuzz run us": per_run.median / runs, "plain call us": plain.median,
        "covered call us": covered.median, "one worker s": one.median,
        "two workers s": two.median,
        "machine parallelism": 1 / ratio(control_two, control_one),
    }


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def us(seconds: float) -> str:
    value = seconds * 1e6
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def verdict(ratio: float | None, limit: float) -> str:
    if ratio is None:
        return "n/a"
    return "PASS" if ratio <= limit else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds (21)")
    parser.add_argument("--keys", type=int, default=1_000_000,
                        help="size of the big storage (1,000,000)")
    parser.add_argument("--quick", action="store_true",
                        help="5 rounds, 100,000 keys, no REPL subprocess runs")
    parser.add_argument("--no-repl", action="store_true", help="skip the supervm-repl runs")
    parser.add_argument("--session-calls", type=int, default=100_000,
                        help="calls of the long session (100,000)")
    options = parser.parse_args()
    if options.quick:
        options.rounds, options.keys, options.no_repl = 9, min(options.keys, 100_000), True
        options.session_calls = min(options.session_calls, 20_000)
    big = options.keys
    tmp = Path(tempfile.mkdtemp(prefix="supervm-bench-"))
    # (name, measured, limit, note[, unit]): the unit is "x" (a ratio) unless given.
    targets: list[tuple[Any, ...]] = []
    try:
        print("calls:", file=sys.stderr)
        cases, rows = call_cases()
        print("storage:", file=sys.stderr)
        stores = storage_cases(tmp, big)
        debug_calls = debug_info_call_cases()
        every = cases + [c for ops in stores.values() for c in ops.values()] + \
            list(debug_calls.values())
        run_interleaved(every, options.rounds, "interleaved calls and storage")

        print(f"\nSuperVM benchmark: wasmtime {WASMTIME_VERSION} "
              f"({Runtime().engine.settings['allocation']} instance allocation), "
              f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
              f"{options.rounds} interleaved rounds, medians")
        print("\nPer call, µs (Runtime.call = fresh instance, call, commit):")
        floor = rows["C API floor"]
        header = f"{'path':34s}" + "".join(f"{label:>16s}" for _, label in CALLS) + \
            f"{'per host call':>15s}"
        print(header)
        print("-" * len(header))
        for label, row in rows.items():
            cells = "".join(f"{us(row[c].median):>16s}" for c, _ in CALLS)
            print(f"{label:34s}{cells}{us(per_host_call(row)):>15s}")
        print("\nRatio to the C API floor:")
        print(header)
        print("-" * len(header))
        for label, row in rows.items():
            cells = "".join(f"{ratio(row[c], floor[c]):>15.2f}x" for c, _ in CALLS)
            print(f"{label:34s}{cells}{host_call_ratio(row, floor):>14.2f}x")

        traced = next(r for k, r in rows.items() if k.startswith("Runtime.call fast, trace on")
                      or k.startswith("Runtime.call fast"))
        traced_label = next(k for k, r in rows.items() if r is traced)
        targets.append((f"{traced_label}: add(7,8) <= 2x floor",
                        ratio(traced["add"], floor["add"]), 2.0, ""))
        targets.append((f"{traced_label}: 1 host call <= 2x floor",
                        ratio(traced["one"], floor["one"]), 2.0, ""))
        targets.append((f"{traced_label}: 100 host calls <= 2x floor",
                        ratio(traced["hundred"], floor["hundred"]), 2.0, ""))
        targets.append(("a traced host call <= 3x the floor's host call",
                        host_call_ratio(traced, floor), 3.0,
                        f"{us(per_host_call(traced))} vs {us(per_host_call(floor))} µs"))

        print("\nDebugger:")
        for executor in ("fast", "public"):
            on = next((r for k, r in rows.items() if k.startswith("Runtime.call") and
                       f"{executor}" in k and "trace on" in k), None)
            off = next((r for k, r in rows.items() if k.startswith("Runtime.call") and
                        f"{executor}" in k and "trace off" in k), None)
            if on is None or off is None:
                continue
            cost_on, cost_off = per_host_call(on), per_host_call(off)
            print(f"  host call, {executor} executor: trace on {us(cost_on)} µs, trace off "
                  f"{us(cost_off)} µs (tracing adds {us(cost_on - cost_off)} µs, "
                  f"{cost_on / cost_off:.2f}x)")
        for present, what in ((False, "key absent"), (True, "key present, 8-byte value")):
            held, entries, base = trace_memory(present)
            print(f"  trace of a call making {entries:,} host calls ({what}): "
                  f"{held / 2**20:,.1f} MiB, {held / entries:,.0f} bytes per entry "
                  f"(the untraced call holds {base / 2**10:,.0f} KiB)")

        print(f"\nStorage, µs per operation ({big:,} vs 1,000 keys):")
        print(f"{'backend':16s}{'operation':>12s}{'1,000 keys':>14s}{f'{big:,} keys':>16s}"
              f"{'ratio':>9s}")
        for name in ("MemoryStorage", "SqliteStorage"):
            for op in ("get", "set", "scan 100"):
                small, large = stores[(name, 1000)][op], stores[(name, big)][op]
                factor = ratio(large, small)
                print(f"{name:16s}{op:>12s}{us(small.median):>14s}{us(large.median):>16s}"
                      f"{factor:>8.2f}x")
                targets.append((f"{name} {op} at {big:,} keys <= 2x at 1,000", factor, 2.0, ""))

        print(f"\nModule loading, ms (a {len(big_module(0)):,}-byte module with 300 functions; "
              "through compile_contract):")
        loads = load_cases(tmp, 3 if options.quick else 5)
        compile_ms = statistics.median(loads["compile"]) * 1e3
        for name, samples in loads.items():
            ms = statistics.median(samples) * 1e3
            print(f"  {name:24s}{ms:10.3f} ms  ({compile_ms / ms:,.0f}x faster than compiling)"
                  if name != "compile" else f"  {name:24s}{ms:10.3f} ms")

        print("\nSource-level debugging (the Rust sample, "
              f"{RUST_SAMPLE.stat().st_size / 2**20:,.1f} MiB with DWARF, "
              f"{len(without_debug_info(RUST_SAMPLE.read_bytes())) / 2**10:,.0f} KiB without):")
        loads = debug_info_load_cases(3 if options.quick else 5)
        with_ms, without_ms = (statistics.median(loads[k]) * 1e3 for k in ("with", "without"))
        lookup_ms = statistics.median(loads["first source lookup"]) * 1e3
        print(f"  load with debug info      {with_ms:10.1f} ms")
        print(f"  load without              {without_ms:10.1f} ms  "
              f"({with_ms / without_ms:.2f}x; {with_ms - without_ms:,.1f} ms extra)")
        print(f"  first source lookup       {lookup_ms:10.1f} ms  (reads the DWARF, once)")
        extra = (with_ms - without_ms) / 1e3
        targets.append(("loading the Rust sample with debug info: <= 1 s more than without",
                        extra, 1.0, f"{with_ms / without_ms:.2f}x", "s"))
        call_ratio = ratio(debug_calls["with"], debug_calls["without"])
        print(f"  call, no source feature in use: {us(debug_calls['with'].median)} µs with "
              f"debug info vs {us(debug_calls['without'].median)} µs without "
              f"({call_ratio:.2f}x)")
        targets.append(("a call with debug info and no source feature in use <= 1.1x without",
                        call_ratio, 1.1, ""))

        print("\nContract testing (token transfer, the inputs of a fuzz campaign):",
              file=sys.stderr)
        testing = testing_cases(options.rounds)
        print("\nContract testing (token transfer; per call, µs):")
        print(f"  fuzz run {us(testing['fuzz run us'])}   plain Runtime.call "
              f"{us(testing['plain call us'])}   call with coverage on "
              f"{us(testing['covered call us'])}")
        print(f"  a 6,000-run campaign: 1 worker {testing['one worker s']:.2f} s, 2 workers "
              f"{testing['two workers s']:.2f} s "
              f"({1 / testing['2 workers time per 1 worker']:.2f}x the throughput; the same "
              f"pure-Python work in 2 processes: {testing['machine parallelism']:.2f}x)")
        targets.append(("fuzz run <= 2x a plain Runtime.call (throughput >= 0.5x)",
                        testing["fuzz run per plain call"], 2.0, ""))
        targets.append(("2 workers: campaign time <= 0.59x 1 worker's (throughput >= 1.7x)",
                        testing["2 workers time per 1 worker"], 1 / 1.7, ""))
        targets.append(("a call with coverage on <= 2x without",
                        testing["coverage on per call"], 2.0, ""))

        print("\nsupervm-repl:")
        batch = None if options.no_repl else repl_batch_per_call(tmp)
        add_call = traced["add"].median
        if batch is not None:
            print(f"  batch mode, per :call add 7 8   {us(batch)} µs "
                  f"({batch / add_call:.2f}x Runtime.call {us(add_call)} µs)")
        else:
            print("  batch mode: skipped")
        targets.append(("batch mode per call <= 2x Runtime.call",
                        None if batch is None else batch / add_call, 2.0, ""))
        startup = None if options.no_repl else startup_times()
        if startup:
            for name, seconds in startup.items():
                print(f"  {name:32s}{seconds * 1e3:8.0f} ms")
            first = startup.get("supervm-repl to first prompt",
                                startup["supervm-repl -c :quit"])
            slower: float | None = first / startup["bare import"]
        else:
            print("  start-up: skipped")
            slower = None
        targets.append(("start-up to the first prompt <= 1.5x bare import", slower, 1.5, ""))

        # The stores above hold millions of objects every full collection would walk: the
        # session's own pauses are what is measured.
        del stores, every
        gc.collect()
        print("\nLong sessions (the shell's own path: Session and its commands):")
        targets.extend(long_session_rows(options.session_calls, big, options.rounds))

        print("\nTargets:")
        for name, measured, limit, note, *unit in targets:
            shown = "   n/a" if measured is None else f"{measured:6.2f}{(unit or ['x'])[0]}"
            note = f"  ({note})" if note else ""
            print(f"  {verdict(measured, limit):4s}  {shown}  {name}{note}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
