"""Pump KPIs from a real plant model's instruments: efficiency against the curve, specific
energy, starts; the degradation trend's maintenance date from a falling efficiency series."""

from __future__ import annotations

import math

import pytest
from plant_fixtures import pump_station

from runtime.analytics.kpis import KpiEngine, Trend, crossing_in_s, discover, kpi_lines
from runtime.sim.plant_model import PlantModel


def test_instruments_found_from_the_topology() -> None:
    found = {i.pump: i for i in discover(pump_station())}
    p = found["P-101"]
    assert (p.motor, p.flow_point, p.discharge_point, p.suction_level_point) == (
        "M-101", "FT-101/flow_m3_h", "PT-101/pressure_kpa", "LT-101/level_m")
    assert set(p.pumps_on_meter) == {"P-101", "P-102"}


def test_kpis_of_a_healthy_running_plant_and_a_pump_start() -> None:
    scene = pump_station()
    plant = PlantModel(scene, seed=2)
    plant.warm_up()
    plant.step(30_000)
    kpis = KpiEngine(scene)

    def sample(t: float) -> None:
        kpis.update({p: plant.read_point(p) for p in kpis.points()}, t)

    for k in range(60):
        plant.step(100)
        sample(float(k))
    p101 = kpis.pumps["P-101"]
    # A healthy pump reads its curve within the pipe losses between pump and transmitter.
    assert 90.0 < p101.of_curve_pct < 105.0
    assert 55.0 < p101.efficiency_pct < 80.0
    assert p101.run_hours_h > 0 and p101.starts == 0
    flow = plant.read_point("FT-101/flow_m3_h")
    power = plant.read_point("M-101/power_kw") + plant.read_point("M-102/power_kw")
    assert kpis.specific_energy_kwh_m3 == pytest.approx(power / flow, rel=0.05)
    assert math.isnan(kpis.pumps["P-102"].efficiency_pct)
    # P-101 trips, the sequencer starts P-102: one start counted for P-102.
    plant.trip_pump("P-101")
    for k in range(60, 120):
        plant.step(100)
        sample(float(k))
    assert kpis.pumps["P-102"].starts == 1 and kpis.pumps["P-101"].starts == 0
    readings = kpis.readings()
    assert readings["P-102/starts"] == 1.0 and "plant/specific_energy_kwh_m3" in readings
    assert any(line.startswith("Efficiency") for line in kpi_lines(kpis.pumps["P-102"]))


def test_falling_efficiency_gives_a_maintenance_date() -> None:
    trend = Trend()
    day = 86400.0
    # 98 % of curve falling 0.5 %/day, sampled hourly for 10 days, with +-0.3 % noise.
    for h in range(240):
        noise = 0.3 * math.sin(h * 1.7)
        trend.add(h * 3600.0, 98.0 - 0.5 * h / 24 + noise)
    left = crossing_in_s(trend, 90.0)
    assert left is not None
    # At day 10 the line is at 93 %: 3 more points at 0.5 %/day is 6 days.
    assert left / day == pytest.approx(6.0, abs=0.3)
    flat = Trend()
    for h in range(240):
        flat.add(h * 3600.0, 97.0 + 0.3 * math.sin(h * 1.7))
    assert crossing_in_s(flat, 90.0) is None
