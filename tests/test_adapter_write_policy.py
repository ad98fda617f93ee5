"""The write decision: refused (never clamped) outside limits, read-only points, bad values;
allowed writes encode in the device's word order. Plus back-off and exception-code maps."""

from __future__ import annotations

import math
import random

import pytest
from adapter_fixtures import device, point
from hypothesis import given
from hypothesis import strategies as st

from adapters.modbus.backoff import Backoff
from adapters.modbus.quality_map import BLOCK, UNIT, policy_for
from adapters.modbus.write_policy import WritePolicy
from runtime.bus.wire import Command
from runtime.quality import Reason
from runtime.registers import encode_value

POINTS = [
    point("P/speed_sp_rpm", "holding", 0, "float32", writable=True, min=0.0, max=1480.0,
          unit="rpm"),
    point("P/run_cmd", "holding", 2, "uint16", writable=True, min=0, max=1, unit="bool"),
    point("P/level_m", "input", 0, "uint16", scale=0.01),
    point("P/reset_cmd", "coil", 0, "bool", writable=True),
    point("P/flow_m3_h", "holding", 3, "int16", writable=True, scale=0.1, unit="m3/h"),
]
POLICY = WritePolicy([device(502, POINTS, word_order="little")])


def _cmd(point_id: str, value: float, action: str = "write") -> Command:
    return Command("c1", point_id, value, "operator", "alice", "hmi-1", action)


def test_allowed_write_encodes_in_device_word_order() -> None:
    d = POLICY.decide(_cmd("P/speed_sp_rpm", 1200.0))
    assert d.allowed and d.registers == tuple(encode_value("float32", "little", 1, 0, 1200.0))
    assert POLICY.decide(_cmd("P/reset_cmd", 1.0)).registers == (1,)
    assert POLICY.decide(_cmd("P/flow_m3_h", -12.5)).registers == ((-125) & 0xFFFF,)


@pytest.mark.parametrize("point_id, value, words", [
    ("P/speed_sp_rpm", 1480.01, "outside its limits"),
    ("P/speed_sp_rpm", -1.0, "refused, not clamped"),
    ("P/run_cmd", 2, "outside its limits"),
    ("P/run_cmd", 0.5, "whole number"),
    ("P/level_m", 1.0, "read-only"),
    ("P/nothing", 1.0, "not served"),
    ("P/reset_cmd", 0.3, "on or off"),
    ("P/flow_m3_h", 5000.0, "does not fit"),
    ("P/speed_sp_rpm", math.nan, "not finite"),
    ("P/speed_sp_rpm", math.inf, "not finite"),
])
def test_refusals_name_the_rule(point_id: str, value: float, words: str) -> None:
    d = POLICY.decide(_cmd(point_id, value))
    assert not d.allowed and words in d.reason and not d.registers


def test_only_plain_writes_for_now() -> None:
    d = POLICY.decide(_cmd("P/run_cmd", 1, action="select"))
    assert not d.allowed and "not supported" in d.reason


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_never_clamped(value: float) -> None:
    d = POLICY.decide(_cmd("P/speed_sp_rpm", value))
    assert d.allowed == (0.0 <= value <= 1480.0)


def test_exception_policies() -> None:
    for code in (1, 2, 3):
        p = policy_for(code)
        assert p.reason == Reason.CONFIGURATION_ERROR and p.scope == BLOCK
        assert p.backoff_initial_s >= 5
    assert policy_for(4).reason == Reason.DEVICE_FAILURE
    assert policy_for(5).scope == policy_for(6).scope == UNIT
    assert policy_for(6).backoff_max_s <= 5
    assert policy_for(0x0B).reason == Reason.GATEWAY and policy_for(0x0A).scope == UNIT
    assert policy_for(0x42).reason == Reason.DEVICE_FAILURE


def test_backoff_doubles_caps_and_jitters() -> None:
    b = Backoff(0.05, 0.5, jitter=0.2, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(12)]
    assert 0.04 <= delays[0] <= 0.06
    assert all(d <= b.longest_s for d in delays) and b.longest_s == pytest.approx(0.6)
    assert min(delays[6:]) >= 0.4
    assert len({round(d, 6) for d in delays[6:]}) > 1  # jittered, not lock-step
    b.reset()
    assert b.next_delay() <= 0.06
