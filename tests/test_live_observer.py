"""The viewer's observer: the plant model follows Good readings, holds the last good value for
Bad ones (never fed a Bad or non-finite value), stays finite, and keeps a residual per point."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import PUMP_STATION

from runtime.clock import FixedClock
from runtime.live.observer import PlantObserver, SmoothingObserver, make_observer
from runtime.quality import Quality, Reason
from runtime.scene import load_devices, load_scene
from runtime.world import World, build_world

FRAME_NS = 16_666_667


def _world() -> World:
    scene = load_scene(PUMP_STATION)
    return build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))


def _write(world: World, pid: str, value: float, quality: int = Quality.GOOD,
           reason: int = Reason.NONE) -> None:
    c = world.point_column[pid]
    world.write(np.array([c]), [value], [quality], [reason], [time.time_ns()],
                time.monotonic_ns())


def _run(obs, frames: int) -> None:  # noqa: ANN001
    for _ in range(frames):
        obs.update(FRAME_NS)


@pytest.fixture(scope="module")
def observer() -> PlantObserver:
    obs = make_observer(_world())
    assert isinstance(obs, PlantObserver), "the pump station must be simulated in the viewer"
    return obs


def test_level_converges_smoothly_and_residual_shrinks(observer: PlantObserver) -> None:
    w = observer.world
    c = w.point_column["LT-102/level_m"]
    _write(w, "LT-102/level_m", 4.5)
    _run(observer, 6)
    early = observer.display[c]
    assert 2.0 < early < 4.5, "the model moves toward the reading, not in one jump"
    _run(observer, 240)
    assert observer.display[c] == pytest.approx(4.5, abs=0.02)
    assert abs(observer.residual[c]) < 0.02
    tank = w.point_column["T-102/level_m"]  # the simulated tank level follows its transmitter
    assert observer.display[tank] == pytest.approx(4.5, abs=0.05)


def test_bad_value_is_held_never_fed(observer: PlantObserver) -> None:
    w = observer.world
    c = w.point_column["FV-101/position_pct"]
    _write(w, "LIC-102/mode", 0.0)  # manual, as the PLC reports: the set point is a fact
    _write(w, "FV-101/position_sp_pct", 60.0)
    _write(w, "FV-101/position_pct", 60.0)
    _run(observer, 240)
    assert observer.display[c] == pytest.approx(60.0, abs=0.5)
    _write(w, "FV-101/position_pct", 5.0, Quality.BAD, Reason.DEVICE_FAILURE)
    _write(w, "LT-101/level_m", float("nan"))  # non-finite: becomes Bad in the world
    _write(w, "P-101/speed_rpm", float("inf"))
    _run(observer, 120)
    assert observer.held[c] and observer.display[c] == pytest.approx(60.0, abs=0.5)
    assert np.isfinite(observer.model.state.tank.level_m).all()
    assert np.isfinite(observer.model.state.motor.speed_rpm).all()


def test_commands_and_status_are_written_as_facts(observer: PlantObserver) -> None:
    w = observer.world
    _write(w, "P-101/tripped", 1.0)
    _write(w, "P-101/running", 0.0)
    _write(w, "P-101/run_cmd", 0.0)
    _run(observer, 2)
    assert observer.display[w.point_column["P-101/tripped"]] == 1.0
    assert observer.model.read_point("P-101/run_cmd") == 0.0


def test_smoother_fallback_has_the_same_shape() -> None:
    w = _world()
    obs = SmoothingObserver(w, clock=FixedClock())
    c = w.point_column["LT-102/level_m"]
    _write(w, "LT-102/level_m", 2.0)
    _run(obs, 2)
    _write(w, "LT-102/level_m", 4.0)
    _run(obs, 3)
    assert 2.0 < obs.display[c] < 4.0
    _run(obs, 300)
    assert obs.display[c] == pytest.approx(4.0, abs=0.01)
    assert np.isnan(obs.residual[w.point_column["T-102/level_m"]])
