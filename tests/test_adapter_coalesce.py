"""The poll floor (issue 17, item 3): 1 ms poll periods validate, and the batches of devices
polled in the same loop pass leave the adapter as one bus message, each reading once."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import msgpack
import pytest
import zmq
from adapter_fixtures import device, point, quiet_pymodbus
from modbus_fault_server import FaultServer

from adapters.modbus.coalesce import TickCoalescer
from adapters.modbus.device_poller import DevicePoller
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.wire import KIND_READINGS, Batch, decode_batch
from runtime.scene import load_devices, load_scene
from runtime.scene.generated import write_generated_plant


def setup_module() -> None:
    quiet_pymodbus()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_ms_poll_period_validates(tmp_path: Path) -> None:
    write_generated_plant(tmp_path, 30, devices=2, poll_period_ms=1)
    devices = load_devices(tmp_path / "devices.yaml", load_scene(tmp_path))
    assert {d.poll_period_ms for d in devices.devices} == {1}


def _run_devices(n_devices: int, *, period_ms: int, timeout_ms: int, n_messages: int,
                 faults: dict[int, tuple[str, float]] | None = None, points: int = 1,
                 deadline_s: float = 30.0) -> tuple[list[tuple[int, list, Batch]], TickCoalescer]:
    """Poll ``n_devices`` fault servers (``faults``: device -> (mode, delay_s)) through one
    coalescer, all started together, until ``n_messages`` readings messages came (or the
    deadline): (receipt time_ns, points form as a list, batch) per message, and the coalescer.
    Device ``i`` has the points ``D<i>/a_m`` (register 0, holding 100 + i) and, with
    ``points=2``, ``D<i>/b_m`` (register 1, holding 7)."""
    port = _free_port()
    endpoints = BusEndpoints.from_address(f"tcp://127.0.0.1:{port}")
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.bind(endpoints.pub_in)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    publisher = Publisher(endpoints, "coalesce-test", context=context)
    coalescer = TickCoalescer(publisher)

    async def main() -> list:
        servers = [FaultServer() for _ in range(n_devices)]
        ports = [await s.start() for s in servers]
        for i, s in enumerate(servers):
            s.set_registers("holding", 0, [100 + i, 7])
        for i, (mode, delay_s) in (faults or {}).items():
            servers[i].fault.mode = mode
            servers[i].fault.delay_s = delay_s
        names = [("a_m", 0), ("b_m", 1)][:points]
        pollers = [DevicePoller(device(p, [point(f"D{i}/{n}", "holding", a, "uint16")
                                           for n, a in names],
                                       device_id=f"D{i}", poll_period_ms=period_ms,
                                       timeout_ms=timeout_ms), coalescer.sink_for)
                   for i, p in enumerate(ports)]
        tasks = [asyncio.create_task(p.run()) for p in pollers]
        got = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        try:
            while len(got) < n_messages and loop.time() < deadline:
                while sub.poll(0):
                    frames = sub.recv_multipart()
                    batch = decode_batch(frames)
                    if batch.kind == KIND_READINGS:
                        form = msgpack.unpackb(frames[1])[6][0]
                        got.append((time.time_ns(), form if type(form) is list else [form],
                                    batch))
                await asyncio.sleep(0.001)
        finally:
            for p in pollers:
                p.stop()
            await asyncio.gather(*tasks)
            for s in servers:
                await s.stop()
        return got

    try:
        return asyncio.run(main()), coalescer
    finally:
        publisher.close()
        sub.close()
        context.term()


def test_batches_of_one_pass_go_out_as_one_message() -> None:
    n_devices = 4
    got, coalescer = _run_devices(n_devices, period_ms=1, timeout_ms=500, n_messages=200,
                                  points=2, deadline_s=10.0)
    received = [batch for _, _, batch in got]
    assert len(received) >= 200
    for batch in received:
        names = [r.point for r in batch.readings]
        assert len(names) == len(set(names))  # a point once per message
    # Fewer messages than device batches: passes with several devices were joined.
    assert coalescer.messages < coalescer.batches
    assert max(len(b.readings) for b in received) > 2
    # The points go as the list form, one string per device batch, each the device's own (a
    # message of one device batch as that device's string).
    devices = {f"D{i}/a_m D{i}/b_m" for i in range(n_devices)}
    assert all(set(parts) <= devices for _, parts, _ in got)
    assert max(len(parts) for _, parts, _ in got) > 1
    latest = {r.point: r for b in received for r in b.readings}
    assert {p: r.value for p, r in latest.items() if r.quality == 0} == pytest.approx(
        {f"D{i}/{n}": v for i in range(n_devices) for n, v in (("a_m", 100 + i), ("b_m", 7))})


def test_the_batches_of_one_tick_travel_together() -> None:
    # D3 answers 3 ms after the others (less than the hold): its batch still joins theirs,
    # where a send at the end of each loop pass would part them.
    got, _ = _run_devices(4, period_ms=100, timeout_ms=500, n_messages=25,
                          faults={3: ("late", 0.003)})
    steady = got[5:]
    assert len(steady) >= 20
    whole = [parts for _, parts, _ in steady if len(parts) == 4]
    assert len(whole) >= len(steady) // 2, [parts for _, parts, _ in steady]


def test_a_slow_device_does_not_hold_the_others_back() -> None:
    # D2 answers every read 150 ms late (within its 250 ms timeout, so it stays connected): the
    # others' batches must not wait for it beyond the coalescer's few-ms hold.
    got, _ = _run_devices(3, period_ms=300, timeout_ms=250, n_messages=30,
                          faults={2: ("late", 0.15)})
    ages_ms = [(t - r.t_source_ns) / 1e6 for t, _, batch in got[3:] for r in batch.readings
               if r.point == "D0/a_m" and r.quality == 0]
    assert len(ages_ms) >= 8
    old = [a for a in ages_ms if a > 100.0]  # waiting for D2 would make them ~150 ms old
    assert len(old) <= len(ages_ms) // 5, sorted(ages_ms)
