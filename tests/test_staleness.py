"""R2: Uncertain after 2 missed poll periods, Bad after 3 or on heartbeat loss."""

from __future__ import annotations

import numpy as np
from conftest import PUMP_STATION
from hypothesis import given
from hypothesis import strategies as st

from runtime.quality import Quality, Reason
from runtime.scene import load_devices, load_scene
from runtime.staleness import age_ns, apply_staleness
from runtime.world import build_world

SCENE = load_scene(PUMP_STATION)
DEVICES = load_devices(PUMP_STATION / "devices.yaml", SCENE)
PERIOD_NS = 100_000_000  # PLC-101 polls every 100 ms


def _fresh_world(t_receive_ns: int):
    world = build_world(SCENE, DEVICES)
    col = np.array([world.point_column["P-101/speed_rpm"]])
    world.write(col, np.array([1480.0]), np.zeros(1), np.zeros(1), np.array([1]), t_receive_ns)
    return world, int(col[0])


@given(st.integers(min_value=0, max_value=10 * PERIOD_NS))
def test_quality_follows_age(age: int) -> None:
    world, col = _fresh_world(1_000)
    apply_staleness(world, 1_000 + age)
    q, r = world.state.quality[col], world.state.reason[col]
    if age > 3 * PERIOD_NS:
        assert (q, r) == (Quality.BAD, Reason.NO_COMMUNICATION)
    elif age > 2 * PERIOD_NS:
        assert (q, r) == (Quality.UNCERTAIN, Reason.LAST_USABLE)
    else:
        assert (q, r) == (Quality.GOOD, Reason.NONE)
    assert world.state.good_value[col] == 1480.0  # the last good value is held
    assert age_ns(world, 1_000 + age)[col] == age


def test_heartbeat_loss_is_bad_at_once() -> None:
    world, col = _fresh_world(1_000)
    silent = np.zeros(len(world.points), dtype=bool)
    silent[col] = True
    apply_staleness(world, 1_001, silent)
    assert world.state.quality[col] == Quality.BAD
    assert world.state.reason[col] == Reason.NO_COMMUNICATION


def test_worse_adapter_quality_is_kept() -> None:
    world, col = _fresh_world(1_000)
    world.write(
        np.array([col]),
        np.array([0.0]),
        np.array([2]),
        np.array([Reason.DEVICE_FAILURE]),
        np.array([2]),
        2_000,
    )
    apply_staleness(world, 2_000 + 5 * PERIOD_NS)
    assert world.state.reason[col] == Reason.DEVICE_FAILURE
