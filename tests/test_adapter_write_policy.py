"""The adapter's write decision: the control policy's chain plus its last link, the registers;
allowed writes encode in the device's word order; the pollers seen as the executor's readings
and writer. Plus back-off and exception-code maps."""

from __future__ import annotations

import asyncio
import math
import random
from pathlib import Path

import pytest
from adapter_fixtures import device, point
from hypothesis import given
from hypothesis import strategies as st

from adapters.modbus.backoff import Backoff
from adapters.modbus.control_link import PollerReadings, PollerWriter, ReadBackError
from adapters.modbus.device_poller import WriteResult
from adapters.modbus.quality_map import BLOCK, UNIT, policy_for
from adapters.modbus.write_policy import AdapterWritePolicy, encode_write, served_devices
from runtime.control.command import ControlCommand
from runtime.control.policy import Verdict
from runtime.control.readings import Reading
from runtime.quality import Quality, Reason
from runtime.registers import encode_value
from runtime.scene.model import Devices

POINTS = [
    point("P/speed_sp_rpm", "holding", 0, "float32", writable=True, min=0.0, max=1480.0,
          unit="rpm"),
    point("P/run_cmd", "holding", 2, "uint16", writable=True, min=0, max=1, unit="bool"),
    point("P/level_m", "input", 0, "uint16", scale=0.01),
    point("P/reset_cmd", "coil", 0, "bool", writable=True),
    point("P/flow_m3_h", "holding", 3, "int16", writable=True, scale=0.1, unit="m3/h"),
    point("P/big_m3", "holding", 4, "float32", writable=True, unit="m3"),
]
DEVICE = device(502, POINTS, word_order="little")
OTHER = device(503, [point("Q/sp_m", "holding", 0, "float32", writable=True)], device_id="DEV-2")
DEVICES = Devices(path=Path("devices.yaml"), devices=(DEVICE, OTHER))
READINGS = {p.point: Reading(0.0) for d in DEVICES.devices for p in d.points}
NOW = 10_000_000_000


def _policy() -> AdapterWritePolicy:
    return AdapterWritePolicy(served_devices(DEVICES, {"DEV-1"}))


def _cmd(point_id: str, value: float, action: str = "write", cid: str = "c1") -> ControlCommand:
    return ControlCommand(id=cid, point=point_id, value=value, role="operator", actor="alice",
                          host="hmi-1", action=action)


def test_encode_write_uses_the_device_word_order() -> None:
    assert encode_write(DEVICE, POINTS[0], 1200.0) == encode_value("float32", "little", 1, 0,
                                                                   1200.0)
    assert encode_write(DEVICE, POINTS[3], 1.0) == [1]
    assert encode_write(DEVICE, POINTS[4], -12.5) == [(-125) & 0xFFFF]
    with pytest.raises(ValueError, match="float32"):
        encode_write(DEVICE, POINTS[5], 1e39)  # would saturate to infinity


@pytest.mark.parametrize("point_id, value, code", [
    ("P/speed_sp_rpm", 1480.01, "range"),
    ("P/speed_sp_rpm", -1.0, "range"),
    ("P/run_cmd", 2, "range"),
    ("P/run_cmd", 0.5, "range"),
    ("P/level_m", 1.0, "not_writable"),
    ("P/nothing", 1.0, "unknown_point"),
    ("Q/sp_m", 1.0, "unknown_point"),  # in devices.yaml, but polled by another adapter
    ("P/reset_cmd", 0.3, "range"),
    ("P/flow_m3_h", 5000.0, "range"),
    ("P/big_m3", 1e39, "range"),
    ("P/speed_sp_rpm", math.nan, "range"),
    ("P/speed_sp_rpm", math.inf, "range"),
])
def test_refusals_name_the_rule(point_id: str, value: float, code: str) -> None:
    d = _policy().decide(_cmd(point_id, value), NOW, READINGS)
    assert (d.verdict, d.reason) == (Verdict.REFUSE, code), d
    assert point_id in d.text


def test_allowed_and_the_other_actions_reach_the_control_policy() -> None:
    policy = _policy()
    assert policy.decide(_cmd("P/speed_sp_rpm", 1200.0), NOW, READINGS).allowed
    d = policy.decide(_cmd("P/run_cmd", 1, action="select"), NOW, READINGS)
    assert (d.verdict, d.reason) == (Verdict.REFUSE, "not_sbo")
    assert policy.device_of("P/run_cmd") is DEVICE and policy.device_of("Q/sp_m") is None


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_never_clamped(value: float) -> None:
    d = _policy().decide(_cmd("P/speed_sp_rpm", value), NOW, READINGS)
    assert d.allowed == (0.0 <= value <= 1480.0)


class _FakePoller:
    """Stands in for DevicePoller: its published state and a scripted write result."""

    def __init__(self, result: WriteResult) -> None:
        self.point_ids = [p.point for p in POINTS]
        self.values = [float(i) for i in range(len(POINTS))]
        self.quality = [int(Quality.GOOD)] * len(POINTS)
        self.quality[2] = int(Quality.BAD)
        self.result = result
        self.writes: list[tuple[str, list[int]]] = []

    async def write(self, dp: object, registers: list[int]) -> WriteResult:
        self.writes.append((dp.point, registers))  # type: ignore[attr-defined]
        return self.result


def test_readings_are_a_live_view_of_the_pollers() -> None:
    poller = _FakePoller(WriteResult("accepted", "", 0.0))
    readings = PollerReadings({"DEV-1": poller})
    assert readings["P/run_cmd"] == Reading(1.0, Quality.GOOD)
    assert readings["P/level_m"].quality == Quality.BAD and "Q/sp_m" not in readings
    poller.values[1] = 0.0
    assert readings["P/run_cmd"].value == 0.0 and len(readings) == len(POINTS)


@pytest.mark.parametrize("result, failure", [
    (WriteResult("accepted", "", 1200.0), None),
    (WriteResult("error", "device refused the write: exception 4 (device failure)", None),
     "write"),
    (WriteResult("error", "written, but the read-back failed: no reply", None), "read"),
])
def test_writer_goes_through_the_poller(result: WriteResult, failure: str | None) -> None:
    poller = _FakePoller(result)
    writer = PollerWriter(_policy(), {"DEV-1": poller})  # type: ignore[dict-item]

    async def run() -> float:
        await writer.write("P/speed_sp_rpm", 1200.0)
        return await writer.read_back("P/speed_sp_rpm")

    if failure == "write":
        with pytest.raises(Exception, match="exception 4"):
            asyncio.run(run())
    elif failure == "read":
        with pytest.raises(ReadBackError, match="read-back failed"):
            asyncio.run(run())
    else:
        assert asyncio.run(run()) == 1200.0
    assert poller.writes == [("P/speed_sp_rpm", encode_value("float32", "little", 1, 0, 1200.0))]


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
