"""Debug information read from the committed samples: DWARF (C, Rust), source maps
(AssemblyScript) and .wat text; hostile debug sections; laziness."""

from __future__ import annotations

import json
import posixpath
import random
import re
import subprocess
import time
from pathlib import Path

import pytest
import wasmtime

from runtime import AbortError, MemoryStorage, Runtime, TrapError
from runtime.debuginfo import (
    DebugInfoError,
    SourceLocation,
    demangle,
    dwarf,
    source_map,
    sourcemap,
    wasm,
    wat,
)
from runtime.debuginfo.table import LineTable
from tests.support import SAMPLES

C_WASM = SAMPLES / "c" / "token.wasm"
RUST_WASM = SAMPLES / "rust" / "token.wasm"
AS_COUNTER = SAMPLES / "assemblyscript" / "counter.wasm"
AS_TOKEN = SAMPLES / "assemblyscript" / "token.wasm"


def line_of(path: Path, marker: str) -> int:
    """The 1-based line of the first line of ``path`` containing ``marker``."""
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if marker in text:
            return number
    raise AssertionError(f"{marker!r} not in {path}")


def trap_frames(module: Path | str, export: str, *calls: tuple[str, tuple[int, ...]]) -> list:
    """The frames of the trap that ``export`` ends with after ``calls`` succeeded."""
    rt = Runtime(MemoryStorage())
    contract = rt.load_file(module) if isinstance(module, Path) else rt.load(module)
    for name, args in calls:
        rt.call(contract, name, args)
    with pytest.raises(TrapError) as err:
        rt.call(contract, export, (0, 1, 10_000))
    return err.value.frames


# ---- DWARF ---------------------------------------------------------------------------------


def test_c_trap_maps_to_its_source_line() -> None:
    sm = source_map(C_WASM.read_bytes(), module_path=C_WASM)
    assert sm is not None and sm.kind == "dwarf" and sm.files == ["token.c"]
    frames = trap_frames(C_WASM, "transfer", ("mint", (0, 100)))
    loc = sm.locate(frames[0].module_offset)
    expected = line_of(SAMPLES / "c" / "token.c", "insufficient funds: trap before")
    assert loc is not None and (loc.file, loc.line) == ("token.c", expected)
    assert "__builtin_trap();" in (sm.source_line(loc) or "")
    assert sm.function_at(frames[0].module_offset).name == "transfer"


def test_rust_panic_maps_to_the_panic_line_and_names_are_demangled() -> None:
    sm = source_map(RUST_WASM.read_bytes(), module_path=RUST_WASM)
    assert sm is not None and sm.kind == "dwarf" and "token.rs" in sm.files
    frames = trap_frames(RUST_WASM, "transfer", ("mint", (0, 100)))
    where = [sm.locate(f.module_offset) for f in frames]
    expected = line_of(SAMPLES / "rust" / "token.rs", 'panic!("insufficient funds")')
    assert SourceLocation("token.rs", expected, 9) in where
    names = [sm.function_at(f.module_offset).name for f in frames]
    # The #[panic_handler] links as rust_begin_unwind.
    assert names[-1] == "transfer" and "rust_begin_unwind" in names
    assert any(f.name == "token::account" and f.file == "token.rs" for f in sm.functions())


def test_offsets_for_line_and_line_rows() -> None:
    sm = source_map(C_WASM.read_bytes(), module_path=C_WASM)
    line = line_of(SAMPLES / "c" / "token.c", "uint64_t to_balance = balance(dst);")
    offsets = sm.offsets_for_line("token.c", line)
    assert offsets and all(sm.locate(o).line == line for o in offsets)
    assert sm.offsets_for_line("samples/c/token.c", line) == offsets  # by suffix
    assert sm.offsets_for_line("/elsewhere/token.c", line) == offsets  # by basename
    assert sm.offsets_for_line("token.c", 1) == []  # a comment: no code
    rows = sm.line_rows()
    assert [o for o, _ in rows] == sorted(o for o, _ in rows)
    assert len({o for o, _ in rows}) == len(rows)


def _wasm_tools_addr2line(path: Path, offsets: list[int]) -> dict[int, tuple[str, int, int]]:
    exe = wat.wasm_tools()
    if exe is None:
        pytest.skip("wasm-tools is not installed")
    try:
        out = subprocess.run([exe, "addr2line", str(path), *map(hex, offsets)],
                             capture_output=True, text=True, check=False).stdout
    except OSError as e:
        pytest.skip(f"wasm-tools does not run: {e}")
    found = {}
    for line in out.splitlines():
        m = re.match(r"(0x[0-9a-f]+): .*?(\S+):(\d+):(\d+)$", line)
        if m:
            file = m[2].removeprefix("./")
            found[int(m[1], 16)] = (file, int(m[3]), int(m[4]))
    return found


@pytest.mark.parametrize("module", [C_WASM, RUST_WASM], ids=["c", "rust"])
def test_dwarf_agrees_with_wasm_tools_addr2line(module: Path) -> None:
    data = module.read_bytes()
    code = wasm.code_section(wasm.sections(data))
    offsets = sorted(random.Random(7).sample(range(code.start, code.end), 150))
    theirs = _wasm_tools_addr2line(module, offsets)
    sm = source_map(data, module_path=module)
    for off in offsets:
        loc = sm.locate(off, exact=True)
        mine = (loc.file, loc.line, loc.col) if loc else None
        want = theirs.get(off)
        if want is not None:  # wasm-tools prints "./token.c" and "core/src/../../stdarch"
            want = (posixpath.normpath(want[0]), want[1], want[2])
        assert mine == want, hex(off)


def test_own_line_program_decoder_matches_pyelftools() -> None:
    for module in (C_WASM, RUST_WASM):
        data = module.read_bytes()
        secs = wasm.sections(data)
        di = dwarf.dwarf_info(data, secs)
        line_sec = next(s for s in secs if s.name == ".debug_line")
        for cu in di.iter_CUs():
            program = di.line_program_for_CU(cu)
            theirs = [(e.state.address, e.state.file, e.state.line, e.state.column,
                       e.state.is_stmt) for e in program.get_entries()
                      if e.state is not None and not e.state.end_sequence]
            files = {n: str(n) for n in range(1000)}
            ours = [(a, int(loc.file), loc.line, loc.col, st) for _, _, rows in dwarf._decode(
                program.header, memoryview(data)[line_sec.start:line_sec.end],
                program.program_start_offset, program.program_end_offset, files,
                [10**9]) for a, loc, st in rows if loc is not None]
            assert ours == [t for t in theirs if t[2] > 0]


# ---- AssemblyScript source maps --------------------------------------------------------------


def test_assemblyscript_abort_maps_to_the_assert_line() -> None:
    data = AS_COUNTER.read_bytes()
    # SuperVM reports the position AssemblyScript passes to abort...
    rt = Runtime(MemoryStorage())
    with pytest.raises(AbortError) as err:
        rt.call(rt.load(data), "decrement")
    assert (err.value.file, err.value.line, err.value.col) == ("counter.ts", 57, 3)
    # ...and the source map maps the code of that assert, the abort call included. An abort
    # that returns lets the `unreachable` after it trap, which gives its offset.
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, data)
    imports = [wasmtime.Func(store, i.type, (lambda *a, r=bool(list(i.type.results)): 0 if r
                                             else None)) for i in module.imports]
    with pytest.raises(wasmtime.Trap) as trap:
        wasmtime.Instance(store, module, imports).exports(store)["decrement"](store)
    offset = trap.value.frames[0].module_offset
    sm = source_map(data, module_path=AS_COUNTER)
    assert sm is not None and sm.kind == "sourcemap" and sm.error is None
    loc = sm.locate(offset)
    assert (loc.file, loc.line) == ("counter.ts", 57)
    assert sm.locate(offset, exact=True) is None  # binaryen gave that call no location itself
    assert "assert(value > 0" in sm.source_line(loc)
    assert sm.function_at(offset).name == "counter/decrement"
    assert sm.offsets_for_line("counter.ts", 57)
    # ~lib sources come from the map's sourcesContent.
    lib = next(f for f in sm.files if f.startswith("~lib/"))
    lib_loc = next(loc for _, loc in sm.line_rows() if loc.file == lib)
    assert sm.source_line(lib_loc) is not None


def test_source_map_found_beside_the_module_without_url(tmp_path: Path) -> None:
    secs = wasm.sections(AS_TOKEN.read_bytes())
    stripped = strip_custom(AS_TOKEN.read_bytes(), secs, "sourceMappingURL")
    target = tmp_path / "t ü.wasm"
    target.write_bytes(stripped)
    (tmp_path / "t ü.wasm.map").write_bytes((SAMPLES / "assemblyscript" / "token.wasm.map")
                                            .read_bytes())
    sm = source_map(stripped, module_path=target)
    assert sm is not None and sm.kind == "sourcemap" and "token.ts" in sm.files


def test_vlq() -> None:
    assert sourcemap.decode_vlq("AAgBC") == [0, 0, 16, 1]
    assert sourcemap.decode_vlq("D") == [-1]
    assert sourcemap.decode_vlq("2Hw+B") == [123, 1000]
    for bad in ("!", "g", "ggggggggggA"):
        with pytest.raises(sourcemap.SourceMapError):
            sourcemap.decode_vlq(bad)


# ---- .wat ------------------------------------------------------------------------------------


def test_wat_maps_to_its_own_lines() -> None:
    text = (SAMPLES / "token.wat").read_text(encoding="utf-8")
    binary = wasmtime.wat2wasm(text)
    sm = source_map(binary, module_path=SAMPLES / "token.wat")
    assert sm is not None and sm.kind == "wat"
    if sm.error is not None and ("not installed" in sm.error.message
                                 or "did not run" in sm.error.message):
        pytest.skip(str(sm.error))
    assert sm.error is None and sm.files == ["token.wat"]
    frames = trap_frames(text, "transfer", ("mint", (0, 100)))
    loc = sm.locate(frames[0].module_offset)
    expected = line_of(SAMPLES / "token.wat", "(if (i64.lt_u (local.get $from_balance)")
    assert (loc.file, loc.line) == ("token.wat", expected)
    assert "(unreachable)" in sm.source_line(loc)
    assert sm.function_at(frames[0].module_offset).name == "transfer"


@pytest.mark.parametrize("name", ["token.wat", "counter.wat", "loop.wat"])
def test_wat_line_rows_start_at_instructions(name: str) -> None:
    """Each line's first row is where one of its instructions begins, and the line it names
    holds that instruction (``(local.get $from)`` of ``transfer``'s first line included)."""
    from runtime.wasm_binary import parse

    text = (SAMPLES / name).read_text(encoding="utf-8")
    binary = wasmtime.wat2wasm(text)
    sm = source_map(binary, module_path=SAMPLES / name)
    if sm.error is not None:
        pytest.skip(str(sm.error))
    module = parse(binary)
    starts = {ins.offset for code in module.code for ins in module.instructions(code)}
    rows = sm.line_rows()
    assert rows and {offset for offset, _ in rows} <= starts
    if name == "token.wat":
        first = line_of(SAMPLES / name, "(local.set $from_record (call $account")
        assert first in {loc.line for _, loc in rows}


def test_wat_text_that_encodes_differently_gets_no_mapping() -> None:
    binary = wasmtime.wat2wasm((SAMPLES / "add.wat").read_text(encoding="utf-8"))
    sm = source_map(binary, wat_text=(SAMPLES / "greet.wat").read_text(encoding="utf-8"))
    assert sm.locate(40) is None and isinstance(sm.error, DebugInfoError)


def test_no_debug_information_is_none() -> None:
    assert source_map(wasmtime.wat2wasm("(module (func))")) is None
    assert source_map(b"not wasm") is None


# ---- hostile debug information ---------------------------------------------------------------


def strip_custom(data: bytes, secs: list[wasm.Section], name: str) -> bytes:
    return replace_custom(data, secs, name, None)


def replace_custom(data: bytes, secs: list[wasm.Section], name: str, payload: bytes | None
                   ) -> bytes:
    """The module with custom section ``name``'s payload replaced (or the section removed)."""
    out = bytearray(data[:8])
    pos = 8
    for s in secs:
        if s.id == 0 and s.name == name:
            if payload is not None:
                encoded = name.encode()
                body = _leb(len(encoded)) + encoded + payload
                out += b"\0" + _leb(len(body)) + body
        else:
            out += data[pos:s.end]
        pos = s.end
    return bytes(out)


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_truncated_and_garbled_dwarf_give_no_mapping() -> None:
    data = C_WASM.read_bytes()
    secs = wasm.sections(data)
    rng = random.Random(3)
    for name in (".debug_line", ".debug_info", ".debug_abbrev", ".debug_str"):
        original = wasm.custom(data, secs, name)
        variants = [original[: len(original) // 2], original[:3], b"",
                    bytes(rng.randrange(256) for _ in range(len(original)))]
        for _ in range(10):
            flipped = bytearray(original)
            for _ in range(5):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            variants.append(bytes(flipped))
        for payload in variants:
            bad = replace_custom(data, secs, name, payload)
            sm = source_map(bad)
            start = time.perf_counter()
            for off in range(0, len(bad), 97):
                loc = sm.locate(off)
                assert loc is None or isinstance(loc, SourceLocation)
            sm.line_rows()
            sm.functions()
            assert sm.error is None or isinstance(sm.error, DebugInfoError)
            assert time.perf_counter() - start < 5


@pytest.mark.parametrize("doc", [
    b"not json", b"[" * 100_000 + b"]" * 100_000, b'{"version": 3}', b'{"version": 2}',
    b'{"version": 3, "sources": ["a.ts"], "mappings": "!!!"}',
    b'{"version": 3, "sources": ["a.ts"], "mappings": "AAAA,ACAA"}',  # source 1 of 1
    b'{"version": 3, "sources": ["a.ts"], "mappings": "AAAA,AAgggggggggggA"}',
    b'{"version": 3, "sources": ["a.ts"], "mappings": "AAAA,AA"}',
    b'{"version": 3, "sources": ["a.ts"], "mappings": "D"}',
])
def test_hostile_source_maps(tmp_path: Path, doc: bytes) -> None:
    module = tmp_path / "m.wasm"
    data = strip_custom(AS_TOKEN.read_bytes(), wasm.sections(AS_TOKEN.read_bytes()),
                        "sourceMappingURL")
    module.write_bytes(data)
    (tmp_path / "m.wasm.map").write_bytes(doc)
    sm = source_map(data, module_path=module)
    assert sm.locate(500) is None and sm.line_rows() == []
    assert isinstance(sm.error, DebugInfoError) and sm.error.kind == "debug_info"


def test_huge_mappings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sourcemap, "MAX_ROWS", 1000)
    raw = json.dumps({"version": 3, "sources": ["a.ts"], "mappings": ",".join(["CAAA"] * 5000)})
    with pytest.raises(sourcemap.SourceMapError):
        sourcemap.parse(raw.encode(), None, 10_000)


def test_too_many_line_rows_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runtime.debuginfo.table.MAX_ROWS", 100)
    table = LineTable()
    with pytest.raises(OverflowError):
        table.add_sequence([(i, SourceLocation("a", 1), True) for i in range(200)], 300)


def test_a_map_url_elsewhere_is_not_fetched(tmp_path: Path) -> None:
    assert sourcemap.read_map("https://example.invalid/x.map", tmp_path) is None
    inline = "data:application/json;base64," + __import__("base64").b64encode(
        b'{"version":3,"sources":["x.ts"],"mappings":"CAAA"}').decode()
    raw, _ = sourcemap.read_map(inline, tmp_path)
    assert sourcemap.parse(raw, None, 10).locate(1) == SourceLocation("x.ts", 1, 1)


# ---- laziness --------------------------------------------------------------------------------


def test_creating_the_rust_map_costs_nothing_and_first_lookup_is_quick() -> None:
    data = RUST_WASM.read_bytes()
    best = min(_timed(lambda: source_map(data, module_path=RUST_WASM)) for _ in range(3))
    assert best < 0.05
    sm = source_map(data, module_path=RUST_WASM)
    first = _timed(lambda: sm.locate(wasm.code_section(wasm.sections(data)).start + 10))
    assert first < 3  # ~0.1-0.3 s on a 2-core machine; generous for a loaded CI
    assert _timed(lambda: sm.locate(12345)) < 0.01


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


# ---- Rust names ------------------------------------------------------------------------------


@pytest.mark.parametrize(("mangled", "plain"), [
    ("_ZN4testE", "test"),
    ("_ZN4test1a2bcE", "test::a::bc"),
    ("_ZN4$RP$E", ")"),
    ("_ZN8$RF$testE", "&test"),
    ("_ZN8$BP$test4foobE", "*test::foob"),
    ("_ZN9$u20$test4foobE", " test::foob"),
    ("_ZN35Bar$LT$$u5b$u32$u3b$$u20$4$u5d$$GT$E", "Bar<[u32; 4]>"),
    ("_ZN13test$u20$test4foobE", "test test::foob"),
    ("_ZN12test$BP$test4foobE", "test*test::foob"),
    ("_ZN3foo17h05af221e174051e9E", "foo"),
    ("_ZN3foo3bar17h05af221e174051e9E", "foo::bar"),
    ("_ZN3fooE.llvm.9D1C9369", "foo"),
    ("__ZN3fooE", "foo"),
    ("_ZN3foo20h05af221e174051e9abcE", "foo::h05af221e174051e9abc"),
    ("_ZN3foo3bar28_$u7b$$u7b$closure$u7d$$u7d$17h05af221e174051e9E", "foo::bar::{{closure}}"),
    ("_ZN59_$LT$core..fmt..Arguments$u20$as$u20$core..fmt..Display$GT$3fmt17h05af221e174051e9E",
     "<core::fmt::Arguments as core::fmt::Display>::fmt"),
    ("mint", "mint"),
    ("_ZN3foo", "_ZN3foo"),
    ("_ZN99fooE", "_ZN99fooE"),
    ("_ZN3$ZZ$E", "_ZN3$ZZ$E"),
    ("_RNvC5mycrate3foo", "_RNvC5mycrate3foo"),
])
def test_demangle(mangled: str, plain: str) -> None:
    assert demangle(mangled) == plain


def test_truncated_modules_are_format_errors() -> None:
    data = C_WASM.read_bytes()
    for cut in (9, 20, 100, len(data) // 2):
        with pytest.raises(wasm.WasmFormatError):
            wasm.sections(data[:cut] + b"\xff\xff\xff\xff\xff\xff")
