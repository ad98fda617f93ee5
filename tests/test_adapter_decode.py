"""Compiled block decoder == the shared reference codec, and short replies never decode."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.modbus.blocks import plan_blocks
from adapters.modbus.decode import BlockDecoder, DecodeError
from runtime.registers import decode_value, encode_value
from runtime.scene.model import DevicePoint

_WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}


def _p(address: int, dtype: str, scale: float = 1.0, offset: float = 0.0,
       table: str = "input") -> DevicePoint:
    return DevicePoint(point=f"E/p{address}", table=table, address=address, type=dtype,
                       unit="bool" if dtype == "bool" else "m", scale=scale, offset=offset)


def test_little_word_order_float() -> None:
    points = [_p(0, "float32"), _p(2, "uint16", 0.1), _p(5, "int32", 0.01)]
    (block,) = plan_blocks(points)
    regs = (encode_value("float32", "little", 1.0, 0.0, 1.5) + [523, 0, 0]
            + encode_value("int32", "little", 0.01, 0.0, -301.27))
    values = BlockDecoder(block, "little").decode(regs)
    assert values == pytest.approx([1.5, 52.3, -301.27])


def test_short_long_and_out_of_range_replies_refused() -> None:
    (block,) = plan_blocks([_p(0, "uint16"), _p(1, "float32")])
    dec = BlockDecoder(block, "big")
    with pytest.raises(DecodeError):
        dec.decode([1, 2])
    with pytest.raises(DecodeError):
        dec.decode([1, 2, 3, 4])
    with pytest.raises(DecodeError):
        dec.decode([1, 70000, 0])
    with pytest.raises(DecodeError):
        dec.decode([1, -1, 0])


def test_bits_need_whole_bytes() -> None:
    (block,) = plan_blocks([_p(3, "bool", table="discrete"), _p(9, "bool", table="discrete")])
    dec = BlockDecoder(block, "big")
    assert block.count == 7
    assert dec.decode([True, False, False, False, False, False, True, False]) == [1.0, 1.0]
    assert dec.decode([True, False, False, False, False, False, False, False]) == [1.0, 0.0]
    with pytest.raises(DecodeError):
        dec.decode([True] * 7)  # unpadded: not what a device sends
    with pytest.raises(DecodeError):
        dec.decode([True] * 16)


def test_nan_is_flagged() -> None:
    (block,) = plan_blocks([_p(0, "float32"), _p(2, "uint16")])
    values = BlockDecoder(block, "big").decode([0x7FC0, 0, 5])
    assert math.isnan(values[0]) and values[1] == 5
    assert BlockDecoder.non_finite(values) == [0]


@st.composite
def _maps(draw: st.DrawFn) -> tuple[list[DevicePoint], str, list[int]]:
    order = draw(st.sampled_from(["big", "little"]))
    address = draw(st.integers(0, 30))
    points = []
    for _ in range(draw(st.integers(1, 25))):
        dtype = draw(st.sampled_from(list(_WIDTH)))
        scale = draw(st.sampled_from([1.0, 0.1, 0.01, 2.5, -1.0]))
        offset = draw(st.sampled_from([0.0, 10.0, -273.15]))
        points.append(_p(address, dtype, scale, offset))
        address += _WIDTH[dtype] + draw(st.integers(0, 10))
    end = points[-1].address + points[-1].register_count
    regs = draw(st.lists(st.integers(0, 0xFFFF), min_size=end, max_size=end))
    return points, order, regs


@settings(max_examples=300, deadline=None)
@given(_maps())
def test_block_decoder_matches_reference_codec(case: tuple[list[DevicePoint], str, list[int]]
                                               ) -> None:
    points, order, regs = case
    for block in plan_blocks(points):
        got = BlockDecoder(block, order).decode(regs[block.start:block.end])
        for p, value in zip(block.points, got, strict=True):
            want = decode_value(p.type, order, p.scale, p.offset,
                                regs[p.address:p.address + p.register_count])
            assert value == want or (math.isnan(value) and math.isnan(want))


@settings(max_examples=200, deadline=None)
@given(_maps(), st.lists(st.integers(-5, 0x1FFFF), max_size=130))
def test_random_replies_decode_or_refuse(case: tuple[list[DevicePoint], str, list[int]],
                                         reply: list[int]) -> None:
    points, order, _ = case
    for block in plan_blocks(points):
        try:
            values = BlockDecoder(block, order).decode(reply)
        except DecodeError:
            continue
        assert len(reply) == block.count and all(0 <= w <= 0xFFFF for w in reply)
        assert len(values) == len(block.points)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125))
def test_fast_reply_decoder_matches_pymodbus(regs: list[int]) -> None:
    from pymodbus.pdu.register_message import ReadHoldingRegistersResponse

    from adapters.modbus.fast_pdu import FastReadHoldingRegistersResponse

    data = bytes([2 * len(regs)]) + b"".join(r.to_bytes(2, "big") for r in regs)
    ref, fast = ReadHoldingRegistersResponse(), FastReadHoldingRegistersResponse()
    ref.decode(data)
    fast.decode(data)
    assert list(fast.registers) == list(ref.registers) == regs


def test_fast_reply_decoder_keeps_short_replies_for_validation() -> None:
    from pymodbus.pdu.register_message import ReadHoldingRegistersRequest

    from adapters.modbus.fast_pdu import FastReadHoldingRegistersResponse
    from adapters.modbus.validate import BadReplyError, read_values

    req = ReadHoldingRegistersRequest(address=0, count=2, dev_id=1)
    for data in (b"", b"\x04\x00\x01", b"\x02\x00\x01\x00\x02", b"\x04\x00\x01\x00\x02\x00"):
        resp = FastReadHoldingRegistersResponse()
        resp.decode(data)  # never raises: the verdict is ours
        with pytest.raises(BadReplyError):
            read_values(req, resp)
