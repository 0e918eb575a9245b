"""Literals: WebAssembly numbers exactly as the text format reads them, and key/value bytes."""

from __future__ import annotations

import struct

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import BadArgumentsError, Value
from runtime.errors import UsageError
from runtime.literals import (
    parse_bytes,
    parse_count,
    parse_float_bits,
    parse_int,
    parse_value,
    quote_bytes,
    unquote,
)
from runtime.values import format_number


@pytest.mark.parametrize(("text", "type_", "value"), [
    ("0", "i32", 0),
    ("42", "i32", 42),
    ("-1", "i32", -1),
    ("+7", "i32", 7),
    ("1_000_000", "i32", 1_000_000),
    ("0xff", "i32", 255),
    ("0xFFFF_FFFF", "i32", -1),  # unsigned form of -1
    ("4294967295", "i32", -1),
    ("-0x8000_0000", "i32", -(2**31)),
    ("2147483647", "i32", 2**31 - 1),
    ("0xffffffffffffffff", "i64", -1),
    ("-9223372036854775808", "i64", -(2**63)),
])
def test_integers(text: str, type_: str, value: int) -> None:
    assert parse_int(text, type_) == value


@pytest.mark.parametrize(("text", "type_"), [
    ("4294967296", "i32"),  # 2^32
    ("-2147483649", "i32"),
    ("+2147483648", "i32"),  # a signed form uses the signed range
    ("18446744073709551616", "i64"),
])
def test_integer_out_of_range_is_bad_arguments(text: str, type_: str) -> None:
    with pytest.raises(BadArgumentsError, match="out of range"):
        parse_int(text, type_)


@pytest.mark.parametrize("text", ["", "1__0", "_1", "1_", "0x", "0x_1", "0X10", "12abc", "--1",
                                  "1 2", "0b101", "١٢"])
def test_malformed_integers_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_int(text, "i32")


def test_a_float_where_an_integer_is_expected_is_bad_arguments() -> None:
    with pytest.raises(BadArgumentsError, match="not an integer"):
        parse_int("1.5", "i32")


def f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


@pytest.mark.parametrize(("text", "bits"), [
    ("1.5", 0x3FC00000),
    ("-0.0", 0x80000000),
    ("0", 0),
    ("1", 0x3F800000),
    ("1.", 0x3F800000),
    ("1.e1", 0x41200000),
    ("1e1", 0x41200000),
    ("1_0.2_5", 0x41240000),
    ("0x1.8p3", 0x41400000),
    ("0x10", 0x41800000),
    ("0x1p-149", 0x00000001),  # smallest subnormal
    ("0x1.fffffep127", 0x7F7FFFFF),
    ("3.4028235e38", 0x7F7FFFFF),
    ("inf", 0x7F800000),
    ("-inf", 0xFF800000),
    ("+inf", 0x7F800000),
    ("nan", 0x7FC00000),
    ("-nan", 0xFFC00000),
    ("nan:0x200000", 0x7FA00000),
    ("nan:0x1", 0x7F800001),
    ("-nan:0x7f_ffff", 0xFFFFFFFF),
    ("1e-50", 0),  # underflows to zero: allowed
    # Exactly between 1 and the next f32, plus a little: rounding via f64 would give 1.0.
    ("1.00000005960464477550", 0x3F800001),
    # The exact midpoint rounds to even.
    ("1.000000059604644775390625", 0x3F800000),
])
def test_f32(text: str, bits: int) -> None:
    assert parse_float_bits(text, "f32") == bits


@pytest.mark.parametrize(("text", "bits"), [
    ("0.1", 0x3FB999999999999A),
    ("-2.5", 0xC004000000000000),
    ("0x1p-1074", 1),
    ("1.7976931348623157e308", 0x7FEFFFFFFFFFFFFF),
    ("nan:0x8000000000000", 0x7FF8000000000000),
    ("nan:0x1", 0x7FF0000000000001),
])
def test_f64(text: str, bits: int) -> None:
    assert parse_float_bits(text, "f64") == bits


@pytest.mark.parametrize(("text", "type_"), [
    ("3.5e38", "f32"), ("0x1p128", "f32"), ("1e309", "f64"), ("-1e999999999", "f64"),
    ("nan:0x0", "f32"), ("nan:0x800000", "f32"),
])
def test_floats_out_of_range(text: str, type_: str) -> None:
    with pytest.raises(BadArgumentsError):
        parse_float_bits(text, type_)


@pytest.mark.parametrize("text", [".5", "1.5.5", "infinity", "NaN", "0x1p", "1e", "e5", "nan:1",
                                  "1" * 500])
def test_malformed_floats(text: str) -> None:
    with pytest.raises(UsageError):
        parse_float_bits(text, "f64")


def test_huge_exponents_are_decided_quickly() -> None:
    assert parse_float_bits("1e-99999999999", "f64") == 0
    with pytest.raises(BadArgumentsError):
        parse_float_bits("0x1p99999999999", "f32")


def test_parse_value_types() -> None:
    assert parse_value("-1", "i32") == Value("i32", 0xFFFFFFFF)
    assert parse_value("nan:0x1", "f32") == Value("f32", 0x7F800001)
    with pytest.raises(BadArgumentsError):
        parse_value("1", "v128")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_f32_bits_round_trip_through_wat_syntax(bits: int) -> None:
    value = Value("f32", bits)
    assert parse_float_bits(format_number(value), "f32") == bits


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**64 - 1))
def test_f64_bits_round_trip_through_wat_syntax(bits: int) -> None:
    value = Value("f64", bits)
    assert parse_float_bits(format_number(value), "f64") == bits


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["i32", "i64"]), st.data())
def test_integers_round_trip(type_: str, data: st.DataObject) -> None:
    width = 32 if type_ == "i32" else 64
    n = data.draw(st.integers(-(2 ** (width - 1)), 2**width - 1))
    signed = n - 2**width if n >= 2 ** (width - 1) else n
    assert parse_int(str(n), type_) == signed
    if n >= 0:
        assert parse_int(hex(n), type_) == signed
        spaced = "0x" + "_".join(f"{n:x}")
        assert parse_int(spaced, type_) == signed


def _wasmtime_f32(literal: str) -> int:
    """The bits wasmtime's own text parser gives ``f32.const literal``."""
    wasm = bytes(wasmtime.wat2wasm(f"(module (func (result f32) f32.const {literal}))"))
    # The module ends with the function body: f32.const (0x43), the 4 bytes, end (0x0b).
    assert wasm[-6] == 0x43 and wasm[-1] == 0x0B
    return int.from_bytes(wasm[-5:-1], "little")


decimal_literals = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}.{frac}e{exp}",
    st.sampled_from(["", "-"]),
    st.integers(0, 10**12),
    st.integers(0, 10**25),
    st.integers(-50, 40),
)


@settings(max_examples=150, deadline=None)
@given(decimal_literals)
def test_decimal_f32_agrees_with_wasmtimes_parser(literal: str) -> None:
    try:
        bits = parse_float_bits(literal, "f32")
    except BadArgumentsError:
        with pytest.raises(wasmtime.WasmtimeError):
            wasmtime.wat2wasm(f"(module (func (result f32) f32.const {literal}))")
        return
    assert bits == _wasmtime_f32(literal)


@pytest.mark.parametrize(("text", "data"), [
    ('"counter"', b"counter"),
    ('""', b""),
    ('"a b"', b"a b"),
    ('"tab\\there"', b"tab\there"),
    ('"q\\"q"', b'q"q'),
    ('"\\\\"', b"\\"),
    ('"\\00\\ff"', b"\x00\xff"),
    ('"\\u{48}\\u{1F600}"', "H😀".encode()),
    ('"héllo"', "héllo".encode()),
    ("0x", b""),
    ("0x00ff", b"\x00\xff"),
    ("0xdead_beef", b"\xde\xad\xbe\xef"),
    ("i64:5", (5).to_bytes(8, "little")),
    ("i32:-1", b"\xff\xff\xff\xff"),
    ("i64:0x10", (16).to_bytes(8, "little")),
])
def test_bytes(text: str, data: bytes) -> None:
    assert parse_bytes(text) == data


@pytest.mark.parametrize("text", ['"open', '"a"b"', '"\\q"', '"\\u{D800}"', "0x1", "0xzz",
                                  "counter", "5", '"\\"'])
def test_bad_bytes(text: str) -> None:
    with pytest.raises(UsageError):
        parse_bytes(text)


@given(st.binary(max_size=40))
def test_quote_bytes_round_trips(data: bytes) -> None:
    assert parse_bytes(quote_bytes(data)) == data


@given(st.text(max_size=30))
def test_quoted_text_round_trips(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    assert parse_bytes(quote_bytes(data)) == data


def test_unquote_and_counts() -> None:
    assert unquote('"my file.wat"') == "my file.wat"
    assert unquote("plain") == "plain"
    assert parse_count("0x10") == 16
    assert parse_count("18_446_744_073_709_551_615") == 2**64 - 1
    for bad in ("-1", "2e3", "18446744073709551616"):
        with pytest.raises(UsageError):
            parse_count(bad)
