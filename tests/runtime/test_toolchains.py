"""Building contracts from AssemblyScript, C and Rust: the samples rebuild to the committed
bytes and behave like token.wat; errors, missing toolchains, the cache, bounds."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from runtime import CallError, MemoryStorage, Runtime
from runtime.debuginfo import wasm
from runtime.toolchains import Build, CompileError, ToolchainError, build, buildable, tools
from tests.support import SAMPLES

SOURCES = {
    "assemblyscript-counter": SAMPLES / "assemblyscript" / "counter.ts",
    "assemblyscript-token": SAMPLES / "assemblyscript" / "token.ts",
    "c-token": SAMPLES / "c" / "token.c",
    "assemblyscript-flawed-token": SAMPLES / "assemblyscript" / "flawed_token.ts",
    "c-flawed-token": SAMPLES / "c" / "flawed_token.c",
    "rust-token": SAMPLES / "rust" / "token.rs",
}
TOKENS = {
    "wat": SAMPLES / "token.wat",
    "assemblyscript": SAMPLES / "assemblyscript" / "token.wasm",
    "c": SAMPLES / "c" / "token.wasm",
    "rust": SAMPLES / "rust" / "token.wasm",
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build-cache")


def built(source: Path, cache_dir: Path, **kw: object) -> Build:
    """Build, or skip the test if the toolchain is not installed here."""
    try:
        return build(source, cache_dir=cache_dir, **kw)  # type: ignore[arg-type]
    except ToolchainError as e:
        pytest.skip(f"toolchain not installed: {e}")


def code(data: bytes) -> bytes:
    sec = wasm.code_section(wasm.sections(data))
    assert sec is not None
    return data[sec.start:sec.end]


# ---- the samples -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SOURCES))
def test_sample_rebuilds_to_the_committed_module(name: str, cache: Path) -> None:
    source = SOURCES[name]
    b = built(source, cache)
    committed = source.with_suffix(".wasm").read_bytes()
    assert code(b.wasm) == code(committed)
    assert b.wasm == committed, "same code, different debug information or names"
    if b.compiler == "asc":
        assert b.map_path is not None
        assert b.map_path.read_bytes() == source.with_suffix(".wasm.map").read_bytes()
    again = build(source, cache_dir=cache)
    assert again.cached and again.wasm == b.wasm and not b.cached


def _run_script(module: Path) -> list[object]:
    """A scripted sequence of calls: what each returned, or that it failed, with the events
    and storage after each."""
    rt = Runtime(MemoryStorage())
    contract = rt.load_file(module)
    script = [
        ("mint", (0, 100)), ("mint", (1, 5)), ("transfer", (0, 1, 30)),
        ("transfer", (1, 1, 10)), ("transfer", (0, 2, 71)), ("transfer", (3, 0, 1)),
        ("transfer", (0, -1, 1)), ("mint", (7, 1)), ("mint", (2, -1)),
        ("balance_of", (0,)), ("balance_of", (1,)), ("balance_of", (2,)), ("balance_of", (5,)),
        ("total_supply", ()), ("transfer", (0, 2, 70)), ("mint", (2, 2**63 - 1)),
        ("total_supply", ()), ("balance_of", (2,)),
    ]
    seen: list[object] = []
    for export, args in script:
        before = rt.storage.snapshot()
        try:
            result = rt.call(contract, export, args)
            seen.append((export, args, result.results, result.events))
        except CallError:
            assert rt.storage.snapshot() == before  # nothing of a failed call is committed
            seen.append((export, args, "failed"))
        seen.append(sorted(rt.storage.snapshot().items()))
    return seen


@pytest.mark.parametrize("language", ["assemblyscript", "c", "rust"])
def test_token_behaves_like_token_wat(language: str) -> None:
    assert _run_script(TOKENS[language]) == _run_script(TOKENS["wat"])


def test_token_exports_match_token_wat() -> None:
    rt = Runtime(MemoryStorage())

    def signatures(path: Path) -> dict[str, object]:
        info = rt.load_file(path).info
        return {e.name: (e.params, e.results) for e in info.exports if e.kind == "func"}

    expected = signatures(TOKENS["wat"])
    for language in ("assemblyscript", "c", "rust"):
        assert signatures(TOKENS[language]) == expected, language


# ---- compile errors --------------------------------------------------------------------------

BROKEN = {
    ".c": ("int ok(void) { return 1; }\nint bad(void) {\n  return missing + 1;\n}\n", 3, 10),
    ".rs": ("#![no_std]\n#[panic_handler]\nfn p(_: &core::panic::PanicInfo) -> ! { loop {} }\n"
            "pub fn f() -> i32 {\n    missing\n}\n", 5, 5),
    ".ts": ("export function f(): i32 {\n  return missing;\n}\n", 2, 10),
}


@pytest.mark.parametrize("suffix", list(BROKEN))
def test_compile_error_names_file_line_col(suffix: str, tmp_path: Path) -> None:
    text, line, col = BROKEN[suffix]
    d = tmp_path / "a dir ü"
    d.mkdir()
    source = d / f"bad ü{suffix}"
    source.write_text(text, encoding="utf-8")
    if suffix == ".ts":
        _link_node_modules(d)
    with pytest.raises((CompileError, ToolchainError)) as err:
        build(source, cache_dir=tmp_path / "cache")
    if isinstance(err.value, ToolchainError):
        pytest.skip(f"toolchain not installed: {err.value}")
    e = err.value
    assert e.kind == "compile"
    first = e.diagnostics[0]
    assert (first.file, first.line, first.col) == (source.name, line, col), e.output
    assert e.message.splitlines()[0].startswith(f"{source.name}:{line}:{col}: ")
    assert "missing" in first.message


def _link_node_modules(d: Path) -> None:
    modules = SAMPLES / "assemblyscript" / "node_modules"
    if modules.is_dir():
        (d / "node_modules").symlink_to(modules)


def test_many_errors_are_cut_to_twenty_lines(tmp_path: Path) -> None:
    output = "".join(f"x.c:{i}:1: error: e{i}\n  code\n  ^\n" for i in range(1, 41))
    e = CompileError("clang", "x.c", output + "40 errors generated.\n", 1)
    lines = e.message.splitlines()
    assert len(lines) == 21 and lines[-1] == "... and 20 more"
    assert lines[0] == "x.c:1:1: error: e1" and len(e.diagnostics) == 40
    source = tmp_path / "many.c"
    source.write_text("".join(f"int f{i}(void) {{ return x{i}; }}\n" for i in range(40)))
    with pytest.raises((CompileError, ToolchainError)) as err:
        build(source, cache_dir=tmp_path / "cache")
    if isinstance(err.value, ToolchainError):
        pytest.skip(str(err.value))
    lines = err.value.message.splitlines()
    assert 20 <= len(lines) <= 21 and all(x.startswith(("many.c:", "fatal", "... and"))
                                         for x in lines)


def test_warnings_are_shown_only_without_errors() -> None:
    output = "x.c:1:1: warning: w\nx.c:2:1: error: e\n"
    assert CompileError("clang", "x.c", output, 1).message == "x.c:2:1: error: e"
    assert CompileError("clang", "x.c", "x.c:1:1: warning: w\n", 1).message == "x.c:1:1: warning: w"
    linker = "wasm-ld: error: x.o: undefined symbol: foo\n"
    e = CompileError("clang", "x.c", linker, 1)
    assert e.message == linker.strip() and e.diagnostics[0].file is None


# ---- missing toolchains ----------------------------------------------------------------------


@pytest.mark.parametrize(("var", "suffix", "hint"), [
    ("SUPERVM_CLANG", ".c", "apt-get install clang lld"),
    ("SUPERVM_WASM_LD", ".c", "apt-get install clang lld"),
    ("SUPERVM_RUSTC", ".rs", "apt-get install rustc libstd-rust-dev-wasm32"),
    ("SUPERVM_ASC", ".ts", "npm install assemblyscript@0.27"),
])
def test_missing_toolchain_is_one_line_with_the_install_hint(
        var: str, suffix: str, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / f"x{suffix}"
    source.write_text("")
    monkeypatch.setenv("PATH", "")
    for other in ("SUPERVM_CLANG", "SUPERVM_WASM_LD", "SUPERVM_RUSTC", "SUPERVM_ASC"):
        monkeypatch.delenv(other, raising=False)
    if var == "SUPERVM_WASM_LD":  # get past clang to the linker
        monkeypatch.setenv("SUPERVM_CLANG", _fake_tool(tmp_path, "clang", "exit 0"))
    monkeypatch.setenv(var, str(tmp_path / "does-not-exist"))
    with pytest.raises(ToolchainError) as err:
        build(source, cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert err.value.kind == "toolchain" and "\n" not in message
    assert var in message and hint in message
    if var == "SUPERVM_RUSTC":
        assert "/usr/bin/rustc" in message


def test_no_clang_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "x.c"
    source.write_text("")
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("SUPERVM_CLANG", raising=False)
    with pytest.raises(ToolchainError) as err:
        build(source, cache_dir=tmp_path / "cache")
    assert str(err.value).startswith("clang is not installed: ")
    assert "apt-get install clang lld" in str(err.value)


def test_unknown_kind_of_source(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("")
    assert not buildable(source) and buildable("a.ts") and buildable("Cargo.toml")
    with pytest.raises(CompileError):
        build(source, cache_dir=tmp_path)


# ---- the cache -------------------------------------------------------------------------------


def _fake_tool(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"fake-{name}"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _logging(tmp_path: Path, real: str, log: Path) -> str:
    return _fake_tool(tmp_path, Path(real).name, f'echo "$@" >> "{log}"\nexec "{real}" "$@"')


def test_cache_hit_runs_no_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clang, wasm_ld = shutil.which("clang"), shutil.which("wasm-ld")
    if not (clang and wasm_ld):
        pytest.skip("clang and wasm-ld are not installed")
    log = tmp_path / "log"
    monkeypatch.setenv("SUPERVM_CLANG", _logging(tmp_path, clang, log))
    monkeypatch.setenv("SUPERVM_WASM_LD", _logging(tmp_path, wasm_ld, log))
    (tmp_path / "v.h").write_text("#define VALUE 1\n")
    source = tmp_path / "m.c"
    source.write_text('#include "v.h"\n__attribute__((export_name("f"))) int f(void) '
                      "{ return VALUE; }\n")
    first = build(source, cache_dir=tmp_path / "cache")
    runs = log.read_text().count("\n")
    assert not first.cached and runs >= 3  # versions, compile, link
    tools._memo.clear()  # as a new process would start
    second = build(source, cache_dir=tmp_path / "cache")
    assert second.cached and second.wasm == first.wasm
    assert log.read_text().count("\n") == runs
    (tmp_path / "v.h").write_text("#define VALUE 2\n")  # a header changed: built again
    third = build(source, cache_dir=tmp_path / "cache")
    assert not third.cached and third.wasm != first.wasm


def test_damaged_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    b = built(SAMPLES / "c" / "token.c", tmp_path)
    b.wasm_path.write_bytes(b"garbage")
    again = build(SAMPLES / "c" / "token.c", cache_dir=tmp_path)
    assert not again.cached and again.wasm == b.wasm


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from runtime.toolchains import default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "supervm" / "builds"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "supervm" / "builds"


# ---- bounds ----------------------------------------------------------------------------------


def test_compiler_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = 'case "$1" in --version) echo "clang version 0";; *) sleep 30;; esac'
    monkeypatch.setenv("SUPERVM_CLANG", _fake_tool(tmp_path, "clang", script))
    monkeypatch.setenv("SUPERVM_WASM_LD", _fake_tool(tmp_path, "ld", "echo LLD 0"))
    source = tmp_path / "x.c"
    source.write_text("int x;\n")
    with pytest.raises(CompileError) as err:
        build(source, cache_dir=tmp_path / "cache", timeout=0.5)
    assert "ran longer than 0.5 s" in str(err.value)


def test_compiler_output_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loud = (f'case "$1" in --version) echo "clang version 0";; *) "{sys.executable}" -c '
            "\"print('x.c:1:1: error: no\\n' * 400000)\"; exit 1;; esac")
    monkeypatch.setenv("SUPERVM_CLANG", _fake_tool(tmp_path, "clang", loud))
    monkeypatch.setenv("SUPERVM_WASM_LD", _fake_tool(tmp_path, "ld", "echo LLD 0"))
    source = tmp_path / "x.c"
    source.write_text("int x;\n")
    with pytest.raises(CompileError) as err:
        build(source, cache_dir=tmp_path / "cache")
    assert len(err.value.output) <= tools.MAX_OUTPUT
    assert len(err.value.message.splitlines()) == 21


def test_source_size_is_bounded(tmp_path: Path) -> None:
    source = tmp_path / "big.c"
    with source.open("wb") as f:
        f.truncate(17 << 20)
    with pytest.raises((CompileError, ToolchainError)) as err:
        build(source, cache_dir=tmp_path)
    assert "larger than 16 MiB" in str(err.value)


# ---- cargo -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_cargo_crate(tmp_path: Path) -> None:
    crate = tmp_path / "my token"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "my-token"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[lib]\ncrate-type = ["cdylib"]\n\n[profile.dev]\npanic = "abort"\n')
    shutil.copyfile(SAMPLES / "rust" / "token.rs", crate / "src" / "lib.rs")
    if shutil.which("cargo") is None and not os.path.exists("/usr/bin/cargo"):
        pytest.skip("cargo is not installed")
    b = built(crate / "src" / "lib.rs", tmp_path / "cache")
    assert b.compiler == "cargo" and b.source == crate / "Cargo.toml"
    assert _run_script(b.wasm_path) == _run_script(TOKENS["wat"])
    sm = b.source_map()
    assert sm is not None and "src/lib.rs" in sm.files
    row = next(loc for _, loc in sm.line_rows() if loc.file == "src/lib.rs")
    assert sm.source_line(row) == (crate / "src" / "lib.rs").read_text().splitlines()[row.line - 1]
    assert build(crate, cache_dir=tmp_path / "cache").cached
