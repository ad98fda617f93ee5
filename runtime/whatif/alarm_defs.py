"""The alarm limits a forecast checks: the scene's ``alarms.yaml`` when there is one, else
limits derived from the scene itself (tank overflow and low levels, pump trips).

``alarms.yaml`` is loaded and validated by :func:`runtime.alarms.load_alarms` (docs/alarms.md);
the types a trajectory can show crossing are forecast (high, high_high, low, low_low, and
discrete: active when the value equals the alarm's ``value``), with their suppression and
on-delay. A file that does not validate falls back to the derived limits with a warning (the
alarm service and ``twinstage validate`` refuse it, naming file, line and key).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from runtime.scene.errors import SceneError
from runtime.scene.model import Scene

ANALOG_TYPES = ("high", "high_high", "low", "low_low")
FORECAST_TYPES = (*ANALOG_TYPES, "discrete")
PRIORITIES = ("Low", "Medium", "High", "Critical")
TYPE_WORDS = {"high": "high", "high_high": "high-high", "low": "low", "low_low": "low-low",
              "discrete": ""}


@dataclass(frozen=True, slots=True)
class AlarmDef:
    id: str
    point: str
    type: str
    limit: float
    priority: str = "Medium"
    message: str = ""
    derived: bool = False
    """True when made from the scene (no alarms.yaml entry)."""
    suppress: tuple[tuple[str, str, float], ...] = ()
    """``suppress_when`` conditions (point, op, value), all holding: the alarm cannot raise."""
    on_delay_s: float = 0.0
    asset: str = ""
    """The asset the alarm is about: a level transmitter's tank (LT-102 -> T-102)."""

    @property
    def entity(self) -> str:
        return self.asset or self.point.split("/", 1)[0]

    def active(self, value: float) -> bool:
        """Whether the alarm condition holds at ``value``."""
        if not math.isfinite(value):
            return False
        if self.type in ("high", "high_high"):
            return value >= self.limit
        if self.type in ("low", "low_low"):
            return value <= self.limit
        if self.type == "discrete":
            return abs(value - self.limit) < 0.5
        return False

    @property
    def severe(self) -> bool:
        """High or Critical: a command that raises it is flagged before it is sent."""
        return self.priority in ("High", "Critical")


def derived_defs(scene: Scene) -> list[AlarmDef]:
    """Limits the scene implies: each tank's overflow (high-high at the weir crest) and a low-low
    level (the duty/standby sequencer's dry-run level for its suction tank, else 15 % of the
    wall height), and every pump's trip."""
    out: list[AlarmDef] = []
    ents = {e.id: e for e in scene.entities}
    measured = {str(e.params.get("measures", "")): f"{e.id}/level_m"
                for e in scene.entities if e.type == "transmitter"}
    suction_low: dict[str, float] = {}
    for e in scene.entities:
        if e.type == "controller" and e.params.get("algorithm") == "duty_standby":
            pump = ents.get(str(e.params.get("duty")))
            low = e.params.get("low_suction_level_m")
            tank = _suction_tank(scene, pump.id) if pump is not None else None
            if tank is not None and low is not None:
                suction_low[tank] = float(low)
    points = {p.id for p in scene.points}
    for e in scene.entities:
        if e.type == "tank":
            point = measured.get(f"{e.id}/level_m", f"{e.id}/level_m")
            if point not in points and f"{e.id}/level_m" in points:
                point = f"{e.id}/level_m"
            height = float(e.params.get("height_m", 0.0))
            crest = float(e.params.get("overflow_m", height))
            low = suction_low.get(e.id, 0.15 * height)
            out.append(AlarmDef(f"{e.id}-HH", point, "high_high", round(crest - 0.05, 3),
                                "High", f"{e.id} about to overflow", True, asset=e.id))
            out.append(AlarmDef(f"{e.id}-LL", point, "low_low", round(low, 3), "High",
                                f"{e.id} level low-low", True, asset=e.id))
        elif e.type == "pump" and f"{e.id}/tripped" in points:
            out.append(AlarmDef(f"{e.id}-TRIP", f"{e.id}/tripped", "discrete", 1.0, "High",
                                f"{e.id} tripped", True))
    return out


def _suction_tank(scene: Scene, pump_id: str) -> str | None:
    """The tank one pipe (via at most one junction) upstream of a pump's inlet."""
    tanks = {e.id for e in scene.entities if e.type == "tank"}
    into = {c.target: c.source for c in scene.connections}
    here = into.get(pump_id)
    for _ in range(3):
        if here is None:
            return None
        if here in tanks:
            return here
        here = into.get(here)
    return None


OPS = {"==": lambda a, b: abs(a - b) < 1e-9, "!=": lambda a, b: abs(a - b) >= 1e-9,
       "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
       ">=": lambda a, b: a >= b}


def suppressed(d: AlarmDef, value_of: dict[str, float]) -> bool:
    """Whether every ``suppress_when`` condition of ``d`` holds (False when it has none)."""
    if not d.suppress:
        return False
    return all(OPS[op](value_of.get(p, float("nan")), v) for p, op, v in d.suppress)


def load_alarm_defs(scene: Scene) -> tuple[list[AlarmDef], list[str]]:
    """(definitions, warnings): the scene's validated alarms.yaml if present (the types a
    trajectory can show crossing), else :func:`derived_defs`."""
    from runtime.alarms import load_alarms

    path = Path(scene.path) / "alarms.yaml"
    if not path.is_file():
        return derived_defs(scene), []
    try:
        defs = load_alarms(path, scene)
    except SceneError as exc:
        return derived_defs(scene), [f"{exc}; using limits derived from the scene"]
    measured = {e.id: str(e.params.get("measures", "")).split("/", 1)[0]
                for e in scene.entities if e.type == "transmitter"}
    out = [AlarmDef(a.id, a.point, a.type, float(a.value if a.type == "discrete" else a.limit),
                    a.priority, a.message, False,
                    tuple((c.point, c.op, float(c.value)) for c in a.suppress_when),
                    a.on_delay_s, measured.get(a.point.split("/", 1)[0], ""))
           for a in defs.alarms if a.type in FORECAST_TYPES]
    return out, []
