"""Fork the plant model: an exact copy of a live model's state, changed and run ahead.

The what-if twin never touches the model the viewer draws. :func:`fork_model` copies a
:class:`~runtime.sim.plant_model.PlantModel` (static tables *and* state, so the observer's
choices such as instrument noise switched off travel with it); at the fork instant the copy's
:meth:`~runtime.sim.plant_model.PlantModel.state_hash` equals the original's. Changes a user
asks for (:class:`Change`: a command or set point, a disturbance such as raw-water inflow
+20 %, a fault) are applied to the copy only, then :func:`run_ahead` steps it in chunks.

``plant_steps_nogil`` is the plant step compiled once more with ``nogil=True`` (a wrapper here;
the kernels themselves are unchanged): a forecast worker thread then runs on another core while
the render thread keeps drawing, instead of holding the interpreter lock for a whole chunk.

``coarsen`` (optional) lengthens the fork's fixed step (default 10 ms -> 50 ms) for long
horizons: the copy's instrument lags are recomputed for the new step, everything else in the
plant reads its step length from the state. The coarse fork is no longer hash-equal to the live
model (its clock differs) but tracks it within the tolerance the tests state.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from runtime.sim import tables as T  # noqa: N812
from runtime.sim.plant_model import PlantModel, PointRef, _entity_point_ref
from runtime.sim.step import plant_steps


@njit(cache=True, nogil=True, _nrt=False, error_model="numpy", fastmath={"contract"})
def plant_steps_nogil(m, s, n_steps: int) -> None:  # noqa: ANN001
    """:func:`runtime.sim.step.plant_steps` with the interpreter lock released."""
    plant_steps(m, s, n_steps)


# Sampled columns the compiled run-ahead can read (table, column) -> code.
_SAMPLED = {("tank", "level_m"): 0, ("tank", "volume_m3"): 1, ("tank", "overflow_m3_s"): 2,
            ("junction", "pressure_kpa"): 3, ("motor", "speed_rpm"): 4, ("pump", "flow_m3_s"): 5,
            ("valve", "position_pct"): 6, ("valve", "flow_m3_s"): 7, ("pipe", "flow_m3_s"): 8,
            ("motor", "temperature_degc"): 9, ("motor", "power_w"): 10, ("tx", "output"): 11,
            ("pump", "running"): 12, ("pump", "tripped"): 13, ("pump", "run_cmd"): 14,
            ("pid", "mode"): 15, ("duty", "active"): 16, ("pid", "output"): 17,
            ("valve", "position_sp_pct"): 18, ("pump", "run_s"): 19, ("duty", "mode"): 20,
            ("pid", "setpoint"): 21, ("tank", "supply_m3_s"): 22, ("tank", "demand_m3_s"): 23}


@njit(cache=True, nogil=True, _nrt=False, error_model="numpy", fastmath={"contract"})
def _read_sample(s, code: int, row: int) -> float:  # noqa: ANN001, C901, PLR0911, PLR0912
    if code == 0:
        return s.tank.level_m[row]
    if code == 1:
        return s.tank.volume_m3[row]
    if code == 2:
        return s.tank.overflow_m3_s[row]
    if code == 3:
        return s.junction.pressure_kpa[row]
    if code == 4:
        return s.motor.speed_rpm[row]
    if code == 5:
        return s.pump.flow_m3_s[row]
    if code == 6:
        return s.valve.position_pct[row]
    if code == 7:
        return s.valve.flow_m3_s[row]
    if code == 8:
        return s.pipe.flow_m3_s[row]
    if code == 9:
        return s.motor.temperature_degc[row]
    if code == 10:
        return s.motor.power_w[row]
    if code == 11:
        return s.tx.output[row]
    if code == 12:
        return float(s.pump.running[row])
    if code == 13:
        return float(s.pump.tripped[row])
    if code == 14:
        return float(s.pump.run_cmd[row])
    if code == 15:
        return float(s.pid.mode[row])
    if code == 16:
        return float(s.duty.active[row])
    if code == 17:
        return s.pid.output[row]
    if code == 18:
        return s.valve.position_sp_pct[row]
    if code == 19:
        return s.pump.run_s[row]
    if code == 20:
        return float(s.duty.mode[row])
    if code == 21:
        return s.pid.setpoint[row]
    if code == 22:
        return s.tank.supply_m3_s[row]
    if code == 23:
        return s.tank.demand_m3_s[row]
    return np.nan


@njit(cache=True, nogil=True, _nrt=False, error_model="numpy", fastmath={"contract"})
def _run_sampled(m, s, n_samples: int, per_sample: int, codes, rows, scales, out,  # noqa: ANN001
                 first: int) -> None:
    """``n_samples`` times: ``per_sample`` plant steps, then one row of ``out`` (from ``first``)
    with every watched value: a whole stretch of a forecast in one compiled call."""
    for k in range(n_samples):
        plant_steps(m, s, per_sample)
        for j in range(codes.shape[0]):
            out[first + k, j] = _read_sample(s, codes[j], rows[j]) * scales[j]


def _copy_tuple(table):  # noqa: ANN001, ANN202
    """A NamedTuple of arrays (or of such tuples) with every array copied."""
    return type(table)(*[_copy_tuple(c) if isinstance(c, tuple) else c.copy() for c in table])


def fork_model(model: PlantModel) -> PlantModel:
    """An independent copy of ``model``: same scene, points, static tables and state.

    No compile: the copy shares the (immutable) scene and point map and gets its own arrays.
    ``fork_model(m).state_hash() == m.state_hash()``.
    """
    twin = copy.copy(model)
    compiled = copy.copy(model.compiled)
    compiled.model = _copy_tuple(model.compiled.model)
    compiled.state = _copy_tuple(model.compiled.state)
    twin.compiled = compiled
    twin.model = compiled.model
    twin.state = compiled.state
    twin.free_values = model.free_values.copy()
    return twin


def coarsen(model: PlantModel, step_ns: int) -> None:
    """Change a (forked) model's fixed step to ``step_ns`` in place, keeping its time.

    Instrument lags keep their time constants (``lag_alpha`` recomputed for the new step); the
    step counter is rescaled so ``time_ns`` stays where it was (rounded down to a whole step).
    """
    old_dt = float(model.state.clock.dt_s[0])
    new_dt = step_ns / 1e9
    if step_ns <= 0:
        raise ValueError("step_ns must be positive")
    alpha = model.model.tx.lag_alpha
    with np.errstate(divide="ignore"):
        lag_s = np.where(alpha < 1.0, -old_dt / np.log1p(-np.minimum(alpha, 1.0 - 1e-15)), 0.0)
    alpha[:] = np.where(lag_s > 0.0, -np.expm1(-new_dt / np.maximum(lag_s, 1e-300)), 1.0)
    t_ns = model.steps * model.step_ns
    model.state.clock.dt_s[0] = new_dt
    model.state.clock.step[0] = t_ns // step_ns
    model.step_ns = step_ns


@dataclass(frozen=True, slots=True)
class Change:
    """One change to a fork, applied at its start (``at_s`` 0) or later in the run.

    kind ``set``: write ``value`` to ``target`` (a writable point: ``P-101/run_cmd``);
    kind ``scale``: multiply a writable point by ``value`` (``T-101/inflow_m3_h`` x 1.2);
    kind ``fault``: ``target`` an entity, ``fault`` one of trip/stick/freeze/drift
    (``value`` the drift rate per second).
    """

    kind: str
    target: str
    value: float = 0.0
    fault: str = ""
    at_s: float = 0.0

    def describe(self) -> str:
        if self.kind == "set":
            return f"{self.target}={self.value:g}"
        if self.kind == "scale":
            return f"{self.target} x{self.value:g} ({(self.value - 1) * 100:+.0f} %)"
        extra = f" {self.value:g}/s" if self.fault == "drift" else ""
        return f"{self.fault} {self.target}{extra}"


FAULT_KINDS = ("trip", "stick", "freeze", "drift")


def resolve_ref(model: PlantModel, point: str) -> PointRef:
    """Where ``point`` lives, also for an entity's model quantity the scene does not list as a
    point (``T-101/inflow_m3_h``, the intake a disturbance scales); KeyError naming it."""
    ref = model.points.get(point)
    if ref is not None:
        return ref
    eid, _, name = point.partition("/")
    where = model.compiled.index.get(eid)
    ref = _entity_point_ref(where[0], where[1], name, model.compiled, eid) if where else None
    if ref is None:
        raise KeyError(f"{point} is not a point or model quantity of {model.scene.name}")
    return ref


def _write(model: PlantModel, point: str, value: float) -> None:
    ref = resolve_ref(model, point)
    if not ref.writable:
        raise ValueError(f"{point} is computed by the plant and cannot be written")
    if not math.isfinite(value):
        raise ValueError(f"{point}: {value} is not a finite number")
    col = model._column(ref)  # noqa: SLF001
    if col.dtype == np.uint8:
        col[ref.row] = 1 if value >= 0.5 else 0
    elif col.dtype == np.int64:
        col[ref.row] = int(round(value))
    else:
        col[ref.row] = value / ref.scale


def read_any(model: PlantModel, point: str) -> float:
    ref = resolve_ref(model, point)
    return float(model._column(ref)[ref.row]) * ref.scale  # noqa: SLF001


def apply_change(model: PlantModel, change: Change) -> None:
    """Apply one change to ``model`` now; ValueError/KeyError naming what is wrong."""
    if change.kind == "set":
        _write(model, change.target, change.value)
    elif change.kind == "scale":
        if not math.isfinite(change.value) or change.value < 0:
            raise ValueError(f"{change.target}: scale {change.value} must be a finite number >= 0")
        _write(model, change.target, read_any(model, change.target) * change.value)
    elif change.kind == "fault":
        if change.fault == "trip":
            model.trip_pump(change.target)
        elif change.fault == "stick":
            model.set_valve_stuck(change.target, True)
        elif change.fault == "freeze":
            model.set_sensor_frozen(change.target, True)
        elif change.fault == "drift":
            model.set_sensor_drift(change.target, float(change.value))
        else:
            raise ValueError(f"unknown fault {change.fault!r}; choose from "
                             f"{', '.join(FAULT_KINDS)}")
    else:
        raise ValueError(f"unknown change kind {change.kind!r} (set, scale or fault)")


def sequencer_releases(model: PlantModel, point: str, value: float) -> list[Change]:
    """Changes that make a command stick: a duty/standby sequencer in Auto restarts a pump it
    runs and a PID in Auto rewrites its output (the plant does exactly that), so "stop P-101"
    or "FV-101 to 30 %" as an operator means that controller to Manual as well."""
    eid, _, name = point.partition("/")
    out = []
    for e in model.scene.entities:  # a set point a PID writes in Auto: the PID to Manual
        if e.type == "controller" and e.params.get("algorithm") == "pid" \
                and e.params.get("output") == point:
            row = model.compiled.index[e.id][1]
            if int(model.state.pid.mode[row]) == T.MODE_AUTO and f"{e.id}/mode" in model.points:
                out.append(Change("set", f"{e.id}/mode", float(T.MODE_MANUAL)))
    if name != "run_cmd":
        return out
    for e in model.scene.entities:
        if e.type == "controller" and e.params.get("algorithm") == "duty_standby" \
                and eid in (e.params.get("duty"), e.params.get("standby")):
            row = model.compiled.index[e.id][1]
            if int(model.state.duty.mode[row]) == T.MODE_AUTO and f"{e.id}/mode" in model.points:
                out.append(Change("set", f"{e.id}/mode", float(T.MODE_MANUAL)))
    return out


@dataclass
class Trajectory:
    """Sampled values of watched points over a run ahead."""

    points: list[str]
    t_s: np.ndarray
    """float64 (K,): seconds after the fork instant."""
    values: np.ndarray
    """float64 (K, len(points)): value of each point at each sample time."""
    changes: list[Change] = field(default_factory=list)
    step_ns: int = T.PLANT_STEP_NS
    wall_s: float = 0.0

    def series(self, point: str) -> np.ndarray:
        return self.values[:, self.points.index(point)]

    def at(self, t_s: float) -> dict[str, float]:
        """Values at the sample nearest ``t_s``."""
        k = int(np.clip(np.searchsorted(self.t_s, t_s), 0, len(self.t_s) - 1))
        return {p: float(self.values[k, i]) for i, p in enumerate(self.points)}


def _reader(model: PlantModel, points: list[str]):  # noqa: ANN202
    refs = [model.point_ref(p) for p in points]
    cols = [(model._column(r), r.row, r.scale) for r in refs]  # noqa: SLF001

    def read(out: np.ndarray) -> None:
        for i, (col, row, scale) in enumerate(cols):
            out[i] = col[row] * scale
    return read


def run_ahead(model: PlantModel, horizon_s: float, *, points: list[str],
              sample_s: float = 10.0, changes: list[Change] | None = None,
              chunk_steps: int = 2000, cancelled: object = None) -> Trajectory:
    """Step ``model`` (a fork) ``horizon_s`` ahead, sampling ``points`` every ``sample_s``.

    ``changes`` with ``at_s`` > 0 are applied when the run reaches them. Each compiled call
    runs at most ``chunk_steps`` steps with the interpreter lock released. ``cancelled``: an
    object with ``is_set()`` (a threading.Event) checked between chunks.
    """
    import time

    t0 = time.perf_counter()
    changes = sorted(changes or [], key=lambda c: c.at_s)
    dt_ns = model.step_ns
    per_sample = max(1, int(round(sample_s * 1e9 / dt_ns)))
    n_samples = int(math.ceil(horizon_s * 1e9 / dt_ns / per_sample))
    values = np.empty((n_samples + 1, len(points)))
    read = _reader(model, points)
    pending = [c for c in changes if c.at_s <= 0.0]
    later = [c for c in changes if c.at_s > 0.0]
    read(values[0])  # the fork instant, before any change
    for c in pending:
        apply_change(model, c)
    refs = [model.point_ref(p) for p in points]
    if all((r.table, r.column) in _SAMPLED for r in refs):
        codes = np.array([_SAMPLED[(r.table, r.column)] for r in refs], dtype=np.int64)
        rows = np.array([r.row for r in refs], dtype=np.int64)
        scales = np.array([r.scale for r in refs], dtype=np.float64)
        k = 1
        per_call = max(1, chunk_steps // per_sample)
        while k <= n_samples:
            # Up to the next change (applied between samples) or a chunk, in one call.
            n = min(per_call, n_samples + 1 - k)
            if later:
                due = int(math.ceil(later[0].at_s * 1e9 / dt_ns / per_sample))
                if due <= k - 1:
                    apply_change(model, later.pop(0))
                    continue
                n = min(n, due - (k - 1))
            _run_sampled(model.model, model.state, n, per_sample, codes, rows, scales, values,
                         k)
            k += n
            if cancelled is not None and cancelled.is_set():  # type: ignore[attr-defined]
                values = values[:k]
                break
        t = np.arange(len(values)) * (per_sample * dt_ns / 1e9)
        return Trajectory(list(points), t, values, list(changes), dt_ns,
                          time.perf_counter() - t0)
    done_steps = 0
    for k in range(1, n_samples + 1):
        target = k * per_sample
        while done_steps < target:
            if later and later[0].at_s * 1e9 / dt_ns <= done_steps:
                apply_change(model, later.pop(0))
                continue
            n = min(chunk_steps, target - done_steps)
            if later:
                n = max(1, min(n, int(later[0].at_s * 1e9 / dt_ns) - done_steps))
            plant_steps_nogil(model.model, model.state, n)
            done_steps += n
        read(values[k])
        if cancelled is not None and cancelled.is_set():  # type: ignore[attr-defined]
            values = values[:k + 1]
            break
    t = np.arange(len(values)) * (per_sample * dt_ns / 1e9)
    return Trajectory(list(points), t, values, list(changes), dt_ns, time.perf_counter() - t0)
