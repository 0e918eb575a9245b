"""Compile contracts written in AssemblyScript, C and Rust, with debug information, on load.

>>> from runtime.toolchains import build
>>> b = build("samples/c/token.c")            # doctest: +SKIP
>>> b.compiler, b.cached, len(b.wasm) > 0     # doctest: +SKIP
('clang', False, True)

:func:`build` picks the compiler from the file (``.ts``, ``.c``, ``.rs``; a ``Cargo.toml`` or
a directory holding one), finds it (order in :mod:`.tools`), compiles as :mod:`.recipes`
describes, and caches the module (:mod:`.cache`): a second build of unchanged inputs runs no
compiler. Failures are :class:`CompileError` (kind ``compile``: the compiler's ``file:line:col:
message`` lines) and :class:`ToolchainError` (kind ``toolchain``: one line, what is missing and
how to install it). ``python -m runtime.toolchains SOURCE...`` builds and writes the modules
beside their sources (how the samples are built).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import cache, recipes
from .diagnostics import CompileError, Diagnostic
from .tools import Timeout, Tool, ToolchainError, run

if TYPE_CHECKING:
    from ..debuginfo import SourceMap

__all__ = ["SOURCE_SUFFIXES", "Build", "CompileError", "Diagnostic", "Tool", "ToolchainError",
           "build", "buildable", "default_cache_dir"]

SOURCE_SUFFIXES = (".ts", ".c", ".rs")
MAX_SOURCE_BYTES = 16 << 20  # a source file bigger than this is refused unread
MAX_MODULE_BYTES = 256 << 20  # what a compiler may write; beyond it the build fails
TIMEOUT = 300.0  # seconds per compiler run (cargo may compile dependencies)

default_cache_dir = cache.default_dir


@dataclass(frozen=True)
class Build:
    """A built module. ``wasm_path`` (and ``map_path``, AssemblyScript's source map) are its
    files in the build cache; ``source`` is what was built (for cargo, the ``Cargo.toml``)."""

    wasm: bytes
    source: Path
    wasm_path: Path
    map_path: Path | None
    compiler: str  # "asc", "clang", "rustc" or "cargo"
    compiler_version: str
    cached: bool  # True: taken from the cache, no compiler ran
    commands: tuple[tuple[str, ...], ...]  # what built it (when it was built)
    warnings: str = ""  # the compiler's warnings, if it printed any

    def source_map(self) -> SourceMap | None:
        """The module's source mapping, source files resolved in the source's directory."""
        from ..debuginfo import source_map

        return source_map(self.wasm, module_path=self.wasm_path, source_dir=self.source.parent)


def buildable(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`build` takes this path (by its name; nothing is read)."""
    p = Path(path)
    if p.suffix.lower() in SOURCE_SUFFIXES or p.name == "Cargo.toml":
        return True
    try:
        return p.is_dir() and (p / "Cargo.toml").is_file()
    except OSError:  # a name too long, a loop of links: not a crate; reading it will say why
        return False


def build(path: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None,
          timeout: float = TIMEOUT) -> Build:
    """Compile a contract source to a module with debug information, or take it from the cache.

    Raises :class:`CompileError`, :class:`ToolchainError`, or ``OSError`` if the source
    cannot be read."""
    source = Path(os.path.abspath(path))
    if source.is_dir():
        source = source / "Cargo.toml"
    if source.suffix.lower() == ".rs":
        source = recipes.crate_for(source) or source
    if source.suffix.lower() not in SOURCE_SUFFIXES and source.name != "Cargo.toml":
        raise CompileError("supervm", str(path), "", summary=f"cannot build {path}: SuperVM "
                           "builds AssemblyScript (.ts), C (.c) and Rust (.rs, Cargo.toml)")
    text = _read_bounded(source)
    store = cache.usable_dir(Path(cache_dir) if cache_dir is not None else None)
    recipe = recipes.plan(source, store)
    key, cacheable = _key(recipe, text)
    hit = cache.lookup(store, key, MAX_SOURCE_BYTES) if cacheable else None
    if hit is not None:
        return Build(hit.wasm, source, hit.wasm_path, hit.map_path, recipe.kind,
                     recipe.tool.version, True,
                     tuple(tuple(c) for c in hit.meta.get("commands", [])),  # type: ignore[union-attr]
                     str(hit.meta.get("warnings", "")))
    result = _compile(recipe, store, timeout)
    names = {f"{recipe.stem}.wasm": result.wasm}
    if result.map is not None:
        names[f"{recipe.stem}.wasm.map"] = result.map
    deps = [(str(p), cache.file_hash(p, MAX_SOURCE_BYTES)) for p in result.deps if p != source]
    meta: dict[str, object] = {
        "source": str(source), "compiler": recipe.kind, "version": recipe.tool.version,
        "wasm": f"{recipe.stem}.wasm", "wasm_sha256": hashlib.sha256(result.wasm).hexdigest(),
        "map": f"{recipe.stem}.wasm.map" if result.map is not None else None,
        "deps": deps, "commands": result.commands, "warnings": result.output,
    }
    if recipe.kind == "cargo":
        key, cacheable = _key(recipe, text)  # as the next lookup sees it: with Cargo.lock
    if not cacheable or any(h is None for _, h in deps):
        # Inputs the cache cannot check: kept where no lookup finds them.
        key = cache.key(key, str(os.getpid()), os.urandom(8))
        meta["wasm_sha256"] = None
    d = cache.store(store, key, names, meta)
    return Build(result.wasm, source, d / f"{recipe.stem}.wasm",
                 d / f"{recipe.stem}.wasm.map" if result.map is not None else None,
                 recipe.kind, recipe.tool.version, False,
                 tuple(tuple(c) for c in result.commands), result.output)


def _key(recipe: recipes.Recipe, text: bytes) -> tuple[str, bool]:
    """The cache key of a build, and whether it can be cached at all."""
    if recipe.kind != "cargo":
        return cache.key(recipe.source.name, text, *recipe.key_parts), True
    files = recipes.crate_files(recipe.source.parent)
    listing = b"" if files is None else repr([(n, cache.key(d)) for n, d in files]).encode()
    return cache.key(recipe.source.name, listing, *recipe.key_parts), files is not None


def _read_bounded(source: Path) -> bytes:
    with source.open("rb") as f:
        data = f.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        raise CompileError("supervm", source.name, "", summary=f"{source.name} is larger than "
                           f"{MAX_SOURCE_BYTES >> 20} MiB: not compiled")
    return data


def _compile(recipe: recipes.Recipe, store: Path, timeout: float) -> recipes.Result:
    cwd = recipe.source.parent
    env = {**os.environ, "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory(prefix="supervm-build-") as tmp:
        out = recipes.cargo_target(store, recipe.source) if recipe.kind == "cargo" else Path(tmp)
        cmds = recipes.commands(recipe, out)
        if recipe.kind == "cargo":
            env["RUSTC"] = recipe.tools[1].path
        warnings = []
        for cmd in cmds:
            try:
                done = run(cmd, cwd=cwd, timeout=timeout, env=env)
            except Timeout as e:
                raise CompileError(recipe.kind, recipe.source.name, "", summary=str(e)) from None
            except OSError as e:
                tool = next((t.name for t in recipe.tools if t.path == cmd[0]), recipe.kind)
                raise ToolchainError(tool, f"{cmd[0]} cannot run ({e.strerror})") from None
            text = done.text
            if recipe.kind == "cargo":
                text, artifact, depfile = recipes.cargo_output(text)
            if done.returncode != 0:
                raise CompileError(recipe.kind, recipe.source.name, text, done.returncode)
            if text.strip():
                warnings.append(text.strip())
        stem = recipe.stem
        if recipe.kind == "cargo":
            if artifact is None:
                raise CompileError("cargo", recipe.source.name, "", summary=(
                    f"{recipe.source}: cargo built no .wasm; the package needs "
                    '[lib] crate-type = ["cdylib"]'))
            wasm_file, deps = artifact, recipes.read_depfile(depfile, cwd) if depfile else []
        else:
            wasm_file = out / f"{stem}.wasm"
            deps = recipes.read_depfile(out / f"{stem}.d", cwd)
        wasm = _read_output(wasm_file, recipe)
        map_bytes = None
        if recipe.kind == "asc":
            map_bytes = _read_output(out / f"{stem}.wasm.map", recipe)
            deps = _asc_deps(map_bytes, cwd)
        return recipes.Result(wasm, map_bytes, deps, [list(c) for c in cmds],
                              "\n".join(warnings))


def _read_output(path: Path, recipe: recipes.Recipe) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_MODULE_BYTES + 1)
    except OSError:
        summary = f"{recipe.kind} reported success but wrote no {path.name}"
        raise CompileError(recipe.kind, recipe.source.name, "", summary=summary) from None
    if len(data) > MAX_MODULE_BYTES:
        raise CompileError(recipe.kind, recipe.source.name, "",
                           summary=f"{path.name} is larger than {MAX_MODULE_BYTES >> 20} MiB")
    return data


def _asc_deps(map_bytes: bytes, cwd: Path) -> list[Path]:
    """The user's files an AssemblyScript build read: its source map's sources, but the
    compiler's own library (``~lib/``, covered by the compiler's version)."""
    try:
        sources = json.loads(map_bytes).get("sources", [])
    except (ValueError, AttributeError):
        return []
    return [cwd / s for s in sources if isinstance(s, str) and not s.startswith("~lib/")]
