"""The poll floor (issue 17, item 3): 1 ms poll periods validate, and the batches of devices
polled in the same loop pass leave the adapter as one bus message, each reading once."""

from __future__ import annotations

import asyncio
import socket
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
from runtime.bus.wire import KIND_READINGS, decode_batch
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


def test_batches_of_one_pass_go_out_as_one_message() -> None:
    n_devices = 4
    port = _free_port()
    endpoints = BusEndpoints.from_address(f"tcp://127.0.0.1:{port}")
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.bind(endpoints.pub_in)
    sub.setsockopt(zmq.SUBSCRIBE, b"")

    forms: list = []

    async def main() -> tuple[list, TickCoalescer]:
        servers = [FaultServer() for _ in range(n_devices)]
        ports = [await s.start() for s in servers]
        for i, s in enumerate(servers):
            s.set_registers("holding", 0, [100 + i, 7])
        publisher = Publisher(endpoints, "coalesce-test", context=context)
        coalescer = TickCoalescer(publisher)
        pollers = []
        for i, p in enumerate(ports):
            spec = device(p, [point(f"D{i}/a_m", "holding", 0, "uint16"),
                              point(f"D{i}/b_m", "holding", 1, "uint16")],
                          device_id=f"D{i}", poll_period_ms=1, timeout_ms=500)
            pollers.append(DevicePoller(spec, coalescer.sink_for))
        tasks = [asyncio.create_task(p.run()) for p in pollers]
        received = []
        deadline = asyncio.get_running_loop().time() + 10.0
        try:
            while len(received) < 200 and asyncio.get_running_loop().time() < deadline:
                while sub.poll(0):
                    frames = sub.recv_multipart()
                    batch = decode_batch(frames)
                    if batch.kind == KIND_READINGS:
                        received.append(batch)
                        forms.append(msgpack.unpackb(frames[1])[6][0])
                await asyncio.sleep(0.002)
        finally:
            for p in pollers:
                p.stop()
            await asyncio.gather(*tasks)
            publisher.close()
            for s in servers:
                await s.stop()
        return received, coalescer

    try:
        received, coalescer = asyncio.run(main())
    finally:
        sub.close()
        context.term()
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
    assert all(set(f) <= devices if type(f) is list else f in devices for f in forms)
    assert max(len(f) for f in forms if type(f) is list) > 1
    latest = {r.point: r for b in received for r in b.readings}
    assert {p: r.value for p, r in latest.items() if r.quality == 0} == pytest.approx(
        {f"D{i}/{n}": v for i in range(n_devices) for n, v in (("a_m", 100 + i), ("b_m", 7))})
