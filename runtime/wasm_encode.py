"""Encoding for SuperVM's WebAssembly rewriting: LEB128, types, and output that remembers
which original bytes each piece came from."""

from __future__ import annotations

from .wasm_decode import HEAP_TYPES, VALTYPES


def uleb(value: int, width: int = 0) -> bytes:
    """Unsigned LEB128, padded to ``width`` bytes when the value fits in them."""
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            break
    if width > len(out) and width <= 5:
        out[-1] |= 0x80
        out.extend(b"\x80" * (width - len(out) - 1))
        out.append(0)
    return bytes(out)


def sleb(value: int) -> bytes:
    """Signed LEB128, minimal."""
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if (value == 0 and not b & 0x40) or (value == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def encode_name(text: str) -> bytes:
    """A length-prefixed UTF-8 name."""
    raw = text.encode()
    return uleb(len(raw)) + raw


VALTYPE_CODES = {v: k for k, v in VALTYPES.items()}
HEAP_CODES = {v: k for k, v in HEAP_TYPES.items()}


def encode_valtype(text: str) -> bytes:
    code = VALTYPE_CODES.get(text)
    if code is not None:
        return bytes((code,))
    # "(ref null X)" / "(ref X)", X an abstract heap type or a type index
    parts = text.strip("()").split()
    heap = parts[-1]
    prefix = 0x63 if "null" in parts else 0x64
    return bytes((prefix,)) + (bytes((HEAP_CODES[heap],)) if heap in HEAP_CODES
                               else sleb(int(heap)))


def encode_func_type(params: tuple[str, ...], results: tuple[str, ...]) -> bytes:
    return (b"\x60" + uleb(len(params)) + b"".join(map(encode_valtype, params))
            + uleb(len(results)) + b"".join(map(encode_valtype, results)))


class Output:
    """Output bytes plus, for each piece, the original offset it came from and whether it maps
    byte for byte (``linear``) or as a whole to that offset."""

    __slots__ = ("map", "parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.map: list[tuple[int, int, bool]] = []  # (output start, original offset, linear)
        self.size = 0

    def copy(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self.put(data[start:end], start, linear=True)

    def put(self, raw: bytes, origin: int, linear: bool = False) -> None:
        if raw:
            self.map.append((self.size, origin, linear))
            self.parts.append(raw)
            self.size += len(raw)

    def nest(self, inner: Output) -> None:
        base = self.size
        self.map.extend((base + s, o, lin) for s, o, lin in inner.map)
        self.parts.extend(inner.parts)
        self.size += inner.size

    def section(self, sid: int, content: Output, origin: int) -> None:
        self.put(bytes((sid,)) + uleb(content.size), origin)
        self.nest(content)


def patched(data: bytes, start: int, end: int, patches: list[tuple[int, int, bytes]]) -> Output:
    """``data[start:end]`` with ``(offset, length, replacement)`` patches applied, in order."""
    out, pos = Output(), start
    for offset, length, raw in sorted(patches):
        out.copy(data, pos, offset)
        out.put(raw, offset, linear=len(raw) == length)
        pos = offset + length
    out.copy(data, pos, end)
    return out
