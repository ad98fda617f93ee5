"""Adapter bench: request rate on one connection, and CPU at 100 devices x 10 Hz x 125 registers.

The Modbus server runs in a separate process (this file with ``--serve``), so the adapter's
numbers are not mixed with the server's CPU. Two servers, named in each row's note:

- ``pymodbus``: pymodbus's own ``ModbusTcpServer`` (what the virtual plant serves with). It
  spends about 175 µs of CPU per request, which caps one connection below 5,000 requests/s
  whatever the client does;
- ``lean``: a small Modbus TCP server written here (``_serve_lean``: blocking sockets, a thread
  per connection), standing in for the C server of the issue's reference figure: it checks the
  MBAP header, unit id, function code and range of every request and answers FC3/FC4 from a
  register table, with exception replies for anything else. Real round trips over loopback TCP
  either way;
- ``libmodbus``: a real libmodbus device (``tools/bench/libmodbus_device.py``, Debian's
  ``libmodbus5`` through ctypes), for the rows of the real DevicePoller on one connection: a
  1 ms poll, back to back, and pipelined (``pipeline_depth``). Without the library those rows
  say so and name the package.

The request loop uses the adapter's real path (``adapters.modbus.tcp_client`` with its reply
checks, then the compiled block decoder); the CPU row runs real DevicePollers publishing through
the bus Publisher's columnar path (msgpack encoding included), as the adapter does, and reads
``time.process_time`` over a window.

    python -m runtime.cli bench adapter            # full
    python -m runtime.cli bench adapter --quick    # smoke run, a few seconds
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import logging
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from tools.bench.row import Row

SUITE = "adapter"
REGISTERS = 125
LIBMODBUS_BLOCKS = 16
"""Blocks of the back-to-back libmodbus device (one 125-register read each, 200 apart); also
the most a device may pipeline (``pipeline_depth``), so the pipelined row sends one group."""
LIBMODBUS_REGISTERS = 200 * LIBMODBUS_BLOCKS
_MBAP = struct.Struct(">HHHB")
_WORDS = struct.Struct(">HH")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """A Modbus TCP server (``kind``: pymodbus, lean or libmodbus) with ``units`` devices, in a
    process."""

    def __init__(self, units: int, kind: str = "pymodbus") -> None:
        self.port = _free_port()
        if kind == "libmodbus":  # any unit id, LIBMODBUS_REGISTERS registers
            cmd = ["-m", "tools.bench.libmodbus_device", str(self.port), "--registers",
                   str(LIBMODBUS_REGISTERS)]
        else:
            cmd = ["-m", "tools.bench.adapter", "--serve", str(self.port), str(units),
                   "--server", kind]
        self.proc = subprocess.Popen(
            [sys.executable, *cmd],
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


def _points(prefix: str, base: int = 0) -> list:
    """125 registers from ``base``: 25 float32 then 75 16-bit values, one block."""
    from runtime.scene.model import DevicePoint

    pts = [DevicePoint(f"{prefix}/f{i}_m", "holding", base + 2 * i, "float32", "m")
           for i in range(25)]
    pts += [DevicePoint(f"{prefix}/u{i}_m", "holding", base + 50 + i, "uint16", "m", scale=0.1)
            for i in range(75)]
    return pts


async def _request_rate(port: int, units: int, seconds: float) -> tuple[float, float]:
    """Back-to-back validated 125-register reads on one connection, cycling over unit ids."""
    from adapters.modbus.blocks import plan_blocks
    from adapters.modbus.decode import BlockDecoder
    from adapters.modbus.tcp_client import ModbusTcpClient

    (block,) = plan_blocks(_points("B"))
    decoder = BlockDecoder(block, "big")
    client = ModbusTcpClient("127.0.0.1", port, timeout_s=1.0)
    await client.connect()
    read = client.read
    units_ids = list(range(1, units + 1))
    try:
        for unit in units_ids:  # warm up
            decoder.decode_bytes(await read(3, unit, 0, REGISTERS))
        n = 0
        start = time.perf_counter()
        end = start + seconds
        for unit in itertools.cycle(units_ids):
            decoder.decode_bytes(await read(3, unit, 0, REGISTERS))
            n += 1
            if n % 64 == 0 and time.perf_counter() >= end:
                break
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    return n / elapsed, n * REGISTERS / elapsed


async def _cpu(port: int, devices: int, window_s: float,
               bus: _Bus | None = None) -> tuple[float, float, int, float, float, float]:
    """CPU % of one core for ``devices`` pollers at 10 Hz, publishing via the bus Publisher
    (to ``bus``, or to an address nobody listens on); also (µs of the bus's CPU per reply,
    device batches per bus message)."""
    from adapters.modbus.adapter import tune_gc
    from adapters.modbus.coalesce import TickCoalescer
    from adapters.modbus.device_poller import DevicePoller
    from runtime.bus.endpoints import BusEndpoints
    from runtime.bus.publisher import Publisher
    from runtime.scene.model import DeviceSpec

    # Without a bus nobody listens on this address: PUB drops, but every batch is still
    # encoded and sent.
    addr = bus.addr if bus is not None else f"tcp://127.0.0.1:{_free_port()}"
    publisher = Publisher(BusEndpoints.from_address(addr), "bench-adapter")
    specs = [DeviceSpec(f"D{i}", f"D{i}", "127.0.0.1", port, i + 1, "big", 100, 1000,
                        tuple(_points(f"D{i}"))) for i in range(devices)]
    coalescer = TickCoalescer(publisher)
    pollers = [DevicePoller(s, coalescer.sink_for) for s in specs]  # as ModbusAdapter does
    gc_flags = gc.get_threshold()
    tune_gc()  # as ModbusAdapter.run does
    tasks = []
    for p in pollers:  # spread the start so the ticks are not all in phase
        tasks.append(asyncio.create_task(p.run()))
        await asyncio.sleep(0.1 / devices)
    try:
        await asyncio.sleep(1.0)
        batches0 = sum(p.stats.batches for p in pollers)
        replies0 = sum(p.stats.replies for p in pollers)
        messages0 = coalescer.messages
        bus0 = bus.cpu_s() if bus is not None else 0.0
        cpu0, wall0, t0 = time.process_time(), time.perf_counter(), os.times()
        await asyncio.sleep(window_s)
        cpu = time.process_time() - cpu0
        bus_cpu = bus.cpu_s() - bus0 if bus is not None else float("nan")
        messages = coalescer.messages - messages0
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
        gc.unfreeze()
        gc.set_threshold(*gc_flags)
    return (100.0 * cpu / wall, replies / wall, bad if batches else devices, sys_share,
            1e6 * bus_cpu / max(replies, 1), batches / max(messages, 1))


class _Plant:
    """``twinstage plant pump_station`` in a process, on free ports (the plant's own server)."""

    def __init__(self) -> None:
        from runtime import DEFAULT_SCENE
        from runtime.scene import load_devices, load_scene

        self.devices = load_devices(DEFAULT_SCENE / "devices.yaml", load_scene(DEFAULT_SCENE))
        first = min(d.port for d in self.devices.devices)
        self.offset = _free_port() - first
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "plant", str(DEFAULT_SCENE), "--port-offset",
             str(self.offset), "--control-port", "0"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("plant ready"):
                return
        self.close()
        raise RuntimeError("bench plant did not start")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class _Bus:
    """``twinstage bus`` in a process on free ports; ``cpu_s()`` reads its CPU from /proc."""

    def __init__(self) -> None:
        from tools.bench.bus import _free_base

        self.addr = f"tcp://127.0.0.1:{_free_base()}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "bus", "--bind", self.addr, "--insecure"],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "listening": the ports are bound

    def cpu_s(self) -> float:
        from tools.bench.bus_cpu import on_cpu_s

        return on_cpu_s(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


async def _poll_floor(specs: list, port_offset: int, window_s: float, coalesce: bool = True,
                      bus: _Bus | None = None) -> tuple[float, float, int, float, float]:
    """Devices polled every 1 ms by real DevicePollers (one connection each), their batches
    through the adapter's TickCoalescer (or one message per batch) and bus Publisher, to
    ``bus`` or to an address nobody listens on: (replies/s, µs of this process's CPU per reply,
    Bad points at the end, device batches per bus message, µs of the bus's CPU per reply)."""
    from functools import partial

    from adapters.modbus.adapter import column_publisher
    from adapters.modbus.coalesce import TickCoalescer
    from adapters.modbus.device_poller import DevicePoller, PollerOptions
    from runtime.bus.endpoints import BusEndpoints
    from runtime.bus.publisher import Publisher

    addr = bus.addr if bus is not None else f"tcp://127.0.0.1:{_free_port()}"
    publisher = Publisher(BusEndpoints.from_address(addr), "bench-floor",
                          points=[p.point for s in specs for p in s.points])
    coalescer = TickCoalescer(publisher)
    pollers = []
    for spec in specs:
        sink_for = coalescer.sink_for if coalesce else partial(column_publisher, publisher)
        pollers.append(DevicePoller(spec, sink_for,
                                    options=PollerOptions(port_offset=port_offset)))
    tasks = [asyncio.create_task(p.run()) for p in pollers]
    try:
        await asyncio.sleep(0.5)
        publisher.heartbeat()
        replies0 = sum(p.stats.replies for p in pollers)
        batches0, messages0 = coalescer.batches, coalescer.messages
        bus0 = bus.cpu_s() if bus is not None else 0.0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(window_s)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        bus_cpu = bus.cpu_s() - bus0 if bus is not None else float("nan")
        replies = sum(p.stats.replies for p in pollers) - replies0
        per_message = (coalescer.batches - batches0) / max(coalescer.messages - messages0, 1)
        bad = sum(1 for p in pollers for q in p.quality if q != 0)
    finally:
        for p in pollers:
            p.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        publisher.close()
    return (replies / wall, 1e6 * cpu / max(replies, 1), bad, per_message,
            1e6 * bus_cpu / max(replies, 1))


def _with_bus_rows(devices: int, window_s: float, quick: bool) -> list[Row]:
    """The same 100 x 10 Hz adapter publishing to a real ``twinstage bus`` process (plaintext,
    as the poll-floor rows): adapter + bus CPU per request, and the bus's CPU per batch."""
    server, bus = _Server(devices), _Bus()
    try:
        cpu, rate, bad, _, bus_us, per_msg = asyncio.run(_cpu(server.port, devices, window_s,
                                                              bus))
    finally:
        server.close()
        bus.close()
    adapter_us = 1e4 * cpu / max(rate, 1e-9)  # % of a core over requests per second
    note = (f"{devices} devices x 10 Hz x 125 registers, {rate:.0f} replies/s, pymodbus "
            f"server, twinstage bus process (plaintext), {per_msg:.1f} batches/message"
            + (f", {bad} devices not all Good" if bad else "") + (" (quick)" if quick else ""))
    return [
        Row(SUITE, f"{devices} devices x 10 Hz: adapter + bus CPU per request",
            adapter_us + bus_us, "µs", 160.0, "lower",
            note + f"; adapter {adapter_us:.0f} µs + bus {bus_us:.0f} µs"),
        Row(SUITE, f"{devices} devices x 10 Hz: bus CPU per batch", bus_us, "µs", 30.0,
            "lower", note + "; one batch per request"),
    ]


def _poll_floor_rows(quick: bool) -> list[Row]:
    """The poll floor: one device at 1 ms, 10 devices at 1 ms through a real bus process with
    and without coalescing (the fixed cost of a message at the bus, shared), and one device of
    the virtual plant at 1 ms on the plant's own server."""
    from dataclasses import replace

    from runtime.scene.model import DeviceSpec

    window = 1.0 if quick else 5.0
    rows = []
    server = _Server(1, "lean")
    try:
        spec = DeviceSpec("F1", "F1", "127.0.0.1", server.port, 1, "big", 1, 250,
                          tuple(_points("F1")))
        rps, us, bad, _, _ = asyncio.run(_poll_floor([spec], 0, window))
    finally:
        server.close()
    note = ("125 registers, DevicePoller + coalescer + publisher, lean server; was: 10 ms "
            "floor (100 req/s)" + (f", {bad} points Bad" if bad else ""))
    rows.append(Row(SUITE, "1 ms poll, one device: requests/s", rps, "req/s", 800.0, "higher",
                    note))
    rows.append(Row(SUITE, "1 ms poll, one device: adapter CPU per request", us, "µs", 60.0,
                    "lower", note))
    n_dev = 10
    results = {}
    for coalesce in (False, True):
        server, bus = _Server(n_dev, "lean"), _Bus()
        try:
            specs = [DeviceSpec(f"F{u}", f"F{u}", "127.0.0.1", server.port, u, "big", 1, 250,
                                tuple(_points(f"F{u}"))) for u in range(1, n_dev + 1)]
            results[coalesce] = asyncio.run(_poll_floor(specs, 0, window, coalesce, bus))
        finally:
            server.close()
            bus.close()
    (rps0, us0, _, _, bus0), (rps, us, bad, per_msg, bus_us) = results[False], results[True]
    note = (f"{n_dev} devices, a connection each, 125 registers, lean server, twinstage bus "
            f"process; {per_msg:.1f} batches/message" + (f", {bad} points Bad" if bad else ""))
    rows.append(Row(SUITE, f"1 ms poll, {n_dev} devices: requests/s", rps, "req/s", None,
                    "higher", note + f"; {rps0:.0f} with a message per batch"))
    rows.append(Row(SUITE, f"1 ms poll, {n_dev} devices: adapter CPU per request", us, "µs",
                    60.0, "lower", note + f"; {us0:.0f} µs with a message per batch"))
    rows.append(Row(SUITE, f"1 ms poll, {n_dev} devices: bus CPU per request", bus_us, "µs",
                    None, "lower", note + f"; {bus0:.0f} µs with a message per batch"))
    plant = _Plant()
    try:
        plc = replace(plant.devices.devices[0], poll_period_ms=1)
        rps, us, bad, _, _ = asyncio.run(_poll_floor([plc], plant.offset, window))
    finally:
        plant.close()
    note = (f"{plc.id} ({len(plc.points)} points, several blocks a poll) of the virtual plant, "
            "its pymodbus server (server-bound)" + (f", {bad} points Bad" if bad else ""))
    rows.append(Row(SUITE, "1 ms poll, plant server: requests/s", rps, "req/s", None, "higher",
                    note))
    rows.append(Row(SUITE, "1 ms poll, plant server: adapter CPU per request", us, "µs", 60.0,
                    "lower", note))
    return rows


def _rate_target(blocks: int) -> float:
    """One block a 1 ms poll: 1,000 at most (800 with scheduling); several: the issue's 5,000."""
    return 5000.0 if blocks > 1 else 800.0


def _libmodbus_rows(quick: bool) -> list[Row]:
    """The real adapter's DevicePoller against a libmodbus device, one connection: (a) one
    125-register block polled every 1 ms, (b) a device of LIBMODBUS_BLOCKS blocks at 1 ms, which
    overruns its period and so reads back to back as fast as the device answers. Both publish
    through the coalescer and Publisher as the adapter does; CPU is this process's."""
    from runtime.scene.model import DeviceSpec
    from tools.bench import libmodbus_device

    many = f"{LIBMODBUS_BLOCKS} blocks of 125 registers at 1 ms (overruns: back to back)"
    cases = [("1 ms poll", 1, 1, "one 125-register block at 1 ms"),
             ("back to back", LIBMODBUS_BLOCKS, 1, many + ", one at a time"),
             ("pipelined", LIBMODBUS_BLOCKS, LIBMODBUS_BLOCKS,
              many + f", pipeline_depth {LIBMODBUS_BLOCKS}")]
    rows = []
    if not libmodbus_device.available():
        for name, blocks, _, _ in cases:
            note = f"skipped: {libmodbus_device.MISSING}"
            rows.append(Row(SUITE, f"libmodbus device, {name}: requests/s", float("nan"),
                            "req/s", _rate_target(blocks), "higher", note))
            rows.append(Row(SUITE, f"libmodbus device, {name}: adapter CPU per request",
                            float("nan"), "µs", 60.0, "lower", note))
        return rows
    window = 1.0 if quick else 5.0
    for name, blocks, depth, what in cases:
        server = _Server(1, "libmodbus")
        try:
            points = [p for b in range(blocks) for p in _points(f"L{b}", 200 * b)]
            spec = DeviceSpec("L1", "L1", "127.0.0.1", server.port, 1, "big", 1, 250,
                              tuple(points), pipeline_depth=depth)
            rps, us, bad, _, _ = asyncio.run(_poll_floor([spec], 0, window))
        finally:
            server.close()
        note = (f"DevicePoller + coalescer + publisher, {what}, one connection"
                + (f", {bad} points Bad" if bad else ""))
        rows.append(Row(SUITE, f"libmodbus device, {name}: requests/s", rps, "req/s",
                        _rate_target(blocks), "higher", note))
        rows.append(Row(SUITE, f"libmodbus device, {name}: adapter CPU per request", us, "µs",
                        60.0, "lower", note))
    return rows


async def _stalls(port: int, stalls: int) -> tuple[int, int]:
    """(batches published with a Bad point, batches) for one device polled every 10 ms while the
    event loop stalls ``stalls`` times for 20-35 ms at random phases; the server (another
    process) answers throughout, so every Bad is false."""
    import random

    from adapters.modbus.device_poller import DevicePoller
    from runtime.scene.model import DeviceSpec

    spec = DeviceSpec("S", "S", "127.0.0.1", port, 1, "big", 10, 250, tuple(_points("S")))
    batches: list[bool] = []
    poller = DevicePoller(spec, lambda _ids: lambda _v, quality, _r, _t: batches.append(
        any(quality)))
    task = asyncio.create_task(poller.run())
    rng = random.Random(17)
    try:
        deadline = time.monotonic() + 5.0
        while not (batches and not batches[-1]) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        first = len(batches)
        for _ in range(stalls):
            await asyncio.sleep(rng.uniform(0.0, 0.02))
            time.sleep(rng.uniform(0.020, 0.035))  # the stall: the loop runs nothing
        await asyncio.sleep(0.05)
        window = batches[first:]
    finally:
        poller.stop()
        await asyncio.gather(task, return_exceptions=True)
    return sum(window), len(window)


def run(quick: bool) -> list[Row]:
    """Rows: request and register rates (1 and 20 devices, both servers), CPU % at 100 x 10 Hz."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    seconds = 1.0 if quick else 5.0
    rows: list[Row] = []
    for kind in ("lean", "pymodbus"):
        for units in (1, 20):
            server = _Server(units, kind)
            try:
                rps, regs = asyncio.run(_request_rate(server.port, units, seconds))
            finally:
                server.close()
            note = (f"one connection, {units} device{'s' if units > 1 else ''}, 125-register "
                    f"reads, {kind} server")
            # The target is the client's: against pymodbus's server (~175 us of CPU per
            # request) the server is the limit, so that row is shown without a target.
            target = 5000.0 if kind == "lean" else None
            if target is None:
                note += ", server-bound"
            name = f"({units} dev, {kind} server)"
            rows.append(Row(SUITE, f"requests/s {name}", rps, "req/s", target, "higher", note))
            rows.append(Row(SUITE, f"registers/s {name}", regs, "reg/s", None, "higher", note))
    devices = 20 if quick else 100
    server = _Server(devices)
    try:
        cpu, rate, bad, sys_share, _, _ = asyncio.run(
            _cpu(server.port, devices, 2.0 if quick else 10.0))
    finally:
        server.close()
    note = (f"{devices} devices x 10 Hz x 125 registers, {rate:.0f} replies/s, "
            f"{100 * sys_share:.0f}% of it in the kernel, pymodbus server"
            + (f", {bad} devices not all Good" if bad else "")
            + (" (quick: 20 devices)" if quick else ""))
    rows.append(Row(SUITE, "adapter CPU", cpu, "% of a core", 20.0, "lower", note))
    rows += _with_bus_rows(devices, 2.0 if quick else 10.0, quick)
    stalls = 10 if quick else 50
    server = _Server(1, "lean")
    try:
        false_bad, batches = asyncio.run(_stalls(server.port, stalls))
    finally:
        server.close()
    rows.append(Row(SUITE, f"false Bad batches, 10 ms poll, {stalls} stalls of 20-35 ms",
                    false_bad, "batches", 0.0, "lower",
                    f"of {batches}; was 50 of 173 (50 stalls)"))
    rows += _poll_floor_rows(quick)
    rows += _libmodbus_rows(quick)
    return rows


def _lean_answer(words: bytes, units: int, unit: int, pdu: bytes) -> bytes:
    """The spec's reply PDU to a read of the bench's register table, or an exception reply."""
    fc = pdu[0]
    if not 1 <= unit <= units:
        return bytes([fc | 0x80, 0x0B])
    if fc not in (3, 4):
        return bytes([(fc | 0x80) & 0xFF, 1])
    if len(pdu) != 5:
        return bytes([fc | 0x80, 3])
    address, count = _WORDS.unpack_from(pdu, 1)
    if not 1 <= count <= 125:
        return bytes([fc | 0x80, 3])
    if 2 * (address + count) > len(words):
        return bytes([fc | 0x80, 2])
    return bytes([fc, 2 * count]) + words[2 * address:2 * (address + count)]


def _lean_connection(conn: socket.socket, words: bytes, units: int) -> None:
    """Serve one connection: blocking reads, every complete request answered in order."""
    buf = b""
    with conn:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            out = []
            while len(buf) >= 7:
                tid, pid, length, unit = _MBAP.unpack_from(buf)
                if pid != 0 or not 2 <= length <= 254:
                    return  # a stream we cannot frame: close it, as a PLC would
                if len(buf) < 6 + length:
                    break
                reply = _lean_answer(words, units, unit, buf[7:6 + length])
                buf = buf[6 + length:]
                out.append(_MBAP.pack(tid, 0, len(reply) + 1, unit) + reply)
            if out:
                try:
                    conn.sendall(b"".join(out))
                except OSError:
                    return


def _serve_lean(port: int, units: int) -> None:
    """A minimal, strict Modbus TCP server for the bench: FC3/FC4 from one register table.

    Checks every request (protocol id 0, MBAP length, known unit, function code, count 1..125,
    address range) and answers as the spec says, or with an exception reply: 1 illegal function,
    2 illegal address, 3 illegal value, 0x0B no such unit; a bad MBAP header closes the
    connection. Blocking sockets, a thread per connection: a few microseconds of Python per
    request besides the two system calls, standing in for the issue's C server.
    """
    import threading

    words = struct.pack(f">{REGISTERS}H", *range(1000, 1000 + REGISTERS))
    with socket.create_server(("127.0.0.1", port)) as listener:
        print("READY", flush=True)
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_lean_connection, args=(conn, words, units),
                             daemon=True).start()


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
    parser.add_argument("--server", choices=("pymodbus", "lean"), default="pymodbus")
    parser.add_argument("--quick", action="store_true")
    ns = parser.parse_args()
    if ns.serve:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        (_serve_lean if ns.server == "lean" else _serve)(*ns.serve)
    else:
        from tools.bench.runner import render_table

        print(render_table(run(quick="--quick" in sys.argv)))
