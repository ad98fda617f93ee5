"""Adapter bench: request rate on one connection, and CPU at 100 devices x 10 Hz x 125 registers.

The Modbus server is pymodbus's own ``ModbusTcpServer`` in a separate process (run this file with
``--serve``), so the adapter's numbers are not mixed with the server's CPU. The request loop uses
the adapter's real path (pymodbus ``execute``, our reply checks, the compiled block decoder); the
CPU row runs real DevicePollers publishing through the bus Publisher (msgpack encoding included)
and reads ``time.process_time`` over a window.

    python -m runtime.cli bench adapter            # full
    python -m runtime.cli bench adapter --quick    # smoke run, a few seconds
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tools.bench.row import Row

SUITE = "adapter"
REGISTERS = 125
REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """pymodbus ModbusTcpServer with ``units`` devices, in its own process."""

    def __init__(self, units: int) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tools.bench.adapter", "--serve", str(self.port), str(units)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.close()
            raise RuntimeError(f"bench Modbus server did not start: {line!r}")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _points(prefix: str) -> list:
    """125 registers: 25 float32 then 75 16-bit values, one block."""
    from runtime.scene.model import DevicePoint

    pts = [DevicePoint(f"{prefix}/f{i}_m", "holding", 2 * i, "float32", "m") for i in range(25)]
    pts += [DevicePoint(f"{prefix}/u{i}_m", "holding", 50 + i, "uint16", "m", scale=0.1)
            for i in range(75)]
    return pts


async def _request_rate(port: int, units: int, seconds: float) -> tuple[float, float]:
    """Back-to-back validated 125-register reads on one connection, cycling over unit ids."""
    from pymodbus.client import AsyncModbusTcpClient
    from pymodbus.pdu.register_message import ReadHoldingRegistersRequest

    from adapters.modbus.blocks import plan_blocks
    from adapters.modbus.decode import BlockDecoder
    from adapters.modbus.fast_pdu import FAST_RESPONSES
    from adapters.modbus.validate import check_reply, read_values

    (block,) = plan_blocks(_points("B"))
    decoder = BlockDecoder(block, "big")
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0,
                                  reconnect_delay=0)
    for cls in FAST_RESPONSES:
        client.register(cls)
    if not await client.connect():
        raise RuntimeError("cannot connect to the bench server")
    requests = [ReadHoldingRegistersRequest(address=0, count=REGISTERS, dev_id=u)
                for u in range(1, units + 1)]
    try:
        for req in requests:  # warm up
            decoder.decode(read_values(req, check_reply(req, await client.execute(False, req))))
        n = 0
        start = time.perf_counter()
        end = start + seconds
        for req in itertools.cycle(requests):
            decoder.decode(read_values(req, check_reply(req, await client.execute(False, req))))
            n += 1
            if n % 64 == 0 and time.perf_counter() >= end:
                break
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    return n / elapsed, n * REGISTERS / elapsed


async def _cpu(port: int, devices: int, window_s: float) -> tuple[float, float, int, float]:
    """CPU % of one core for ``devices`` pollers at 10 Hz, publishing via the bus Publisher."""
    from adapters.modbus.adapter import wire_reading
    from adapters.modbus.device_poller import DevicePoller
    from runtime.bus.endpoints import BusEndpoints
    from runtime.bus.publisher import Publisher
    from runtime.scene.model import DeviceSpec

    # Nobody listens on this bus address: PUB drops, but every batch is still encoded and sent.
    publisher = Publisher(BusEndpoints.from_address(f"tcp://127.0.0.1:{_free_port()}"),
                          "bench-adapter")
    specs = [DeviceSpec(f"D{i}", f"D{i}", "127.0.0.1", port, i + 1, "big", 100, 1000,
                        tuple(_points(f"D{i}"))) for i in range(devices)]
    pollers = [DevicePoller(s, lambda _d, r: publisher.publish(r), reading_factory=wire_reading)
               for s in specs]
    tasks = []
    for p in pollers:  # spread the start so the ticks are not all in phase
        tasks.append(asyncio.create_task(p.run()))
        await asyncio.sleep(0.1 / devices)
    try:
        await asyncio.sleep(1.0)
        batches0 = sum(p.stats.batches for p in pollers)
        replies0 = sum(p.stats.replies for p in pollers)
        cpu0, wall0, t0 = time.process_time(), time.perf_counter(), os.times()
        await asyncio.sleep(window_s)
        cpu = time.process_time() - cpu0
        t1 = os.times()
        sys_share = (t1.system - t0.system) / max(cpu, 1e-9)
        wall = time.perf_counter() - wall0
        replies = sum(p.stats.replies for p in pollers) - replies0
        batches = sum(p.stats.batches for p in pollers) - batches0
        bad = sum(1 for p in pollers if any(q != 0 for q in p.quality))
    finally:
        for p in pollers:
            p.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        publisher.close()
    return 100.0 * cpu / wall, replies / wall, bad if batches else devices, sys_share


def run(quick: bool) -> list[Row]:
    """Rows: request and register rates (1 and 20 devices), CPU % at 100 devices x 10 Hz."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    seconds = 1.0 if quick else 5.0
    rows: list[Row] = []
    for units in (1, 20):
        server = _Server(units)
        try:
            rps, regs = asyncio.run(_request_rate(server.port, units, seconds))
        finally:
            server.close()
        note = f"one connection, {units} device{'s' if units > 1 else ''}, 125-register reads"
        rows.append(Row(SUITE, f"requests/s ({units} dev)", rps, "req/s", 5000.0, "higher", note))
        rows.append(Row(SUITE, f"registers/s ({units} dev)", regs, "reg/s", None, "higher", note))
    devices = 20 if quick else 100
    server = _Server(devices)
    try:
        cpu, rate, bad, sys_share = asyncio.run(
            _cpu(server.port, devices, 2.0 if quick else 10.0))
    finally:
        server.close()
    note = (f"{devices} devices x 10 Hz x 125 registers, {rate:.0f} replies/s, "
            f"{100 * sys_share:.0f}% of it in the kernel"
            + (f", {bad} devices not all Good" if bad else "")
            + (" (quick: 20 devices)" if quick else ""))
    rows.append(Row(SUITE, "adapter CPU", cpu, "% of a core", 20.0, "lower", note))
    return rows


def _serve(port: int, units: int) -> None:
    """The bench server process: pymodbus ModbusTcpServer, ``units`` devices of 125 registers."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    def dev(unit: int) -> SimDevice:
        regs = [SimData(0, values=list(range(1000, 1000 + REGISTERS)),
                        datatype=DataType.REGISTERS)]
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        return SimDevice(id=unit, simdata=(bits, bits, regs, regs))

    async def main() -> None:
        server = ModbusTcpServer([dev(u) for u in range(1, units + 1)],
                                 address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        print("READY", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="adapter bench helper")
    parser.add_argument("--serve", nargs=2, type=int, metavar=("PORT", "UNITS"))
    ns = parser.parse_args()
    if ns.serve:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        _serve(*ns.serve)
    else:
        from tools.bench.runner import render_table

        print(render_table(run(quick="--quick" in sys.argv)))
