"""The what-if fork: equal state at the fork instant, independent after it, changes applied to
the fork only, the coarse forecast step within tolerance of the plant's own, crossings."""

from __future__ import annotations

import time

import numpy as np
import pytest
from plant_fixtures import pump_station

from runtime.app.build import live_session
from runtime.app.session import state_hash
from runtime.sim.fork import Change, apply_change, coarsen, fork_model, run_ahead
from runtime.sim.plant_model import PlantModel
from runtime.whatif.alarm_defs import AlarmDef, derived_defs, load_alarm_defs
from runtime.whatif.forecast import command_changes, find_crossings, forecast
from runtime.world import build_world

LEVEL_TOLERANCE_M = 0.03
"""Stated tolerance: a 50 ms forecast step tracks the plant's 10 ms step within 3 cm of tank
level over 2 h (stop P-101 and the raw-water disturbance)."""


@pytest.fixture(scope="module")
def settled() -> PlantModel:
    model = PlantModel(pump_station(), seed=3)
    model.warm_up()
    model.step(30_000)  # 5 min: controllers and levels away from their initial values
    return model


def test_fork_hash_equals_live_session_hash_at_the_fork_instant() -> None:
    scene = pump_station()
    world = build_world(scene)
    session = live_session(world, None)  # the viewer's model of the plant, as in a live view
    t = session.wall_ns
    for _ in range(30):
        t += 16_000_000
        session.frame(t)
    live = session.observer.model  # type: ignore[attr-defined]
    before = (live.state_hash(), state_hash(world, session.observer))
    fork = fork_model(live)
    assert fork.state_hash() == before[0]
    assert fork.time_ns == live.time_ns and fork.steps > 0
    # The fork runs ahead with a change; the live model and the session's hash do not move.
    apply_change(fork, Change("set", "P-101/run_cmd", 0.0))
    fork.step(500)
    assert fork.state_hash() != before[0]
    assert (live.state_hash(), state_hash(world, session.observer)) == before
    # Forked again and stepped alike, two forks stay equal step for step (deterministic).
    a, b = fork_model(live), fork_model(live)
    a.step(250)
    b.step(100)
    b.step(150)
    assert a.state_hash() == b.state_hash()


def test_changes_reach_the_fork_only(settled: PlantModel) -> None:
    fork = fork_model(settled)
    inflow = settled.state.tank.supply_m3_s.copy()
    apply_change(fork, Change("scale", "T-101/inflow_m3_h", 1.2))
    row = settled.row_of("T-101")[1]
    assert fork.state.tank.supply_m3_s[row] == pytest.approx(1.2 * inflow[row])
    assert settled.state.tank.supply_m3_s[row] == inflow[row]
    apply_change(fork, Change("fault", "P-101", fault="trip"))
    assert fork.read_point("P-101/tripped") == 1.0 and settled.read_point("P-101/tripped") == 0
    with pytest.raises(KeyError):
        apply_change(fork, Change("set", "P-999/run_cmd", 0.0))
    with pytest.raises(ValueError):
        apply_change(fork, Change("set", "T-101/level_m", 1.0))


def test_a_command_under_a_controller_in_auto_takes_it_to_manual(settled: PlantModel) -> None:
    changes, label = command_changes(settled, "P-101/run_cmd", 0.0)
    assert [c.target for c in changes] == ["UC-101/mode", "P-101/run_cmd"]
    assert label == "stopping P-101 (UC-101 to Manual)"
    changes, label = command_changes(settled, "FV-101/position_sp_pct", 30.0)
    assert [c.target for c in changes] == ["LIC-102/mode", "FV-101/position_sp_pct"]


@pytest.mark.parametrize("changes", [
    [Change("set", "UC-101/mode", 0.0), Change("set", "P-101/run_cmd", 0.0)],
    [Change("scale", "T-101/inflow_m3_h", 1.2)],
])
def test_coarse_forecast_step_tracks_the_plant_step(settled: PlantModel,
                                                    changes: list[Change]) -> None:
    points = ["T-101/level_m", "T-102/level_m"]
    fine = run_ahead(fork_model(settled), 7200, points=points, sample_s=60, changes=changes)
    coarse_model = fork_model(settled)
    coarsen(coarse_model, 50_000_000)
    coarse = run_ahead(coarse_model, 7200, points=points, sample_s=60, changes=changes)
    assert fine.values.shape == coarse.values.shape
    moved = np.abs(fine.values[-1] - fine.values[0]).max()
    assert moved > 0.1, "the change should move a level, or the comparison says nothing"
    assert np.abs(fine.values - coarse.values).max() < LEVEL_TOLERANCE_M


def test_forecast_names_the_alarms_it_would_raise(settled: PlantModel) -> None:
    defs, warnings = load_alarm_defs(settled.scene)
    assert defs and not warnings
    fork = fork_model(settled)
    h = fork.state_hash()
    changes, label = command_changes(fork, "FV-101/position_sp_pct", 30.0)
    result = forecast(fork, changes, defs, horizon_s=7200, label=label)
    assert result.fork_hash == h
    ids = [c.alarm.id for c in result.crossings]
    assert "T-102-LL" in ids and "T-101-HH" in ids
    ll = next(c for c in result.crossings if c.alarm.id == "T-102-LL")
    # At the crossing the clearwell level is at the limit (interpolated between samples).
    series = result.trajectory.series("LT-102/level_m")
    t = result.trajectory.t_s
    assert np.interp(ll.t_s - ll.alarm.on_delay_s, t, series) == pytest.approx(0.8, abs=0.02)
    assert result.first_severe() is not None
    assert [c.t_s for c in result.crossings] == sorted(c.t_s for c in result.crossings)


def test_crossings_respect_suppression_and_start_state() -> None:
    from runtime.sim.fork import Trajectory

    t = np.arange(5) * 10.0
    vals = np.array([[150.0, 1.0], [120.0, 1.0], [90.0, 1.0], [50.0, 0.0], [20.0, 0.0]])
    traj = Trajectory(["PT-101/pressure_kpa", "P-101/running"], t, vals)
    low = AlarmDef("PT-L", "PT-101/pressure_kpa", "low", 100.0, "Low")
    quiet = AlarmDef("PT-L2", "PT-101/pressure_kpa", "low", 100.0, "Low",
                     suppress=(("P-101/running", "==", 0.0),))
    already = AlarmDef("PT-H", "PT-101/pressure_kpa", "high", 140.0, "High")
    crossings, active = find_crossings(traj, [low, quiet, already])
    assert [(c.alarm.id, round(c.t_s, 1)) for c in crossings] == [("PT-L", 16.7), ("PT-L2", 16.7)]
    traj.values[2, 1] = 0.0  # P-101 stopped by the time the pressure is low: suppressed
    crossings, active = find_crossings(traj, [low, quiet, already])
    assert [c.alarm.id for c in crossings] == ["PT-L"] and active == [already]


def test_derived_limits_when_the_scene_has_no_alarms_file(scene_copy) -> None:  # noqa: ANN001
    from runtime.scene import load_scene

    (scene_copy / "alarms.yaml").unlink(missing_ok=True)
    scene = load_scene(scene_copy)
    defs, warnings = load_alarm_defs(scene)
    assert defs == derived_defs(scene) and not warnings
    by_id = {d.id: d for d in defs}
    assert by_id["T-101-LL"].limit == pytest.approx(0.8)  # the sequencer's dry-run level
    assert by_id["T-102-HH"].point == "LT-102/level_m" and by_id["P-101-TRIP"].type == "discrete"
    (scene_copy / "alarms.yaml").write_text("alarms:\n  - {id: X, point: NOPE/x, type: low, "
                                            "limit: 1}\n  - {id: Y, point: LT-101/level_m, "
                                            "type: low, limit: abc}\n")
    # A file that does not validate: the derived limits, and the located reason why.
    defs, warnings = load_alarm_defs(load_scene(scene_copy))
    assert defs == derived_defs(load_scene(scene_copy)) and len(warnings) == 1
    assert "alarms.yaml" in warnings[0] and "derived from the scene" in warnings[0]


def test_worker_runs_forecasts_off_the_calling_thread(settled: PlantModel) -> None:
    import threading

    from runtime.whatif.worker import ForecastJob, ForecastWorker

    worker = ForecastWorker()
    try:
        defs = derived_defs(settled.scene)
        seen: list[int] = []
        assert worker.thread.ident != threading.get_ident()
        fork = fork_model(settled)
        first = worker.submit(ForecastJob("k", fork, fork.state_hash(), [], defs, 48 * 3600))
        fork2 = fork_model(settled)
        second = worker.submit(ForecastJob("k", fork2, fork2.state_hash(), [], defs, 600))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and second not in seen:
            seen += [d.id for d in worker.poll()]
            time.sleep(0.01)
        assert second in seen
        assert first not in seen  # replaced (waiting) or cancelled (running) by the newer job
    finally:
        worker.close()
