"""Source maps (version 3) for WebAssembly, as AssemblyScript writes them.

A wasm source map has one generated line whose *column* is the module byte offset; each segment
maps the bytes from its offset up to the next segment's. Sources are relative to the map's own
location. AssemblyScript writes ``sourceRoot`` as ``./<module name>``, a directory that does
not exist, so sources are *named* as ``sources`` lists them and *looked up* under
``sourceRoot`` first, then beside the map.

A one-field segment says the bytes from its offset on have no source location (binaryen writes
them for code it generated, such as the ``env.abort`` call of a failed ``assert``).
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
from pathlib import Path
from urllib.parse import unquote

from .table import MAX_ROWS, LineTable, SourceLocation

MAX_MAP_BYTES = 64 << 20  # a map bigger than this is refused before it is parsed
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64 = {c: i for i, c in enumerate(_ALPHABET)}


class SourceMapError(ValueError):
    """The source map is not well formed."""


def decode_vlq(segment: str) -> list[int]:
    """The signed integers of one Base64 VLQ segment (``"AAgBC"`` -> ``[0, 0, 16, 1]``)."""
    values: list[int] = []
    value = shift = 0
    for ch in segment:
        digit = _B64.get(ch)
        if digit is None:
            raise SourceMapError(f"bad VLQ character {ch!r}")
        value |= (digit & 31) << shift
        if digit & 32:
            shift += 5
            if shift > 35:  # more than 32 bits of magnitude: not something a map can mean
                raise SourceMapError(f"VLQ value too long in {segment[:40]!r}")
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        value = shift = 0
    if shift:
        raise SourceMapError(f"VLQ segment ends inside a value: {segment[:40]!r}")
    return values


def read_map(location: str, module_dir: Path | None) -> tuple[bytes, Path | None] | None:
    """The map a ``sourceMappingURL`` (or a path) names: (JSON bytes, the map's directory).
    ``data:`` URLs are decoded; anything that is neither a data URL nor a local path is None."""
    if location.startswith("data:"):
        head, _, payload = location.partition(",")
        try:
            raw = (base64.b64decode(payload, validate=False) if head.endswith(";base64")
                   else unquote(payload).encode())
        except (binascii.Error, ValueError):
            return None
        return raw[:MAX_MAP_BYTES + 1], module_dir
    if location.startswith("file://"):
        location = unquote(location[7:])
    elif "://" in location:
        return None  # SuperVM fetches nothing from the network
    path = Path(location)
    if not path.is_absolute():
        if module_dir is None:
            return None
        path = module_dir / path
    try:
        with path.open("rb") as f:
            return f.read(MAX_MAP_BYTES + 1), path.parent
    except OSError:
        return None


def parse(raw: bytes, map_dir: Path | None, code_end: int) -> LineTable:
    """A :class:`LineTable` from the map's JSON; ``code_end``: where the last segment stops."""
    if len(raw) > MAX_MAP_BYTES:
        raise SourceMapError(f"source map larger than {MAX_MAP_BYTES >> 20} MiB")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise SourceMapError(f"source map is not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("version") != 3:
        raise SourceMapError("not a version 3 source map")
    sources, mappings = doc.get("sources"), doc.get("mappings")
    root = doc.get("sourceRoot") or ""
    if not isinstance(sources, list) or not isinstance(mappings, str) or not isinstance(root, str):
        raise SourceMapError("source map lacks 'sources' or 'mappings'")
    files = [posixpath.normpath(s) if isinstance(s, str) else "?" for s in sources]
    table = LineTable()
    contents = doc.get("sourcesContent")
    if isinstance(contents, list):
        table.contents = {f: c for f, c in zip(files, contents, strict=False) if isinstance(c, str)}
    if map_dir is not None:
        dirs = [str(map_dir / root), str(map_dir)] if root and "://" not in root else [str(map_dir)]
        table.base_dirs = {f: dirs for f in files}

    # Only the first generated line: a wasm module is one "line" of bytes.
    line0 = mappings.split(";", 1)[0]
    segments = line0.split(",") if line0 else []
    if len(segments) > MAX_ROWS:
        raise SourceMapError(f"more than {MAX_ROWS:,} mappings")
    points: list[tuple[int, SourceLocation | None]] = []
    offset = src = line = col = 0
    for seg in segments:
        if not seg:
            continue
        v = decode_vlq(seg)
        offset += v[0]
        if offset < 0:
            raise SourceMapError("mapping before the start of the module")
        if len(v) >= 4:
            src, line, col = src + v[1], line + v[2], col + v[3]
            if not 0 <= src < len(files) or line < 0 or col < 0:
                raise SourceMapError(f"mapping at offset {offset} names no source line")
            points.append((offset, SourceLocation(files[src], line + 1, col + 1)))
        elif len(v) == 1:
            points.append((offset, None))
        else:
            raise SourceMapError(f"segment of {len(v)} fields")
    points.sort(key=lambda p: p[0])  # stable: of equal offsets the later segment still wins
    if points:
        table.add_sequence([(off, loc, True) for off, loc in points],
                           max(code_end, points[-1][0] + 1))
    return table
