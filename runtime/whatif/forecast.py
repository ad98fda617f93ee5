"""One forecast: fork a model, apply changes, run ahead, find threshold crossings and trips.

:func:`forecast` works on a model that is already a fork (:func:`runtime.sim.fork.fork_model`,
taken on the thread that owns the live model); it may run on any thread. The result names, for
every alarm definition the run crosses, when (interpolated between samples) and at what value;
alarms already active at the fork instant are listed apart (they are not a forecast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from runtime.sim import tables as T  # noqa: N812
from runtime.sim.fork import Change, Trajectory, coarsen, run_ahead
from runtime.sim.plant_model import PlantModel
from runtime.whatif.alarm_defs import OPS, AlarmDef

DEFAULT_HORIZON_S = 7200.0
FORECAST_STEP_NS = 50_000_000
"""A forecast's fixed step (50 ms): 2 h of the pump station in well under 0.2 s; tracks the
10 ms plant within the tolerance tests/test_whatif_fork.py states."""
MAX_SAMPLES = 720


@dataclass(frozen=True, slots=True)
class Crossing:
    """An alarm the forecast raises: ``alarm`` becomes active ``t_s`` after the fork."""

    alarm: AlarmDef
    t_s: float
    value: float


@dataclass
class ForecastResult:
    trajectory: Trajectory
    crossings: list[Crossing]
    """Sorted by time; one per definition (its first crossing)."""
    active_at_start: list[AlarmDef]
    horizon_s: float
    fork_hash: str
    """State hash of the fork at the fork instant (before changes and coarsening)."""
    fork_time_ns: int
    """The live model's simulated time at the fork instant."""
    changes: list[Change] = field(default_factory=list)
    label: str = ""
    """What was asked (``stopping P-101``), for the texts."""

    def final(self) -> dict[str, float]:
        return self.trajectory.at(self.trajectory.t_s[-1])

    def first_severe(self) -> Crossing | None:
        return next((c for c in self.crossings if c.alarm.severe), None)

    def trips(self) -> list[Crossing]:
        return [c for c in self.crossings if c.alarm.point.endswith("/tripped")]


def watch_points(model: PlantModel, defs: list[AlarmDef]) -> list[str]:
    """Every alarm point plus what the ghost draws: tank levels, pump run/trip and speed,
    valve positions."""
    out: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        if p in model.points and p not in seen:
            seen.add(p)
            out.append(p)

    for d in defs:
        add(d.point)
        for p, _op, _v in d.suppress:
            add(p)
    for p in model.scene.points:
        if p.name in ("level_m", "running", "tripped", "speed_rpm", "position_pct",
                      "flow_m3_h", "run_cmd"):
            add(p.id)
    return out


def sample_period_s(horizon_s: float) -> float:
    """At most MAX_SAMPLES samples, at least one a second, whole seconds."""
    return float(max(1, math.ceil(horizon_s / MAX_SAMPLES)))


def forecast(fork: PlantModel, changes: list[Change], defs: list[AlarmDef], *,
             horizon_s: float = DEFAULT_HORIZON_S, step_ns: int | None = FORECAST_STEP_NS,
             label: str = "", fork_hash: str | None = None, cancelled: object = None
             ) -> ForecastResult:
    """Run ``fork`` (consumed) ``horizon_s`` ahead with ``changes`` and check ``defs``."""
    h = fork_hash if fork_hash is not None else fork.state_hash()
    t0_ns = fork.time_ns
    if step_ns is not None and step_ns != fork.step_ns:
        coarsen(fork, step_ns)
    points = watch_points(fork, defs)
    traj = run_ahead(fork, horizon_s, points=points, sample_s=sample_period_s(horizon_s),
                     changes=changes, cancelled=cancelled)
    crossings, active = find_crossings(traj, defs)
    return ForecastResult(traj, crossings, active, horizon_s, h, t0_ns, list(changes), label)


def find_crossings(traj: Trajectory, defs: list[AlarmDef]) -> tuple[list[Crossing],
                                                                     list[AlarmDef]]:
    """(first crossing of each definition, definitions already active at the first sample)."""
    crossings: list[Crossing] = []
    active: list[AlarmDef] = []
    for d in defs:
        if d.point not in traj.points:
            continue
        v = traj.series(d.point)
        on = np.array([d.active(float(x)) for x in v]) if d.type == "discrete" else (
            v >= d.limit if d.type in ("high", "high_high") else v <= d.limit)
        if d.suppress and all(p in traj.points for p, _o, _v in d.suppress):
            held = np.ones(len(v), dtype=bool)
            for p, op, value in d.suppress:
                series = traj.series(p)
                held &= np.array([OPS[op](float(x), value) for x in series])
            on &= ~held
        if on[0]:
            active.append(d)
            continue
        idx = np.flatnonzero(on)
        if idx.size == 0:
            continue
        k = int(idx[0])
        t = float(traj.t_s[k])
        if d.type != "discrete" and k > 0 and v[k] != v[k - 1]:
            frac = (d.limit - v[k - 1]) / (v[k] - v[k - 1])
            t = float(traj.t_s[k - 1] + min(max(frac, 0.0), 1.0) * (traj.t_s[k] - traj.t_s[k - 1]))
        if d.on_delay_s > 0:  # raised only if it stays on that long
            run_end = k
            while run_end < len(on) and on[run_end]:
                run_end += 1
            if traj.t_s[run_end - 1] - traj.t_s[k] < d.on_delay_s and run_end < len(on):
                later = np.flatnonzero(on[run_end:])
                if later.size == 0:
                    continue
            t += d.on_delay_s
        crossings.append(Crossing(d, t, float(v[k])))
    crossings.sort(key=lambda c: c.t_s)
    return crossings, active


def command_changes(model: PlantModel, point: str, value: float) -> tuple[list[Change], str]:
    """The changes an operator's command means, and words for it (``stopping P-101``).

    A pump's run command under a duty/standby sequencer in Auto would be undone by it at once;
    the forecast takes the operator's intent (the sequencer to Manual first, as the faceplate
    tells them) and the label says so.
    """
    from runtime.sim.fork import sequencer_releases

    eid, _, name = point.partition("/")
    changes = [Change("set", point, float(value))]
    extra = sequencer_releases(model, point, value)
    if name == "run_cmd":
        label = f"{'stopping' if value < 0.5 else 'starting'} {eid}"
    elif name == "mode":
        label = f"{eid} to {'Auto' if round(value) == T.MODE_AUTO else 'Manual'}"
    else:
        label = f"{point} to {value:g}"
    if extra:
        label += f" ({', '.join(c.target.split('/')[0] for c in extra)} to Manual)"
    return extra + changes, label
