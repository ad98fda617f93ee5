"""Model-versus-measurement residuals per measured point, and the "model disagrees" flags.

An independent copy of the plant model runs beside the plant (not the viewer's model, which is
pulled onto every measurement within a second and so would follow a drifting sensor): facts
(commands, set points, run status) are written as measured, and its slow states are corrected
toward the measurements with a long time constant (``tau_s``, default 300 s). A healthy
instrument then reads what the model predicts within its noise and the model's error; a
drifting one runs away from the model (a ramp of ``r`` per second leaves a residual of about
``r * tau_s``), and the CUSUM (:mod:`runtime.analytics.cusum`) flags it.

``sigma`` per point = sqrt(noise_std^2 + floor^2), noise_std from the scene's transmitter and
``floor`` = ``FLOOR_FRACTION`` of the instrument's range (the model error a healthy plant shows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runtime.analytics.cusum import DEFAULT_H, DEFAULT_K, Cusum
from runtime.clock import FixedClock
from runtime.live.observer import PlantObserver
from runtime.sim.plant_model import PlantModel
from runtime.world import World

DEFAULT_TAU_S = 300.0
FLOOR_FRACTION = 0.004
"""Model error allowed per instrument, as a fraction of its range (0.024 m on a 0-6 m level)."""
SAMPLE_S = 1.0


@dataclass(frozen=True, slots=True)
class Disagreement:
    """The model disagrees with ``point``'s instrument (a drift, a stuck sensor, a leak...)."""

    point: str
    entity: str
    t_s: float
    """Model time of the flag, seconds since the monitor started."""
    residual: float
    """Measurement minus model at the flag, in the point's unit."""
    sigma: float
    direction: str
    """``reads high`` or ``reads low`` (against the model)."""

    def text(self) -> str:
        return (f"model disagrees with {self.entity}: it {self.direction} by "
                f"{abs(self.residual):.3g} ({abs(self.residual) / self.sigma:.1f} sigma)")

    def event(self, t_ns: int) -> dict:
        return {"kind": "model_disagreement", "point": self.point, "asset": self.entity,
                "residual": self.residual, "sigma": self.sigma, "direction": self.direction,
                "t_ns": t_ns, "message": self.text()}


def detector_points(world: World) -> tuple[list[str], np.ndarray]:
    """Served transmitter outputs (the instruments) and their sigma."""
    scene = world.scene
    served = world.points.poll_period_ns >= 0
    points: list[str] = []
    sigma: list[float] = []
    for e in scene.entities:
        if e.type != "transmitter":
            continue
        for p in e.points:
            c = world.point_column.get(p.id)
            if c is None or not served[c]:
                continue
            lo, hi = e.params.get("range", [0.0, 0.0])
            span = float(hi) - float(lo)
            noise = float(e.params.get("noise_std", 0.0))
            floor = FLOOR_FRACTION * span if span > 0 else max(noise, 1e-6)
            points.append(p.id)
            sigma.append(math.hypot(noise, floor))
    return points, np.asarray(sigma)


"""Actuators and drives (valve travel, shaft speed, winding temperature) are inputs to the
residual model: taken as measured at every update."""
WARMUP_S = 120.0
"""After a start or re-anchor the sums stay at zero this long (the model settles first)."""


class _InputOutputObserver(PlantObserver):
    """Corrects actuator states fast (they are the model's inputs) and tank levels slowly
    (they are what the residuals test)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        levels = self.model.state.tank.level_m  # type: ignore[attr-defined]
        self._slow = [t for t in self._targets if t.column is levels]
        self._fast = [t for t in self._targets if t.column is not levels]
        # A controller whose output is measured is an input too: its model copy outputs what
        # the plant's does (no gain of its own; the integral follows the measured output).
        model = self.model
        served = self.world.points.poll_period_ns >= 0
        rows = []
        for e in self.world.scene.entities:
            where = model.compiled.index.get(e.id)  # type: ignore[attr-defined]
            if where is None or where[0] != "pid":
                continue
            outs = [p.id for p in e.points if p.name.startswith("output")]
            if any(served[self.world.point_column[p]] for p in outs
                   if p in self.world.point_column):
                rows.append(where[1])
        self._pid_rows = np.array(rows, dtype=np.int64)
        model.model.pid.kp[self._pid_rows] = 0.0  # type: ignore[attr-defined]
        # A valve whose travel is measured stays where the measurement puts it.
        for p in self.world.scene.points:
            if p.name == "position_pct" and p.id in self.world.point_column \
                    and served[self.world.point_column[p.id]]:
                where = model.compiled.index.get(p.entity_id)  # type: ignore[attr-defined]
                if where is not None and where[0] == "valve":
                    model.model.valve.rate_pct_s[where[1]] = 0.0  # type: ignore[attr-defined]

    def correct(self, gain: float) -> None:
        all_targets = self._targets
        try:
            self._targets = self._fast
            super().correct(1.0)  # measured inputs: taken as they are
            self._targets = self._slow
            super().correct(gain)
        finally:
            self._targets = all_targets
        pid = self.model.state.pid  # type: ignore[attr-defined]
        pid.integral[self._pid_rows] = pid.output[self._pid_rows]


class ResidualMonitor:
    """Runs its own model beside the world's measurements; :meth:`update` once a frame/tick."""

    def __init__(self, world: World, *, tau_s: float = DEFAULT_TAU_S, sample_s: float = SAMPLE_S,
                 k: float = DEFAULT_K, h: float = DEFAULT_H, model: PlantModel | None = None,
                 warmup_s: float = WARMUP_S) -> None:
        self.world = world
        self.model = model or PlantModel(world.scene)
        self.model.warm_up()
        # Whole updates: an analytics tick may be seconds long (no frame cap dropping time).
        clock = FixedClock(step_ns=self.model.step_ns, max_frame_ns=1 << 62,
                           max_steps_per_frame=1 << 40)
        self.observer = _InputOutputObserver(world, self.model, clock=clock, tau_s=tau_s)
        self.sample_ns = int(sample_s * 1e9)
        self.points, self.sigma = detector_points(world)
        self.cols = np.array([world.point_column[p] for p in self.points], dtype=np.int64)
        self.cusum = Cusum(len(self.points), k=k, h=h)
        self.residual = np.full(len(self.points), np.nan)
        self.t_ns = 0
        self._acc_ns = 0
        self.flags: list[Disagreement] = []
        self._started = False
        self.warmup_ns = int(warmup_s * 1e9)
        self._armed_ns = 0

    def update(self, dt_ns: int) -> list[Disagreement]:
        """Advance the model ``dt_ns``; every ``sample_s`` compare and return new flags."""
        if not self._started:
            self.observer.anchor()
            self._started = True
        self.observer.update(dt_ns)
        self.t_ns += dt_ns
        self._acc_ns += dt_ns
        new: list[Disagreement] = []
        while self._acc_ns >= self.sample_ns:
            self._acc_ns -= self.sample_ns
            new += self._sample()
        return new

    def _sample(self) -> list[Disagreement]:
        good = self.world.state.good_value[self.cols]
        ok = np.isfinite(good) & ~self.observer.held[self.cols]
        res = np.where(ok, good - self.observer.current[self.cols], np.nan)
        self.residual = res
        t_s = self.t_ns / 1e9
        if self.t_ns - self._armed_ns < self.warmup_ns:
            return []
        out = []
        for i in self.cusum.update(res / self.sigma, t_s):
            p = self.points[i]
            d = Disagreement(p, p.split("/", 1)[0], t_s, float(res[i]), float(self.sigma[i]),
                             "reads high" if self.cusum.direction(i) > 0 else "reads low")
            out.append(d)
            self.flags.append(d)
        return out

    def flagged(self, point: str) -> bool:
        return point in self.points and bool(self.cusum.flagged[self.points.index(point)])

    def clear(self, point: str) -> None:
        """Re-arm a point (after the instrument is fixed); its model state is re-anchored."""
        self.cusum.clear(self.points.index(point))
        self.observer.anchor()
        self._armed_ns = self.t_ns
