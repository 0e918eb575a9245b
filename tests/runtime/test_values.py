"""Typed wasm values: exact bits, conversions, text form."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime import BadArgumentsError, Value
from runtime.values import convert_args, format_number


def test_integers_are_signed_and_masked() -> None:
    assert Value.of("i32", -1).bits == 0xFFFF_FFFF
    assert Value.of("i32", 0xFFFF_FFFF).value == -1
    assert Value.of("i64", -(2**63)).value == -(2**63)


def test_float_text_forms() -> None:
    assert format_number(Value("f32", 0x7FC0_0000)) == "nan"
    assert format_number(Value("f32", 0x7FA0_0000)) == "nan:0x200000"
    assert format_number(Value("f64", 0xFFF0_0000_0000_0000)) == "-inf"
    assert format_number(Value.of("f64", 1.5)) == "1.5"


def test_json_form() -> None:
    assert Value.of("i32", -5).to_dict() == {"type": "i32", "value": -5}
    assert Value("f32", 0x7FC0_0000).to_dict() == {"type": "f32", "value": "nan",
                                                   "bits": "0x7fc00000"}


def test_conversion_errors_say_which_argument() -> None:
    with pytest.raises(BadArgumentsError, match=r"f argument 2 \(i64\)"):
        convert_args("f", ["i32", "i64"], [1, True])
    with pytest.raises(BadArgumentsError, match="v128 parameters is not supported"):
        convert_args("f", ["v128"], [1])


@given(st.integers(-(2**63), 2**64 - 1))
def test_i64_round_trip(n: int) -> None:
    value = convert_args("f", ["i64"], [n])[0]
    assert value.value == (n - 2**64 if n >= 2**63 else n)


@given(st.floats(allow_nan=False))
def test_f64_round_trip(x: float) -> None:
    value = convert_args("f", ["f64"], [x])[0]
    assert value.value == x and math.copysign(1, value.value) == math.copysign(1, x)
