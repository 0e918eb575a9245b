"""Mutations of JSON documents (replay bundles) at the JSON level and at the byte level.

JSON-level mutations pick a node by its path and drop it, duplicate a key, or give it a value of
another type or an extreme one; some can only be written as text (``1e400``, duplicate keys,
nesting a parser cannot follow), so a mutant is always produced as bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from typing import Any

Path_ = tuple[str | int, ...]

#: Stand-ins: a marker string replaced in the serialised text by what JSON values cannot hold.
_RAW = "\u0000raw:"

EXTREMES: list[Any] = [
    None, True, False, 0, -1, 1, 1.5, -0.0, 2**31, 2**32, 2**63, 2**64, 2**64 + 5, -(2**63) - 1,
    10**30, -(10**30), "", "x", "0x", "-0x1", "0x10000000000", "0x" + "f" * 40, "１", [], {},
    [[[]]], {"a": {"b": None}}, [None] * 3, "\ud800", "é" * 100, "\x00",
    _RAW + "1e400", _RAW + "-1e400", _RAW + "1e-400", _RAW + "NaN", _RAW + "Infinity",
    _RAW + "-Infinity", _RAW + "1" + "0" * 5000, _RAW + "[" * 100_000 + "]" * 100_000,
    _RAW + '{"a":' * 50_000 + "1" + "}" * 50_000,
]
BITS = ["0x10000000000", "-0x1", "0x", "", "0X1", "1", "0x1_0", "0xg", " 0x1", "0x" + "f" * 64,
        "0x7fc00000", "0xffffffffffffffff", "0x10000000000000000", 10, -1, None, 1.5,
        _RAW + "1e400"]
HEX = ["", "0", "zz", "0x00", "AB", "ab cd", "é", "00" * 300_000]


def paths(doc: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every node's path (the root excluded)."""
    out: list[Path_] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.append((*prefix, key))
            out += paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out.append((*prefix, i))
            out += paths(value, (*prefix, i))
    return out


def get(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: Path_, value: Any) -> None:
    get(doc, path[:-1])[path[-1]] = value


def _drop(doc: Any, path: Path_) -> None:
    parent = get(doc, path[:-1])
    del parent[path[-1]]


def dumps(doc: Any, duplicate: tuple[Path_, Any] | None = None) -> bytes:
    """``doc`` as JSON text, with the stand-ins written raw and, if asked, one key written a
    second time (with another value) in its object."""
    text = json.dumps(doc, ensure_ascii=False)
    if duplicate is not None:
        path, value = duplicate
        marker = {"\u0000dup": True}
        try:
            parent = get(doc, path[:-1])
        except (KeyError, IndexError, TypeError):
            parent = None  # a later mutation removed the object
        key = path[-1]
        if not isinstance(parent, dict) or key not in parent:
            duplicate = None
    if duplicate is not None:
        assert isinstance(parent, dict)
        items = list(parent.items())
        parent.clear()
        for k, v in items:
            parent[k] = v
            if k == key:
                parent["\u0000dup"] = marker
        text = json.dumps(doc, ensure_ascii=False)
        text = text.replace('"\\u0000dup": {"\\u0000dup": true}',
                            json.dumps(key) + ": " + json.dumps(value, ensure_ascii=False))
    while _RAW_JSON in text:
        start = text.index(_RAW_JSON)
        end = text.index('"', start + len(_RAW_JSON))
        text = text[:start] + text[start + len(_RAW_JSON):end] + text[end + 1:]
    return text.encode("utf-8", "surrogatepass")


_RAW_JSON = json.dumps(_RAW)[:-1]  # '"\u0000raw:' as it appears in the text


def mutate_json(rng: random.Random, doc: Any) -> tuple[bytes, str]:
    """One to three JSON-level mutations of a copy of ``doc``: (text, what was done)."""
    doc = json.loads(json.dumps(doc))
    done: list[str] = []
    duplicate = None
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        nodes = paths(doc)
        if not nodes:
            break
        path = _pick(rng, nodes)
        value = get(doc, path)
        op = rng.random()
        shown = "/".join(map(str, path))
        if op < 0.18:
            _drop(doc, path)
            done.append(f"drop {shown}")
        elif op < 0.26 and isinstance(path[-1], str) and duplicate is None:
            duplicate = (path, rng.choice(EXTREMES[:30]))
            done.append(f"duplicate key {shown}")
        elif op < 0.36 and isinstance(value, str):
            new = _string_edit(rng, path, value)
            _set(doc, path, new)
            done.append(f"edit {shown} = {_brief(new)}")
        elif op < 0.46 and path[-1] == "bits":
            new = rng.choice(BITS)
            _set(doc, path, new)
            done.append(f"bits {shown} = {_brief(new)}")
        else:
            new = rng.choice(EXTREMES)
            _set(doc, path, new)
            done.append(f"set {shown} = {_brief(new)}")
    return dumps(doc, duplicate), "; ".join(done)


def _pick(rng: random.Random, nodes: list[Path_]) -> Path_:
    # Top-level fields and the fields the loader reads first deserve more attention than
    # the hundreds of trace and storage entries.
    if rng.random() < 0.5:
        short = [p for p in nodes if len(p) <= 2]
        return rng.choice(short)
    return rng.choice(nodes)


def _string_edit(rng: random.Random, path: Path_, value: str) -> str:
    if path[-1] == "wasm":
        choice = rng.randrange(5)
        if choice == 0:
            return value[: rng.randrange(len(value) + 1)]
        if choice == 1:
            return value[:10] + "\n" + value[10:]
        if choice == 2:
            return value + "="
        if choice == 3:
            return base64.b64encode(b"\0asm\1\0\0\0").decode()
        return "!" + value
    if path[-1] == "sha256":
        return rng.choice([hashlib.sha256(b"other").hexdigest(), value.upper(), value[:-1], ""])
    if all(c in "0123456789abcdef" for c in value):
        return rng.choice(HEX) if rng.random() < 0.6 else value + "0"
    return rng.choice(["", value * 2, value[:-1], value + "\x00", "\ud800", "☃" * 5])


def _brief(value: Any) -> str:
    text = value[len(_RAW):] if isinstance(value, str) and value.startswith(_RAW) else \
        json.dumps(value)
    return text if len(text) <= 40 else text[:30] + f"…({len(text)} chars)"


def mutate_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Byte-level mutations of a JSON file."""
    out = bytearray(data)
    done = []
    for _ in range(rng.choice([1, 1, 2, 4])):
        op = rng.randrange(8)
        pos = rng.randrange(len(out) + 1) if out else 0
        if op == 0 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
            done.append(f"flip@{pos}")
        elif op == 1:
            del out[pos:]
            done.append(f"truncate@{pos}")
        elif op == 2:
            blob = rng.choice([b"\x00", b"\xff\xfe", b"\xc3", b"{", b"}", b"]", b'"', b",",
                               b"\\", b"\\u", b"\xef\xbb\xbf", b"\r\n", b"  "])
            out[pos:pos] = blob
            done.append(f"insert@{pos} {blob!r}")
        elif op == 3:
            del out[pos:pos + rng.choice([1, 2, 10, 100])]
            done.append(f"delete@{pos}")
        elif op == 4:
            out[0:0] = b"\xef\xbb\xbf"
            done.append("BOM")
        elif op == 5:
            out = bytearray(rng.choice([b"", b"{}", b"[]", b"null", b"\x00" * 10, b"1e400",
                                        b'{"format": "supervm-replay"}']))
            done.append(f"replace with {bytes(out)[:20]!r}")
        elif op == 6 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)
            done.append(f"byte@{pos}")
        else:
            out += rng.choice([b"\n{}", b"x", b"\x00", b" " * 100])
            done.append("trailing garbage")
    return bytes(out), ", ".join(done)
