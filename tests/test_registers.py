"""Register encoding round trips, word orders and edge cases (shared by plant and adapter)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.registers import decode_value, encode_value


def test_float32_word_orders() -> None:
    # 1.0f = 0x3F800000: high word 0x3F80, low word 0x0000.
    assert encode_value("float32", "big", 1.0, 0.0, 1.0) == [0x3F80, 0x0000]
    assert encode_value("float32", "little", 1.0, 0.0, 1.0) == [0x0000, 0x3F80]
    assert decode_value("float32", "big", 1.0, 0.0, [0x3F80, 0]) == 1.0
    assert decode_value("float32", "little", 1.0, 0.0, [0, 0x3F80]) == 1.0


def test_int32_and_uint32_word_orders() -> None:
    assert encode_value("uint32", "big", 1.0, 0.0, 0x12345678) == [0x1234, 0x5678]
    assert encode_value("uint32", "little", 1.0, 0.0, 0x12345678) == [0x5678, 0x1234]
    assert encode_value("int32", "big", 1.0, 0.0, -2) == [0xFFFF, 0xFFFE]
    assert decode_value("int32", "little", 1.0, 0.0, [0xFFFE, 0xFFFF]) == -2


def test_scaled_integers() -> None:
    assert encode_value("uint16", "big", 0.1, 0.0, 52.34) == [523]
    assert decode_value("uint16", "big", 0.1, 0.0, [523]) == pytest.approx(52.3)
    assert encode_value("int16", "big", 0.1, 0.0, -12.5) == [(-125) & 0xFFFF]
    assert decode_value("int16", "big", 0.1, 0.0, [(-125) & 0xFFFF]) == pytest.approx(-12.5)
    assert encode_value("int32", "big", 0.01, 0.0, 301.27) == [0, 30127]
    assert decode_value("uint16", "big", 2.0, 10.0, [5]) == 20.0
    assert encode_value("uint16", "big", 2.0, 10.0, 20.0) == [5]


def test_integers_saturate_and_nan_refused() -> None:
    assert encode_value("uint16", "big", 1.0, 0.0, -5) == [0]
    assert encode_value("uint16", "big", 1.0, 0.0, 1e9) == [0xFFFF]
    assert encode_value("int16", "big", 1.0, 0.0, 1e9) == [0x7FFF]
    with pytest.raises(ValueError):
        encode_value("int32", "big", 1.0, 0.0, math.nan)


def test_bool() -> None:
    assert encode_value("bool", "big", 1.0, 0.0, 1.0) == [1]
    assert encode_value("bool", "big", 1.0, 0.0, 0.0) == [0]
    assert decode_value("bool", "big", 1.0, 0.0, [1]) == 1.0
    assert decode_value("bool", "big", 1.0, 0.0, [0]) == 0.0


def test_bad_input_refused() -> None:
    with pytest.raises(ValueError):
        decode_value("float32", "big", 1.0, 0.0, [1])  # short reply
    with pytest.raises(ValueError):
        decode_value("uint16", "big", 1.0, 0.0, [70000])
    with pytest.raises(ValueError):
        encode_value("float64", "big", 1.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        encode_value("float32", "middle", 1.0, 0.0, 1.0)


@given(
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["big", "little"]),
)
def test_float32_round_trip(value: float, order: str) -> None:
    regs = encode_value("float32", order, 1.0, 0.0, value)
    assert all(0 <= w <= 0xFFFF for w in regs)
    assert decode_value("float32", order, 1.0, 0.0, regs) == value


@given(
    st.sampled_from(["int16", "uint16", "int32", "uint32"]),
    st.sampled_from(["big", "little"]),
    st.integers(min_value=-(1 << 31), max_value=(1 << 32) - 1),
)
def test_integer_round_trip(dtype: str, order: str, raw: int) -> None:
    lo, hi = {"int16": (-32768, 32767), "uint16": (0, 65535),
              "int32": (-(1 << 31), (1 << 31) - 1), "uint32": (0, (1 << 32) - 1)}[dtype]
    regs = encode_value(dtype, order, 1.0, 0.0, raw)
    assert decode_value(dtype, order, 1.0, 0.0, regs) == min(max(raw, lo), hi)
