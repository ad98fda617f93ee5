"""Pump KPIs from measurements: specific energy, efficiency against the curve, run hours and
starts, and a degradation trend with the date it would cross a maintenance threshold.

For each pump the instruments are found from the scene's topology: the pressure transmitter on
the junction its discharge pipe reaches (head = discharge pressure - suction tank level), the
level transmitter of its suction tank, the flow transmitter of the valve or pipe that junction
feeds (shared among the pumps that run) and its motor's measured power.

Efficiency is wire-to-water: ``rho g Q H / P_electrical``. The curve's value at the same flow
and speed follows the scene's pump data (H = s^2 H0 - b Q|Q|, shaft power linear in flow) and
the drive's losses, so a healthy pump reads about 100 % "of curve"; wear shows as a fall.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from runtime.scene.model import Entity, Scene

G = 9.80665
RHO = 1000.0
MOTOR_EFFICIENCY = 0.94
"""The drive model's output/input (runtime.sim.kernels_pump._drive), plus 1.5 % rated no-load."""
MAINTENANCE_OF_CURVE_PCT = 90.0
"""Below this share of its curve's efficiency a pump is due for maintenance."""
TREND_WINDOW = 2000
MIN_FLOW_FRACTION = 0.2
"""Efficiency is only judged above this share of rated flow (near shut-off it means little)."""


@dataclass(frozen=True, slots=True)
class PumpInstruments:
    pump: str
    motor: str
    flow_point: str | None
    discharge_point: str | None
    suction_level_point: str | None
    suction_elevation_m: float
    pumps_on_meter: tuple[str, ...]


def _transmitters(scene: Scene) -> dict[str, str]:
    """Quantity measured (``entity/quantity``) -> the first transmitter's point measuring it."""
    out: dict[str, str] = {}
    for e in scene.entities:
        quantity = e.params.get("measures") if e.type == "transmitter" else None
        if isinstance(quantity, str) and "/" in quantity and quantity not in out:
            out[quantity] = f"{e.id}/{quantity.split('/', 1)[1]}"
    return out


def discover(scene: Scene) -> list[PumpInstruments]:
    """The instruments of every pump that has a motor (see module doc). Linear in the scene:
    one index of transmitters, one of connections (a 10,000-asset plant took 13-22 s when each
    lookup scanned every entity)."""
    ents = {e.id: e for e in scene.entities}
    measuring = _transmitters(scene).get
    out_of: dict[str, list[str]] = {}
    into: dict[str, list[str]] = {}
    for c in scene.connections:
        out_of.setdefault(c.source, []).append(c.target)
        into.setdefault(c.target, []).append(c.source)
    pumps = [e for e in scene.entities if e.type == "pump"]
    found: list[PumpInstruments] = []
    on_meter: dict[str, list[str]] = {}
    for p in pumps:
        junction = next((t for t in out_of.get(p.id, []) if ents[t].type == "junction"), None)
        discharge = measuring(f"{junction}/pressure_kpa") if junction else None
        flow = None
        if junction:
            for nxt in out_of.get(junction, []):
                kind = ents[nxt].type
                if kind in ("valve", "pipe"):
                    flow = measuring(f"{nxt}/flow_m3_h")
                    if flow:
                        break
        if flow is not None:
            on_meter.setdefault(flow, []).append(p.id)
        tank = _upstream_tank(p.id, ents, into)
        level = measuring(f"{tank.id}/level_m") if tank else None
        elev = float(tank.params.get("elevation_m", 0.0)) if tank else 0.0
        found.append(PumpInstruments(p.id, str(p.params.get("motor", "")), flow, discharge,
                                     level, elev, ()))
    out = []
    for f in found:
        sharing = tuple(on_meter.get(f.flow_point, ())) if f.flow_point is not None else ()
        out.append(PumpInstruments(f.pump, f.motor, f.flow_point, f.discharge_point,
                                   f.suction_level_point, f.suction_elevation_m, sharing))
    return out


def _upstream_tank(pump: str, ents: dict[str, Entity], into: dict[str, list[str]]
                   ) -> Entity | None:
    here = [pump]
    for _ in range(3):
        nxt = [s for h in here for s in into.get(h, [])]
        for s in nxt:
            if ents[s].type == "tank":
                return ents[s]
        here = nxt
    return None


def curve_efficiency(pump: Entity, motor: Entity, q_m3_h: float, speed_rpm: float) -> float:
    """Wire-to-water efficiency the pump's curve and drive give at this flow and speed."""
    p = pump.params
    s = speed_rpm / float(p["rated_speed_rpm"])
    if s <= 0.05 or q_m3_h <= 0:
        return math.nan
    q = q_m3_h / 3600.0
    rated_q = float(p["rated_flow_m3_h"]) / 3600.0
    h0 = float(p["shutoff_head_m"])
    b = (h0 - float(p["rated_head_m"])) / rated_q ** 2
    head = s * s * h0 - b * q * q
    shaft_rated = RHO * G * rated_q * float(p["rated_head_m"]) / (
        float(p.get("rated_efficiency_pct", 75.0)) / 100.0)
    qn = min(max(q / (s * rated_q), 0.0), 1.6)
    shaft = s ** 3 * shaft_rated * (0.45 + 0.55 * qn)
    rated_w = float(motor.params["rated_power_kw"]) * 1000.0
    electrical = shaft / MOTOR_EFFICIENCY + 0.015 * rated_w
    return RHO * G * q * head / electrical


@dataclass
class Trend:
    """Least-squares line through (t_s, value) samples in a sliding window."""

    window: int = TREND_WINDOW
    t: deque = field(default_factory=lambda: deque(maxlen=TREND_WINDOW))
    v: deque = field(default_factory=lambda: deque(maxlen=TREND_WINDOW))

    def add(self, t_s: float, value: float) -> None:
        if math.isfinite(value):
            self.t.append(t_s)
            self.v.append(value)

    def fit(self) -> tuple[float, float, float] | None:
        """(value now on the line, slope per second, standard error of the slope)."""
        n = len(self.t)
        if n < 10:
            return None
        t = np.asarray(self.t)
        v = np.asarray(self.v)
        tm = t.mean()
        sxx = float(((t - tm) ** 2).sum())
        if sxx <= 0:
            return None
        slope = float(((t - tm) * (v - v.mean())).sum() / sxx)
        intercept = float(v.mean() - slope * tm)
        resid = v - (intercept + slope * t)
        se = math.sqrt(float((resid ** 2).sum()) / max(n - 2, 1) / sxx)
        return intercept + slope * float(t[-1]), slope, se


def crossing_in_s(trend: Trend, threshold: float) -> float | None:
    """Seconds from the last sample until the fitted line falls to ``threshold``; None when
    the trend is not a significant fall (slope within two standard errors of zero)."""
    fit = trend.fit()
    if fit is None:
        return None
    now, slope, se = fit
    if slope >= -2.0 * se or slope >= 0:
        return None
    if now <= threshold:
        return 0.0
    return (threshold - now) / slope


@dataclass
class PumpKpi:
    pump: str
    efficiency_pct: float = math.nan
    of_curve_pct: float = math.nan
    run_hours_h: float = math.nan
    starts: int = 0
    maintenance_in_s: float | None = None
    trend_pct_per_day: float = math.nan
    was_running: bool | None = None


class KpiEngine:
    """Feed it values (point -> value, NaN for none) with their time; read :attr:`pumps` and
    :attr:`specific_energy_kwh_m3`."""

    def __init__(self, scene: Scene, *, threshold_pct: float = MAINTENANCE_OF_CURVE_PCT) -> None:
        self.scene = scene
        self.ents = {e.id: e for e in scene.entities}
        self.instruments = [i for i in discover(scene) if i.motor in self.ents]
        self.pumps = {i.pump: PumpKpi(i.pump) for i in self.instruments}
        self.trends = {i.pump: Trend() for i in self.instruments}
        self.threshold_pct = threshold_pct
        self.specific_energy_kwh_m3 = math.nan

    def points(self) -> set[str]:
        """The points this engine reads."""
        out: set[str] = set()
        for i in self.instruments:
            out |= {f"{i.pump}/running", f"{i.pump}/speed_rpm", f"{i.pump}/run_hours_h",
                    f"{i.motor}/power_kw"}
            out |= {p for p in (i.flow_point, i.discharge_point, i.suction_level_point) if p}
        return out

    def update(self, values: dict[str, float], t_s: float) -> None:
        def val(p: str | None) -> float:
            return float(values.get(p, math.nan)) if p else math.nan

        total_kw = 0.0
        meters: dict[str, float] = {}
        for i in self.instruments:
            k = self.pumps[i.pump]
            running = val(f"{i.pump}/running") >= 0.5
            if k.was_running is not None and running and not k.was_running:
                k.starts += 1
            k.was_running = running
            k.run_hours_h = val(f"{i.pump}/run_hours_h")
            power = val(f"{i.motor}/power_kw")
            if math.isfinite(power):
                total_kw += power
            if i.flow_point and math.isfinite(val(i.flow_point)):
                meters[i.flow_point] = val(i.flow_point)
            sharing = [q for q in i.pumps_on_meter if val(f"{q}/running") >= 0.5]
            flow = val(i.flow_point) / len(sharing) if running and sharing else math.nan
            head = (val(i.discharge_point) / G * 1000.0 / RHO
                    - val(i.suction_level_point) - i.suction_elevation_m)
            pump = self.ents[i.pump]
            rated = float(pump.params["rated_flow_m3_h"])
            if running and math.isfinite(flow) and flow > MIN_FLOW_FRACTION * rated \
                    and math.isfinite(head) and power > 0:
                eff = RHO * G * flow / 3600.0 * head / (power * 1000.0)
                curve = curve_efficiency(pump, self.ents[i.motor], flow,
                                         val(f"{i.pump}/speed_rpm"))
                k.efficiency_pct = 100.0 * eff
                k.of_curve_pct = 100.0 * eff / curve if curve > 0 else math.nan
                self.trends[i.pump].add(t_s, k.of_curve_pct)
                fit = self.trends[i.pump].fit()
                if fit is not None:
                    k.trend_pct_per_day = fit[1] * 86400.0
                k.maintenance_in_s = crossing_in_s(self.trends[i.pump], self.threshold_pct)
        flow_total = sum(meters.values())
        self.specific_energy_kwh_m3 = total_kw / flow_total if flow_total > 1.0 else math.nan

    def readings(self) -> dict[str, float]:
        """KPI points (``P-101/efficiency_pct`` ...) for the bus; NaN ones left out."""
        out = {}
        for p, k in self.pumps.items():
            for name, v in (("efficiency_pct", k.efficiency_pct),
                            ("efficiency_of_curve_pct", k.of_curve_pct),
                            ("starts", float(k.starts)),
                            ("efficiency_trend_pct_per_day", k.trend_pct_per_day),
                            ("maintenance_in_days", (k.maintenance_in_s / 86400.0)
                             if k.maintenance_in_s is not None else math.nan)):
                if math.isfinite(v):
                    out[f"{p}/{name}"] = v
        if math.isfinite(self.specific_energy_kwh_m3):
            out["plant/specific_energy_kwh_m3"] = self.specific_energy_kwh_m3
        return out


def kpi_lines(k: PumpKpi, *, wall_s: float | None = None) -> list[str]:
    """Faceplate lines for one pump's KPIs."""
    import time

    lines = []
    if math.isfinite(k.efficiency_pct):
        lines.append(f"Efficiency {k.efficiency_pct:.1f} % ({k.of_curve_pct:.0f} % of curve)")
    starts = f"   Starts {k.starts}" if k.was_running is not None else ""
    if math.isfinite(k.run_hours_h) or starts:
        hours = f"Run hours {k.run_hours_h:.1f} h" if math.isfinite(k.run_hours_h) else ""
        lines.append((hours + starts).strip())
    if k.maintenance_in_s is not None:
        when = time.strftime("%Y-%m-%d", time.localtime((wall_s or time.time())
                                                         + k.maintenance_in_s))
        lines.append(f"Maintenance due ~{when} (efficiency {k.trend_pct_per_day:+.2f} %/day)")
    elif math.isfinite(k.of_curve_pct):
        lines.append("No efficiency decline measured")
    return lines
