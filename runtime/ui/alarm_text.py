"""Words for alarms on screen, from the board alone (tested without Panda3D).

The banner names the most important unacknowledged alarm with its asset, message, time and
state, and counts per priority; the list's rows line up priority, time, alarm, message and state;
the faceplate section adds the rationalization (cause, consequence, what to do)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from runtime.alarms.board import PRIORITIES, STATE_WORDS, AlarmView

MAX_MESSAGE = 60


def clock_text(t_ns: int, local: bool = True) -> str:
    """``10:42:05`` (site time) for an alarm's time; ``--:--:--`` when unknown."""
    if t_ns <= 0:
        return "--:--:--"
    stamp = time.localtime(t_ns / 1e9) if local else time.gmtime(t_ns / 1e9)
    return time.strftime("%H:%M:%S", stamp)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def banner_line(alarm: AlarmView | None) -> str:
    """The banner's main line: the most important unacknowledged alarm, or the calm words."""
    if alarm is None:
        return "No unacknowledged alarms"
    when = clock_text(alarm.t_active_ns if alarm.t_active_ns > 0 else alarm.t_ns)
    return (f"{alarm.priority.upper()} {alarm.number}  {alarm.asset or alarm.id}  "
            f"{_short(alarm.message, MAX_MESSAGE)}  {when}  {STATE_WORDS[alarm.state]}")


def counts_line(counts: Mapping[str, tuple[int, int]]) -> str:
    """``Critical 1 | High 3 (2 unack) | Medium 0 | Low 5``: active counts per priority."""
    parts = []
    for p in PRIORITIES:
        unacked, active = counts.get(p, (0, 0))
        extra = f" ({unacked} unack)" if unacked else ""
        parts.append(f"{p} {active}{extra}")
    return " | ".join(parts)


def list_row(alarm: AlarmView) -> str:
    """One row of the alarm list (fixed-width columns)."""
    when = clock_text(alarm.t_active_ns if alarm.t_active_ns > 0 else alarm.t_ns)
    state = STATE_WORDS.get(alarm.state, alarm.state)
    if alarm.state == "shelved" and alarm.shelved_until_ns > 0:
        state = f"SHELVED to {clock_text(alarm.shelved_until_ns)[:5]}"
    return (f"{alarm.number} {alarm.priority:<8} {when}  {alarm.id:<14} "
            f"{_short(alarm.message, 40):<40} {state}")


def faceplate_alarm_lines(alarms: list[AlarmView],
                          rationale: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The faceplate's alarm section: each alarm with its state and, for active ones, the
    rationalization (cause, consequence, operator response) from the alarm definitions."""
    if not alarms:
        return []
    lines = ["Alarms"]
    for a in alarms:
        lines.append(f"  {a.number} {a.priority} {a.id}: {_short(a.message, 44)} - "
                     f"{STATE_WORDS.get(a.state, a.state)}")
        why = rationale.get(a.id) or {}
        for key, label in (("cause", "cause"), ("consequence", "consequence"),
                           ("response", "do")):
            text = str(why.get(key, "")).strip()
            if text:
                lines.append(f"    {label}: {_short(text, 70)}")
    return lines


__all__ = ["banner_line", "clock_text", "counts_line", "faceplate_alarm_lines", "list_row"]
