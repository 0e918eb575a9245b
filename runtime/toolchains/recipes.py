"""How each language is compiled to a module with debug information.

Every compiler runs in the source's directory on the source's bare file name, with the build
directory remapped to ``.`` in the debug information (``-fdebug-prefix-map``,
``--remap-path-prefix``): the module then names its files relative to the source's directory,
and the same source gives the same bytes wherever it lies.

- ``.ts``: ``asc NAME.ts --outFile OUT/NAME.wasm --sourceMap --debug --runtime stub --noColors``
  (a source map beside the module; AssemblyScript emits no DWARF).
- ``.c``: ``clang --target=wasm32-unknown-unknown -g -O0 -ffreestanding -nostdlib
  -fdebug-prefix-map=DIR=. -c``, then ``wasm-ld --no-entry --export-dynamic`` (functions marked
  ``export_name`` or default visibility are exported). SuperVM links itself because the clang
  driver, given ``-O1`` or more, runs a ``wasm-opt`` found on PATH, which empties
  ``.debug_line``. No C library: contracts use the host ABI and freestanding headers only.
- ``.rs`` with a ``Cargo.toml`` above it whose package holds the file (under its ``src/``):
  ``cargo rustc --lib --target wasm32-unknown-unknown -- --remap-path-prefix=CRATE=.`` (the
  ``dev`` profile: debug info, no optimisation), the target directory in the build cache.
  ``cargo rustc`` rather than ``cargo build``, so the remapping goes to the crate without
  replacing ``rustflags`` from the user's ``.cargo/config.toml`` as ``RUSTFLAGS`` would. The
  package must declare ``crate-type = ["cdylib"]``.
- other ``.rs``: ``rustc --crate-type cdylib --target wasm32-unknown-unknown -C debuginfo=2
  -C opt-level=0 --edition 2021 --remap-path-prefix=DIR=.``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .tools import WASM32, Tool, find_asc, find_cargo, find_clang, find_rustc, find_wasm_ld

MAX_CRATE_FILES = 20_000
MAX_CRATE_BYTES = 64 << 20


@dataclass
class Result:
    wasm: bytes
    map: bytes | None  # the source map, for AssemblyScript
    deps: list[Path]  # other files the compiler read
    commands: list[list[str]]
    output: str = ""  # warnings


@dataclass
class Recipe:
    """One build: the tools, what the cache key is made of, and the commands."""

    kind: str  # "asc", "clang", "rustc" or "cargo"
    source: Path  # absolute
    tools: list[Tool]
    key_parts: list[str | bytes] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.source.stem if self.kind != "cargo" else lib_name(self.source)

    @property
    def tool(self) -> Tool:
        return self.tools[0]


def lib_name(manifest: Path) -> str:
    """The library name of a Cargo package: ``[lib] name``, else the package name with ``_``."""
    doc = tomllib.loads(manifest.read_text(encoding="utf-8"))
    lib = doc.get("lib") or {}
    name = lib.get("name") or doc.get("package", {}).get("name", "")
    return str(name).replace("-", "_")


def crate_for(source: Path) -> Path | None:
    """The ``Cargo.toml`` of the package holding this ``.rs`` file (under its ``src/``, or its
    ``[lib] path``), if any."""
    for d in source.parents:
        manifest = d / "Cargo.toml"
        if not manifest.is_file():
            continue
        try:
            doc = tomllib.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if "package" not in doc:
            continue  # a workspace root: the file's own package is further up only if nested
        lib_path = (doc.get("lib") or {}).get("path")
        if source.is_relative_to(d / "src") or (lib_path and d / lib_path == source):
            return manifest
        return None
    return None


def crate_files(crate: Path) -> list[tuple[str, bytes]] | None:
    """The package's files (relative path, content), leaving out ``target`` and hidden
    directories; None if there are more than the cache bounds allow."""
    out: list[tuple[str, bytes]] = []
    total = 0
    for root, dirs, files in os.walk(crate):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "target")
        for name in sorted(files):
            path = Path(root) / name
            try:
                data = path.read_bytes() if path.stat().st_size <= MAX_CRATE_BYTES else None
            except OSError:
                continue
            if data is None:
                return None
            total += len(data)
            out.append((path.relative_to(crate).as_posix(), data))
            if len(out) > MAX_CRATE_FILES or total > MAX_CRATE_BYTES:
                return None
    return out


def plan(source: Path, cache_dir: Path) -> Recipe:
    """The recipe for a source (finding the tools it needs: ToolchainError if missing)."""
    suffix = source.suffix.lower()
    if suffix == ".ts":
        recipe = Recipe("asc", source, [find_asc(source.parent, cache_dir)])
        config = source.parent / "asconfig.json"  # asc reads it from its working directory
        if config.is_file():
            recipe.key_parts.append(config.read_bytes())
    elif suffix == ".c":
        recipe = Recipe("clang", source, [find_clang(cache_dir), find_wasm_ld(cache_dir)])
    elif source.name == "Cargo.toml":
        rustc = find_rustc(cache_dir)
        recipe = Recipe("cargo", source, [find_cargo(rustc, cache_dir), rustc])
    else:
        recipe = Recipe("rustc", source, [find_rustc(cache_dir)])
    recipe.key_parts += [recipe.kind, *(t.version for t in recipe.tools),
                         json.dumps(commands(recipe, Path("{out}")))]
    return recipe


def crate_name(stem: str) -> str:
    name = re.sub(r"\W", "_", stem, flags=re.ASCII)
    return name if name and not name[0].isdigit() else f"_{name}"


def commands(r: Recipe, out: Path) -> list[list[str]]:
    """The commands of a build writing into ``out`` (with ``{dir}`` for the source directory
    when ``out`` is the ``{out}`` placeholder, so the cache key holds no paths)."""
    placeholder = str(out) == "{out}"
    d = "{dir}" if placeholder else str(r.source.parent)
    name, stem = r.source.name, r.source.stem
    if r.kind == "asc":
        return [[r.tool.path if not placeholder else "asc", name, "--outFile", f"{out}/{stem}.wasm",
                 "--sourceMap", "--debug", "--runtime", "stub", "--noColors"]]
    if r.kind == "clang":
        cc, ld = (("clang", "wasm-ld") if placeholder else (r.tools[0].path, r.tools[1].path))
        return [[cc, f"--target={WASM32}", "-g", "-O0", "-ffreestanding", "-nostdlib",
                 "-fno-color-diagnostics", f"-fdebug-prefix-map={d}=.", "-MD", "-MF",
                 f"{out}/{stem}.d", "-c", name, "-o", f"{out}/{stem}.o"],
                [ld, "--no-entry", "--export-dynamic", "-o", f"{out}/{stem}.wasm",
                 f"{out}/{stem}.o"]]
    if r.kind == "rustc":
        return [[r.tool.path if not placeholder else "rustc", "--crate-type", "cdylib",
                 "--target", WASM32, "-C", "debuginfo=2", "-C", "opt-level=0",
                 "--edition", "2021", f"--remap-path-prefix={d}=.", "--error-format", "short",
                 "--color", "never", "--crate-name", crate_name(stem),
                 "--emit", f"link={out}/{stem}.wasm,dep-info={out}/{stem}.d", name]]
    return [[r.tool.path if not placeholder else "cargo", "rustc", "--lib", "--target", WASM32,
             "--message-format", "json-diagnostic-short", "--color", "never",
             "--manifest-path", str(r.source) if not placeholder else "Cargo.toml",
             "--target-dir", str(out), "--", f"--remap-path-prefix={d}=."]]


def cargo_target(cache_dir: Path, manifest: Path) -> Path:
    """Cargo's target directory for a package: in the cache, one per package directory, kept
    between builds so cargo's own incremental build applies."""
    digest = hashlib.sha256(str(manifest.parent).encode()).hexdigest()[:16]
    return cache_dir / "cargo" / digest


def read_depfile(path: Path, cwd: Path) -> list[Path]:
    """The prerequisites of the first rule of a Makefile-style dependency file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    text = text.replace("\\\n", " ")
    first = text.split("\n\n", 1)[0].replace("\n", " ")
    _, _, rest = first.partition(": ")
    names = [n.replace("\\ ", " ") for n in re.findall(r"(?:\\ |[^\s])+", rest)]
    return [p if p.is_absolute() else cwd / p for p in map(Path, names)]


def cargo_output(text: str) -> tuple[str, Path | None, Path | None]:
    """Cargo's JSON messages: (the diagnostics and cargo's own lines, the .wasm, its .d file)."""
    lines: list[str] = []
    artifact = None
    for line in text.splitlines():
        if not line.startswith("{"):
            if line.strip() and not line.lstrip().startswith(("Compiling", "Finished")):
                lines.append(line)
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-message":
            rendered = (msg.get("message") or {}).get("rendered")
            if isinstance(rendered, str):
                lines.append(rendered.rstrip())
        elif msg.get("reason") == "compiler-artifact":
            wasm = [f for f in msg.get("filenames", []) if str(f).endswith(".wasm")]
            if wasm:
                artifact = Path(wasm[0])
    dep = artifact.with_suffix(".d") if artifact else None
    return "\n".join(lines), artifact, dep
