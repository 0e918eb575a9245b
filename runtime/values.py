"""WebAssembly numeric values: typed, exact (floats keep their bit pattern, NaN payloads too).

:class:`Value` is what a call returns; :func:`convert_args` checks Python arguments against an
export's signature.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BadArgumentsError

NUMERIC = ("i32", "i64", "f32", "f64")
_WIDTH = {"i32": 32, "i64": 64, "f32": 32, "f64": 64}


@dataclass(frozen=True, slots=True)
class Value:
    """A typed wasm value held as its raw bits (unsigned, ``type``'s width)."""

    type: str
    bits: int

    @classmethod
    def of(cls, type_: str, value: int | float) -> Value:
        """The value of ``type_`` closest to a Python number (ints must fit; see convert_args)."""
        if type_ in ("i32", "i64"):
            return cls(type_, int(value) & ((1 << _WIDTH[type_]) - 1))
        fmt = "<f" if type_ == "f32" else "<d"
        ifmt = "<I" if type_ == "f32" else "<Q"
        return cls(type_, struct.unpack(ifmt, struct.pack(fmt, float(value)))[0])

    @property
    def value(self) -> int | float:
        """Signed int for i32/i64, float for f32/f64."""
        width = _WIDTH[self.type]
        if self.type[0] == "i":
            return self.bits - (1 << width) if self.bits >> (width - 1) else self.bits
        if self.type == "f32":
            return struct.unpack("<f", struct.pack("<I", self.bits))[0]
        return struct.unpack("<d", struct.pack("<Q", self.bits))[0]

    @property
    def is_float(self) -> bool:
        return self.type[0] == "f"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"type", "value"}``, plus ``bits`` (hex) for floats; NaN/inf as text."""
        if not self.is_float:
            return {"type": self.type, "value": self.value}
        v = float(self.value)
        shown: float | str = v if math.isfinite(v) else ("nan" if math.isnan(v) else
                                                          ("inf" if v > 0 else "-inf"))
        digits = _WIDTH[self.type] // 4
        return {"type": self.type, "value": shown, "bits": f"0x{self.bits:0{digits}x}"}

    def __str__(self) -> str:
        return f"{self.type}:{format_number(self)}"


def format_number(value: Value) -> str:
    """The value in WebAssembly text-format literal syntax (``nan:0x200000`` for odd NaNs)."""
    if not value.is_float:
        return str(value.value)
    width = _WIDTH[value.type]
    mant_bits = 23 if width == 32 else 52
    sign = "-" if value.bits >> (width - 1) else ""
    exp_all = ((1 << (width - 1 - mant_bits)) - 1) << mant_bits
    mantissa = value.bits & ((1 << mant_bits) - 1)
    if value.bits & exp_all == exp_all:
        if mantissa == 0:
            return f"{sign}inf"
        canonical = 1 << (mant_bits - 1)
        return f"{sign}nan" if mantissa == canonical else f"{sign}nan:0x{mantissa:x}"
    return repr(float(value.value))


def convert_args(export: str, params: Sequence[str], args: Sequence[Any]) -> list[Value]:
    """Check ``args`` against ``params`` and convert each to a :class:`Value`.

    Integers may be given signed or unsigned (``0xFFFFFFFF`` and ``-1`` are the same i32);
    floats accept ints and floats; a :class:`Value` must have the parameter's type.
    """
    if len(args) != len(params):
        sig = " ".join(params) or "no arguments"
        raise BadArgumentsError(
            f"{export} takes {len(params)} argument{'s' if len(params) != 1 else ''} "
            f"({sig}), got {len(args)}"
        )
    return [_convert(export, i, t, a) for i, (t, a) in enumerate(zip(params, args, strict=True))]


def _convert(export: str, index: int, type_: str, arg: Any) -> Value:
    where = f"{export} argument {index + 1} ({type_})"
    if type_ not in NUMERIC:
        raise BadArgumentsError(f"{where}: calling with {type_} parameters is not supported")
    if isinstance(arg, Value):
        if arg.type != type_:
            raise BadArgumentsError(f"{where}: got a {arg.type} value")
        return arg
    if isinstance(arg, bool) or not isinstance(arg, int | float):
        raise BadArgumentsError(f"{where}: expected a number, got {type(arg).__name__} {arg!r}")
    if type_[0] == "i":
        if isinstance(arg, float):
            raise BadArgumentsError(f"{where}: expected an integer, got {arg!r}")
        width = _WIDTH[type_]
        if not -(1 << (width - 1)) <= arg < (1 << width):
            raise BadArgumentsError(f"{where}: {arg} is out of range for {type_}")
        return Value.of(type_, arg)
    if isinstance(arg, int) and abs(arg) > 2**1023:
        raise BadArgumentsError(f"{where}: {arg} is out of range for {type_}")
    value = float(arg)
    if type_ == "f32" and math.isfinite(value) and abs(value) > 3.4028234663852886e38:
        raise BadArgumentsError(f"{where}: {arg} is out of range for f32")
    return Value.of(type_, value)


ArgsConverter = Callable[[Sequence[Any]], list[Value]]

_INT_RANGES = {"i32": (-(1 << 31), 1 << 32, (1 << 32) - 1),
               "i64": (-(1 << 63), 1 << 64, (1 << 64) - 1)}


def args_converter(export: str, params: Sequence[str]) -> ArgsConverter:
    """:func:`convert_args` specialised for one signature (the call path's hot spot).

    In-range Python ints take a short path; everything else goes through the general checks,
    so errors are the same.
    """
    params = tuple(params)
    checks = tuple((t, *_INT_RANGES.get(t, (None, None, None))) for t in params)
    count = len(params)
    new = Value.__new__
    set_type, set_bits = Value.type.__set__, Value.bits.__set__  # type: ignore[attr-defined]

    def convert(args: Sequence[Any]) -> list[Value]:
        if len(args) != count:
            return convert_args(export, params, args)  # raises the count error
        out: list[Value] = []
        for (t, low, high, mask), arg in zip(checks, args, strict=True):
            if type(arg) is int and low is not None and low <= arg < high:
                value = new(Value)
                set_type(value, t)
                set_bits(value, arg & mask)
                out.append(value)
            else:
                out.append(_convert(export, len(out), t, arg))
        return out

    return convert
