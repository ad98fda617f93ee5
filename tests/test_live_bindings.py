"""Bindings from the pump station scene: which point drives which visual, as index arrays."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import PUMP_STATION

from runtime.live.bindings import build_bindings
from runtime.quality import Quality, Reason
from runtime.scene import load_devices, load_scene
from runtime.world import World, build_world


@pytest.fixture(scope="module")
def world() -> World:
    scene = load_scene(PUMP_STATION)
    return build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))


def _pairs(world: World, rows: np.ndarray, cols: np.ndarray) -> dict[str, str]:
    return {world.entities.ids[r]: world.points.ids[c] for r, c in zip(rows, cols, strict=True)}


def test_visual_bindings_follow_the_scene(world: World) -> None:
    b = build_bindings(world)
    assert _pairs(world, b.fill_rows, b.fill_cols) == {"T-101": "LT-101/level_m",
                                                       "T-102": "LT-102/level_m"}
    assert list(b.fill_full_m) == [6.0, 5.0]
    rotor = _pairs(world, b.rotor_rows, b.rotor_cols)
    assert rotor["M-101"] == rotor["P-101"] == "P-101/speed_rpm"
    assert rotor["M-102"] == "P-102/speed_rpm"
    assert _pairs(world, b.stem_rows, b.stem_cols) == {"FV-101": "FV-101/position_pct"}
    flow = _pairs(world, b.flow_rows, b.flow_cols)
    assert flow["L-107"] == "FT-101/flow_m3_h"  # a served transmitter beats the simulation
    assert flow["L-104"] == "L-104/flow_m3_h"
    assert _pairs(world, b.trip_rows, b.trip_cols)["P-102"] == "P-102/tripped"


def test_tank_shows_its_transmitters_quality_and_age(world: World) -> None:
    b = build_bindings(world)
    now = time.monotonic_ns()
    n = len(world.entities)
    for pid in world.points.ids:  # everything Good and fresh
        c = world.point_column[pid]
        world.write(np.array([c]), [1.0], [Quality.GOOD], [Reason.NONE], [0], now - 12 * 10**9)
    lt = world.point_column["LT-102/level_m"]
    world.state.quality[lt] = Quality.BAD
    world.state.reason[lt] = Reason.NO_COMMUNICATION
    q, r, age = np.zeros(n, np.uint8), np.zeros(n, np.uint8), np.zeros(n, np.float32)
    b.visual_quality(world, now, q, r, age)
    t102 = world.entity_row["T-102"]
    assert q[t102] == Quality.BAD and r[t102] == Reason.NO_COMMUNICATION
    assert age[t102] == pytest.approx(12.0, abs=0.01)
    assert q[world.entity_row["T-101"]] == Quality.GOOD
    assert lt in b.entity_points[t102]  # the inspector lists the bound transmitter
