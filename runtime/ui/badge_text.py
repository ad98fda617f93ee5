"""What each asset's value badge says: its key values with units, states as words, and the
quality of what is shown (hmi.md: values, not decoration; words, not codes; quality visible).

Built from the world's arrays alone so it is tested without Panda3D. A badge has a near form
(every key value) and a far form (the most important value only) for decluttering by distance.
Measured values come from the world (a held value when not Good, marked and aged); values no
instrument measures come from the viewer's model and are marked ``est`` (estimated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runtime.quality import Quality, Reason
from runtime.render.sync import format_age
from runtime.scene.model import Entity
from runtime.world import World

DECIMALS = {"m": 2, "%": 0, "rpm": 0, "m3/h": 1, "kPa": 0, "kW": 1, "degC": 1, "m3": 0,
            "h": 1, "count": 0}
"""Fixed decimals per unit (hmi.md)."""
KEY_POINTS: dict[str, tuple[str, ...]] = {
    "pump": ("running", "speed_rpm", "flow_m3_h"),
    "motor": ("power_kw", "temperature_degc"),
    "tank": ("level_m",),
    "valve": ("position_pct", "flow_m3_h"),
    "controller": ("mode", "duty_pump", "setpoint_m", "output_pct"),
    "junction": ("pressure_kpa",),
}
"""Per asset type, the point names shown, most important first (the far badge shows the
first). Transmitters show their own measured value."""
BOOL_WORDS = {"running": ("Stopped", "Running"), "tripped": ("", "TRIPPED")}
NO_BADGE = frozenset({"pipe"})
"""Connections carry flow beads, not badges (there would be one per pipe run)."""


@dataclass(frozen=True, slots=True)
class BadgeText:
    """One badge: the lines to show near and far, and the worst quality among shown values."""

    near: str
    far: str
    quality: int
    """Worst :class:`Quality` of the measured values shown (Good when all are, or none)."""


def format_value(value: float, unit: str, *, name: str = "", states: tuple[str, ...] = ()
                 ) -> str:
    """``2.35 m``, ``45 %``, ``Running``, ``Auto``; ``--`` when there is no value."""
    if not math.isfinite(value):
        return "--"
    if unit == "bool":
        words = BOOL_WORDS.get(name.split("/")[-1], ("Off", "On"))
        return words[1 if value >= 0.5 else 0]
    if unit == "enum":
        k = int(round(value))
        return states[k].capitalize() if 0 <= k < len(states) else str(k)
    decimals = DECIMALS.get(unit, 2)
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]  # -0.04 m3/h reads as 0.0 m3/h, not -0.0
    return f"{text} {unit}"


def _points_for(world: World, entity: Entity, cols: list[int]) -> list[int]:
    """The columns a badge shows for ``entity``, in order of importance."""
    by_name: dict[str, int] = {}
    own = entity.id + "/"
    served = world.points.poll_period_ns
    for c in cols:  # a measured point wins over the model's (the tank's level transmitter)
        name = world.points.ids[c].split("/", 1)[1]
        if name not in by_name or (served[c] >= 0 > served[by_name[name]]):
            by_name[name] = c
    if entity.type == "transmitter":
        return [c for c in cols if world.points.ids[c].startswith(own)][:1]
    names = KEY_POINTS.get(entity.type, ())
    return [by_name[n] for n in names if n in by_name]


def badge_text(world: World, row: int, cols: list[int], now_ns: int, estimate: np.ndarray,
               extra: list[int] = (), *, bus_lost: bool = False  # type: ignore[assignment]
               ) -> BadgeText | None:
    """The badge of entity ``row`` (None for assets that carry none). ``cols``: its points
    (bindings' entity points); ``extra``: more columns to append (a pump's motor power).
    ``bus_lost``: one banner says so; values that are only not communicating read as held,
    without a ``!`` on every asset."""
    entity = world.scene.entities[row]
    if entity.type in NO_BADGE:
        return None
    shown = _points_for(world, entity, cols) + list(extra)
    if not shown:
        return None
    s = world.state
    served = world.points.poll_period_ns
    specs = {p.id: p for p in entity.points}
    parts: list[str] = []
    worst = int(Quality.GOOD)
    oldest = -1.0
    other_problem = False
    for c in shown:
        pid = world.points.ids[c]
        unit = world.points.units[c]
        spec = specs.get(pid)
        states = spec.states if spec is not None else ()
        if served[c] < 0:
            value = float(estimate[c]) if estimate is not None else math.nan
            text = format_value(value, unit, name=pid, states=states)
            if unit not in ("bool", "enum") and text != "--":
                text = "est " + text  # "~" reads as a minus sign in the label font
        else:
            q = int(s.quality[c])
            held = q != Quality.GOOD and math.isfinite(s.good_value[c])
            value = float(s.good_value[c] if held else s.value[c])
            text = format_value(value, unit, name=pid, states=states)
            if q != Quality.GOOD:
                worst = max(worst, q)
                other_problem |= int(s.reason[c]) != Reason.NO_COMMUNICATION
                t = int(s.good_t_receive_ns[c])
                oldest = max(oldest, (now_ns - t) / 1e9 if t >= 0 else -1.0)
        if text and entity.type == "tank" and pid.endswith("/level_m") and text != "--":
            height = float(entity.params.get("height_m", 0.0) or 0.0)
            if height > 0 and math.isfinite(value):
                text += f"  {100.0 * value / height:.0f} %"
        if text:
            parts.append(text)
    if not parts:
        return None
    near, far = "  ".join(parts), parts[0]
    if worst != Quality.GOOD and bus_lost and not other_problem:
        near, far = f"{near}  (held {format_age(oldest)})", far
    elif worst != Quality.GOOD:
        mark = "!" if worst == Quality.BAD else "?"
        age = format_age(oldest)
        near, far = f"{mark} {near}  ({age})", f"{mark} {far}"
    return BadgeText(near, far, worst)


def motor_of(world: World, row: int) -> list[int]:
    """A pump's motor power column (the pump badge shows speed, flow and power)."""
    entity = world.scene.entities[row]
    if entity.type != "pump":
        return []
    motor = str(entity.params.get("motor", ""))
    col = world.point_column.get(f"{motor}/power_kw")
    return [] if col is None else [col]
