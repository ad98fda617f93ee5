"""Words for forecasts: time-to-threshold readouts, predicted alarms, a command's consequence
and the status bar's look-ahead line. Plain data in, strings out (tested without Panda3D)."""

from __future__ import annotations

import math

from runtime.whatif.alarm_defs import TYPE_WORDS
from runtime.whatif.forecast import Crossing, ForecastResult

STATUS_WINDOW_S = 1800.0
"""The status bar's look-ahead window: "no alarms forecast in the next 30 min"."""


def span(t_s: float) -> str:
    """``45 s``, ``14 min``, ``1 h 05 min``."""
    if not math.isfinite(t_s):
        return "?"
    if t_s < 90:
        return f"{max(0, round(t_s))} s"
    minutes = round(t_s / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def crossing_text(c: Crossing) -> str:
    """``T-102 reaches its low-low level (1.00 m) in 14 min`` / ``P-101 trips in 3 min``."""
    a = c.alarm
    name = a.point.partition("/")[2]
    ent = a.entity
    if a.type == "discrete":
        if name == "tripped":
            return f"{ent} trips in {span(c.t_s)}"
        return f"{a.message or a.id} in {span(c.t_s)}"
    words = TYPE_WORDS.get(a.type, a.type)
    if name == "level_m":
        return f"{ent} reaches its {words} level ({a.limit:.2f} m) in {span(c.t_s)}"
    quantity, _, unit = name.rpartition("_")
    unit = {"kpa": "kPa", "degc": "degC", "pct": "%", "m3": "m3/h"}.get(unit, unit)
    return (f"{ent} {quantity.replace('_', ' ') or name} reaches {words} "
            f"({a.limit:g} {unit}) in {span(c.t_s)}")


def crossing_line(c: Crossing) -> str:
    """A crossing with its priority: ``T-102 reaches ... in 14 min [High]``."""
    return f"{crossing_text(c)} [{c.alarm.priority}]"


def result_lines(result: ForecastResult, *, limit: int = 6) -> list[str]:
    """The forecast panel: what was asked, then each predicted alarm in time order."""
    head = f"What if: {result.label}" if result.label else "Look-ahead"
    lines = [f"{head}  (next {span(result.horizon_s)})"]
    if not result.crossings:
        lines.append(f"  no alarms forecast in the next {span(result.horizon_s)}")
    for c in result.crossings[:limit]:
        lines.append("  " + crossing_line(c))
    if len(result.crossings) > limit:
        lines.append(f"  ... and {len(result.crossings) - limit} more")
    if result.active_at_start:
        lines.append("  already active: " + ", ".join(a.id for a in result.active_at_start[:4]))
    return lines


def consequence_text(result: ForecastResult) -> tuple[str, bool]:
    """``stopping P-101: T-102 below low-low in 6 min`` and whether to flag it (a trip, or a
    High or Critical alarm within the horizon)."""
    label = result.label or "this change"
    if not result.crossings:
        return f"{label}: no alarms forecast in the next {span(result.horizon_s)}", False
    parts = [crossing_text(c) for c in result.crossings[:2]]
    flagged = bool(result.trips()) or result.first_severe() is not None
    more = f" (+{len(result.crossings) - 2} more)" if len(result.crossings) > 2 else ""
    severe = result.first_severe()
    tag = ""
    if flagged:
        trip = result.trips()
        tag = (f"  ! WARNING: {trip[0].alarm.entity} would trip" if trip else
               f"  ! WARNING: raises a {severe.alarm.priority} alarm" if severe else "")
    return f"{label}: {'; '.join(parts)}{more}{tag}", flagged


def status_line(result: ForecastResult | None, *, window_s: float = STATUS_WINDOW_S) -> str:
    """The status bar's look-ahead: ``no alarms forecast in the next 30 min`` or the first."""
    if result is None:
        return "forecast: starting"
    soon = [c for c in result.crossings if c.t_s <= window_s]
    if not soon:
        return f"no alarms forecast in the next {span(window_s)}"
    c = soon[0]
    return f"forecast: {crossing_text(c)} [{c.alarm.priority}]"
