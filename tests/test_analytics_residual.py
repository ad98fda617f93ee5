"""Residual anomaly detection against a real plant model run in-process faster than real time.

Stated bounds (default suite, plant and monitor at a 50 ms step to keep it fast; the soak test
repeats it at the plant's own 10 ms step):
- a drift of 0.001 m/s (3.6 m/h) on LT-101 is flagged within DRIFT_BOUND_S of its start;
- over 2 simulated hours of normal operation, seeds 0-9, nothing is flagged.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from plant_fixtures import pump_station

from runtime.analytics.cusum import Cusum
from runtime.analytics.residual import ResidualMonitor
from runtime.quality import Quality, Reason
from runtime.sim.fork import coarsen
from runtime.sim.plant_model import PlantModel
from runtime.whatif.snapshot import world_for

DRIFT_RATE = 0.001
DRIFT_BOUND_S = 180.0
SAMPLE_S = 1.0
LONG_SAMPLE_S = 5.0
"""The 2-hour runs of the default suite read the plant every 5 s (the monitor's sample too)."""


class Bench:
    """A plant (the truth, noisy instruments) feeding a world as an adapter would, and the
    residual monitor on that world."""

    def __init__(self, seed: int, step_ns: int, sample_s: float = SAMPLE_S) -> None:
        scene = pump_station()
        self.plant = PlantModel(scene, seed=seed)
        self.plant.warm_up()
        self.plant.step(30_000)
        if step_ns != self.plant.step_ns:
            coarsen(self.plant, step_ns)
        self.world = world_for(scene)
        self.cols = np.flatnonzero(self.world.points.poll_period_ns >= 0)
        self.refs = [self.plant.point_ref(self.world.points.ids[c]) for c in self.cols]
        self.feed()
        model = PlantModel(scene)
        if step_ns != model.step_ns:
            coarsen(model, step_ns)
        self.monitor = ResidualMonitor(self.world, model=model, sample_s=sample_s)
        self.sample_s = sample_s
        self.steps = int(sample_s * 1e9 / step_ns)

    def feed(self) -> None:
        vals = np.array([self.plant._column(r)[r.row] * r.scale for r in self.refs])  # noqa: SLF001
        n = len(self.cols)
        self.world.write(self.cols, vals, np.full(n, Quality.GOOD, np.uint8),
                         np.full(n, Reason.NONE, np.uint8), np.zeros(n, np.int64), 0)

    def run(self, seconds: float, *, drift_at_s: float | None = None) -> list:
        flags = []
        dt = self.sample_s
        for k in range(int(seconds / dt)):
            if drift_at_s is not None and k * dt == drift_at_s:
                self.plant.set_sensor_drift("LT-101", DRIFT_RATE)
            self.plant.step(self.steps)
            self.feed()
            flags += [(k * dt, d) for d in self.monitor.update(int(dt * 1e9))]
        return flags


def test_drift_on_lt101_is_flagged_within_the_bound() -> None:
    bench = Bench(seed=0, step_ns=50_000_000)
    start = 300.0
    flags = bench.run(start + DRIFT_BOUND_S + 60, drift_at_s=start)
    assert flags, "the drift was never flagged"
    t, first = flags[0]
    assert first.point == "LT-101/level_m", flags
    assert start < t <= start + DRIFT_BOUND_S
    assert first.direction == "reads high" and first.residual > 0
    assert "model disagrees with LT-101" in first.text()
    event = first.event(123)
    assert event["kind"] == "model_disagreement" and event["asset"] == "LT-101"


@pytest.mark.parametrize("seed", range(10))
def test_no_false_flags_over_two_hours(seed: int) -> None:
    bench = Bench(seed=seed, step_ns=50_000_000, sample_s=LONG_SAMPLE_S)
    flags = bench.run(7200.0)
    assert flags == []
    # And the margin: no sum came within half of the threshold.
    assert bench.monitor.cusum.peak.max() < 0.5 * bench.monitor.cusum.h


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(10))
def test_soak_at_the_plant_step(seed: int) -> None:
    bench = Bench(seed=seed, step_ns=10_000_000)
    assert bench.run(7200.0) == []
    bench = Bench(seed=seed, step_ns=10_000_000)
    flags = bench.run(300 + DRIFT_BOUND_S, drift_at_s=300.0)
    assert flags and flags[0][1].point == "LT-101/level_m"


def test_cusum_flags_a_shift_not_noise() -> None:
    rng = np.random.default_rng(1)
    c = Cusum(2, k=1.0, h=12.0)
    flagged_at = [math.nan, math.nan]
    for t in range(5000):
        z = rng.standard_normal(2)
        z[1] += 2.0 if t >= 1000 else 0.0
        for i in c.update(z, float(t)):
            flagged_at[i] = t
    assert math.isnan(flagged_at[0])
    assert 1000 < flagged_at[1] < 1040  # h / (shift - k) = 12 samples expected
    c.clear(1)
    assert not c.flagged[1]
