"""A stalled event loop is not a dead device (issue 17, item 4): liveness is judged by missed
replies, not by wall time since the last one, while a silent device still turns Bad within
R5's bound.

The device is a real server process on loopback, so it answers while this process's event loop
is stalled (a blocking call on the loop, like a long garbage collection or a slow callback); the
replies wait in the socket until the loop runs again.
"""

from __future__ import annotations

import asyncio
import random
import time

from adapter_fixtures import CaptureSink, device, free_port, point, quiet_pymodbus, server_process
from modbus_fault_server import FaultServer

from adapters.modbus.device_poller import DevicePoller
from runtime.quality import Quality, Reason

GOOD = int(Quality.GOOD)
PERIOD_MS = 10
MARGIN_S = 0.5
"""Scheduling slack on a loaded 2-core machine; the bound tested is the stated one."""


def setup_module() -> None:
    quiet_pymodbus()


def _points() -> list:
    return [point("T-1/level_m", "holding", 0, "uint16", scale=0.01),
            point("T-1/flow_m", "input", 0, "uint16")]


def test_scheduler_stalls_publish_no_false_bad() -> None:
    port = free_port()

    async def main() -> None:
        sink = CaptureSink()
        poller = DevicePoller(device(port, _points(), poll_period_ms=PERIOD_MS,
                                     timeout_ms=250), sink)
        task = asyncio.create_task(poller.run())
        try:
            await sink.wait(lambda: sink.all_quality(Quality.GOOD), 5.0)
            first = len(sink.batches)
            rng = random.Random(17)
            for _ in range(25):
                # Land the stall at any phase of the poll cycle: request in flight, or between
                # ticks (then the stall delays the next request).
                await asyncio.sleep(rng.uniform(0.0, PERIOD_MS / 1000))
                time.sleep(rng.uniform(0.020, 0.035))  # the stall itself: 2-3.5 poll periods
            await sink.wait(lambda: len(sink.batches) >= first + 40, 5.0)
            bad = [(round(t, 3), r.point, r.reason) for t, _d, rs in sink.batches[first:]
                   for r in rs if r.quality != GOOD]
            assert not bad, f"false Bad after stalls: {bad[:5]}"
            assert poller.stats.timeouts == 0
        finally:
            poller.stop()
            await asyncio.wait_for(task, 5.0)

    with server_process(port, ["--holding", "0=100", "--input", "0=7"]):
        asyncio.run(main())


def test_silent_device_at_10ms_bad_within_two_periods() -> None:
    async def main() -> None:
        server = FaultServer()
        port = await server.start()
        sink = CaptureSink()
        poller = DevicePoller(device(port, _points(), poll_period_ms=PERIOD_MS,
                                     timeout_ms=1000), sink)
        task = asyncio.create_task(poller.run())
        try:
            await sink.wait(lambda: sink.all_quality(Quality.GOOD), 5.0)
            t0 = time.monotonic()
            server.fault.mode = "silent"
            t_bad = await sink.wait(lambda: sink.all_quality(Quality.BAD), 1.0)
            assert t_bad - t0 <= 2 * PERIOD_MS / 1000 + MARGIN_S
            assert sink.latest["T-1/level_m"].reason == Reason.NO_COMMUNICATION
            assert poller.stats.timeouts == 0  # Bad long before the 1 s timeout
            server.fault.mode = "normal"
            await sink.wait(lambda: sink.all_quality(Quality.GOOD), 2.0 + MARGIN_S)
        finally:
            poller.stop()
            await asyncio.wait_for(task, 5.0)
            await server.stop()

    asyncio.run(main())
