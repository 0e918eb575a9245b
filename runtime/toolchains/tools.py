"""Finding the compilers, asking their versions once, and running them within bounds.

Each compiler is looked for in this order (the first that exists wins):

=========  ===================================================================================
asc        ``$SUPERVM_ASC``; ``node_modules/.bin/asc`` in the source's directory or above; ``asc``
           on ``PATH``
clang      ``$SUPERVM_CLANG``; ``clang`` on ``PATH``
wasm-ld    ``$SUPERVM_WASM_LD``; ``wasm-ld`` on ``PATH``
rustc      ``$SUPERVM_RUSTC``; ``rustc`` on ``PATH`` *if it has the wasm32-unknown-unknown
           standard library*, else ``/usr/bin/rustc`` if that has it (Debian's rustc beside a
           rustup whose toolchain lacks the target and cannot download it)
cargo      ``$SUPERVM_CARGO``; the ``cargo`` beside the chosen rustc; ``cargo`` on ``PATH``
           (always run with ``RUSTC`` set to the chosen rustc)
=========  ===================================================================================

A compiler's version (and for rustc whether it has the wasm32 library) is asked once per binary:
the answer is kept in memory and in ``tools.json`` in the build cache, keyed by the binary's
real path, size and modification time (for a rustup shim also its settings and installed
targets), so a cache hit runs no compiler at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SuperVMError

MAX_OUTPUT = 1 << 20  # bytes of compiler output kept; the rest is read and dropped
WASM32 = "wasm32-unknown-unknown"

HINTS = {
    "asc": "run `npm install assemblyscript@0.27` in the contract's directory, or set SUPERVM_ASC",
    "node": "asc runs on Node.js: install it (Debian: apt-get install nodejs npm)",
    "clang": "install clang and lld (Debian: apt-get install clang lld), or set SUPERVM_CLANG",
    "wasm-ld": "install lld (Debian: apt-get install clang lld), or set SUPERVM_WASM_LD",
    "rustc": "install it (Debian: apt-get install rustc libstd-rust-dev-wasm32; SuperVM then uses "
             "/usr/bin/rustc even beside a rustup without the target), or `rustup target add "
             "wasm32-unknown-unknown`, or set SUPERVM_RUSTC",
    "cargo": "install it (Debian: apt-get install cargo), or set SUPERVM_CARGO",
}


class ToolchainError(SuperVMError):
    """A compiler SuperVM needs is missing or unusable; the message is one line saying what and
    how to install it (``tool``, ``hint``)."""

    kind = "toolchain"

    def __init__(self, tool: str, problem: str) -> None:
        self.tool, self.hint = tool, HINTS.get(tool, "")
        super().__init__(f"{problem}: {self.hint}" if self.hint else problem)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "tool": self.tool, "hint": self.hint}


@dataclass(frozen=True)
class Tool:
    """A compiler found on this machine."""

    name: str  # "asc", "clang", "wasm-ld", "rustc" or "cargo"
    path: str
    version: str  # the first line of its --version


@dataclass(frozen=True)
class Output:
    returncode: int
    text: str  # stdout and stderr interleaved, at most MAX_OUTPUT bytes
    truncated: bool


class Timeout(Exception):
    """The command ran past its time limit (it was killed)."""


def run(cmd: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> Output:
    """Run a command, keeping the first MAX_OUTPUT bytes of its output. The command and its
    children are killed at the timeout (:class:`Timeout`). OSError if it cannot start."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    kept = bytearray()
    dropped = [False]

    def drain() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(65536):
            room = MAX_OUTPUT - len(kept)
            if room > 0:
                kept.extend(chunk[:room])
            if len(chunk) > room:
                dropped[0] = True

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        name = Path(cmd[0]).name
        raise Timeout(f"{name} ran longer than {timeout:g} s and was stopped") from None
    except BaseException:
        _kill(proc)  # Ctrl-C while compiling: leave no compiler behind
        raise
    reader.join(timeout=5)
    return Output(proc.returncode, kept.decode("utf-8", "replace"), dropped[0])


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.wait()


# ---- versions, asked once --------------------------------------------------------------------

_memo: dict[str, dict[str, object]] = {}
_memo_lock = threading.Lock()


def _identity(path: str) -> str:
    real = os.path.realpath(path)
    st = os.stat(real)
    parts = [real, str(st.st_size), str(st.st_mtime_ns)]
    rustup_home = Path(os.environ.get("RUSTUP_HOME") or Path.home() / ".rustup")
    if Path(real).parent.name == "bin" and (Path(real).parent / "rustup").exists():
        # A rustup shim: what it runs depends on rustup's settings and installed targets.
        parts.append(os.environ.get("RUSTUP_TOOLCHAIN", ""))
        targets = sorted(rustup_home.glob("toolchains/*/lib/rustlib"))
        for p in [rustup_home / "settings.toml", *targets]:
            with contextlib.suppress(OSError):
                parts.append(f"{p}:{p.stat().st_mtime_ns}")
    return "|".join(parts)


def probe(path: str, what: str, cache_dir: Path | None, ask: list[list[str]]) -> list[str]:
    """The first line of output of each command in ``ask`` (``{exe}`` replaced by ``path``),
    remembered per binary identity in memory and in ``cache_dir/tools.json``."""
    key = f"{what}|{_identity(path)}"
    with _memo_lock:
        if key in _memo:
            return list(_memo[key]["answers"])  # type: ignore[call-overload]
    store = cache_dir / "tools.json" if cache_dir else None
    on_disk: dict[str, dict[str, object]] = {}
    if store is not None:
        try:
            on_disk = json.loads(store.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            on_disk = {}
        entry = on_disk.get(key) if isinstance(on_disk, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("answers"), list):
            with _memo_lock:
                _memo[key] = entry
            return list(entry["answers"])
    answers = []
    for cmd in ask:
        try:
            out = run([path if c == "{exe}" else c for c in cmd], cwd=Path.cwd(), timeout=60)
        except (OSError, Timeout) as e:
            raise ToolchainError(what, f"{path} does not run ({e})") from None
        answers.append(out.text.strip().splitlines()[0] if out.text.strip() else "")
    entry = {"answers": answers, "checked": int(time.time())}
    with _memo_lock:
        _memo[key] = entry
    if store is not None:
        try:
            on_disk = on_disk if isinstance(on_disk, dict) else {}
            on_disk[key] = entry
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(on_disk, indent=0), encoding="utf-8")
            os.replace(tmp, store)
        except OSError:
            pass  # the answer is still remembered in this process
    return answers


# ---- finding each compiler -------------------------------------------------------------------


def _from_env(var: str, tool: str) -> str | None:
    value = os.environ.get(var)
    if not value:
        return None
    found = shutil.which(value)
    if found is None:
        raise ToolchainError(tool, f"{var}={value} is not an executable")
    return found


def _version(path: str, tool: str, cache_dir: Path | None) -> Tool:
    return Tool(tool, path, probe(path, tool, cache_dir, [["{exe}", "--version"]])[0])


def find_asc(source_dir: Path, cache_dir: Path | None) -> Tool:
    path = _from_env("SUPERVM_ASC", "asc")
    if path is None:
        for d in [source_dir, *source_dir.parents]:
            candidate = d / "node_modules" / ".bin" / "asc"
            if candidate.exists():
                path = str(candidate)
                break
    path = path or shutil.which("asc")
    if path is None:
        raise ToolchainError("asc", "the AssemblyScript compiler (asc) is not installed")
    if shutil.which("node") is None:
        raise ToolchainError("node", f"{path} needs node, which is not on PATH")
    # The version from the package itself: asking asc would start Node.js (~0.3 s).
    package = Path(os.path.realpath(path)).parent.parent / "package.json"
    try:
        meta = json.loads(package.read_text(encoding="utf-8"))
        if meta.get("name") == "assemblyscript" and isinstance(meta.get("version"), str):
            return Tool("asc", path, f"assemblyscript {meta['version']}")
    except (OSError, ValueError):
        pass
    return _version(path, "asc", cache_dir)


def find_clang(cache_dir: Path | None) -> Tool:
    path = _from_env("SUPERVM_CLANG", "clang") or shutil.which("clang")
    if path is None:
        raise ToolchainError("clang", "clang is not installed")
    return _version(path, "clang", cache_dir)


def find_wasm_ld(cache_dir: Path | None) -> Tool:
    path = _from_env("SUPERVM_WASM_LD", "wasm-ld") or shutil.which("wasm-ld")
    if path is None:
        raise ToolchainError("wasm-ld", "wasm-ld (the WebAssembly linker of LLVM) is not installed")
    return _version(path, "wasm-ld", cache_dir)


def _rustc_with_wasm32(path: str, cache_dir: Path | None) -> Tool | None:
    version, sysroot = probe(path, "rustc", cache_dir,
                             [["{exe}", "--version"], ["{exe}", "--print", "sysroot"]])
    lib = Path(sysroot) / "lib" / "rustlib" / WASM32 / "lib"
    if sysroot and any(lib.glob("libcore-*.rlib")):
        return Tool("rustc", path, version)
    return None


def find_rustc(cache_dir: Path | None) -> Tool:
    explicit = _from_env("SUPERVM_RUSTC", "rustc")
    if explicit is not None:
        tool = _rustc_with_wasm32(explicit, cache_dir)
        if tool is None:
            raise ToolchainError("rustc", f"SUPERVM_RUSTC={explicit} lacks the {WASM32} "
                                          "standard library")
        return tool
    candidates = [p for p in (shutil.which("rustc"), "/usr/bin/rustc") if p and os.path.exists(p)]
    seen: set[str] = set()
    for path in candidates:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        tool = _rustc_with_wasm32(path, cache_dir)
        if tool is not None:
            return tool
    problem = (f"no rustc with the {WASM32} standard library"
               + (f" (tried {', '.join(candidates)})" if candidates else " (no rustc installed)"))
    raise ToolchainError("rustc", problem)


def find_cargo(rustc: Tool, cache_dir: Path | None) -> Tool:
    path = _from_env("SUPERVM_CARGO", "cargo")
    if path is None:
        beside = Path(rustc.path).with_name("cargo")
        path = str(beside) if beside.exists() else shutil.which("cargo")
    if path is None:
        raise ToolchainError("cargo", "cargo is not installed")
    return _version(path, "cargo", cache_dir)
