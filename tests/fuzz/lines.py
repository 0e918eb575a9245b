"""Random shell lines: every registered command with arguments of every form, mostly wrong.

The generator knows the shell only through :func:`~tests.fuzz.support.shell_commands` (names,
aliases, argument specs, options) and the completion source of each argument (exports, paths,
keys, snapshots, command names, host functions, bundle files), so a command added to the
registry is fuzzed without changes here.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .support import SAMPLES, ShellCommand

INTS = ["0", "1", "-1", "7", "0xff", "0xFFFF_FFFF", "1_000_000", "-0x8000_0000", "2147483647",
        "2147483648", "4294967295", "4294967296", "-2147483649", "9223372036854775807",
        "9223372036854775808", "18446744073709551615", "18446744073709551616",
        "0x1_0000_0000_0000_0000", "-9223372036854775809", "0x", "07", "00", "1_", "_1",
        "1__0", "0x_1", "+5", "+0x10", "--1", "0b101", "1e3", "١٢٣", "１２", "0xg", "99" * 30,
        "9" * 401, "-0", "0X10", "0x7fffffffffffffff", "+", "-"]
FLOATS = ["1.5", "-0.0", "6.02e23", "0x1.8p3", "inf", "-inf", "nan", "nan:0x200000",
          "nan:0x1", "-nan", "nan:0x0", "nan:0xfffffffffffff", "nan:0x7fffff", "nan:0x800000",
          "1e400", "-1e400", "1e-400", "0x1p-1075", "0x1p+128", "3.4028235e38", ".5", "5.",
          "1.inf0", "9.1", "1.e5", "1e", "0x1.p1", "0x.8p1", "1_0.0_1", "1._5", "infinity",
          "NaN", "INF", "0x1.fffffffffffffp1023", "1" * 300 + ".5"]
STRINGS = ['"text"', '""', '"bal:alice"', '"bal:bob"', '"counter"', '"supply"', '"k"',
           '"a\\nb"', '"\\t\\r\\"\\\\"', '"\\41\\42"', '"\\u{1F600}"', '"\\u{41}"',
           '"\\u{110000}"', '"\\u{D800}"', '"\\u{}"', '"\\u{FFFFFFFFFF}"', '"\\x41"', '"\\q"',
           '"\\0"', '"\\00"', '"a\\00b"', '"\\ff\\fe"', '"unterminated', '"trailing\\"',
           '"\\', '"\\u{41"', "'single'", '"ünïcödé"', '"\u202eevil"', '"\U0001F600"',
           '"\x00"', '"tab\there"', '"a" "b"', '"a"b', 'a"b"c', '"' + "x" * 2000 + '"']
BYTES = ["0x", "0x00", "0xdeadbeef", "0xabc", "0xzz", "0x6c6173745f626c6f636b", "i32:7",
         "i64:41", "i32:-1", "i64:0xffffffffffffffff", "i32:4294967296", "i64:nan", "i8:1",
         "i32:", "i64:1.5", "i32:0x", "0x_00_11", "0X00", "u32:1", "i64:" + "9" * 40]
WORDS = ["mint", "transfer", "balance_of", "total_supply", "increment", "add", "get", "reset",
         "run", "greet", "spin", "recurse", "grow", "grow_by", "bad_pointer", "fail",
         "fail_no_file", "events_count", "echo_first_event", "decrement", "memory", "nope",
         "all", "end", "if", "and", "or", "key", "value", "data", "step", "fuel", "key_len",
         "storage_set", "storage_get", "emit_event", "--", "-", "--all", "--dry-run",
         "--limit", "--nope", "-c", "#", "#comment", ":", "::", ":call", "(", ")", "((", "))",
         "(module", "(module)", "\\", "\\\\", "$", "${HOME}", "`id`", "%s%n", "{}", "[]",
         "null", "true", "None", "\x00", "\t", "\x0b", "\x0c", "\x1b[31m", "\r", "\u2028",
         "\u0085", "\ufeff", "\udcff", "\udc80", "😀", "ü", "\u0301", "ⅰ", "\U000e0041"]
CONDITIONS = ["if", "if key", "if key ==", 'if key == "bal:alice"', 'if key == "bal:\\61lice"',
              'if key startswith "bal:"', 'if key contains "a"', "if key_len == 0x",
              "if key_len == 07", "if key_len == 7", 'if key == "\\u{41}"', "if step > 2",
              "if fuel < 0", 'if data == 0x00', "if data == 0xabc", "if value_len >= 8",
              "if key == 1", 'if key_len == "x"', "if nope == 1", "if key === 1",
              "if step > 2 and fuel > 0 or key_len == 3", "if step > 2 and", "if (step > 2)",
              "if step > 99999999999999999999999", 'if key == "\\x41"', 'if key == "\\q"',
              "if step > -1", "if step > 1_0", "if step > 0x_1", 'if key == "a\\00b"',
              "when step > 1", "if key == '\\x41'", 'if key == "\\N{DIGIT ONE}"',
              'if key == "\\U00000041"', 'if key == """"""', 'if key == r"x"', 'if key == b"x"',
              "if key == 0x4", "if step >"]
TARGETS = ["0", "1", "2", "end", "1.0", "2.1", "3.3", "#2.1", "9.1", "1.inf0", "1.end",
           ".1", "1.", "1..2", "-1", "1.-1", "99999999999999999999.1", "1.99999999999999999999",
           "0x1.0x2", "1.2.3", "#", "#end", "1e0", "1.1e0", "١.١", "nan", "inf"]
SNAPSHOTS = ["s1", "snap1", "snap2", "x", "before-transfer", "a.b_c-d", "x" * 64, "x" * 65,
             "a/b", "../x", "ü", "", '"s1"', '"quoted name"', "snap0", "-", ".", ".."]


@dataclass
class Paths:
    """Files the generator may name. ``slow`` ones (endless devices, a FIFO) cost seconds."""

    samples: list[str]
    bundle: str
    directory: str
    fifo: str
    missing: str
    extra: list[str] = field(default_factory=list)

    @property
    def slow(self) -> list[str]:
        return ["/dev/zero", "/dev/urandom", "/dev/full", self.fifo]

    @property
    def quick(self) -> list[str]:
        # Only files under the campaign's directory and devices: a line may write to any of
        # them (:export), and the shell may run as root.
        return [*self.samples, self.bundle, self.directory, self.missing, "/dev/null",
                "/proc/self/status", "/", ".", "..", "~", "~/x", "", "no/such/dir/x",
                "good.json", "out.json", "x.wat", "samples/counter.wat", "a\\00b", '"a\\00b"',
                "a\x00b", '"' + self.samples[0] + '"', self.samples[0] + "/", "*.wat",
                "\udcff.wat", "ü.wasm", *self.extra]


def restore_samples(copies: Path) -> None:
    """Put fresh copies of the samples in ``copies`` (lines may have written over them)."""
    shutil.copytree(SAMPLES, copies, dirs_exist_ok=True)


def default_paths(base: Path, bundle: Path) -> Paths:
    """The paths the campaigns use, all under ``base``: copies of the samples (a line may
    well ``:export`` over one), the FIFO and the directory."""
    copies = base / "samples"
    restore_samples(copies)
    (base / "a-directory").mkdir(exist_ok=True)
    fifo = base / "a-fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    samples = sorted(str(p) for p in copies.glob("*.wat"))
    samples += sorted(str(p) for p in copies.rglob("*.wasm"))
    return Paths(samples, str(bundle), str(base / "a-directory"), str(fifo),
                 str(base / "missing.wat"))


class LineGenerator:
    """Lines for the shell, built from the command registry."""

    def __init__(self, commands: list[ShellCommand], paths: Paths, host_functions: list[str],
                 *, slow_share: float = 0.0) -> None:
        self.commands = commands
        self.paths = paths
        self.host_functions = host_functions
        self.slow_share = slow_share
        self.names = sorted({n for c in commands for n in (c.name, *c.aliases)})

    # --- tokens ---------------------------------------------------------------------------

    def literal(self, rng: random.Random) -> str:
        pool = rng.choice([INTS, INTS, FLOATS, STRINGS, BYTES, WORDS])
        token = rng.choice(pool)
        if rng.random() < 0.1:
            token = self._twist(rng, token)
        return token

    def _twist(self, rng: random.Random, token: str) -> str:
        op = rng.randrange(6)
        if op == 0:
            return token + rng.choice(WORDS)
        if op == 1:
            return rng.choice(["-", "+", '"', "(", "0x", "\\"]) + token
        if op == 2 and token:
            pos = rng.randrange(len(token))
            return token[:pos] + rng.choice(["\x00", '"', "_", " ", "\\", "é", "\t"]) + \
                token[pos:]
        if op == 3:
            return token * rng.choice([2, 3, 50])
        if op == 4:
            return str(rng.choice([2**64, 2**63, 2**32, 10**30, -(2**64), 2**1024]))
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x800),
                                       rng.randrange(0x800, 0xD800), 0x1F600, 0xFFFD, 0]))
                       for _ in range(rng.randrange(1, 12)))

    def path(self, rng: random.Random) -> str:
        if rng.random() < self.slow_share:
            return rng.choice(self.paths.slow)
        return rng.choice(self.paths.quick)

    def argument(self, rng: random.Random, name: str, source: str | None) -> str:
        """A token for argument ``name`` (completion ``source``): usually plausible for it,
        often a literal of another form."""
        if rng.random() < 0.25:
            return self.literal(rng)
        if source == "export":
            return rng.choice([*WORDS[:22], '"mint"', '"a b"', "x" * 100])
        if source in ("path", "bundle"):
            return self.path(rng)
        if source == "key":
            return rng.choice(STRINGS + BYTES)
        if source == "snapshot":
            return rng.choice(SNAPSHOTS)
        if source == "command":
            name = rng.choice(self.names)
            return rng.choice([name, ":" + name, "::" + name, name.upper(), name[:-1] or "x"])
        if source == "host_function":
            fn = rng.choice(self.host_functions)
            return rng.choice([fn, fn.rpartition(".")[2], fn + "x", fn.upper(), "storage_api.",
                               ".storage_get", "env.abort", "abort"])
        if name == "CONDITION":
            return rng.choice(CONDITIONS)
        if name == "TARGET":
            return rng.choice(TARGETS)
        if name == "NAME":
            return rng.choice(SNAPSHOTS)
        if name in ("A", "B"):
            return rng.choice(TARGETS)
        return self.literal(rng)

    # --- lines ----------------------------------------------------------------------------

    def command_line(self, rng: random.Random, cmd: ShellCommand) -> str:
        name = rng.choice((cmd.name, cmd.name, *cmd.aliases))
        words = [":" + name]
        for pname, source, optional, repeat in cmd.params:
            if optional and rng.random() < 0.3:
                continue
            count = rng.choice([0, 1, 1, 2, 3, 5]) if repeat else 1
            if rng.random() < 0.05:
                count = rng.choice([0, 2])  # missing or one too many
            words += [self.argument(rng, pname, source) for _ in range(count)]
        for fname, value in cmd.flags:
            if rng.random() < 0.3:
                words.insert(rng.randrange(1, len(words) + 1), fname)
                if value and rng.random() < 0.85:
                    index = words.index(fname) + 1
                    words.insert(index, self.literal(rng) if rng.random() < 0.4 else
                                 rng.choice(["0", "1", "3", "100", "18446744073709551616"]))
        if rng.random() < 0.05:
            words.insert(rng.randrange(1, len(words) + 1),
                         rng.choice(["--nope", "--", "--limit", "--all", "--dry-run", "-x"]))
        if rng.random() < 0.04:
            words.append(self.literal(rng))
        sep = rng.choice([" "] * 12 + ["  ", "\t", " \x0b", "\u3000", "\xa0"])
        return sep.join(words)

    def inline_module(self, rng: random.Random) -> str:
        body = rng.choice([
            '(module (func (export "f") (result i32) (i32.const 7)))',
            '(module (func (export "f") (loop (br 0))))',
            "(module", "(module (func", "(module))", "(module (memory 70000))",
            '(module (func (export "f") (param v128)))',
            '(module (func (export "f") (param externref)))',
            '(module (import "env" "nope" (func)))',
            '(module (table 200000 funcref))',
            '(module (func (export "f") (result i32) (i32.const 99999999999999999999)))',
            "(module (; unterminated comment", '(module "\\00")', "(", "()", "(((((",
            "(module " + "(func)" * 200 + ")", "(" * 3000 + ")" * 3000,
            '(module (memory (export "memory") 1) (data (i32.const 0) "\\ff\\fe"))',
            "(module (func (export \"\\u{1F600}\")))", "(module)\x00", "(module) :call f",
            '(module (func (export "f") (result i32) i32.const 1) ;; comment',
        ])
        if rng.random() < 0.2:
            pos = rng.randrange(len(body) + 1)
            body = body[:pos] + rng.choice(['"', ")", "(", "\x00", "\n", ";;", "é"]) + body[pos:]
        return body

    def garbage(self, rng: random.Random) -> str:
        kind = rng.randrange(9)
        if kind == 0:
            return ""
        if kind == 1:
            return rng.choice(["#", "# :call x", "   ", "\t", ":", "::", ": call", "call",
                               "help", ":help:", ":😀", ":" + "x" * 100, ":\x00", "\x00:call",
                               ":CALL", ":Call mint", ":c", ":s", ":b", ":ts", ":h", ":?", ":q",
                               "!1", "!!", "!-1", "!0", "!", "!x", ":hist", "?", "transfer 0 1 1",
                               ":call transfer(0, 1, 1)", ":call mint 0, 1", "--wide"])
        if kind == 2:
            return self.inline_module(rng)
        if kind == 3:
            return " ".join(self.literal(rng) for _ in range(rng.randrange(1, 6)))
        if kind == 4:
            return ":" + rng.choice(self.names) + rng.choice(['"', '"\\', "(", ")", "\x00", "é"])
        if kind == 5:
            return rng.choice(self.names) + " " + self.literal(rng)  # no colon
        if kind == 6:
            name = rng.choice(self.names)
            return ":" + name[: rng.randrange(len(name) + 1)] + rng.choice(["", "x", "_"])
        if kind == 7:
            return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 40)))
        return ":" + rng.choice(self.names) + " " + "".join(
            rng.choice('"()\\ x0') for _ in range(rng.randrange(1, 30)))

    def long_line(self, rng: random.Random) -> str:
        size = rng.choice([5_000, 50_000, 200_000, 1_000_000])
        cmd = rng.choice(self.commands)
        kind = rng.randrange(5)
        if kind == 0:
            return f":{cmd.name} " + " ".join(["7"] * (size // 2))
        if kind == 1:
            return f':{cmd.name} "' + "x" * size + '"'
        if kind == 2:
            return f":{cmd.name} 0x" + "ab" * (size // 2)
        if kind == 3:
            return ":" + "x" * size
        # At most 8,000 functions: compiling a module costs memory by design (33,000 empty
        # functions take some 240 MB), and the worker's limit is not SuperVM's.
        return "(module " + "(func)" * min(size // 6, 8000) + ")"

    def line(self, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.004:
            line = self.long_line(rng)
        elif roll < 0.15:
            line = self.garbage(rng)
        else:
            line = self.command_line(rng, rng.choice(self.commands))
        return _safe(line)

    def corpus(self) -> list[str]:
        """Lines every run tries: each command and alias bare, with every kind of path for
        file arguments, with NUL bytes, huge numbers and Unicode, and known troublemakers."""
        lines: list[str] = []
        for cmd in self.commands:
            for name in (cmd.name, *cmd.aliases):
                lines.append(":" + name)
            lines.append(f":{cmd.name} \x00")
            lines.append(f":{cmd.name} 18446744073709551616")
            lines.append(f":{cmd.name} \"ünï\\u{{1F600}}\" 😀")
            lines.append(f':{cmd.name} "unbalanced')
            lines.append(f":{cmd.name} (module")
            lines.append(f":{cmd.name} {' '.join(['x'] * 20)}")
            for fname, value in cmd.flags:
                lines.append(f":{cmd.name} {fname}")
                if value:
                    lines += [f":{cmd.name} {fname} -1", f":{cmd.name} {fname} 1e400",
                              f":{cmd.name} {fname} 18446744073709551616"]
            files = [p for p in cmd.params if p[1] in ("path", "bundle")]
            for pname, _, _, _ in files:
                for path in [*self.paths.quick[:12], *self.paths.slow, "/dev/null", "a\x00b",
                             '"a\\00b"', "~", ""]:
                    lines.append(f':{cmd.name} "{path}"' if " " in path else
                                 f":{cmd.name} {path}")
                del pname
        lines += [
            ':load "a\\00b"', ":load a\x00b", ':replay "a\\00b"', ':export "a\\00b"',
            ":break storage_get if key_len == 0x", ":break storage_get if key_len == 07",
            ':break storage_get if key == "\\u{41}"', ':break storage_set if key == "\\x41"',
            ":goto 9.1", ":goto 1.inf0", ":goto 1.1", ":goto end", ":diff 0 end",
            ":fuel 18446744073709551616", ":fuel 0x1_0000_0000_0000_0000",
            ":fuel 18446744073709551615", ":fuel 0", ":block -9223372036854775809",
            ":block 9223372036854775808", ":ts 18446744073709551616",
            ":storage --limit 18446744073709551615", ":storage --limit 9223372036854775808",
            ":mem 0xffffffff 18446744073709551615", ":mem 0 18446744073709551615",
            ":trace --limit 18446744073709551616", ":step 18446744073709551615",
            ":back 18446744073709551615", ':set "k" 0x' + "00" * (1 << 20),
            ':set "' + "k" * 1025 + '" "v"', ":call mint 0 nan", ":call mint 0 1.5",
            ":call transfer 0 1 18446744073709551616", ":call", ":call --dry-run",
            ":unbreak all", ":unbreak 18446744073709551616", ":snapshot " + "x" * 65,
            ":restore ../x", ":help " + "x" * 1000, ":host " + "\x00", ":load .",
            '(module (func (export "f") (param v128)))',
            '(module (func (export "f") (param anyref)))',
            # Contract testing: campaigns, conditions, reports and the files they write.
            ":fuzz transfer --runs 18446744073709551616", ":fuzz transfer --runs 0x",
            ":fuzz transfer --seed 18446744073709551616", ":fuzz transfer --workers 0",
            ":fuzz transfer --workers 65", ":fuzz transfer --expect", ":fuzz transfer --expect ok",
            ":fuzz transfer --expect ok == 1 or", ":fuzz transfer --expect ok == \"x\"",
            ':fuzz transfer --expect "ok == 1', ":fuzz transfer --expect event == 1",
            ':fuzz transfer --expect error == "trap" and arg0 > 99999999999999999999999',
            ":fuzz transfer --expect arg9 == 1", ":fuzz transfer ok == 1", ":fuzz memory",
            ":fuzz transfer --runs 3 --coverage", ":fuzz spin --runs 2", ":fuzz recurse --runs 2",
            ":fuzz \"a b\"", ":fuzz transfer --runs 1 --seed 0 --expect fuel < 0",
            ":gas x", ":coverage --lcov", ':coverage --lcov "a\00b"', ":coverage --lcov /",
            ":coverage --lcov /nonexistent/x.info", ':save-test "a\00b"', ":save-test /",
            ":save-test /nonexistent/test_x.py", ":save-test",
            # A -c argument that is not UTF-8 reaches the shell as lone surrogates.
            '(module (func (export "f\udcff")))', ':call "\udcff"', ":get \udcff",
            # Aliases, command history and re-runs.
            ":c", ":s", ":b emit_event", ":n", ":bt", ":l", ":hist", ":hist --limit 0",
            ":history", "!1", "!!", "!-1", "!0", "!-99999999999999999999", "!x", "! 1", "!1 2",
            ":rerun", ":rerun -1", ":rerun 18446744073709551616", ":rerun !1",
            # Dates wherever a timestamp is set.
            ":ts 2024-01-01", ":ts 2024-01-01T12:00:00Z", ":ts 2024-01-01T12:00+02:00",
            ':ts "2024-01-01 12:00"', ":ts 2024-13-45", ":ts 0001-01-01",
            ":ts 9999-12-31T23:59:59Z", ":ts 2024-01-01T25:61", ":ts 2024-01-01T12:00:00.5Z",
            # Limits set from the shell.
            ":limits max_events 0", ":limits max_events 1", ":limits fuel 18446744073709551616",
            ":limits max_wasm_stack 65536", ":limits max_memory_pages 65537",
            ":limits nope 1", ":limits max_trace -1", ":limits max_trace", ":limits fuel x",
            # Views and values.
            ":view bal: u64", ':view "" hex', ":view 0x00 float", ":storage --as i32",
            ':get "k" --as float', ':set "k" 41', ':set "k" -99999999999999999999',
            ':set "k" 1_000', ":trace --wide", ":help --wide", ":storage --wide --wide",
            # Call forms of other tools.
            ":call transfer(0, 1, 1)", ":call transfer 0, 1, 1", ":call transfer(0,,1)",
            ":call transfer((0))", ":call (", ":call ()", ":call transfer 0 1 1,",
            "transfer 0 1 1", "mint(0, 1)", ":block 0x8000000000000000", ":block -5",
        ]
        return [_safe(line) for line in lines]


def _safe(line: str) -> str:
    """Lines never climb out of the campaign's directory (the shell may run as root)."""
    while "../" in line or "..\\" in line:
        line = line.replace("../", "./").replace("..\\", ".\\")
    return line


#: A contract storing 1 MiB values under new keys until its fuel runs out.
STORAGE_FLOOD = (
    '(module (import "storage_api" "storage_set" (func $set (param i32 i32 i32 i32) '
    '(result i32))) (memory (export "memory") 17) (func (export "flood") (local $i i32) '
    "(loop $l (i32.store (i32.const 0) (local.get $i)) (drop (call $set (i32.const 0) "
    "(i32.const 4) (i32.const 0) (i32.const 1048576))) (local.set $i (i32.add (local.get $i) "
    "(i32.const 1))) (br $l))))")

#: Checked sequences: (setup lines, line, what it must give). A line's outcome is ``ok``,
#: ``paused`` (a call that stopped at a breakpoint) or ``error:KIND``.
ORACLES: list[tuple[list[str], str, str, str]] = [
    # Breakpoint conditions read literals as the shell does: \61 is the byte 0x61 ("a").
    ([":load {samples}/token.wat", ":call mint 0 100",
      ':break storage_get if key == "bal:\\61lice"'], ":call balance_of 0", "paused",
     "a breakpoint condition's \"\\61\" is the byte 0x61 as in every other literal"),
    ([":load {samples}/token.wat", ":call mint 0 100",
      ':break storage_get if key == "\\u{62}al:alice"'], ":call balance_of 0", "paused",
     "a breakpoint condition's \\u{62} is \"b\" as in every other literal"),
    ([":load {samples}/token.wat", ":call mint 0 100", ':break storage_get if key_len == 0x9'],
     ":call balance_of 0", "paused", "a breakpoint condition's 0x9 is the integer 9"),
    ([":load {samples}/counter.wat", ":call increment", ":call increment"], ":goto 9.1",
     "error:usage", ":goto to a call that does not exist is a usage error"),
    ([":load {samples}/counter.wat", ":call increment", ":call increment"], ":goto 1.inf0",
     "error:usage", ":goto with a step that is not a number is a usage error"),
    # Last: when it fails, the worker is left short of memory.
    ([STORAGE_FLOOD], ":call flood", "error:limit",
     "a call storing a megabyte per step is stopped by a limit, not by the host running out "
     "of memory"),
]
