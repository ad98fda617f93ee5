"""Ingest over a real bus on loopback: readings land in the world's columns with quality."""

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
from runtime.ingest import Ingest
from runtime.quality import Quality, Reason
from runtime.scene import load_devices, load_scene
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


def _drain_until(ingest: Ingest, done, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ingest.run()
        if done():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_readings_reach_world_columns(bus: BusEndpoints) -> None:
    scene = load_scene(PUMP_STATION)
    world = build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))
    sub = Subscriber(bus)
    pub = Publisher(bus, "PLC-101", points=["P-101/speed_rpm", "M-101/temperature_degc"])
    ingest = Ingest(world, sub)
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

        _drain_until(ingest, publish_and_check)
        assert world.state.quality[speed] == Quality.GOOD
        assert world.state.t_source_ns[speed] == t_src
        assert world.state.quality[temp] == Quality.BAD
        assert world.state.reason[temp] == Reason.DEVICE_FAILURE
        assert np.isnan(world.state.good_value[temp])  # a Bad value is never held as good
        assert ingest.unknown >= 1 and "X-999/foo_m" in ingest.unknown_points
        assert world.entity_quality[world.entity_row["M-101"]] == Quality.BAD
    finally:
        pub.close()
        sub.close()


def test_rows_from_a_poll_only_source_are_written_too() -> None:
    """Replay and tools hand over rows (``poll``); the bus Subscriber hands blocks."""
    from runtime.bus.subscriber import Update

    scene = load_scene(PUMP_STATION)
    world = build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))
    t_src = time.time_ns()

    class Rows:
        def poll(self, budget_ns: int) -> list:
            return [Update("P-101/speed_rpm", 1200.0, GOOD, NONE, t_src, "replay", 3),
                    Update("X-999/foo_m", 1.0, GOOD, NONE, t_src, "replay", 3)]

    ingest = Ingest(world, Rows())
    assert ingest.run() == 1
    speed = world.point_column["P-101/speed_rpm"]
    assert world.state.value[speed] == 1200.0 and world.state.seq[speed] == 3
    assert ingest.unknown == 1 and "X-999/foo_m" in ingest.unknown_points


def test_unknown_point_names_are_counted_but_remembered_only_up_to_a_bound() -> None:
    from runtime.bus.subscriber import Update
    from runtime.ingest import MAX_UNKNOWN_NAMES

    scene = load_scene(PUMP_STATION)
    world = build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))

    class Flood:
        def poll(self, budget_ns: int) -> list:
            return [Update(f"X-{i}/junk_m", 1.0, 0, 0, 1, "evil", 1) for i in range(3000)]

    ingest = Ingest(world, Flood())
    ingest.run(now_ns=1)
    ingest.run(now_ns=2)
    assert ingest.unknown == 6000
    assert len(ingest.unknown_points) == MAX_UNKNOWN_NAMES
