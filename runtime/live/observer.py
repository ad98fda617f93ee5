"""The viewer's own model of the plant, kept close to the measurements (a simple observer).

Readings arrive at 5-10 Hz; the screen wants 60. The viewer therefore runs the numba plant model
(:class:`runtime.sim.plant_model.PlantModel`) at its fixed step and, once a frame before the
steps, nudges it toward the latest measurements:

- set points, commands and status bits (``run_cmd``, ``speed_sp_rpm``, ``running``, ``tripped``,
  controller modes) are written as measured: they are facts, not estimates;
- slow states (tank levels, valve positions, shaft speeds, winding temperatures) are blended
  toward the measurement with a first-order gain (time constant ``tau_s``), through the
  transmitter that measures them where there is one, so motion stays smooth between readings;
- algebraic values (flows, pressures, power) cannot be corrected directly; they follow from the
  corrected states and only their residual is kept.

Only the last *Good* value of a point ever reaches the model (``world.state.good_value``): a Bad
or stale point holds its last good value and is flagged in ``held`` (R3). ``residual`` (float64
(P,), NaN where there is none) is measurement minus model, per point column: the inspector shows
it and a large one is a health signal (a stuck sensor, a model that no longer fits).

:class:`SmoothingObserver` is the pluggable fallback when the scene cannot be simulated: a
fixed-step first-order smoother of the measurements with the same attributes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from runtime.clock import FixedClock
from runtime.quality import Quality
from runtime.scene.errors import SceneError
from runtime.world import World

log = logging.getLogger("twinstage.live.observer")

DEFAULT_TAU_S = 0.5
"""Blend time constant: a step change in a level reading shows fully in about 1.5 s."""

WRITE, BLEND = 1, 2

_BLEND_STATES = {("motor", "speed_rpm"), ("motor", "temperature_degc"),
                 ("valve", "position_pct"), ("tank", "level_m")}
"""Model columns that are integrated states the observer may pull toward a measurement."""
_STATUS_STATES = {("pump", "running"), ("pump", "tripped"), ("duty", "active")}
"""Computed status the plant reports as facts: overwritten by the measurement."""


class Observer(Protocol):
    """What the live viewer needs of an observer (model-based or a plain smoother)."""

    display: np.ndarray
    """float64 (P,): value to draw per point column, blended by the clock's alpha."""
    residual: np.ndarray
    """float64 (P,): last good measurement minus model; NaN where there is none."""
    held: np.ndarray
    """bool (P,): the point is not Good and its last good value is being held."""
    current: np.ndarray
    """float64 (P,): the model's value per point column after the last step (hashed)."""
    clock: FixedClock
    sim_time_ns: int

    def update(self, frame_dt_ns: int) -> int: ...

    def blend(self, alpha: float) -> None:
        """Redraw ``display`` between the last two steps at ``alpha`` (replay ticks)."""
        ...

    def anchor(self) -> None:
        """Start again from the measurements alone (after a seek): no blend, no history."""
        ...


@dataclass(slots=True)
class _Target:
    """One group of world columns that write or blend into one model column."""

    mode: int
    column: np.ndarray
    """The model state array written (a live view into the model's tables)."""
    rows: np.ndarray
    world_cols: np.ndarray
    scale: float
    """Model value * scale = point value in its unit."""
    volume: np.ndarray | None = None
    """Tanks: the volume array kept consistent with the level (volume = level * area)."""
    area_m2: np.ndarray | None = None
    filtered: np.ndarray | None = None
    """Transmitters: their lag state, moved with the source so the reading follows at once."""
    tx_rows: np.ndarray | None = None
    read: np.ndarray | None = None
    """The array the measured value is compared with (tx output, or ``column`` itself)."""
    read_rows: np.ndarray | None = None


class PlantObserver:
    """Runs ``model`` at the clock's fixed step and corrects it toward ``world``'s readings."""

    def __init__(self, world: World, model: object, *, clock: FixedClock | None = None,
                 tau_s: float = DEFAULT_TAU_S) -> None:
        self.world = world
        self.model = model
        self.clock = clock or FixedClock(step_ns=int(model.step_ns))  # type: ignore[attr-defined]
        self.tau_s = tau_s
        self.step_s = self.clock.step_ns / 1e9
        n = len(world.points)
        tx = model.model.tx  # type: ignore[attr-defined]
        tx.noise_std[:] = 0.0  # the viewer's estimate should be smooth, not a noisy instrument
        self._targets: list[_Target] = []
        self._reads: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []
        self._build(n)
        self.previous = np.full(n, np.nan)
        self.current = np.full(n, np.nan)
        self._read_into(self.current)
        self.previous[:] = self.current
        self.display = np.full(n, np.nan)
        self.residual = np.full(n, np.nan)
        self.held = np.zeros(n, dtype=bool)
        self.tracked = np.zeros(n, dtype=bool)
        """bool (P,): the model follows this point (written or blended), so the model's value
        is what to draw; elsewhere a served point draws its held measurement."""
        for t in self._targets:
            self.tracked[t.world_cols] = True
        served = world.points.poll_period_ns >= 0
        self._measured_only = served & ~self.tracked
        self.blend(0.0)

    # -- build ------------------------------------------------------------------------------

    def _array(self, table: str, column: str) -> np.ndarray:
        if table == "free":
            return self.model.free_values  # type: ignore[attr-defined]
        return getattr(getattr(self.model.state, table), column)  # type: ignore[attr-defined]

    def _build(self, n: int) -> None:
        model = self.model
        world = self.world
        scene = world.scene
        refs = model.points  # type: ignore[attr-defined]
        groups: dict[tuple, list[tuple[int, int, int]]] = {}
        reads: dict[tuple[str, str, float], list[tuple[int, int]]] = {}
        measures = {e.id: str(e.params.get("measures", "")) for e in scene.entities
                    if e.type == "transmitter"}
        served = world.points.poll_period_ns >= 0
        for j, pid in enumerate(world.points.ids):
            ref = refs.get(pid)
            if ref is None:
                continue
            reads.setdefault((ref.table, ref.column, ref.scale), []).append((j, ref.row))
            if not served[j]:
                continue  # nothing will ever be measured: the model alone says what it is
            key: tuple | None = None
            if ref.writable or (ref.table, ref.column) in _STATUS_STATES:
                key = (WRITE, ref.table, ref.column, ref.scale, None)
            elif ref.table == "tx":
                src = refs.get(measures.get(pid.split("/", 1)[0], ""))
                if src is not None and (src.table, src.column) in _BLEND_STATES:
                    key = (BLEND, src.table, src.column, src.scale, "tx")
                    groups.setdefault(key, []).append((j, src.row, ref.row))
                    continue
            elif (ref.table, ref.column) in _BLEND_STATES:
                key = (BLEND, ref.table, ref.column, ref.scale, None)
            if key is not None:
                groups.setdefault(key, []).append((j, ref.row, ref.row))
        for (mode, table, column, scale, via), items in groups.items():
            cols = np.array([i[0] for i in items], dtype=np.int64)
            rows = np.array([i[1] for i in items], dtype=np.int64)
            t = _Target(mode, self._array(table, column), rows, cols, float(scale))
            if table == "tank":
                t.volume = model.state.tank.volume_m3  # type: ignore[attr-defined]
                t.area_m2 = model.model.tank.area_m2[rows]  # type: ignore[attr-defined]
            if via == "tx":
                t.tx_rows = np.array([i[2] for i in items], dtype=np.int64)
                t.filtered = model.state.tx.filtered  # type: ignore[attr-defined]
                t.read, t.read_rows = model.state.tx.output, t.tx_rows  # type: ignore
            else:
                t.read, t.read_rows = t.column, rows
            self._targets.append(t)
        for (table, column, scale), items in reads.items():
            cols = np.array([i[0] for i in items], dtype=np.int64)
            rows = np.array([i[1] for i in items], dtype=np.int64)
            self._reads.append((self._array(table, column), rows, cols, float(scale)))

    # -- per frame --------------------------------------------------------------------------

    @property
    def sim_time_ns(self) -> int:
        return self.clock.sim_time_ns

    def update(self, frame_dt_ns: int) -> int:
        """Advance by one frame: correct, step the model, read it back, blend. Returns steps."""
        steps, alpha = self.clock.advance(frame_dt_ns)
        s = self.world.state
        self.held[:] = (s.quality != Quality.GOOD) & np.isfinite(s.good_value)
        if steps:
            self.correct(1.0 - math.exp(-steps * self.step_s / self.tau_s))
            self.model.step(steps)  # type: ignore[attr-defined]
            self.previous[:] = self.current
            self._read_into(self.current)
            target = s.good_value
            self.residual[:] = np.nan
            ok = np.isfinite(target)
            self.residual[ok] = target[ok] - self.current[ok]
        self.blend(alpha)
        return steps

    def correct(self, gain: float) -> None:
        """Pull the model toward the last good measurements (never a Bad value, R3)."""
        good = self.world.state.good_value
        for t in self._targets:
            meas = good[t.world_cols]
            ok = np.isfinite(meas)
            if not ok.all():
                if not ok.any():
                    continue
                meas = meas[ok]
                rows, read_rows = t.rows[ok], t.read_rows[ok]  # type: ignore[index]
                tx_rows = t.tx_rows[ok] if t.tx_rows is not None else None
                area = t.area_m2[ok] if t.area_m2 is not None else None
            else:
                rows, read_rows, tx_rows, area = t.rows, t.read_rows, t.tx_rows, t.area_m2
            value = meas / t.scale
            col = t.column
            if t.mode == WRITE:
                if col.dtype == np.uint8:
                    col[rows] = value >= 0.5
                elif col.dtype.kind in "iu":
                    col[rows] = np.rint(value)
                else:
                    col[rows] = value
                continue
            delta = gain * (value - t.read[read_rows])  # type: ignore[index]
            col[rows] += delta
            if t.volume is not None:
                np.maximum(col, 0.0, out=col)
                t.volume[rows] = col[rows] * area
            if t.filtered is not None:
                t.filtered[tx_rows] += delta

    def _read_into(self, out: np.ndarray) -> None:
        for arr, rows, cols, scale in self._reads:
            out[cols] = arr[rows] * scale

    def blend(self, alpha: float) -> None:
        d = self.display
        np.subtract(self.current, self.previous, out=d)
        d *= alpha
        d += self.previous
        m = self._measured_only
        good = self.world.state.good_value
        d[m] = np.where(np.isfinite(good[m]), good[m], d[m])

    def reset(self) -> None:
        """Forget blending (after a snapshot restore or a scene reload)."""
        self.clock.reset()
        self._read_into(self.current)
        self.previous[:] = self.current

    def anchor(self) -> None:
        """Pull the model fully onto the measurements, then forget blending (a seek)."""
        self.correct(1.0)
        self.reset()
        self.blend(0.0)


class SmoothingObserver:
    """Fallback without a plant model: a fixed-step first-order smoother of the measurements.

    Same attributes as :class:`PlantObserver`; the "model" is the smoothed value itself, so the
    residual is the measurement's distance from where the display has got to.
    """

    def __init__(self, world: World, *, clock: FixedClock | None = None,
                 tau_s: float = DEFAULT_TAU_S) -> None:
        self.world = world
        self.clock = clock or FixedClock()
        self.tau_s = tau_s
        n = len(world.points)
        self.previous = np.full(n, np.nan)
        self.current = np.full(n, np.nan)
        self.display = np.full(n, np.nan)
        self.residual = np.full(n, np.nan)
        self.held = np.zeros(n, dtype=bool)
        self.tracked = np.zeros(n, dtype=bool)

    @property
    def sim_time_ns(self) -> int:
        return self.clock.sim_time_ns

    def update(self, frame_dt_ns: int) -> int:
        steps, alpha = self.clock.advance(frame_dt_ns)
        s = self.world.state
        self.held[:] = (s.quality != Quality.GOOD) & np.isfinite(s.good_value)
        target = s.good_value
        if steps:
            self.previous[:] = self.current
            g = 1.0 - math.exp(-steps * self.clock.step_ns / 1e9 / self.tau_s)
            fresh = np.isnan(self.current)
            self.current[fresh] = target[fresh]
            self.current += g * (np.where(np.isfinite(target), target, self.current)
                                 - self.current)
            self.residual[:] = target - self.current
            self.previous[fresh] = self.current[fresh]
        self.blend(alpha)
        return steps

    def reset(self) -> None:
        self.clock.reset()
        self.previous[:] = self.current

    def blend(self, alpha: float) -> None:
        np.subtract(self.current, self.previous, out=self.display)
        self.display *= alpha
        self.display += self.previous

    def anchor(self) -> None:
        """Start from the measurements alone (a seek)."""
        self.current[:] = self.world.state.good_value
        self.reset()
        self.blend(0.0)


def make_observer(world: World, *, clock: FixedClock | None = None,
                  tau_s: float = DEFAULT_TAU_S,
                  whole_frame_ns: int | None = None) -> PlantObserver | SmoothingObserver:
    """The plant-model observer when the scene can be simulated, else the smoother (logged).

    ``whole_frame_ns``: the observer must simulate an update of this length whole, with no
    cap dropping time (replay ticks); by default a frame is capped as the live view wants.
    """
    from runtime.sim.plant_model import PlantModel  # an import error is a bug: let it show

    def whole_clock(step_ns: int) -> FixedClock | None:
        if clock is not None or whole_frame_ns is None:
            return clock
        return FixedClock(step_ns=step_ns, max_frame_ns=whole_frame_ns,
                          max_steps_per_frame=max(1, whole_frame_ns // step_ns))

    try:
        model = PlantModel(world.scene)
        model.warm_up()  # compile now, not in the first frame of the live loop
    except (SceneError, ValueError) as exc:  # a scene the plant cannot model: live view anyway
        log.warning("viewer simulation unavailable (%s); smoothing measurements instead", exc)
        return SmoothingObserver(world, clock=whole_clock(FixedClock().step_ns), tau_s=tau_s)
    use = whole_clock(model.step_ns) or FixedClock(step_ns=model.step_ns)
    return PlantObserver(world, model, clock=use, tau_s=tau_s)
