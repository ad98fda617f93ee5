"""World tables built from the bundled scene: indexes, dtypes, quality rules."""

from __future__ import annotations

import numpy as np
from conftest import PUMP_STATION

from runtime.quality import Quality, Reason
from runtime.scene import load_devices, load_scene
from runtime.world import build_world


def _world():
    scene = load_scene(PUMP_STATION)
    return build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))


def test_indexes_and_dtypes() -> None:
    world = _world()
    n, p = len(world.entities), len(world.points)
    assert world.entities.position_m.shape == (n, 3)
    assert world.state.value.shape == (p,) and world.state.value.dtype == np.float64
    assert world.state.quality.dtype == np.uint8
    col = world.point_column["P-101/speed_rpm"]
    assert world.points.ids[col] == "P-101/speed_rpm"
    assert world.entities.ids[world.points.entity[col]] == "P-101"
    row = world.entity_row["P-101"]
    first, count = world.entities.point_first[row], world.entities.point_count[row]
    assert col in range(first, first + count)
    assert world.points.poll_period_ns[col] == 100_000_000
    assert world.points.poll_period_ns[world.point_column["T-101/level_m"]] == -1


def test_before_any_reading_served_points_are_bad() -> None:
    world = _world()
    col = world.point_column["LT-101/level_m"]
    assert world.state.quality[col] == Quality.BAD and world.state.reason[col] == Reason.INITIAL
    assert world.entity_quality[world.entity_row["LT-101"]] == Quality.BAD
    assert world.entity_quality[world.entity_row["J-101"]] == Quality.GOOD  # served by no device


def test_write_holds_last_good_and_rejects_non_finite() -> None:
    world = _world()
    cols = np.array([world.point_column["LT-101/level_m"], world.point_column["FT-101/flow_m3_h"]])
    world.write(cols, np.array([2.5, 120.0]), np.zeros(2), np.zeros(2), np.array([1, 1]), 100)
    world.write(cols, np.array([np.nan, 130.0]), np.zeros(2), np.zeros(2), np.array([2, 2]), 200)
    s = world.state
    assert s.quality[cols[0]] == Quality.BAD and s.reason[cols[0]] == Reason.NOT_FINITE
    assert s.good_value[cols[0]] == 2.5 and s.good_t_receive_ns[cols[0]] == 100
    assert s.value[cols[1]] == 130.0 and s.quality[cols[1]] == Quality.GOOD
    world.refresh_entity_quality()
    assert world.entity_quality[world.entity_row["FT-101"]] == Quality.GOOD
    assert world.entity_quality[world.entity_row["LT-101"]] == Quality.BAD
