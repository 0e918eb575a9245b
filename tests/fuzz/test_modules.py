"""Campaign 1: mutated modules, through both executors, compared with each other.

Every seed (the samples and the stress modules of :mod:`tests.fuzz.modules`) runs unmutated
once, then mutated copies run: ``Runtime().load(bytes)`` and every exported function called
with zero and edge arguments under a small fuel limit. Each input runs in two worker processes,
one per executor (``SUPERVM_EXECUTOR=public`` and ``=fast``), which must agree exactly.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

from .modules import Seed, compile_wat, mutate, mutate_text, seeds
from .support import (
    FuzzConfig,
    Reply,
    Stats,
    Worker,
    check_error,
    child_env,
    new_stats,
)

FUEL = 20_000
EXECUTORS = ("public", "fast")
#: The value types a module description may show.
VALUE_TYPES = {"i32", "i64", "f32", "f64", "v128", "externref", "funcref", "anyref", "eqref",
               "i31ref", "structref", "arrayref", "nullref", "nullfuncref", "nullexternref",
               "exnref", "nullexnref"}
#: Reference types as the text format writes them: (ref func), (ref null 3), ...
REF_TYPE = re.compile(r"\(ref (?:null )?(?:func|extern|any|eq|i31|struct|array|none|nofunc|"
                      r"noextern|exn|noexn|\d+)\)")
#: Mutated inputs in the default run (besides every seed once).
DEFAULT_MUTANTS = 80
TIMEOUT = 30.0


def test_mutated_modules(fuzz: FuzzConfig, fuzz_root: Path, repro_root: Path) -> None:
    stats = new_stats("modules", repro_root)
    pool = seeds()
    plan = fuzz.plan(len(pool) + DEFAULT_MUTANTS, 14)
    workers = {ex: Worker("modules", fuzz_root / f"modules-{ex}",
                          env=child_env(SUPERVM_EXECUTOR=ex)) for ex in EXECUTORS}
    calls: dict[str, int] = {}
    try:
        index = 0
        while plan.more(index):
            name, data, is_text, seed = _input(fuzz, pool, index)
            request = {"wasm": base64.b64encode(data).decode("ascii"), "fuel": FUEL,
                       "edge_seed": index, "checks": seed is not None, "text": is_text}
            replies = _ask(workers, request)
            _classify(stats, name, data, is_text, seed, replies, calls)
            index += 1
            stats.tried = index
    finally:
        for worker in workers.values():
            worker.close()
        stats.finish()
    restarts = sum(w.starts for w in workers.values()) - len(workers)
    stats.notes.append("exported-function calls (per executor): "
                       + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
    stats.notes.append(f"worker restarts: {restarts}")
    assert not stats.failure_count, stats.report()


def _input(fuzz: FuzzConfig, pool: list[Seed], index: int
           ) -> tuple[str, bytes, bool, Seed | None]:
    """Input ``index``: the seeds first, unmutated, then mutants of random seeds."""
    if index < len(pool):
        seed = pool[index]
        return f"#{index} seed {seed.name}", seed.wasm, False, seed
    rng = fuzz.rng("modules", index)
    seed = rng.choice(pool)
    if seed.wat is not None and rng.random() < 0.1:
        data, done = mutate_text(rng, seed.wat)
        return f"#{index} text of {seed.name} + {done}", data, True, None
    other = rng.choice(pool)
    data, done = mutate(rng, seed.wasm, other.wasm)
    return f"#{index} {seed.name} + {done} ({len(data)} bytes)", data, False, None


def _ask(workers: dict[str, Worker], request: dict[str, Any]) -> dict[str, Reply]:
    """Both executors at once (one core each)."""
    sent = {ex: w.send(request) for ex, w in workers.items()}
    return {ex: (w.receive(TIMEOUT) if sent[ex] else Reply("died", detail="worker gone"))
            for ex, w in workers.items()}


def _classify(stats: Stats, name: str, data: bytes, is_text: bool, seed: Seed | None,
              replies: dict[str, Reply], calls: dict[str, int]) -> None:
    def fail(column: str, detail: str) -> None:
        stats.fail(column, name, detail, data, ".wat" if is_text else ".wasm")

    answers: dict[str, dict[str, Any]] = {}
    for ex, reply in replies.items():
        if reply.status == "died":
            fail("crash", f"[{ex}] {reply.detail}")
        elif reply.status == "timeout":
            fail("hang", f"[{ex}] {reply.detail}")
        else:
            assert reply.data is not None
            if "harness_error" in reply.data:
                raise AssertionError(f"the campaign's worker failed on {name}: "
                                     f"{reply.data['harness_error']}")
            if "harness_memory_error" in reply.data:
                fail("wrong", f"[{ex}] the input exhausted the worker's memory")
                continue
            answers[ex] = reply.data
    if not answers:
        return
    problems = _problems(next(iter(answers.values())), seed)
    for column, detail in problems:
        fail(column, detail)
    first = next(iter(answers.values()))
    load = first["load"]
    if load == "ok":
        stats.success()
    elif "escaped" not in load:
        stats.typed_error(load["kind"])
    for _, _, seen in first.get("calls", []):
        kind = "ok" if "results" in seen else seen.get("error", {}).get("kind", "escaped")
        calls[kind] = calls.get(kind, 0) + 1
    if len(answers) == 2:
        public, fast = (_comparable(answers[ex]) for ex in EXECUTORS)
        if public != fast:
            fail("mismatch", "public and fast executors differ: " + _first_difference(
                public, fast))
        for ex, answer in answers.items():
            if answer.get("executor") not in (None, ex):
                raise AssertionError(f"SUPERVM_EXECUTOR={ex} ran {answer.get('executor')}")


def _problems(answer: dict[str, Any], seed: Seed | None) -> list[tuple[str, str]]:
    """What is wrong with one executor's answer."""
    out: list[tuple[str, str]] = []
    load = answer["load"]
    if isinstance(load, dict):
        if "escaped" in load:
            out.append(("traceback", f"Runtime.load raised {load['escaped']}"))
        elif (problem := check_error(load)) is not None:
            out.append(("internal" if load["kind"] == "internal" else "wrong",
                        f"load: {problem}"))
    for problem in answer.get("bytearray", []):
        out.append(("traceback" if "raised" in problem or "TypeError" in problem else "wrong",
                    problem))
    info = answer.get("info")
    if info is not None:
        shown = {t for e in info["exports"] + info["imports"] for t in e[-4:-2] + e[2:4]
                 if isinstance(t, list) for t in t}
        strange = sorted(t for t in shown - VALUE_TYPES if not REF_TYPE.fullmatch(t))
        if strange:
            out.append(("wrong", f"module description shows value types {strange}"))
    exports_memory = info is not None and any(e[0] == "memory" and e[1] == "memory"
                                              for e in info["exports"])
    for export, variant, seen in answer.get("calls", []):
        where = f"call {export[:60]!r} ({variant} args)"
        if "escaped" in seen:
            out.append(("traceback", f"{where} raised {seen['escaped']}"))
            continue
        error = seen.get("error")
        if error is None:
            continue
        if (problem := check_error(error)) is not None:
            out.append(("internal" if error["kind"] == "internal" else "wrong",
                        f"{where}: {problem}"))
        if seen.get("state_changed"):
            out.append(("state_change", f"{where} failed ({error['kind']}) but storage or "
                                        "the event log changed"))
        if error.get("cause") == "MemoryError" or "MemoryError" in error["message"]:
            out.append(("wrong", f"{where}: no per-call memory bound, the host ran out of "
                                 f"memory: {error['kind']}: {error['message'][:200]}"))
        if exports_memory and "no memory" in error["message"]:
            out.append(("wrong", f"{where}: the module exports its memory, yet: "
                                 f"{error['message'][:200]}"))
    if answer.get("fuel_wrap"):
        out.append(("wrong", answer["fuel_wrap"]))
    if seed is not None and seed.expect is not None:
        out += _expectation(answer, seed)
    return out


def _expectation(answer: dict[str, Any], seed: Seed) -> list[tuple[str, str]]:
    """An unmutated stress module must end as it is written to."""
    load, want = answer["load"], seed.expect
    if load != "ok":
        got = load.get("kind", "escaped")
        if want == "ok" or got != want:
            return [("wrong", f"seed {seed.name}: load ended {got} ({load.get('message')}), "
                              f"expected {want}")]
        return []
    calls = [(e, v, s) for e, v, s in answer.get("calls", []) if v == "zero"]
    if not calls:
        return [("wrong", f"seed {seed.name}: no exported function was called")]
    for export, _, seen in calls:
        got = "ok" if "results" in seen else seen.get("error", {}).get("kind", "escaped")
        if got != want:
            message = seen.get("error", {}).get("message", "")
            return [("wrong", f"seed {seed.name}: {export[:40]}() ended {got} "
                              f"({message[:200]}), expected {want}")]
    return []


def _comparable(answer: dict[str, Any]) -> str:
    """An answer without what may differ between executors: the executor's name, and the
    backtrace of an error a host function raised (a host trap, an abort, a limit): only the
    fast path knows where in wasm a host call was."""
    data = json.loads(json.dumps(answer))
    data.pop("executor", None)
    for _, _, seen in data.get("calls", []):
        # The public path passes floats through Python floats, which quiets a signalling NaN
        # (documented); compare NaNs with the quiet bit set.
        if "results" in seen:
            seen["results"] = [[t, _quiet(t, bits)] for t, bits in seen["results"]]
        error = seen.get("error")
        if error is not None and (error.get("code") == "host"
                                  or error.get("kind") in ("limit", "abort")):
            seen.pop("frames", None)
            error.get("dict", {}).pop("backtrace", None)
        if "traceback" in seen:
            seen.pop("traceback")
    if isinstance(data.get("load"), dict):
        data["load"].pop("traceback", None)
    return json.dumps(data, sort_keys=True)


def _quiet(type_: str, bits: int) -> int:
    exponent, quiet = {"f32": (0x7F80_0000, 0x0040_0000),
                       "f64": (0x7FF0_0000_0000_0000, 0x0008_0000_0000_0000)}.get(type_, (0, 0))
    if exponent and bits & exponent == exponent and bits & (quiet - 1):
        return bits | quiet
    return bits


def _first_difference(a: str, b: str) -> str:
    x, y = json.loads(a), json.loads(b)

    def walk(p: Any, q: Any, path: str) -> str | None:
        if type(p) is not type(q):
            return f"{path}: {str(p)[:150]} vs {str(q)[:150]}"
        if isinstance(p, dict):
            for key in sorted(set(p) | set(q)):
                found = walk(p.get(key), q.get(key), f"{path}.{key}")
                if found:
                    return found
            return None
        if isinstance(p, list):
            if len(p) != len(q):
                return f"{path}: {len(p)} items vs {len(q)}"
            for i, (m, n) in enumerate(zip(p, q, strict=True)):
                found = walk(m, n, f"{path}[{i}]")
                if found:
                    return found
            return None
        return None if p == q else f"{path}: public {str(p)[:150]} vs fast {str(q)[:150]}"

    return walk(x, y, "") or "?"


# --- the module disk cache ------------------------------------------------------------------


def test_mutated_module_cache(fuzz: FuzzConfig, fuzz_root: Path, repro_root: Path) -> None:
    """Cache entries swapped, copied, damaged or replaced: loading a module with
    ``Runtime(cache_dir=...)`` must still give that module, or compile it afresh."""
    stats = new_stats("module-cache", repro_root)
    trials = 12 if fuzz.budget is None else 60
    base = fuzz_root / "module-cache"
    base.mkdir()
    sources = [(_cache_module(t, "a"), _cache_module(t, "b")) for t in range(trials)]
    writer = Worker("cache", base / "writer")
    reader = Worker("cache", base / "reader")
    try:
        for t, (a, b) in enumerate(sources):
            directory = base / f"cache-{t}"
            reply = writer.request({"dir": str(directory), "modules": [a, b]}, TIMEOUT)
            assert reply.status == "ok" and reply.data is not None, reply
            files = reply.data["files"]
            rng = fuzz.rng("module-cache", t)
            what = _damage(rng, directory, files)
            reply = reader.request({"dir": str(directory), "modules": [a]}, TIMEOUT)
            stats.tried += 1
            name = f"trial {t}: cache entry {what}, then load module A"
            if reply.status != "ok" or reply.data is None:
                stats.fail("crash" if reply.status == "died" else "hang", name, reply.detail,
                           a)
                continue
            got = reply.data["loaded"][0]
            want = compile_expectation(t, "a")
            if "escaped" in got:
                stats.fail("traceback", name, got["escaped"], a)
            elif got.get("exports") != want["exports"] or got.get("result") != want["result"]:
                stats.fail("wrong", name,
                           f"loaded {got} instead of module A {want}", a, ".wat")
            else:
                stats.success()
    finally:
        writer.close()
        reader.close()
        stats.finish()
        shutil.rmtree(base, ignore_errors=True)
    assert not stats.failure_count, stats.report()


def _cache_module(trial: int, which: str) -> str:
    value = trial * 10 + (1 if which == "a" else 2)
    return f'(module (func (export "{which}{trial}") (result i32) (i32.const {value})))'


def compile_expectation(trial: int, which: str) -> dict[str, Any]:
    compile_wat(_cache_module(trial, which))  # the module is valid
    return {"exports": [f"{which}{trial}"], "result": trial * 10 + (1 if which == "a" else 2)}


def _damage(rng: Any, directory: Path, files: list[str]) -> str:
    """Do something to the cache entry of module A (``files[0]``), say what."""
    a, b = directory / files[0], directory / files[1]
    op = rng.choice(["swap", "copy", "flip", "truncate", "empty", "key", "directory"])
    if op == "swap":
        tmp = directory / "swap.tmp"
        a.rename(tmp)
        b.rename(a)
        tmp.rename(b)
    elif op == "copy":
        shutil.copyfile(b, a)
    elif op == "flip":
        blob = bytearray(a.read_bytes())
        pos = rng.randrange(len(blob))
        blob[pos] ^= 0xFF
        a.write_bytes(bytes(blob))
    elif op == "truncate":
        blob = a.read_bytes()
        a.write_bytes(blob[: rng.randrange(len(blob))])
    elif op == "empty":
        a.write_bytes(b"")
    elif op == "key":
        (directory / "key").write_bytes(bytes(32))
    else:
        a.unlink()
        a.mkdir()
    return op
