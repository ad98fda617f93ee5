"""Plant physics: mass balance, affinity laws, valve characteristic, determinism, trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from plant_fixtures import pump_station, with_params

from runtime.sim.kernels_pump import pump_head_m
from runtime.sim.kernels_valve import exp_nonpositive, valve_opening
from runtime.sim.plant_model import PlantModel
from runtime.sim.tables import TRIP_DRY_RUN, TRIP_EXTERNAL, TRIP_OVERTEMPERATURE


@pytest.fixture(scope="module")
def scene():
    return pump_station()


def test_mass_balance_closes_over_10000_steps(scene) -> None:
    m = PlantModel(scene, seed=3)
    v0 = m.state.tank.volume_m3.copy()
    m.write_point("LIC-102/setpoint_m", 4.0)  # keep flows moving
    m.step(10_000)
    t = m.state.tank
    change = t.volume_m3 - v0
    ledger = t.cum_in_m3 - t.cum_out_m3
    plant_change = float(change.sum())
    plant_ledger = float(ledger.sum())
    # Whole plant: what came in minus what went out equals the change of stored volume.
    throughput = float(t.cum_in_m3.sum() + t.cum_out_m3.sum())
    assert abs(plant_change - plant_ledger) <= 1e-9 * throughput
    # Per tank, the network's flows are the rest of the ledger: they cancel across the plant.
    assert m.state.net.stats[1] == 0  # no network solve failed


def test_mass_balance_with_overflow(scene) -> None:
    s = with_params(scene, {"T-101": {"initial_level_m": 5.59, "inflow_m3_h": 900.0}})
    m = PlantModel(s, seed=0)
    v0 = m.total_volume_m3()
    m.step(10_000)
    t = m.state.tank
    assert t.overflow_m3_s[0] > 0.0
    ledger = float((t.cum_in_m3 - t.cum_out_m3).sum())
    throughput = float(t.cum_in_m3.sum() + t.cum_out_m3.sum())
    assert abs(m.total_volume_m3() - v0 - ledger) <= 1e-9 * throughput


def test_affinity_laws() -> None:
    h0, b = 42.0, 2073.6
    q_rated = 250.0 / 3600.0
    for s in (0.5, 0.8, 1.0):
        # Q scales with speed, H with speed squared, at corresponding points of the curve.
        assert pump_head_m(s * q_rated, s, h0, b) == pytest.approx(s * s * pump_head_m(q_rated, 1.0,
                                                                                       h0, b))
    assert pump_head_m(q_rated, 1.0, h0, b) == pytest.approx(32.0, rel=1e-3)
    assert pump_head_m(0.0, 1.0, h0, b) == 42.0


def test_pump_flow_follows_speed_in_the_plant(scene) -> None:
    """Against a fixed system curve, less speed gives less flow, and no flow when stopped."""
    m = PlantModel(scene, seed=0)
    m.write_point("LIC-102/mode", 0)
    m.step(3000)
    q_full = m.read_point("P-101/flow_m3_h")
    m.write_point("P-101/speed_sp_rpm", 1100)
    m.step(3000)
    assert m.read_point("P-101/speed_rpm") == pytest.approx(1100, rel=1e-3)
    q_slow = m.read_point("P-101/flow_m3_h")
    assert 0 < q_slow < q_full
    power_slow = m.read_point("M-101/power_kw")
    m.write_point("UC-101/mode", 0)
    m.write_point("P-101/run_cmd", 0)
    m.step(1)
    assert m.read_point("P-101/running") == 0
    m.step(6000)
    assert m.read_point("P-101/speed_rpm") < 100  # coasted down
    assert m.read_point("M-101/power_kw") == 0.0 < power_slow


def test_spin_up_takes_time(scene) -> None:
    m = PlantModel(scene, seed=0)
    m.write_point("UC-101/mode", 0)
    m.write_point("P-102/run_cmd", 1)
    m.step(10)  # 0.1 s
    early = m.read_point("P-102/speed_rpm")
    m.step(500)
    assert 0 < early < 1000
    assert m.read_point("P-102/speed_rpm") == pytest.approx(1480, rel=1e-3)


@pytest.mark.parametrize("x", [0.2, 0.4, 0.6, 0.8])
def test_valve_characteristics(x: float) -> None:
    assert valve_opening(100 * x, 0, 50.0) == pytest.approx(x)
    r = 50.0
    eq = valve_opening(100 * x, 1, r)
    ideal = r ** (x - 1.0)
    assert eq == pytest.approx(ideal)
    # Equal percentage: each 10 % of travel multiplies the flow by R^0.1.
    assert valve_opening(100 * x + 10, 1, r) / eq == pytest.approx(r**0.1)
    assert 0 < valve_opening(2.0, 1, r) < valve_opening(5.0, 1, r)


def test_valve_exp_meets_its_stated_bound() -> None:
    """The valve characteristic's polynomial exp (Estrin's scheme, compiled as the kernels
    use it) against math.exp: < 3e-10 relative over its whole domain (-14..0), < 2e-14 over
    the -ln 50..0 of a valve with rangeability 50."""
    for lo, bound in ((-14.0, 3e-10), (-math.log(50.0), 2e-14)):
        worst = max(abs(exp_nonpositive(float(t)) / math.exp(t) - 1.0)
                    for t in np.linspace(lo, 0.0, 4001))
        assert worst < bound


def test_valve_ends() -> None:
    for kind in (0, 1):
        assert valve_opening(0.0, kind, 50.0) == 0.0
        assert valve_opening(100.0, kind, 50.0) == pytest.approx(1.0)


def test_valve_travel_rate(scene) -> None:
    m = PlantModel(scene, seed=0)
    m.write_point("LIC-102/mode", 0)
    m.write_point("FV-101/position_sp_pct", 90.0)
    m.step(500)  # 5 s at 100 % / 20 s
    assert m.read_point("FV-101/position_pct") == pytest.approx(40.0 + 25.0, abs=0.01)


def test_determinism_same_seed_same_hash(scene) -> None:
    a = PlantModel(scene, seed=7)
    b = PlantModel(scene, seed=7)
    c = PlantModel(scene, seed=8)
    for m in (a, b, c):
        m.step(2000)
        m.write_point("LIC-102/setpoint_m", 3.5)
        m.step(2000)
    assert a.state_hash() == b.state_hash()
    assert a.state_hash() != c.state_hash()


def test_snapshot_restore_replays_identically(scene) -> None:
    m = PlantModel(scene, seed=1)
    m.step(500)
    snap = m.snapshot()
    m.step(1000)
    h1 = m.state_hash()
    m.restore(snap)
    m.step(1000)
    assert m.state_hash() == h1


def test_left_alone_holds_the_clearwell(scene) -> None:
    m = PlantModel(scene, seed=2)
    m.step(360_000 * 2)  # two hours
    assert m.read_point("T-102/level_m") == pytest.approx(3.0, abs=0.05)
    assert 0.8 < m.read_point("T-101/level_m") < 5.7
    assert m.read_point("P-101/running") == 1 and m.read_point("P-102/running") == 0
    assert m.read_point("FV-101/flow_m3_h") == pytest.approx(170.0, rel=0.05)
    assert np.isfinite(m.read_point("PT-101/pressure_kpa"))


def test_overtemperature_trips_and_standby_takes_over(scene) -> None:
    s = with_params(scene, {"M-101": {"trip_temperature_degc": 35.0}})
    m = PlantModel(s, seed=0)
    m.step(100 * 600)
    assert m.read_point("P-101/tripped") == 1
    assert m.state.pump.trip_reason[0] == TRIP_OVERTEMPERATURE
    assert m.read_point("UC-101/duty_pump") == 1
    assert m.read_point("P-102/running") == 1
    assert m.read_point("P-102/speed_rpm") > 1400


def test_dry_run_trips(scene) -> None:
    s = with_params(scene, {"T-101": {"initial_level_m": 0.05, "inflow_m3_h": 0.0}})
    m = PlantModel(s, seed=0)
    m.write_point("UC-101/mode", 0)  # no low-level protection from the sequencer
    m.step(100 * 120)
    assert m.read_point("P-101/tripped") == 1
    assert m.state.pump.trip_reason[0] == TRIP_DRY_RUN
    assert m.read_point("T-101/volume_m3") > -0.01  # it never drew water it did not have


def test_sequencer_stops_pumps_on_low_suction(scene) -> None:
    s = with_params(scene, {"T-101": {"initial_level_m": 0.9, "inflow_m3_h": 0.0}})
    m = PlantModel(s, seed=0)
    m.step(100 * 600)
    assert m.state.duty.lockout[0] == 1
    assert m.read_point("P-101/running") == 0 and m.read_point("P-101/tripped") == 0


def test_trip_fault_latches_until_reset(scene) -> None:
    m = PlantModel(scene, seed=0)
    m.write_point("UC-101/mode", 0)
    m.trip_pump("P-101")
    m.step(1000)
    assert m.read_point("P-101/tripped") == 1 and m.state.pump.trip_reason[0] == TRIP_EXTERNAL
    assert m.read_point("P-101/speed_rpm") < 1000
    m.write_point("P-101/reset_cmd", 1)
    m.step(1000)
    assert m.read_point("P-101/tripped") == 0
    assert m.read_point("P-101/speed_rpm") == pytest.approx(1480, rel=1e-3)


def test_sensor_faults(scene) -> None:
    m = PlantModel(scene, seed=0)
    m.step(100)
    m.set_sensor_frozen("PT-101", True)
    frozen = m.read_point("PT-101/pressure_kpa")
    m.step(500)
    assert m.read_point("PT-101/pressure_kpa") == frozen
    m.set_sensor_frozen("PT-101", False)
    m.step(10)
    assert m.read_point("PT-101/pressure_kpa") != frozen
    before = m.read_point("LT-101/level_m")
    m.set_sensor_drift("LT-101", 0.01)
    m.step(6000)  # 60 s -> +0.6 m of drift, far above the tank's own change
    assert m.read_point("LT-101/level_m") - m.read_point("T-101/level_m") == pytest.approx(
        0.6, abs=0.05)
    assert m.read_point("LT-101/level_m") > before


def test_stuck_valve_ignores_set_point(scene) -> None:
    m = PlantModel(scene, seed=0)
    m.write_point("LIC-102/mode", 0)
    m.set_valve_stuck("FV-101", True)
    m.write_point("FV-101/position_sp_pct", 90.0)
    m.step(500)
    assert m.read_point("FV-101/position_pct") == 40.0


def test_noise_is_seeded_and_bounded(scene) -> None:
    m = PlantModel(scene, seed=5)
    values = []
    row = m.row_of("FT-101")[1]
    for _ in range(400):
        m.step(1)
        values.append(m.read_point("FT-101/flow_m3_h") - m.state.tx.filtered[row])
    sd = float(np.std(values))
    assert 1.0 < sd < 2.0  # noise_std 1.5 m3/h
    assert all(math.isfinite(v) for v in values)


def test_points_reject_bad_writes(scene) -> None:
    m = PlantModel(scene, seed=0)
    with pytest.raises(ValueError):
        m.write_point("T-101/level_m", 1.0)
    with pytest.raises(ValueError):
        m.write_point("P-101/speed_sp_rpm", float("nan"))
    with pytest.raises(KeyError):
        m.read_point("X-1/nothing")


def test_run_hours_count_while_a_pump_runs(scene) -> None:  # noqa: ANN001
    m = PlantModel(scene, seed=0)
    m.step(round(90.0 / (m.step_ns / 1e9)))  # 90 s
    duty, standby = m.read_point("P-101/run_hours_h"), m.read_point("P-102/run_hours_h")
    assert m.read_point("P-101/running") == 1.0 and m.read_point("P-102/running") == 0.0
    assert abs(duty - 90.0 / 3600.0) < 1e-6 and standby == 0.0
