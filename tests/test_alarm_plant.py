"""The bundled pump station alarm set against the real plant simulation (no bus): calm in
normal operation, the standby trip suppressed by design, a duty trip raised at once, a stuck
valve caught by its command-disagree alarm after its timeout."""

from __future__ import annotations

import numpy as np
import pytest
from plant_fixtures import pump_station

from runtime.alarms import AlarmEngine, load_alarms
from runtime.sim.plant_model import PlantModel

TICK_STEPS = 10
"""Plant steps per alarm evaluation: 100 ms, the service's 10 Hz."""


class _Station:
    def __init__(self) -> None:
        scene = pump_station()
        self.plant = PlantModel(scene, seed=4)
        self.engine = AlarmEngine(load_alarms(scene.path / "alarms.yaml", scene))
        self.quality = np.zeros(len(self.engine.points), np.uint8)

    def run_s(self, seconds: float) -> list[tuple[float, str, str]]:
        """Advance ``seconds``; (time s, alarm id, state) of each transition."""
        out = []
        for _ in range(int(round(seconds * 10))):
            self.plant.step(TICK_STEPS)
            values = np.array([self.plant.read_point(p) for p in self.engine.points])
            now_ns = self.plant.time_ns
            out += [(now_ns / 1e9, t.id, t.state)
                    for t in self.engine.evaluate(now_ns, values, self.quality)]
        return out

    def state(self, ident: str) -> str:
        return next(s["state"] for s in self.engine.states() if s["id"] == ident)


@pytest.fixture(scope="module")
def station() -> _Station:
    return _Station()


def test_pump_station_alarm_story(station: _Station) -> None:
    first = station.run_s(60)
    assert [(i, s) for _, i, s in first] == [("P-102-TRIP", "suppressed")]  # calm otherwise
    station.plant.trip_pump("P-101")
    t_trip = station.plant.time_ns / 1e9
    raised = station.run_s(5)
    times = {i: t for t, i, s in raised if s == "unack"}
    assert "P-101-TRIP" in times and times["P-101-TRIP"] - t_trip <= 0.1 + 1e-9
    assert station.state("P-101-TRIP") == "unack"
    assert station.plant.read_point("UC-101/duty_pump") == 1
    assert station.state("P-102-TRIP") == "normal"     # now duty: no longer suppressed
    assert station.state("P-101-CMD") == "suppressed"  # the trip alarm says it already
    # A stuck valve: manual mode, setpoint moved; the position cannot follow.
    station.plant.write_point("LIC-102/mode", 0)
    station.plant.set_valve_stuck("FV-101", True)
    station.plant.write_point("FV-101/position_sp_pct", 20.0)
    t_move = station.plant.time_ns / 1e9
    events = station.run_s(35)
    [(t_cmd, _, _)] = [e for e in events if e[1] == "FV-101-CMD"]
    assert 30.0 <= t_cmd - t_move <= 30.2
    assert station.state("LIC-102-DEV") in ("normal", "suppressed")
