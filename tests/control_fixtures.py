"""Helpers for the control tests: the pump station's devices, a hand-driven clock, and a real
pymodbus server per device on loopback that logs every write it receives.

Import explicitly (``from control_fixtures import ...``); conftest.py belongs to the lead.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from pathlib import Path

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

from runtime.control.readings import Reading
from runtime.scene import load_devices, load_scene
from runtime.scene.model import Devices, DeviceSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
PUMP_STATION = REPO_ROOT / "scenes" / "pump_station"
WRITE_FUNCTION_CODES = (5, 6, 15, 16)


@functools.cache
def pump_devices() -> Devices:
    """The bundled pump station's devices.yaml, validated against its scene."""
    return load_devices(PUMP_STATION / "devices.yaml", load_scene(PUMP_STATION))


@dataclass
class ManualClock:
    """A monotonic nanosecond clock moved by hand: expiry without sleeping."""

    now_ns: int = 1_000_000_000_000

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(round(seconds * 1e9))


def good_readings(devices: Devices, value: float = 0.0) -> dict[str, Reading]:
    """A Good reading of ``value`` for every mapped point."""
    return {p.point: Reading(value) for d in devices.devices for p in d.points}


@dataclass(frozen=True)
class DeviceWrite:
    """One write request as the server saw it."""

    device_id: str
    function_code: int
    address: int
    values: tuple[int, ...]


@dataclass
class LoopbackPlant:
    """One real pymodbus TCP server per device, on 127.0.0.1 with an ephemeral port.

    Every write request that reaches a server is appended to :attr:`writes` (the action hook
    runs before the server stores the values), so a test can assert exactly what the devices
    received. Start and stop it inside the event loop that runs the clients.
    """

    devices: Devices
    writes: list[DeviceWrite] = field(default_factory=list)
    hosts: dict[str, tuple[str, int]] = field(default_factory=dict)
    fail_writes: bool = False
    """When set, every write is answered with Modbus exception 4 (device failure)."""
    _servers: list[ModbusTcpServer] = field(default_factory=list)

    async def start(self) -> LoopbackPlant:
        for device in self.devices.devices:
            server = ModbusTcpServer(self._sim_device(device), address=("127.0.0.1", 0))
            await server.listen()
            port = server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.hosts[device.id] = ("127.0.0.1", port)
            self._servers.append(server)
        return self

    async def stop(self) -> None:
        for server in self._servers:
            await server.shutdown()
        self._servers.clear()

    def writes_to(self, device_id: str) -> list[DeviceWrite]:
        return [w for w in self.writes if w.device_id == device_id]

    def _sim_device(self, device: DeviceSpec) -> SimDevice:
        size = max((p.address + p.register_count for p in device.points), default=0) + 8

        def block(bits: bool) -> list[SimData]:
            kind = DataType.BITS if bits else DataType.REGISTERS
            return [SimData(0, count=size, values=False if bits else 0, datatype=kind)]

        async def action(
            function_code: int,
            _start: int,
            address: int,
            _count: int,
            _registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> object:
            if function_code in WRITE_FUNCTION_CODES and set_values is not None:
                if self.fail_writes:
                    return ExcCodes.DEVICE_FAILURE
                values = tuple(int(v) for v in set_values)
                self.writes.append(DeviceWrite(device.id, function_code, address, values))
            return None

        return SimDevice(
            id=device.unit_id,
            simdata=(block(True), block(True), block(False), block(False)),
            action=action,  # type: ignore[arg-type]
        )


def run(coro: object, loop: asyncio.AbstractEventLoop | None = None) -> object:
    """Run a coroutine to completion on ``loop`` (or a fresh one)."""
    if loop is None:
        return asyncio.run(coro)  # type: ignore[arg-type]
    return loop.run_until_complete(coro)  # type: ignore[arg-type]
