"""Debug builds (runtime.instrument): they validate, behave and consume fuel like the original.

Runs use the public wasmtime API directly: an Engine with fuel, host imports stubbed with
deterministic functions, and a ``Linker.define_func`` probe that gives its fuel back. Set
``SUPERVM_THOROUGH=1`` to sweep every fuel limit up to 150 and more random programs (minutes).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
import wasmtime

from runtime.instrument import (
    PROBE_FUEL,
    PROBE_MODULE,
    Instrumented,
    InstrumentError,
    fuel_after_probe,
    instrument,
)
from runtime.wasm_binary import parse
from tests.runtime.wasm_modules import (
    FEATURE_CALLS,
    FEATURES_WAT,
    random_program,
    sample_modules,
    supervm_engine,
)

THOROUGH = bool(os.environ.get("SUPERVM_THOROUGH"))
ENGINE = supervm_engine()
SAMPLES = sample_modules()
FEATURES = wasmtime.wat2wasm(FEATURES_WAT)
RANDOM = {f"random{seed}": wasmtime.wat2wasm(random_program(seed))
          for seed in range(40 if THOROUGH else 8)}
MODULES = {**SAMPLES, "features": FEATURES, **RANDOM}


def everywhere(wasm: bytes) -> Instrumented:
    """Probes before every instruction, at every entry and before every exit."""
    m = parse(wasm)
    return instrument(wasm, lines=[i.offset for c in m.code for i in m.instructions(c)],
                      entries=True, exits=True)


class ProbeLimit(Exception):
    pass


@dataclass
class Outcome:
    result: tuple[Any, ...]  # ("ok", value) or ("trap", code, [(func, offset), ...])
    fuel_used: int
    host_calls: list[tuple[str, tuple[int, ...]]]
    memory: str | None
    probes: list[int] = field(default_factory=list)
    fuel_seen: list[int] = field(default_factory=list)

    @property
    def saturated(self) -> bool:
        """Whether a probe found the fuel at 0 (its true value possibly below)."""
        return 0 in self.fuel_seen

    @property
    def fuel_is_partial(self) -> bool:
        """A trap other than ``unreachable`` or out-of-fuel: wasmtime then reports only the fuel
        saved at the last call or return, so a debug build (saving at every probe) reports
        more."""
        return self.result[0] == "trap" and self.result[1] not in (
            wasmtime.TrapCode.UNREACHABLE, wasmtime.TrapCode.OUT_OF_FUEL)

    def same(self, other: Outcome) -> bool:
        """Same behaviour; same fuel, or for a trap of the original that reports partial
        fuel, at least as much."""
        fuel_ok = self.fuel_used == other.fuel_used or (
            other.fuel_is_partial and self.fuel_used > other.fuel_used)
        return fuel_ok and (self.result, self.host_calls, self.memory) == (
            other.result, other.host_calls, other.memory)


class Runner:
    """Runs exports of one module in fresh stores; ``ins`` maps frames back to the original."""

    def __init__(self, wasm: bytes, ins: Instrumented | None = None, refund: Any = None,
                 max_probes: int = 10**7) -> None:
        self.module = wasmtime.Module(ENGINE, wasm)
        self.ins, self.refund, self.max_probes = ins, refund or fuel_after_probe, max_probes
        self.linker = wasmtime.Linker(ENGINE)
        self.linker.allow_shadowing = True
        self.store: wasmtime.Store | None = None
        self.out = Outcome((), 0, [], None)
        for imp in self.module.imports:
            if imp.module == PROBE_MODULE:
                self.linker.define_func(imp.module, imp.name, imp.type, self._probe)
            elif isinstance(imp.type, wasmtime.FuncType):
                self.linker.define_func(imp.module, imp.name, imp.type,
                                        self._stub(imp.name, len(imp.type.results)))

    def _probe(self, pid: int) -> None:
        store, out = self.store, self.out
        assert store is not None
        fuel = store.get_fuel()
        out.probes.append(pid)
        out.fuel_seen.append(fuel)
        store.set_fuel(self.refund(fuel))
        if len(out.probes) >= self.max_probes:
            raise ProbeLimit

    def _stub(self, name: str, results: int) -> Any:
        def stub(*args: int) -> Any:
            calls = self.out.host_calls
            calls.append((name, args))
            value = (sum(args) + len(calls)) % 7
            return None if results == 0 else value
        return stub

    def run(self, export: str, args: tuple[int, ...], fuel: int) -> Outcome:
        store = self.store = wasmtime.Store(ENGINE)
        self.out = out = Outcome((), 0, [], None)
        for imp in self.module.imports:
            if isinstance(imp.type, wasmtime.GlobalType):
                self.linker.define(store, imp.module, imp.name, wasmtime.Global(
                    store, imp.type, wasmtime.Val.i32(4)))
        store.set_fuel(fuel)
        instance = None
        try:
            instance = self.linker.instantiate(store, self.module)
            out.result = ("ok", instance.exports(store)[export](store, *args))
        except wasmtime.Trap as trap:
            frames = [(f.func_index, f.module_offset) for f in trap.frames]
            if self.ins is not None:
                frames = [(self.ins.original_func_index(f), self.ins.original_offset(o))
                          for f, o in frames]
            out.result = ("trap", trap.trap_code, frames)
        finally:
            self.store = None
        out.fuel_used = fuel - store.get_fuel()
        memory = instance.exports(store).get("memory") if instance else None
        if isinstance(memory, wasmtime.Memory):
            size = memory.data_len(store)  # grow() makes it 4 GiB: hash the first MiB
            out.memory = f"{size}:" + hashlib.sha256(
                memory.read(store, 0, min(size, 1 << 20))).hexdigest()
        return out


def calls_of(name: str, wasm: bytes) -> list[tuple[str, tuple[int, ...]]]:
    """The (export, args) calls a module is exercised with."""
    if name == "features":
        return [(e, a) for e, args in FEATURE_CALLS.items() for a in args]
    out = []
    for e in wasmtime.Module(ENGINE, wasm).exports:
        t = e.type
        if isinstance(t, wasmtime.FuncType) and all(
                str(p) in ("i32", "i64") for p in t.params):
            for v in (0, 1, 3) if not name.startswith("random") else (3, -1):
                out.append((e.name, tuple(v for _ in t.params)))
    return out


#: The infinite loop and the stack overflow of loop.wat have tests of their own.
CASES = [(name, export, args) for name, wasm in MODULES.items()
         for export, args in calls_of(name, wasm) if export not in ("spin", "recurse")]
AMPLE = 10**6


@pytest.fixture(scope="module")
def runners() -> dict[str, tuple[Runner, Runner, Instrumented]]:
    out = {}
    for name, wasm in MODULES.items():
        ins = everywhere(wasm)
        out[name] = (Runner(wasm), Runner(ins.wasm, ins), ins)
    return out


# --- fuel facts ---------------------------------------------------------------------------------


def test_a_probe_costs_probe_fuel() -> None:
    bare = wasmtime.wat2wasm('(module (func (export "f") (result i32) (i32.const 7)))')
    ins = instrument(bare, entries=True)
    original = Runner(bare).run("f", (), 1000)
    no_refund = Runner(ins.wasm, ins, refund=lambda fuel: fuel).run("f", (), 1000)
    refunded = Runner(ins.wasm, ins).run("f", (), 1000)
    assert no_refund.fuel_used - original.fuel_used == PROBE_FUEL == 2
    assert refunded.same(original) and refunded.probes == [0]
    assert fuel_after_probe(10) == 12 and fuel_after_probe(0) == 0


def test_with_ample_fuel_every_call_is_the_same(runners: dict) -> None:
    for name, export, args in CASES:
        original, debug, _ = runners[name]
        a, b = original.run(export, args, AMPLE), debug.run(export, args, AMPLE)
        assert b.same(a), (name, export, args, a, b)
        assert b.probes and not b.saturated
        if a.result[0] == "ok":  # every entry has its exit
            kinds = [debug.ins.probes[p].kind for p in b.probes]
            assert kinds.count("entry") == kinds.count("exit"), (name, export, args)


def test_the_plain_refund_is_exact_with_ample_fuel(runners: dict) -> None:
    for name in ("token.wat", "features", "random0"):
        original, _, ins = runners[name]
        plain = Runner(ins.wasm, ins, refund=lambda fuel: fuel + PROBE_FUEL)
        for export, args in calls_of(name, MODULES[name]):
            assert plain.run(export, args, AMPLE).same(original.run(export, args, AMPLE))


def _limits(total: int) -> list[int]:
    if THOROUGH:
        picked = set(range(min(total, 150) + 3)) | set(range(0, total + 3, max(1, total // 50)))
    else:
        picked = {0, 1, 2, 3, 5, total // 3, total // 2}
    return sorted(picked | set(range(max(0, total - 3), total + 3)))


def test_with_too_little_fuel_the_debug_build_runs_out_too(runners: dict) -> None:
    """Exact unless a probe ran with 1-2 units left: then it may run out at an earlier check
    (never later) or, completing, report at most PROBE_FUEL more fuel used."""
    cases = CASES if THOROUGH else [c for c in CASES if c[2] in ((3,), (3, 3), (3, 3, 3))
                                    or c[0] in ("features", "random0", "random1")]
    seen = {"exact": 0, "diverged": 0}
    for name, export, args in cases:
        original, debug, _ = runners[name]
        total = original.run(export, args, AMPLE).fuel_used
        for limit in _limits(total):
            a, b = original.run(export, args, limit), debug.run(export, args, limit)
            a_oof = a.result[:2] == ("trap", wasmtime.TrapCode.OUT_OF_FUEL)
            b_oof = b.result[:2] == ("trap", wasmtime.TrapCode.OUT_OF_FUEL)
            if b.same(a):
                seen["exact"] += 1
                continue
            where = (name, export, args, limit, a, b)
            assert b.saturated, where  # no probe found the fuel at 0: exactly the original
            seen["diverged"] += 1
            if b_oof:  # ran out earlier: did a prefix of the original's host calls
                assert b.host_calls == a.host_calls[:len(b.host_calls)], where
                assert b.fuel_used == limit, where
            else:
                assert not a_oof and b.result == a.result, where
                assert b.host_calls == a.host_calls and b.memory == a.memory, where
                assert 0 < b.fuel_used - a.fuel_used <= PROBE_FUEL, where
            if a_oof:
                assert b_oof, where  # never runs longer than the original
    assert seen["exact"] > seen["diverged"] > 0


def test_out_of_fuel_in_a_loop_is_found_at_the_same_loop() -> None:
    wasm = SAMPLES["loop.wat"]
    ins = everywhere(wasm)
    original, debug = Runner(wasm), Runner(ins.wasm, ins)
    for limit in (1, 2, 3, 10, 11, 1000, 12345):
        a, b = original.run("spin", (), limit), debug.run("spin", (), limit)
        assert a.result[:2] == b.result[:2] == ("trap", wasmtime.TrapCode.OUT_OF_FUEL)
        assert a.fuel_used == b.fuel_used == limit  # get_fuel() reads 0 after running out
        assert a.result[2] == b.result[2]  # the loop header (or the entry, for 1 unit)


def test_the_plain_refund_never_runs_out_in_a_loop() -> None:
    """``set_fuel(get_fuel() + PROBE_FUEL)`` refunds fuel the call overdrew: a probe in a loop
    then keeps the loop alive forever. ``fuel_after_probe`` does not."""
    wasm = SAMPLES["loop.wat"]
    ins = everywhere(wasm)
    plain = Runner(ins.wasm, ins, refund=lambda fuel: fuel + PROBE_FUEL, max_probes=20_000)
    with pytest.raises(ProbeLimit):
        plain.run("spin", (), 10)
    assert Runner(ins.wasm, ins).run("spin", (), 10).result[1] == wasmtime.TrapCode.OUT_OF_FUEL


def test_traps_map_back_to_the_original_frames(runners: dict) -> None:
    original, debug, ins = runners["features"]
    for kind in range(4):
        a, b = original.run("trap", (kind, 1), AMPLE), debug.run("trap", (kind, 1), AMPLE)
        assert a.result[0] == "trap" and a.result[2] and b.result == a.result
    raw = Runner(ins.wasm).run("trap", (0, 1), AMPLE)  # unmapped frames differ
    assert raw.result[2] != a.result[2]


def test_deep_recursion_overflows_sooner_in_a_debug_build() -> None:
    """Probe calls make each native frame bigger: same trap, fewer levels (less fuel)."""
    wasm = SAMPLES["loop.wat"]
    ins = everywhere(wasm)
    a = Runner(wasm).run("recurse", (0,), AMPLE)
    b = Runner(ins.wasm, ins).run("recurse", (0,), AMPLE)
    assert a.result[1] == b.result[1] == wasmtime.TrapCode.STACK_OVERFLOW
    assert b.fuel_used <= a.fuel_used


# --- the rewritten module -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODULES))
def test_debug_builds_validate_and_keep_the_module_interface(name: str) -> None:
    wasm = MODULES[name]
    m = parse(wasm)
    offsets = [i.offset for c in m.code for i in m.instructions(c)]
    builds = [everywhere(wasm), instrument(wasm, entries=True), instrument(wasm, exits=True),
              instrument(wasm, lines=offsets[::3])]
    original = wasmtime.Module(ENGINE, wasm)
    for ins in builds:
        module = wasmtime.Module(ENGINE, ins.wasm)
        assert [(e.name, type(e.type)) for e in module.exports] == [
            (e.name, type(e.type)) for e in original.exports]
        assert [(i.module, i.name) for i in module.imports] == [
            (i.module, i.name) for i in original.imports] + [(PROBE_MODULE, "probe")]
        new = parse(ins.wasm)
        assert ins.probe_func_index == m.num_func_imports
        assert new.func_imports[-1].name == "probe" and new.num_functions == m.num_functions + 1
        assert new.export_names() == {ins.instrumented_func_index(f): n
                                      for f, n in m.export_names().items()}
        assert new.names.functions == {ins.instrumented_func_index(f): n
                                       for f, n in m.names.functions.items()}
        assert new.names.locals == {ins.instrumented_func_index(f): n
                                    for f, n in m.names.locals.items()}
        if m.start is not None:
            assert new.start == ins.instrumented_func_index(m.start)
        assert [e.functions for e in new.elements] == [
            tuple(map(ins.instrumented_func_index, e.functions)) for e in m.elements]
        _check_offset_map(m, new, ins)
    assert everywhere(wasm).wasm == builds[0].wasm  # deterministic


def _check_offset_map(m: Any, new: Any, ins: Instrumented) -> None:
    """Every instruction of the debug build maps to an original instruction with its opcode
    (a probe's two to the instruction they run before), covering every original instruction."""
    originals = {i.offset: i for c in m.code for i in m.instructions(c)}
    mapped = set()
    for c in new.code:
        for i in new.instructions(c):
            at = ins.original_offset(i.offset)
            assert at in originals, (hex(i.offset), hex(at))
            if i.opcode == originals[at].opcode:
                mapped.add(at)
    assert mapped == set(originals)


def test_probe_ids_follow_module_order() -> None:
    wasm = SAMPLES["add.wat"]
    m = parse(wasm)
    body = m.code[0]
    ins = everywhere(wasm)
    starts = [i.offset for i in m.instructions(body)]
    assert [(p.kind, p.offset) for p in ins.probes.values()] == [
        ("entry", body.code_offset), *(("line", o) for o in starts),
        ("exit", body.end_offset)]
    assert all(p.func_index == 0 for p in ins.probes.values())
    out = Runner(ins.wasm, ins).run("add", (7, 8), AMPLE)
    assert out.result == ("ok", 15) and out.probes == sorted(ins.probes)


def test_exits_are_probed_on_branches_to_the_function_label(runners: dict) -> None:
    """``early`` leaves by br_if 0 and br_table to its outermost label: its body is wrapped."""
    _, debug, ins = runners["features"]
    m = parse(FEATURES)
    early = next(f for f, n in m.export_names().items() if n == "early")
    for args in ((5, 1), (1, 5), (2, 5)):
        out = debug.run("early", args, AMPLE)
        kinds = [ins.probes[p].kind for p in out.probes if ins.probes[p].func_index == early]
        assert kinds.count("entry") == kinds.count("exit") == 1, args


def test_tail_calls_probe_the_exit_before_the_call(runners: dict) -> None:
    _, debug, ins = runners["features"]
    out = debug.run("sum_to", (3, 0), AMPLE)
    sum_to = next(f for f, n in parse(FEATURES).export_names().items() if n == "sum_to")
    probes = [ins.probes[p] for p in out.probes if ins.probes[p].func_index == sum_to]
    kinds = [p.kind for p in probes]
    assert kinds.count("entry") == kinds.count("exit") == 4  # n = 3, 2, 1, 0
    assert [p.kind for p in probes if p.kind != "line"] == ["entry", "exit"] * 4


def test_offsets_that_are_not_instruction_starts_are_refused() -> None:
    wasm = SAMPLES["token.wat"]
    m = parse(wasm)
    body = m.code[0]
    inside = next(i.offset + 1 for i in m.instructions(body) if i.size > 1)
    for bad in (inside, body.offset, 0, 3, len(wasm) + 10):
        with pytest.raises(InstrumentError) as err:
            instrument(wasm, lines=[body.code_offset, bad])
        assert err.value.offsets == [bad] and err.value.kind == "instrument"
    with pytest.raises(InstrumentError, match="already imports"):
        instrument(instrument(wasm, entries=True).wasm, entries=True)


def _custom(name: str, data: bytes) -> bytes:
    raw = bytes([len(name)]) + name.encode() + data
    return bytes([0, len(raw)]) + raw


def test_custom_sections_describing_the_old_code_are_dropped() -> None:
    wasm = SAMPLES["add.wat"] + _custom("sourceMappingURL", b"\x08add.map") + _custom(
        ".debug_line", b"\x00") + _custom("producers", b"\x00")
    new = parse(instrument(wasm, entries=True).wasm)
    assert [s.name for s in new.customs()] == ["name", "producers"]


def test_a_module_without_imports_types_or_code() -> None:
    for wat in ("(module)", "(module (memory 1))", '(module (func (export "f")))'):
        wasm = wasmtime.wat2wasm(wat)
        ins = instrument(wasm, entries=True, exits=True)
        wasmtime.Module(ENGINE, ins.wasm)
        assert ins.probe_func_index == 0
    ins = instrument(wasmtime.wat2wasm('(module (func (export "f")))'), entries=True,
                     exits=True)
    assert Runner(ins.wasm, ins).run("f", (), 100).probes == [0, 1]


def test_padded_function_indices_keep_their_width() -> None:
    # call 0x00 encoded in 5 bytes, as wasm-ld leaves relocated indices
    wasm = bytearray(wasmtime.wat2wasm(
        '(module (import "env" "log" (func (param i32))) (func $g (result i32) i32.const 1)'
        ' (func (export "f") (result i32) call $g))'))
    m = parse(bytes(wasm))
    call = next(i for i in m.instructions(m.code[1]) if i.name == "call")
    assert call.size == 2
    wasm[call.offset + 1:call.offset + 2] = b"\x81\x80\x80\x80\x00"
    body_size_at = m.code[1].offset - 1
    wasm[body_size_at] += 4
    code_section = next(s for s in m.sections if s.id == 10)
    wasm[code_section.start + 1] += 4
    wasm = bytes(wasm)
    ins = instrument(wasm)
    new = parse(ins.wasm)
    call = next(i for i in new.instructions(new.code[1]) if i.name == "call")
    assert call.size == 6 and call.immediates == (2,)
    assert Runner(ins.wasm, ins).run("f", (), 100).result == ("ok", 1)


def test_a_trap_reports_only_the_fuel_saved_at_the_last_call() -> None:
    """wasmtime keeps fuel in a register and saves it at calls, returns and ``unreachable``:
    after any other trap ``get_fuel()`` misses what the trapping code burnt since. A debug
    build saves at every probe, so it reports the fuel actually used up to the trap."""
    wasm = wasmtime.wat2wasm("""(module (import "env" "log" (func $log (param i32)))
      (func (export "f") (param $n i32) (param $call i32) (result i32) (local $i i32)
        (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if $l (i32.lt_s (local.get $i) (local.get $n))))
        (if (local.get $call) (then (call $log (i32.const 0))))
        (i32.div_s (i32.const 1) (i32.const 0))))""")
    ins = everywhere(wasm)
    original, debug = Runner(wasm), Runner(ins.wasm, ins)
    assert original.run("f", (1000, 0), AMPLE).fuel_used == 0  # a 1000-iteration loop
    assert original.run("f", (1000, 1), AMPLE).fuel_used == 8005  # saved at the call
    a, b = original.run("f", (1000, 0), AMPLE), debug.run("f", (1000, 0), AMPLE)
    assert a.result == b.result and a.result[1] == wasmtime.TrapCode.INTEGER_DIVISION_BY_ZERO
    assert b.fuel_used == 8005  # everything before the div_s
