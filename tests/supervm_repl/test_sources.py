"""Contracts loaded from their sources: compiled on load, reloaded when they change, and every
backtrace in their own language."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from runtime.toolchains import ToolchainError, build
from supervm_repl.commands import execute
from supervm_repl.render import plain
from supervm_repl.session import Session

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def needs(source: Path) -> None:
    try:
        build(source)
    except ToolchainError as exc:
        pytest.skip(f"no toolchain for {source.name}: {exc}")


@pytest.mark.parametrize(("source", "where"), [
    ("c/token.c", "token.c:"), ("rust/token.rs", "token.rs:"),
    ("assemblyscript/token.ts", "token.ts:"), ("token.wat", "token.wat:")])
def test_a_failed_call_is_shown_in_its_source(session: Session, source: str,
                                              where: str) -> None:
    path = SAMPLES / source
    needs(path) if path.suffix != ".wat" else None
    assert execute(session, f':load "{path}"').ok
    out = execute(session, ":call transfer 0 1 5")
    shown = plain(out.text())
    assert not out.ok and "backtrace:" in shown and where in shown
    frames = out.to_json()["error"]["frames"]
    located = [f for f in frames if f["source"] and f["source"]["file"].endswith(where[:-1])]
    assert located and located[-1]["function"].endswith("transfer")
    assert located[-1]["source"]["text"]


def _copy(tmp_path: Path) -> Path:
    needs(SAMPLES / "c" / "token.c")
    source = tmp_path / "token.c"
    shutil.copy(SAMPLES / "c" / "token.c", source)
    return source


def test_a_changed_source_is_rebuilt_before_the_next_call(session: Session,
                                                          tmp_path: Path) -> None:
    source = _copy(tmp_path)
    assert execute(session, f':load "{source}"').ok
    assert execute(session, ":call mint 0 5").ok
    time.sleep(0.01)
    source.write_text(source.read_text() + "\n// edited\n")
    again = execute(session, ":call mint 0 5")
    assert again.ok and "changed on disk: loaded again (rebuilt)" in plain(again.text())
    assert again.to_json()["reloaded"]["name"] == str(source)
    source.write_text(source.read_text() + "\nint broken( {\n")
    failed = execute(session, ":call mint 0 5")
    error = failed.to_json()["error"]
    assert error["kind"] == "compile" and "token.c:" in error["message"]
    assert plain(failed.text()).splitlines()[1].startswith("  token.c:")
    assert session.get(b"bal:alice") == (10).to_bytes(8, "little")  # nothing ran
    assert execute(session, ":watch off").ok
    assert execute(session, ":call mint 0 5").ok  # the module as loaded


def test_compile_errors_and_missing_compilers_end_a_script(tmp_path: Path,
                                                           shell_command: list[str],
                                                           env: dict[str, str]) -> None:
    source = _copy(tmp_path)
    source.write_text("int broken( {\n")
    done = subprocess.run([*shell_command, str(source), "-c", ":ctx"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "did not compile (clang)" in done.stderr
    assert "token.c:1:" in done.stderr and "block" not in done.stdout
    missing = {**env, "SUPERVM_CLANG": str(tmp_path / "no-clang"),
               "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([*shell_command, "--json", "-c", f':load "{source}"'], env=missing,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    import json

    error = json.loads(done.stdout)["error"]
    assert error["kind"] == "toolchain" and "SUPERVM_CLANG" in error["message"]
    assert "\n" not in error["message"]
