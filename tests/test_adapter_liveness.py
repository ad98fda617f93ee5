"""Kill and restart a real device server process (R5): Bad within 2 poll periods, Good within
1 s of its return, no crash, file descriptors and tasks flat over the cycles."""

from __future__ import annotations

import asyncio
import time

import pytest
from adapter_fixtures import (
    CaptureSink,
    ServerProcess,
    device,
    free_port,
    open_fds,
    quiet_pymodbus,
)

from adapters.modbus.device_poller import DevicePoller
from runtime.quality import Quality, Reason

PERIOD_S = 0.1
MARGIN_S = 0.5
"""Scheduling slack on a loaded CI machine, on top of the stated bounds."""


def setup_module() -> None:
    quiet_pymodbus()


async def _cycles(n: int) -> None:
    port = free_port()
    server = ServerProcess(port, ["--holding", "0=1234", "--discrete", "3=1"])
    await asyncio.to_thread(server.start)
    sink = CaptureSink()
    poller = DevicePoller(device(port), sink)
    task = asyncio.create_task(poller.run())
    try:
        await sink.wait(lambda: sink.all_quality(Quality.GOOD), 3.0)
        fds: list[int] = []
        tasks: list[int] = []
        for _ in range(n):
            t_kill = time.monotonic()
            await asyncio.to_thread(server.kill)
            t_bad = await sink.wait(lambda: sink.all_quality(Quality.BAD), 2 * PERIOD_S + MARGIN_S)
            assert t_bad - t_kill <= 2 * PERIOD_S + MARGIN_S
            assert sink.latest["T-1/level_m"].reason == Reason.NO_COMMUNICATION
            await asyncio.sleep(0.3)  # down for a while: a few failed reconnects
            await asyncio.to_thread(server.start)
            t_up = time.monotonic()
            t_good = await sink.wait(lambda: sink.all_quality(Quality.GOOD), 1.0 + MARGIN_S)
            assert t_good - t_up <= 1.0 + MARGIN_S
            assert sink.latest["T-1/level_m"].value == pytest.approx(12.34)
            fds.append(open_fds())
            tasks.append(len(asyncio.all_tasks()))
        assert not task.done()
        assert max(fds) - fds[0] <= 2, fds
        assert max(tasks) == tasks[0], tasks
    finally:
        poller.stop()
        await asyncio.wait_for(task, 5.0)
        await asyncio.to_thread(server.kill)


def test_kill_restart_10_cycles() -> None:
    asyncio.run(_cycles(10))


@pytest.mark.soak
def test_kill_restart_50_cycles() -> None:
    asyncio.run(_cycles(50))


def test_server_down_from_start_then_up() -> None:
    async def main() -> None:
        port = free_port()
        sink = CaptureSink()
        poller = DevicePoller(device(port), sink)
        task = asyncio.create_task(poller.run())
        await sink.wait(lambda: sink.latest.get("T-1/level_m") is not None
                        and sink.latest["T-1/level_m"].reason == Reason.NO_COMMUNICATION,
                        2 * PERIOD_S + MARGIN_S)
        cpu0 = time.process_time()
        await asyncio.sleep(1.0)
        assert time.process_time() - cpu0 < 0.3  # reconnects back off; no busy loop
        server = ServerProcess(port, ["--holding", "0=1"])
        await asyncio.to_thread(server.start)
        try:
            t_up = time.monotonic()
            t_good = await sink.wait(lambda: sink.all_quality(Quality.GOOD), 1.0 + MARGIN_S)
            assert t_good - t_up <= 1.0 + MARGIN_S
        finally:
            poller.stop()
            await asyncio.wait_for(task, 5.0)
            await asyncio.to_thread(server.kill)
    asyncio.run(main())
