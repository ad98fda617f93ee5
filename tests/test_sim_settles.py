"""The pump station left alone for two simulated hours: settles, trips nothing, and the fast
network solve stays on the bracketed solve's answer."""

from __future__ import annotations

import numpy as np
import pytest
from plant_fixtures import pump_station

from runtime.sim.plant_model import PlantModel
from runtime.sim.step import plant_init

TWO_HOURS = 2 * 360_000


@pytest.fixture(scope="module")
def settled() -> PlantModel:
    m = PlantModel(pump_station(), seed=4)
    m.step(TWO_HOURS)
    return m


def test_clearwell_settles_near_its_set_point(settled: PlantModel) -> None:
    assert settled.read_point("T-102/level_m") == pytest.approx(3.0, abs=0.05)
    assert settled.read_point("FV-101/flow_m3_h") == pytest.approx(170.0, rel=0.05)
    assert settled.read_point("P-101/speed_rpm") == pytest.approx(1480.0, rel=1e-3)


def test_nothing_trips_or_fails(settled: PlantModel) -> None:
    s = settled.state
    assert not s.pump.tripped.any() and not s.pump.trip_reason.any()
    assert settled.read_point("P-101/running") == 1 and settled.read_point("P-102/running") == 0
    assert s.duty.lockout[0] == 0
    assert s.net.stats[1] == 0  # no solve failed
    for a in (s.tank.volume_m3, s.net.node_head_m, s.net.branch_flow_m3_s, s.tx.output):
        assert np.isfinite(a).all()


def test_two_hours_close_the_mass_balance(settled: PlantModel) -> None:
    m = PlantModel(pump_station(), seed=4)
    v0 = m.total_volume_m3()
    t = settled.state.tank
    ledger = float((t.cum_in_m3 - t.cum_out_m3).sum())
    throughput = float(t.cum_in_m3.sum() + t.cum_out_m3.sum())
    assert abs(settled.total_volume_m3() - v0 - ledger) <= 1e-9 * throughput


def test_fast_solve_agrees_with_the_bracketed_solve(settled: PlantModel) -> None:
    """Re-solve the settled state with the bracketed method alone: same flows to 1e-6 m3/s
    (the fast path's stopping tolerance) and heads to a millimetre."""
    m = PlantModel(pump_station(), seed=4)
    m.restore(settled.snapshot())
    q_fast = m.state.net.branch_flow_m3_s.copy()
    h_fast = m.state.net.node_head_m.copy()
    plant_init(m.model, m.state)  # bracketed solve from the same state
    np.testing.assert_allclose(m.state.net.branch_flow_m3_s, q_fast, rtol=0, atol=1e-6)
    np.testing.assert_allclose(m.state.net.node_head_m, h_fast, rtol=0, atol=1e-3)


def test_pump_start_and_trip_transients_stay_consistent() -> None:
    """Kinks (check valves opening and closing) send steps to the bracketed fallback; the run
    stays finite, conserves mass and ends where the plant should be."""
    m = PlantModel(pump_station(), seed=0)
    v0 = m.total_volume_m3()
    m.step(3000)
    m.trip_pump("P-101")  # standby takes over: one check valve closes, the other opens
    m.step(6000)
    assert m.read_point("P-102/running") == 1 and m.read_point("P-102/flow_m3_h") > 100.0
    assert abs(m.read_point("P-101/flow_m3_h")) < 1.0
    t = m.state.tank
    ledger = float((t.cum_in_m3 - t.cum_out_m3).sum())
    throughput = float(t.cum_in_m3.sum() + t.cum_out_m3.sum())
    assert abs(m.total_volume_m3() - v0 - ledger) <= 1e-9 * throughput
    assert m.state.net.stats[1] == 0
