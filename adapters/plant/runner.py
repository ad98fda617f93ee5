"""Run a PlantModel in real time (or faster) behind its devices' Modbus TCP servers.

One asyncio loop holds everything: the stepping task, one pymodbus server per device and the
control socket. The stepper keeps an integer-nanosecond accumulator of wall time times speed,
runs whole fixed steps, then refreshes every register image; client writes are applied to the
model by the servers between batches (same thread, so no locks).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from adapters.plant.control import ControlServer
from adapters.plant.faults import Fault, FaultBoard
from adapters.plant.image import RegisterImage
from adapters.plant.server import DeviceServer
from adapters.plant.training import TrainingControls
from runtime.scene.model import Devices
from runtime.sim.plant_model import PlantModel

TICK_S = 0.01
MAX_STEPS_PER_TICK = 100_000
"""Cap per batch: if the machine cannot keep up, the plant slows down instead of spiralling."""


class PlantRunner:
    """The served plant. ``start()`` binds every port; ``run_until(event)`` steps until set."""

    def __init__(self, model: PlantModel, devices: Devices, *, speed: float = 1.0,
                 port_offset: int = 0, control_port: int | None = 15019,
                 host_override: str | None = None) -> None:
        self.model = model
        self.devices = devices
        self.images = {d.id: RegisterImage(d, model) for d in devices.devices}
        self.servers = {
            d.id: DeviceServer(self.images[d.id], host_override or d.host, d.port + port_offset)
            for d in devices.devices
        }
        self.board = FaultBoard(model, self.servers)
        self.training = TrainingControls(self.board, speed=speed)
        self.control = (
            ControlServer(self.board, "127.0.0.1", control_port, training=self.training)
            if control_port else None
        )
        self.batches = 0

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second (the control socket's ``speed`` changes it)."""
        return self.training.speed

    @speed.setter
    def speed(self, value: float) -> None:
        self.training.speed = value

    async def start(self) -> None:
        started: list[DeviceServer] = []
        try:
            for server in self.servers.values():
                await server.start()
                started.append(server)
            if self.control:
                await self.control.start()
        except BaseException:
            for server in started:
                await server.stop()
            raise

    async def stop(self) -> None:
        for server in self.servers.values():
            await server.stop()
        if self.control:
            await self.control.stop()

    async def apply_faults(self, faults: list[Fault]) -> None:
        for fault in faults:
            await self.board.apply(fault)

    def refresh(self) -> None:
        """The model stepped: every image encodes again on its next read (lazily)."""
        for image in self.images.values():
            image.invalidate()

    async def run_until(self, stop: asyncio.Event,
                        on_batch: Callable[[int], None] | None = None) -> None:
        """Step in real time x speed until ``stop`` is set."""
        step_ns = self.model.step_ns
        self.training.after_steps()  # the first automatic snapshot: plant time as it starts
        acc_ns = 0
        last = time.monotonic_ns()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), TICK_S)
                break
            except TimeoutError:
                pass
            now = time.monotonic_ns()
            if self.training.frozen:  # plant time stops; registers keep their values
                last = now
                acc_ns = 0
                continue
            acc_ns += int((now - last) * self.speed)
            last = now
            n = min(acc_ns // step_ns, MAX_STEPS_PER_TICK)
            acc_ns -= n * step_ns
            if acc_ns > MAX_STEPS_PER_TICK * step_ns:
                acc_ns = 0  # too far behind: drop the backlog rather than chase it
            if n:
                self.model.step(int(n))
                self.training.after_steps()
                self.refresh()
                self.batches += 1
                if on_batch:
                    on_batch(int(n))
