"""What the historian keeps per point, and for how long: defaults by kind and unit, overridden
by the scene's optional ``history.yaml`` (docs/history.md).

Analog points (kind ``measurement`` or ``process`` with a numeric unit) use swinging-door
compression with a deviation per unit; everything else (status, setpoints, commands, bool and
enum units) is kept on change. Every quality change is kept whatever the policy says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runtime.history.compress import MODE_DEADBAND, MODE_SWINGING, MODES
from runtime.scene.errors import SceneError
from runtime.scene.model import Scene
from runtime.scene.yaml_located import Lines, dotted, load_located

DEV_BY_UNIT: dict[str, float] = {
    "m": 0.005, "%": 0.2, "rpm": 2.0, "m3/h": 0.5, "kPa": 1.0, "kW": 0.2, "degC": 0.1,
    "h": 0.01, "m3": 0.01,
}
"""Swinging-door deviation per unit (in that unit): about the display's last shown digit."""
DEFAULT_DEV = 0.0
DISCRETE_UNITS = ("bool", "enum")
ANALOG_KINDS = ("measurement", "process")
DAY_NS = 86_400_000_000_000


@dataclass(frozen=True, slots=True)
class PointPolicy:
    """How one point is kept: mode (MODE_*), deviation in the point's unit, longest gap."""

    mode: int
    dev: float
    max_gap_ns: int = 600_000_000_000


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """The scene's history settings (defaults when it has no history.yaml)."""

    raw_days: float = 30.0
    """Raw samples older than this are dropped (retention)."""
    aggregate_days: float = 730.0
    """One-minute aggregates are kept this long."""
    points: dict[str, PointPolicy] = field(default_factory=dict)
    """Policy per point id (scene points, with overrides applied)."""
    units: dict[str, str] = field(default_factory=dict)
    """Unit per point id (for trend readouts and the CLI)."""
    unit_overrides: dict[str, PointPolicy] = field(default_factory=dict)
    """Policy per unit from ``defaults:`` (also for points not in the scene)."""

    def policy(self, point: str) -> PointPolicy:
        """The point's policy; a point the scene does not name is kept on change."""
        found = self.points.get(point)
        return found if found is not None else PointPolicy(MODE_DEADBAND, 0.0)


def default_policy(kind: str, unit: str) -> PointPolicy:
    if kind in ANALOG_KINDS and unit not in DISCRETE_UNITS:
        return PointPolicy(MODE_SWINGING, DEV_BY_UNIT.get(unit, DEFAULT_DEV))
    return PointPolicy(MODE_DEADBAND, 0.0)


def load_history_config(scene: Scene) -> HistoryConfig:
    """Defaults for the scene's points, then ``<scene>/history.yaml`` if it exists."""
    path = scene.path / "history.yaml"
    doc: dict = {}
    lines: Lines = {}
    if path.exists():
        data, lines = load_located(path)
        if data is None:
            data = {}
        if not isinstance(data, dict) or set(data) - {"history"}:
            raise SceneError(path, lines.get((), 1), "",
                             "expected one top-level key 'history:'")
        doc = data.get("history") or {}
        if not isinstance(doc, dict):
            raise SceneError(path, lines.get(("history",)), "history", "expected a mapping")
    return _build(scene, path, doc, lines)


def _build(scene: Scene, path: Path, doc: dict, lines: Lines) -> HistoryConfig:
    def fail(at: tuple, message: str) -> SceneError:
        return SceneError(path, lines.get(at), dotted(at), message)

    allowed = {"raw_days", "aggregate_days", "defaults", "points"}
    for key in doc:
        if key not in allowed:
            raise fail(("history", key),
                       f"unknown key; expected one of {', '.join(sorted(allowed))}")
    raw_days = _positive(doc.get("raw_days", 30.0), ("history", "raw_days"), fail)
    agg_days = _positive(doc.get("aggregate_days", 730.0), ("history", "aggregate_days"), fail)
    unit_over: dict[str, PointPolicy] = {}
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise fail(("history", "defaults"), "expected a mapping of unit -> policy")
    for unit, raw in defaults.items():
        unit_over[str(unit)] = _policy(raw, ("history", "defaults", unit), fail, None)
    points: dict[str, PointPolicy] = {}
    units: dict[str, str] = {}
    for p in scene.points:
        base = default_policy(p.kind, p.unit)
        points[p.id] = unit_over.get(p.unit, base) if p.unit not in DISCRETE_UNITS else base
        units[p.id] = p.unit
    over = doc.get("points") or {}
    if not isinstance(over, dict):
        raise fail(("history", "points"), "expected a mapping of point id -> policy")
    for pid, raw in over.items():
        at = ("history", "points", pid)
        if pid not in points:
            raise fail(at, f"no point {pid!r} in scene {scene.name!r}")
        points[pid] = _policy(raw, at, fail, points[pid])
    return HistoryConfig(raw_days, agg_days, points, units, unit_over)


def _positive(raw: object, at: tuple, fail) -> float:  # noqa: ANN001
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not raw > 0:
        raise fail(at, f"expected a positive number of days, got {raw!r}")
    return float(raw)


def _policy(raw: object, at: tuple, fail, base: PointPolicy | None) -> PointPolicy:  # noqa: ANN001
    if not isinstance(raw, dict):
        raise fail(at, "expected a mapping such as {mode: swinging_door, dev: 0.01}")
    for key in raw:
        if key not in ("mode", "dev", "max_gap_s"):
            raise fail(at + (key,), "unknown key; expected mode, dev or max_gap_s")
    mode_name = raw.get("mode")
    if mode_name is None:
        mode = base.mode if base is not None else MODE_SWINGING
    elif mode_name not in MODES:
        raise fail(at + ("mode",), f"unknown mode {mode_name!r}; expected one of "
                   f"{', '.join(MODES)}")
    else:
        mode = MODES[mode_name]
    dev = raw.get("dev", base.dev if base is not None else 0.0)
    if isinstance(dev, bool) or not isinstance(dev, (int, float)) or dev < 0:
        raise fail(at + ("dev",), f"expected a number >= 0 in the point's unit, got {dev!r}")
    gap = raw.get("max_gap_s", (base.max_gap_ns / 1e9) if base is not None else 600.0)
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not gap > 0:
        raise fail(at + ("max_gap_s",), f"expected a positive number of seconds, got {gap!r}")
    return PointPolicy(mode, float(dev), int(gap * 1e9))
