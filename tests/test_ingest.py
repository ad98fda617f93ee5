"""The live source over a real bus on loopback: readings land in the world's columns with
quality, stamped with the session's virtual now."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import PUMP_STATION

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.server import BusServer
from runtime.bus.subscriber import Subscriber
from runtime.bus.wire import Reading
from runtime.quality import Quality, Reason
from runtime.scene import load_devices, load_scene
from runtime.sources.live_bus import LiveBusSource
from runtime.staleness import apply_staleness
from runtime.world import build_world

GOOD, BAD = int(Quality.GOOD), int(Quality.BAD)
NONE, DEVICE_FAILURE = int(Reason.NONE), int(Reason.DEVICE_FAILURE)


@pytest.fixture
def bus():
    server = BusServer(BusEndpoints.from_ports("127.0.0.1", [0, 0, 0, 0, 0]))
    thread = server.start_thread()
    yield server.endpoints
    server.stop()
    thread.join(timeout=5)
    server.close()


def _drain_until(source: LiveBusSource, done, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    world = source.writer.world
    while time.monotonic() < deadline:
        now = time.monotonic_ns()
        source.drain(world, now, 2_000_000)
        apply_staleness(world, now)
        world.refresh_entity_quality()
        if done():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_readings_reach_world_columns(bus: BusEndpoints) -> None:
    scene = load_scene(PUMP_STATION)
    world = build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))
    sub = Subscriber(bus)
    pub = Publisher(bus, "PLC-101", points=["P-101/speed_rpm", "M-101/temperature_degc"])
    source = LiveBusSource(sub, world)
    try:
        speed = world.point_column["P-101/speed_rpm"]
        temp = world.point_column["M-101/temperature_degc"]
        t_src = time.time_ns()

        def publish_and_check() -> bool:
            pub.publish([
                Reading("P-101/speed_rpm", 1475.5, Quality.GOOD, Reason.NONE, t_src),
                Reading("M-101/temperature_degc", 61.0, BAD, DEVICE_FAILURE, t_src),
                Reading("X-999/foo_m", 1.0, GOOD, NONE, t_src),
            ])
            return world.state.value[speed] == 1475.5

        _drain_until(source, publish_and_check)
        assert world.state.quality[speed] == Quality.GOOD
        assert world.state.t_source_ns[speed] == t_src
        assert world.state.quality[temp] == Quality.BAD
        assert world.state.reason[temp] == Reason.DEVICE_FAILURE
        assert np.isnan(world.state.good_value[temp])  # a Bad value is never held as good
        assert source.writer.unknown >= 1 and "X-999/foo_m" in source.writer.unknown_points
        assert world.entity_quality[world.entity_row["M-101"]] == Quality.BAD
    finally:
        pub.close()
        sub.close()


def test_unknown_point_names_are_counted_but_remembered_only_up_to_a_bound() -> None:
    from runtime.bus.wire import columns as make_columns
    from runtime.bus.wire import layout_of
    from runtime.sources.world_writer import MAX_UNKNOWN_NAMES, WorldWriter

    scene = load_scene(PUMP_STATION)
    world = build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))
    writer = WorldWriter(world)
    for start in (0, 3000):
        names = [f"X-{i}/junk_m" for i in range(start, start + 3000)]
        n = len(names)
        cols = make_columns(layout_of(names), [1.0] * n, bytes(n), bytes(n), [1] * n)
        assert len(writer.write(cols, 1, 1)) == 0
    assert writer.unknown == 6000
    assert len(writer.unknown_points) == MAX_UNKNOWN_NAMES
