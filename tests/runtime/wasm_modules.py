"""Modules for the binary-reader and instrumentation tests: the samples, a feature module and
seeded random programs (loops, calls, indirect calls, br_table, multi-value blocks, early
returns, branches to the function label, tail calls)."""

from __future__ import annotations

import random

import wasmtime

from tests.support import SAMPLES


def sample_modules() -> dict[str, bytes]:
    """Every sample as a binary, by file name."""
    out = {p.name: wasmtime.wat2wasm(p.read_text(encoding="utf-8"))
           for p in sorted(SAMPLES.glob("*.wat"))}
    out["counter.wasm"] = (SAMPLES / "assemblyscript" / "counter.wasm").read_bytes()
    return out


def supervm_engine(**extra: object) -> wasmtime.Engine:
    """An engine with the WebAssembly features SuperVM's engine enables (runtime/engine.py)."""
    config = wasmtime.Config()
    for key, value in {"consume_fuel": True, "cranelift_nan_canonicalization": True,
                       "wasm_relaxed_simd": False, "wasm_threads": False,
                       "wasm_multi_value": True, "wasm_bulk_memory": True,
                       "wasm_reference_types": True, "wasm_simd": True, **extra}.items():
        setattr(config, key, value)
    return wasmtime.Engine(config)


#: Tables, element segments of every mode, ref.func in code, globals and elements, call_ref,
#: a start function, globals, passive and active data (so a data count section), the name
#: section, recursion, a tail call, br_table, multi-value blocks and branches to the function
#: label.
FEATURES_WAT = r"""
(module $features
  (import "env" "log" (func $log (param i32)))
  (import "env" "mem_base" (global $base i32))
  (type $bin (func (param i32 i32) (result i32)))
  (type $pair (func (result i32 i32)))
  (type $take (func (param i32 i32) (result i32 i32)))
  (memory (export "memory") 1)
  (table $t 8 funcref)
  (table $u 2 funcref)
  (global $counter (mut i32) (i32.const 0))
  (global $fref funcref (ref.func $mul))
  (global $wide i64 (i64.const -1234567890123))
  (elem (table $t) (i32.const 0) func $add $sub $mul $div)
  (elem (table $t) (i32.const 4) funcref (ref.func $add) (ref.null func) (item ref.func $fact))
  (elem $passive func $sub $mul)
  (elem declare func $div)
  (data (i32.const 16) "\2a\00\00\00\ff\ff\ff\ff12345")
  (data $later "passive-data")

  (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $bin) (i32.mul (local.get 0) (local.get 1)))
  (func $div (type $bin) (i32.div_s (local.get 0) (local.get 1)))
  (func $fact (export "fact") (param $n i32) (param $unused i32) (result i32)
    (if (result i32) (i32.le_s (local.get $n) (i32.const 1))
      (then (i32.const 1))
      (else (i32.mul (local.get $n)
                     (call $fact (i32.sub (local.get $n) (i32.const 1)) (i32.const 0))))))
  (func $sum_to (export "sum_to") (param $n i32) (param $acc i32) (result i32)
    (if (i32.eqz (local.get $n)) (then (return (local.get $acc))))
    (return_call $sum_to (i32.sub (local.get $n) (i32.const 1))
                         (i32.add (local.get $acc) (local.get $n))))
  (func (export "apply") (param $op i32) (param $x i32) (result i32)
    (call_indirect $t (type $bin) (local.get $x) (i32.const 3) (local.get $op)))
  (func (export "via_ref") (param $x i32) (param $y i32) (result i32)
    (table.set $u (i32.const 0) (ref.func $div))
    (call_ref $bin (local.get $x) (local.get $y) (ref.func $div)))
  (func (export "via_global") (param $x i32) (param $y i32) (result i32)
    (table.set $u (i32.const 1) (global.get $fref))
    (call_indirect $u (type $bin) (local.get $x) (local.get $y) (i32.const 1)))
  (func (export "switch") (param $k i32) (param $x i32) (result i32)
    (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d (local.get $k)))
      (return (i32.add (local.get $x) (i32.const 10))))
      (return (i32.add (local.get $x) (i32.const 20))))
      (call $log (local.get $x))
      (return (i32.add (local.get $x) (i32.const 30))))
    (i32.const -1))
  (func (export "pairs") (param $x i32) (param $y i32) (result i32)
    (block $p (type $pair) (local.get $y) (local.get $x))
    (block (type $take) (i32.add) (i32.const 2))
    (i32.mul))
  (func (export "early") (param $x i32) (param $y i32) (result i32)
    (local.get $x)
    (br_if 0 (i32.gt_s (local.get $x) (local.get $y)))
    (drop)
    (call $log (local.get $y))
    (local.get $y)
    (local.get $x)
    (br_table 0 0 (i32.and (local.get $x) (i32.const 1)))
    (i32.add))
  (func (export "loops") (param $n i32) (param $m i32) (result i32) (local $i i32) (local $acc i32)
    (block $done
      (loop $outer
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $acc (i32.add (local.get $acc)
                                 (call_indirect $t (type $bin) (local.get $i) (local.get $m)
                                                (i32.rem_u (local.get $i) (i32.const 4)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (global.set $counter (i32.add (global.get $counter) (local.get $acc)))
    (local.get $acc))
  (func (export "bulk") (param $x i32) (param $y i32) (result i32)
    (memory.init $later (local.get $x) (i32.const 0) (i32.const 4))
    (table.init $t $passive (i32.const 6) (i32.const 0) (i32.const 2))
    (elem.drop $passive)
    (i32.load (local.get $x)))
  (func (export "trap") (param $kind i32) (param $x i32) (result i32)
    (if (i32.eqz (local.get $kind)) (then unreachable))
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then (return (call $div (local.get $x) (i32.const 0)))))
    (if (i32.eq (local.get $kind) (i32.const 2))
      (then (return (i32.load (i32.const -4)))))
    (call_indirect $t (type $bin) (local.get $x) (local.get $x) (i32.const 5)))
  (func $init
    (global.set $counter (i32.add (global.get $base) (i32.const 100)))
    (call $log (global.get $counter)))
  (start $init)
)
"""

#: Export name → argument tuples for FEATURES_WAT.
FEATURE_CALLS: dict[str, list[tuple[int, int]]] = {
    "fact": [(0, 0), (5, 0)], "sum_to": [(0, 0), (20, 0)], "apply": [(0, 9), (3, 9), (7, 1)],
    "via_ref": [(9, 3), (1, 0)], "via_global": [(6, 7)], "switch": [(0, 1), (1, 1), (2, 1),
                                                                      (9, 1)],
    "pairs": [(3, 4)], "early": [(5, 1), (1, 5), (2, 5)], "loops": [(0, 2), (6, 3)],
    "bulk": [(32, 0)], "trap": [(0, 1), (1, 1), (2, 1), (3, 1)],
}


def random_program(seed: int, functions: int = 5) -> str:
    """A random terminating module: each function calls only lower-numbered ones, loops run at
    most 3 times, and every function is exported as ``f<i>(a, b) -> i32``."""
    return _Gen(random.Random(seed), functions).module()


class _Gen:
    BINOPS = ("i32.add", "i32.sub", "i32.mul", "i32.and", "i32.xor", "i32.shl", "i32.div_u",
              "i32.rem_s", "i32.lt_s", "i32.eq")

    def __init__(self, rng: random.Random, functions: int) -> None:
        self.rng, self.n = rng, functions
        self.func = 0
        self.calls = 0

    def module(self) -> str:
        funcs = [self.function(i) for i in range(self.n)]
        elems = " ".join(f"$f{i}" for i in range(self.n))
        return (f'(module (import "env" "log" (func $log (param i32)))\n'
                f'(type $bin (func (param i32 i32) (result i32)))\n'
                f'(type $pair (func (result i32 i32)))\n'
                f'(memory (export "memory") 1)\n'
                f'(table {self.n} funcref) (elem (i32.const 0) func {elems})\n'
                + "\n".join(funcs) + ")")

    def function(self, index: int) -> str:
        self.func, self.calls = index, 0
        body = [self.stmt(0, 0) for _ in range(self.rng.randint(1, 4))]
        if index and self.rng.random() < 0.3:
            tail = f"(return_call $f{self.rng.randrange(index)} {self.expr(2)} {self.expr(2)})"
        else:
            tail = "(local.get 2)"
        return (f'(func $f{index} (export "f{index}") (type $bin) '
                "(local i32 i32 i32 i32 i32 i32)\n  " + "\n  ".join(body) + f"\n  {tail})")

    def expr(self, depth: int) -> str:
        r = self.rng
        choice = r.randrange(9 if depth < 3 else 2)
        if choice == 0:
            return f"(i32.const {r.choice((0, 1, 2, 3, 7, -1, 255, 65536))})"
        if choice == 1:
            return f"(local.get {r.randrange(5)})"
        if choice in (2, 3):
            return f"({r.choice(self.BINOPS)} {self.expr(depth + 1)} {self.expr(depth + 1)})"
        if choice == 4 and self.func and self.calls < 2:
            self.calls += 1
            callee = r.randrange(self.func)
            if r.random() < 0.5:
                return f"(call $f{callee} {self.expr(depth + 1)} {self.expr(depth + 1)})"
            return (f"(call_indirect (type $bin) {self.expr(depth + 1)} {self.expr(depth + 1)} "
                    f"(i32.const {callee}))")
        if choice == 5:
            return (f"(if (result i32) {self.expr(depth + 1)} (then {self.expr(depth + 1)}) "
                    f"(else {self.expr(depth + 1)}))")
        if choice == 6:
            return (f"(block (type $pair) {self.expr(depth + 1)} {self.expr(depth + 1)}) "
                    f"({r.choice(self.BINOPS)})")
        if choice == 7:
            return (f"(select {self.expr(depth + 1)} {self.expr(depth + 1)} "
                    f"{self.expr(depth + 1)})")
        return f"(i32.load8_u (i32.and {self.expr(depth + 1)} (i32.const 1023)))"

    def stmt(self, depth: int, loops: int) -> str:
        r = self.rng
        choice = r.randrange(8 if depth < 2 else 2)
        target = r.randrange(2, 5)
        if choice == 0:
            return f"(local.set {target} {self.expr(0)})"
        if choice == 1:
            return f"(call $log {self.expr(1)})"
        inner = " ".join(self.stmt(depth + 1, loops) for _ in range(r.randint(1, 2)))
        if choice == 2:
            return f"(if {self.expr(1)} (then {inner}) (else {self.stmt(depth + 1, loops)}))"
        if choice == 3 and loops < 2:
            counter = 5 + loops
            inner = " ".join(self.stmt(depth + 1, loops + 1) for _ in range(r.randint(1, 2)))
            return (f"(local.set {counter} (i32.const {r.randint(1, 3)})) "
                    f"(loop $l{depth} {inner} (local.set {counter} (i32.sub (local.get "
                    f"{counter}) (i32.const 1))) (br_if $l{depth} (local.get {counter})))")
        if choice == 4:
            return (f"(block $o{depth} (block $a{depth} (block $b{depth} "
                    f"(br_table $a{depth} $b{depth} $o{depth} (i32.and {self.expr(1)} "
                    f"(i32.const 3)))) {inner}) {self.stmt(depth + 1, loops)})")
        if choice == 5:
            return f"(if {self.expr(1)} (then (return {self.expr(1)})))"
        if choice == 6 and depth == 0:
            return f"(drop (br_if 0 {self.expr(1)} {self.expr(1)}))"
        return f"(i32.store (i32.and {self.expr(1)} (i32.const 1020)) {self.expr(1)})"
