"""What the user types as values: WebAssembly numeric literals and byte strings.

The shell's arguments and the debugger's breakpoint conditions are read by this one module, so
a literal means the same wherever it is typed.

Numbers follow the WebAssembly text format exactly (decimal and hex integers with ``_``
separators, decimal and hex floats, ``inf``, ``nan``, ``nan:0x…``); floats are rounded once,
from the exact value of the literal, to nearest-even (so an f32 is never rounded via an f64).
Byte strings are ``"text"`` with the text format's escapes, ``0x…`` hex, or ``i32:N``/``i64:N``
(the integer as little-endian bytes, as contracts usually store numbers).
"""

from __future__ import annotations

import datetime
import re
from fractions import Fraction

from .errors import BadArgumentsError, UsageError
from .values import Value

_NUM = r"[0-9](?:_?[0-9])*"
_HEXNUM = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_INT = re.compile(rf"(?P<sign>[+-]?)(?:0x(?P<hex>{_HEXNUM})|(?P<dec>{_NUM}))")
_DECFLOAT = re.compile(
    rf"(?P<sign>[+-]?)(?P<int>{_NUM})(?:\.(?P<frac>{_NUM})?)?(?:[eE](?P<exp>[+-]?{_NUM}))?"
)
_HEXFLOAT = re.compile(
    rf"(?P<sign>[+-]?)0x(?P<int>{_HEXNUM})(?:\.(?P<frac>{_HEXNUM})?)?"
    rf"(?:[pP](?P<exp>[+-]?{_NUM}))?"
)
_SPECIAL = re.compile(rf"(?P<sign>[+-]?)(?:(?P<inf>inf)|nan(?::0x(?P<payload>{_HEXNUM}))?)")

#: Longest numeric literal accepted: longer ones are surely typos, and huge digit strings
#: would make exact conversion slow.
MAX_LITERAL = 400

# (mantissa bits, exponent bias) of each float type.
_FLOAT = {"f32": (23, 127), "f64": (52, 1023)}
_INT_WIDTH = {"i32": 32, "i64": 64}


class LiteralRangeError(BadArgumentsError):
    """A well-formed literal that does not fit the type it is meant for."""


def shorten(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters for quoting it in a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_number(text: str) -> bool:
    """Whether ``text`` is any numeric literal of the text format."""
    return any(p.fullmatch(text) for p in (_INT, _DECFLOAT, _HEXFLOAT, _SPECIAL))


def parse_int(text: str, type_: str = "i64") -> int:
    """An integer literal as a signed Python int, checked against ``type_`` (i32 or i64).

    As in the text format, unsigned forms may use the whole unsigned range (``0xFFFFFFFF`` is
    the i32 ``-1``) and signed forms the signed range.
    """
    width = _INT_WIDTH[type_]
    if len(text) > MAX_LITERAL:
        raise UsageError(f"{shorten(text)!r} is too long for a number")
    if text.isascii() and text.isdigit():
        # Plain decimal digits, the common case: no regex needed.
        sign, magnitude = "", int(text)
    else:
        match = _INT.fullmatch(text)
        if match is None:
            if is_number(text):
                raise LiteralRangeError(f"{shorten(text)} is not an integer ({type_} expected)")
            raise UsageError(f"{shorten(text)!r} is not a number")
        sign = match["sign"]
        magnitude = int(match["hex"].replace("_", ""), 16) if match["hex"] else \
            int(match["dec"].replace("_", ""))
    if sign:
        value = -magnitude if sign == "-" else magnitude
        if not -(1 << (width - 1)) <= value < (1 << (width - 1)):
            raise LiteralRangeError(f"{shorten(text)} is out of range for {type_}")
        return value
    if magnitude >= 1 << width:
        raise LiteralRangeError(f"{shorten(text)} is out of range for {type_}")
    return magnitude - (1 << width) if magnitude >> (width - 1) else magnitude


def parse_integer(text: str) -> int:
    """Any integer literal of the text format (decimal or hex, ``_`` separators, a sign) as the
    number it writes, without a width: ``0xffffffff`` is 4294967295, ``-1`` is -1."""
    match = _INT.fullmatch(text) if len(text) <= MAX_LITERAL else None
    if match is None:
        if len(text) > MAX_LITERAL:
            raise UsageError(f"{shorten(text)!r} is too long for a number")
        raise UsageError(f"{shorten(text)!r} is not an integer")
    magnitude = int(match["hex"].replace("_", ""), 16) if match["hex"] else \
        int(match["dec"].replace("_", ""))
    return -magnitude if match["sign"] == "-" else magnitude


def parse_count(text: str, what: str = "count") -> int:
    """A non-negative integer literal (decimal or hex, ``_`` allowed) below 2^64."""
    match = _INT.fullmatch(text) if len(text) <= MAX_LITERAL else None
    if match is None or match["sign"] == "-":
        raise UsageError(f"{what} must be a non-negative integer, not {shorten(text)!r}")
    value = int(match["hex"].replace("_", ""), 16) if match["hex"] else \
        int(match["dec"].replace("_", ""))
    if value >= 1 << 64:
        raise UsageError(f"{what} {shorten(text)} is too large (at most 2^64 - 1)")
    return value


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?")


def parse_timestamp(text: str) -> int:
    """A block timestamp in seconds: an integer literal (i64), or an ISO 8601 date or time
    (``2024-01-01``, ``2024-01-01T12:00:00Z``, ``2024-01-01T12:00+02:00``), UTC unless it
    gives an offset."""
    if len(text) > 40 or not _DATE.fullmatch(text):
        return parse_int(text, "i64")
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{shorten(text)!r} is not a date: {exc}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp())


def iso_utc(timestamp: int | float) -> str | None:
    """``2024-01-01T00:00:00Z`` for a Unix time from 1970 to 9999, else None."""
    if not 0 <= timestamp < 253402300800:
        return None
    moment = datetime.datetime.fromtimestamp(int(timestamp), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_float_bits(text: str, type_: str) -> int:
    """A float literal as the raw IEEE-754 bits of ``type_`` (f32 or f64)."""
    mant_bits, bias = _FLOAT[type_]
    width = 32 if type_ == "f32" else 64
    sign_bit = 1 << (width - 1)
    exp_all = ((1 << (width - 1 - mant_bits)) - 1) << mant_bits
    if len(text) > MAX_LITERAL:
        raise UsageError(f"{shorten(text)!r} is too long for a number")
    special = _SPECIAL.fullmatch(text)
    if special:
        sign = sign_bit if special["sign"] == "-" else 0
        if special["inf"]:
            return sign | exp_all
        if special["payload"] is None:
            return sign | exp_all | (1 << (mant_bits - 1))
        payload = int(special["payload"].replace("_", ""), 16)
        if not 1 <= payload < (1 << mant_bits):
            raise LiteralRangeError(
                f"NaN payload of {shorten(text)} must be between 1 and 0x{(1 << mant_bits) - 1:x}"
            )
        return sign | exp_all | payload
    value = _exact(text)
    if value is None:
        raise UsageError(f"{shorten(text)!r} is not a number")
    negative, magnitude = value
    bits = _round(magnitude, mant_bits, bias) if magnitude else 0
    if bits >= exp_all:
        raise LiteralRangeError(f"{shorten(text)} is out of range for {type_}")
    return (sign_bit if negative else 0) | bits


def _exact(text: str) -> tuple[bool, Fraction] | None:
    """(negative, exact magnitude) of a decimal or hex float literal; None if it is neither."""
    match = _HEXFLOAT.fullmatch(text)
    base, digits_per_unit = 16, 4
    if match is None:
        match = _DECFLOAT.fullmatch(text)
        base, digits_per_unit = 10, 0
    if match is None:
        return None
    int_part = match["int"].replace("_", "")
    frac_part = (match["frac"] or "").replace("_", "")
    exponent = int((match["exp"] or "0").replace("_", ""))
    mantissa = int(int_part + frac_part, base)
    negative = match["sign"] == "-"
    if mantissa == 0:
        return negative, Fraction(0)
    if base == 16:
        exponent -= digits_per_unit * len(frac_part)
        # Far outside every float's range: decide without building enormous numbers.
        magnitude = mantissa.bit_length() + exponent
        if magnitude > 1100:
            return negative, Fraction(2) ** 1100
        if magnitude < -1200:
            return negative, Fraction(1, 2**1200)
        return negative, Fraction(mantissa) * Fraction(2) ** exponent
    exponent -= len(frac_part)
    magnitude = len(str(mantissa)) + exponent
    if magnitude > 330:
        return negative, Fraction(10) ** 330
    if magnitude < -360:
        return negative, Fraction(1, 10**360)
    return negative, Fraction(mantissa) * Fraction(10) ** exponent


def _round(x: Fraction, mant_bits: int, bias: int) -> int:
    """The bits of positive ``x`` rounded to nearest-even; all-ones exponent means overflow."""
    exp = x.numerator.bit_length() - x.denominator.bit_length()
    if x < Fraction(2) ** exp:
        exp -= 1
    emin = 1 - bias
    # Subnormals share the minimum exponent's quantum; their bits are just the count of quanta.
    quantum_exp = max(exp, emin) - mant_bits
    n = round(x / Fraction(2) ** quantum_exp)
    if exp < emin:
        return n
    # n is in [2^m, 2^(m+1)]; the top case carries into the exponent field by itself.
    return ((exp + bias) << mant_bits) + (n - (1 << mant_bits))


def parse_value(text: str, type_: str) -> Value:
    """The literal ``text`` as a :class:`Value` of wasm type ``type_``."""
    if type_ in _INT_WIDTH:
        return Value.of(type_, parse_int(text, type_))
    if type_ in _FLOAT:
        return Value(type_, parse_float_bits(text, type_))
    raise LiteralRangeError(f"parameters of type {type_} cannot be given on the command line")


# --- byte strings -------------------------------------------------------------------------------

_ESCAPES = {"t": b"\t", "n": b"\n", "r": b"\r", '"': b'"', "'": b"'", "\\": b"\\"}
_TYPED_INT = re.compile(r"(?P<type>i32|i64):(?P<lit>.+)")


def parse_bytes(text: str) -> bytes:
    """A KEY or VALUE: ``"text"`` (escapes ``\\n \\t \\r \\" \\' \\\\ \\hh \\u{h…}``),
    ``0x…`` hex bytes, or ``i32:N``/``i64:N`` (little-endian)."""
    if text.startswith('"'):
        return _unquote_bytes(text)
    if text.startswith("0x"):
        digits = text[2:].replace("_", "")
        if len(digits) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", digits):
            raise UsageError(f"{shorten(text)!r} is not hex bytes (an even number of hex digits)")
        return bytes.fromhex(digits)
    typed = _TYPED_INT.fullmatch(text)
    if typed:
        width = _INT_WIDTH[typed["type"]]
        number = parse_int(typed["lit"], typed["type"])
        return (number & ((1 << width) - 1)).to_bytes(width // 8, "little")
    if text.isprintable() and len(text) <= 200:
        # A bare word is most likely text the user meant to quote: say exactly what to type.
        quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        raise UsageError(f"{shorten(text)!r} is not a key or value: text is quoted, "
                         f"{shorten(quoted, 60)} (or write 0x… hex bytes, i64:N)")
    raise UsageError(
        f'{shorten(text)!r} is not a key or value: write "text", 0x… hex bytes, or i64:N'
    )


def _unquote_bytes(text: str) -> bytes:
    if len(text) < 2 or not text.endswith('"') or _ends_escaped(text):
        raise UsageError(f"unterminated string {shorten(text)}")
    body, out, pos = text[1:-1], bytearray(), 0
    # Plain runs are encoded whole; only the escapes are handled one by one.
    for match in _ESCAPE.finditer(body):
        out += body[pos : match.start()].encode("utf-8", "surrogatepass")
        pos = match.end()
        escape = match[0]
        if escape == '"':
            raise UsageError(f'unescaped " inside {shorten(text)}')
        nxt = escape[1:2]
        if nxt in _ESCAPES:
            out += _ESCAPES[nxt]
        elif nxt == "u":
            code = int(match["code"].replace("_", ""), 16) if match["code"] else -1
            if not (0 <= code < 0xD800 or 0xE000 <= code <= 0x10FFFF):
                raise UsageError(f"bad \\u{{…}} escape in {shorten(text)}")
            out += chr(code).encode()
        elif match["hex"]:
            out.append(int(match["hex"], 16))
        else:
            raise UsageError(f"bad escape {shorten(escape)} in {shorten(text)}")
    out += body[pos:].encode("utf-8", "surrogatepass")
    return bytes(out)


_ESCAPE = re.compile(
    r'"|\\(?:u\{(?P<code>[0-9a-fA-F](?:_?[0-9a-fA-F])*)\}|(?P<hex>[0-9a-fA-F]{2})|u|.|$)',
    re.DOTALL,
)


def _ends_escaped(text: str) -> bool:
    """Whether the final ``"`` of ``text`` is preceded by an odd number of backslashes."""
    run = len(text) - 1 - len(text[:-1].rstrip("\\"))
    return run % 2 == 1


def unquote(token: str) -> str:
    """A token as plain text: a ``"quoted"`` token is decoded (it must be UTF-8)."""
    if not token.startswith('"'):
        return token
    try:
        return _unquote_bytes(token).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{shorten(token)} is not UTF-8 text") from None


def quote_bytes(data: bytes) -> str:
    """``data`` as a literal that :func:`parse_bytes` reads back: ``"text"`` or ``0x…``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + data.hex()
    if not text.isprintable():
        return "0x" + data.hex()
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
