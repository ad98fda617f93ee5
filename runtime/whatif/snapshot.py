"""The plant model of a live bus, for a forecast or analytics started outside the viewer.

Subscribe, take the bus's snapshot (last value of every point), then let a
:class:`~runtime.live.observer.PlantObserver` pull a fresh model onto those measurements for a
few simulated seconds (facts written, levels and positions blended), so the model starts where
the plant is. No Panda3D.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from runtime.bus.endpoints import BusEndpoints
from runtime.errors import UsageError
from runtime.live.observer import PlantObserver
from runtime.quality import Quality
from runtime.scene.model import Scene
from runtime.sim.plant_model import PlantModel
from runtime.world import World, build_world

SETTLE_S = 5.0
"""Simulated seconds the observer corrects the model onto the snapshot before a fork."""


@dataclass
class BusModel:
    world: World
    observer: PlantObserver
    model: PlantModel
    good_points: int
    served_points: int
    waited_s: float


def world_for(scene: Scene) -> World:
    from runtime.scene import load_devices

    devices_file = scene.path / "devices.yaml"
    devices = load_devices(devices_file, scene) if devices_file.is_file() else None
    return build_world(scene, devices)


def drain_until_good(world: World, subscriber: object, *, timeout_s: float,
                     min_fraction: float = 0.999) -> float:
    """Drain ``subscriber`` into ``world`` until it has synced and (nearly) every served point
    has a Good value, or ``timeout_s``; seconds waited. UsageError if nothing arrived."""
    from runtime.sources.live_bus import LiveBusSource

    source = LiveBusSource(subscriber, world)  # type: ignore[arg-type]
    served = world.points.poll_period_ns >= 0
    t0 = time.monotonic()
    while True:
        now = time.monotonic_ns()
        source.drain(world, now, 50_000_000)
        good = (world.state.quality == Quality.GOOD) & served
        if source.synced and good.sum() >= min_fraction * max(1, served.sum()):
            break
        if time.monotonic() - t0 > timeout_s:
            if not np.any(good):
                raise UsageError(f"no Good readings from the bus within {timeout_s:g} s; is "
                                 "the adapter running?")
            break
        time.sleep(0.02)
    return time.monotonic() - t0


def model_from_world(world: World, *, settle_s: float = SETTLE_S) -> PlantObserver:
    """A fresh model pulled onto the world's Good values (``settle_s`` of corrected steps)."""
    model = PlantModel(world.scene)
    model.warm_up()
    observer = PlantObserver(world, model)
    observer.anchor()
    frame_ns = 100_000_000
    for _ in range(int(settle_s * 1e9 / frame_ns)):
        observer.update(frame_ns)
    return observer


def model_from_bus(scene: Scene, address: str, *, security: object = None,
                   timeout_s: float = 10.0) -> BusModel:
    """Subscribe to ``address``, wait for the snapshot, build and settle the model."""
    from runtime.bus.subscriber import Subscriber

    world = world_for(scene)
    sub = Subscriber(BusEndpoints.from_address(address), security=security)  # type: ignore[arg-type]
    try:
        waited = drain_until_good(world, sub, timeout_s=timeout_s)
    finally:
        sub.close()
    observer = model_from_world(world)
    served = world.points.poll_period_ns >= 0
    good = int(((world.state.quality == Quality.GOOD) & served).sum())
    return BusModel(world, observer, observer.model, good, int(served.sum()),  # type: ignore[arg-type]
                    waited)
