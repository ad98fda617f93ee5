"""The poller against a misbehaving device: exception codes (R4), bad replies (R6), silence.

Each test runs a real DevicePoller against ``tests/modbus_fault_server.py`` on a loopback port.
Timing bounds are the stated ones (Bad within 2 poll periods) plus generous margins.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from adapter_fixtures import CaptureSink, device, point, quiet_pymodbus, with_poller
from modbus_fault_server import FaultServer

from adapters.modbus.device_poller import DevicePoller, PollerOptions
from runtime.quality import Quality, Reason
from runtime.registers import encode_value

GOOD, BAD = int(Quality.GOOD), int(Quality.BAD)
PERIOD_S = 0.1
MARGIN_S = 0.5
"""Scheduling slack on a loaded 2-core CI machine; the bounds tested are the stated ones."""


def setup_module() -> None:
    quiet_pymodbus()


async def _with_poller(check: Callable[[FaultServer, DevicePoller, CaptureSink], Awaitable[None]],
                       **device_kw: object) -> None:
    server = FaultServer(units=(1, 2))
    port = await server.start()
    server.set_registers("holding", 0, [1234])
    server.set_registers("input", 0, encode_value("float32", "big", 1.0, 0.0, 3.5))
    server.set_bits("discrete", 3, [1])
    server.set_registers("holding", 4, encode_value("float32", "big", 1.0, 0.0, 2.5))
    await with_poller(server, port, check, **device_kw)


def _run(check: Callable[[FaultServer, DevicePoller, CaptureSink], Awaitable[None]],
         **device_kw: object) -> None:
    asyncio.run(_with_poller(check, **device_kw))


def test_good_values_decoded() -> None:
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        values = {r.point: r.value for r in sink.batches[-1][2]}
        assert values == {"T-1/level_m": pytest.approx(12.34), "T-1/temp_m": 3.5,
                          "T-1/pump_on": 0.0, "T-1/alarm": 1.0, "T-1/setpoint_m": 2.5}
        assert all(len(b[2]) == 5 for b in sink.batches)  # one batch per poll, every point
    _run(check)


@pytest.mark.parametrize("code, reason", [
    (1, Reason.CONFIGURATION_ERROR), (2, Reason.CONFIGURATION_ERROR),
    (3, Reason.CONFIGURATION_ERROR), (4, Reason.DEVICE_FAILURE), (6, Reason.DEVICE_BUSY),
    (0x0B, Reason.GATEWAY),
])
def test_exception_codes_map_to_quality(code: int, reason: Reason) -> None:
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        server.fault.mode, server.fault.exception_code = "exception", code
        await sink.wait(lambda: all(r.quality == BAD and r.reason == reason
                                    for r in sink.batches[-1][2]), 2 * PERIOD_S + MARGIN_S)
        connections = server.connections
        start = server.requests
        await asyncio.sleep(1.0)
        sent = server.requests - start
        if reason == Reason.CONFIGURATION_ERROR:
            assert sent == 0  # 4 blocks backed off >= 4 s: no retry storm
        elif reason == Reason.DEVICE_BUSY:
            assert 1 <= sent <= 8  # capped back-off 0.1 s doubling: a few unit retries
        else:
            assert sent <= 4 * 4
        assert server.connections == connections  # an exception never drops the connection
        server.fault.mode = "normal"
        if reason != Reason.CONFIGURATION_ERROR:  # config errors retry after 5 s: not waited
            await sink.wait(lambda: sink.all_quality(Quality.GOOD), 6.0)
    _run(check)


def test_gateway_exception_is_per_unit() -> None:
    """0x0B for unit 2 leaves unit 1 on the same gateway Good and its connection intact."""
    async def main() -> None:
        server = FaultServer(units=(1, 2))
        port = await server.start()
        sink = CaptureSink()
        pollers = [DevicePoller(device(port, device_id=f"U{u}", unit_id=u,
                                       points=[point(f"U{u}/x_m", "holding", 0, "uint16")]),
                                sink) for u in (1, 2)]
        tasks = [asyncio.create_task(p.run()) for p in pollers]
        await sink.wait(lambda: sink.quality("U1/x_m") == GOOD and sink.quality("U2/x_m") == GOOD,
                        3.0)
        connections = server.connections
        server.fault.mode, server.fault.exception_code, server.fault.units = "exception", 0x0B, {2}
        await sink.wait(lambda: sink.latest["U2/x_m"].reason == Reason.GATEWAY, 1.0)
        await asyncio.sleep(0.5)
        assert sink.quality("U1/x_m") == GOOD
        assert server.connections == connections
        for p in pollers:
            p.stop()
        await asyncio.gather(*tasks)
        await server.stop()
    asyncio.run(main())


@pytest.mark.parametrize("mode, reason", [
    ("short", Reason.BAD_REPLY), ("wrong_fc", Reason.BAD_REPLY),
    ("wrong_unit", Reason.NO_COMMUNICATION), ("wrong_tid", Reason.NO_COMMUNICATION),
    ("truncated", Reason.NO_COMMUNICATION),
])
def test_faulty_replies_are_bad_never_wrong(mode: str, reason: Reason) -> None:
    """pymodbus drops wrong ids/truncated frames (so: no reply); short/wrong-fc reach our checks."""
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        server.set_registers("holding", 0, [999])
        server.fault.mode = mode
        await sink.wait(lambda: all(r.quality == BAD for r in sink.batches[-1][2]),
                        2 * PERIOD_S + MARGIN_S)
        await asyncio.sleep(0.4)
        for _t, _d, readings in sink.batches[-3:]:
            assert {r.reason for r in readings} <= {reason, Reason.NO_COMMUNICATION}
        for _t, _d, readings in sink.batches:  # the new value never appeared, even once
            assert all(r.value != pytest.approx(9.99) for r in readings)
        server.fault.mode = "normal"
        await sink.wait(lambda: sink.latest["T-1/level_m"].value == pytest.approx(9.99)
                        and sink.all_quality(Quality.GOOD), 2.0)
    _run(check)


def test_silent_device_bad_within_two_periods_and_recovers() -> None:
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        t0 = time.monotonic()
        server.fault.mode = "silent"
        t_bad = await sink.wait(lambda: sink.all_quality(Quality.BAD), 2 * PERIOD_S + MARGIN_S)
        assert t_bad - t0 <= 2 * PERIOD_S + MARGIN_S
        assert sink.latest["T-1/level_m"].reason == Reason.NO_COMMUNICATION
        await asyncio.sleep(0.5)
        t1 = time.monotonic()
        server.fault.mode = "normal"
        t_good = await sink.wait(lambda: sink.all_quality(Quality.GOOD), 1.0 + MARGIN_S)
        assert t_good - t1 <= 1.0 + MARGIN_S
    _run(check)


def test_late_reply_after_timeout_never_becomes_a_value() -> None:
    """A reply that arrives after the timeout is not taken for the next request's answer (R6)."""
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        server.fault.mode, server.fault.delay_s = "late", 0.4
        server.set_registers("holding", 0, [4321])
        await sink.wait(lambda: sink.all_quality(Quality.BAD), 2 * PERIOD_S + MARGIN_S)
        server.set_registers("holding", 0, [1111])
        server.fault.mode = "normal"
        await sink.wait(lambda: sink.all_quality(Quality.GOOD), 2.0)
        await asyncio.sleep(0.6)  # the late replies have all landed by now
        good = [r.value for _t, _d, rs in sink.batches for r in rs
                if r.point == "T-1/level_m" and r.quality == GOOD]
        assert pytest.approx(43.21) not in good
        assert good[-1] == pytest.approx(11.11)
    _run(check)


def test_connection_reset_marks_bad_at_once_and_reconnects() -> None:
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        t0 = time.monotonic()
        server.fault.mode = "reset"
        t_bad = await sink.wait(lambda: sink.all_quality(Quality.BAD), 2 * PERIOD_S + MARGIN_S)
        assert t_bad - t0 <= 2 * PERIOD_S + MARGIN_S
        server.fault.mode = "normal"
        await sink.wait(lambda: sink.all_quality(Quality.GOOD), 1.0 + MARGIN_S)
        assert poller.stats.connects >= 2
    _run(check)


def test_nan_float_is_bad_not_finite() -> None:
    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        server.set_registers("input", 0, [0x7FC0, 0])
        await sink.wait(lambda: sink.latest["T-1/temp_m"].reason == Reason.NOT_FINITE, 1.0)
        r = sink.latest["T-1/temp_m"]
        assert r.quality == BAD and r.value == 0.0
        assert sink.quality("T-1/level_m") == GOOD
        for _ in range(2):  # back to Good with the next finite value, and Bad again
            server.set_registers("input", 0, encode_value("float32", "big", 1.0, 0.0, 4.5))
            await sink.wait(lambda: sink.latest["T-1/temp_m"].value == 4.5, 1.0)
            r = sink.latest["T-1/temp_m"]
            assert (r.quality, r.reason) == (GOOD, Reason.NONE)
            server.set_registers("input", 0, [0x7F80, 0])  # +Inf
            await sink.wait(lambda: sink.latest["T-1/temp_m"].reason == Reason.NOT_FINITE,
                            1.0)
    _run(check)


def test_one_dead_device_never_stalls_another() -> None:
    async def main() -> None:
        good = FaultServer()
        silent = FaultServer()
        silent.fault.mode = "silent"
        ports = [await good.start(), await silent.start()]
        sink = CaptureSink()
        pollers = [DevicePoller(device(p, device_id=f"D{i}", timeout_ms=2000,
                                       points=[point(f"D{i}/x_m", "holding", 0, "uint16")]),
                                sink, options=PollerOptions())
                   for i, p in enumerate(ports)]
        tasks = [asyncio.create_task(p.run()) for p in pollers]
        await asyncio.sleep(1.0)
        d0 = [t for t, dev, _ in sink.batches if dev == "D0"]
        assert len(d0) >= 8  # ~10 polls in 1 s despite D1's 2 s timeouts
        assert sink.quality("D0/x_m") == GOOD and sink.quality("D1/x_m") == BAD
        for p in pollers:
            p.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 5.0)
        await good.stop()
        await silent.stop()
    asyncio.run(main())


def test_writes_are_echo_checked_and_read_back() -> None:
    from adapters.modbus.write_policy import encode_write

    async def check(server: FaultServer, poller: DevicePoller, sink: CaptureSink) -> None:
        spec = {p.point: p for p in poller.device.points}
        for point_id, value in (("T-1/setpoint_m", 7.25), ("T-1/pump_on", 1.0)):
            words = encode_write(poller.device, spec[point_id], value)
            result = await poller.write(spec[point_id], words)
            assert (result.outcome, result.readback) == ("accepted", value)
        assert server.units[1].coil[0] == 1
        assert list(server.units[1].holding[4:6]) == [0x40E8, 0x0000]  # 7.25f, high word first
        server.fault.mode, server.fault.exception_code = "exception", 3
        setpoint = spec["T-1/setpoint_m"]
        words = encode_write(poller.device, setpoint, 1.0)
        result = await poller.write(setpoint, words)
        assert result.outcome == "error" and "exception 3" in result.reason
        server.fault.mode = "silent"
        result = await poller.write(setpoint, words)
        assert result.outcome == "error" and "no communication" in result.reason
    _run(check)
