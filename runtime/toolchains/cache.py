"""The build cache: built modules keyed by what went into them.

An entry's key hashes the source (for cargo: the crate's files), its file name (it appears in
the module: AssemblyScript's abort messages, the source map's URL), the compiler's version and
the flags. The entry also records the other files the compiler read (headers, modules,
AssemblyScript imports) with their hashes; a hit needs every one unchanged. Files are written
to a temporary name and renamed, ``meta.json`` last with the module's hash, so a reader never
takes a half-written entry (a damaged one is rebuilt).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

FORMAT = 1  # bump when entries change shape or the build commands change meaning


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/supervm/builds``, default ``~/.cache/supervm/builds``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "supervm" / "builds"


def usable_dir(wanted: Path | None) -> Path:
    """The cache directory to use: ``wanted`` (or the default) if it can be written, else one
    under the temporary directory (a read-only home still builds)."""
    path = wanted or default_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / f"supervm-builds-{os.getuid()}"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def file_hash(path: Path, limit: int) -> str | None:
    """sha256 of a file of at most ``limit`` bytes; None if missing, unreadable or bigger."""
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    return hashlib.sha256(data).hexdigest() if len(data) <= limit else None


@dataclass(frozen=True)
class Entry:
    wasm: bytes
    wasm_path: Path
    map_path: Path | None
    meta: dict[str, object]


def key(*parts: str | bytes) -> str:
    h = hashlib.sha256(f"supervm-build-{FORMAT}".encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def entry_dir(cache: Path, k: str) -> Path:
    return cache / k[:2] / k[2:]


def lookup(cache: Path, k: str, limit: int) -> Entry | None:
    """The entry for key ``k`` if complete, undamaged and its recorded inputs unchanged."""
    d = entry_dir(cache, k)
    try:
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        name = meta["wasm"]
        wasm = (d / name).read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if hashlib.sha256(wasm).hexdigest() != meta.get("wasm_sha256"):
        return None
    for path, digest in meta.get("deps", []):
        if file_hash(Path(path), limit) != digest:
            return None
    map_name = meta.get("map")
    map_path = d / map_name if isinstance(map_name, str) else None
    if map_path is not None and not map_path.is_file():
        return None
    return Entry(wasm, d / name, map_path, meta)


def store(cache: Path, k: str, files: dict[str, bytes], meta: dict[str, object]) -> Path:
    """Write an entry's files (the module first, ``meta.json`` last); its directory."""
    d = entry_dir(cache, k)
    d.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        _write(d / name, data)
    _write(d / "meta.json", json.dumps(meta, indent=1, sort_keys=True).encode())
    return d


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
