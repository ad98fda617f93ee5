"""What the replay timeline shows and where a click lands, from numbers alone (no Panda3D),
so it is tested without a window."""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

from runtime.time.virtual_clock import format_speed


@dataclass(frozen=True, slots=True)
class Marker:
    """One event on the timeline (a source falling silent, a command ack, an alarm)."""

    t_ns: int
    kind: str
    """``silent``, ``back``, ``ack``, ``event``."""
    text: str


def clock_text(t_ns: int) -> str:
    """Site-local wall time of a recording instant, ``10:42:05``."""
    return time.strftime("%H:%M:%S", time.localtime(t_ns / 1e9))


def span_text(ns: int) -> str:
    """A duration as ``1:02:03`` or ``2:03``."""
    s = max(0, ns) // 1_000_000_000
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def fraction_at(t_ns: int, start_ns: int, end_ns: int) -> float:
    """Where ``t_ns`` sits on the bar, 0..1."""
    if end_ns <= start_ns:
        return 0.0
    return min(1.0, max(0.0, (t_ns - start_ns) / (end_ns - start_ns)))


def time_at(fraction: float, start_ns: int, end_ns: int) -> int:
    """The instant under a click at ``fraction`` of the bar's width."""
    f = min(1.0, max(0.0, fraction))
    return start_ns + round(f * (end_ns - start_ns))


def status_line(now_ns: int, start_ns: int, end_ns: int, *, speed: Fraction,
                paused: bool, behind: bool = False) -> str:
    """``REPLAY 4x playing  10:42:05  (12:10 of 1:00:00)``: mode, speed, state, where."""
    state = "paused" if paused else ("playing (slower: catching up)" if behind else "playing")
    return (f"REPLAY {format_speed(speed)} {state}  {clock_text(now_ns)}  "
            f"({span_text(now_ns - start_ns)} of {span_text(end_ns - start_ns)})")


KEYS_HELP = ("Space play/pause   Left/Right -/+10 s (Shift: 60 s, Ctrl: start/end)   "
             "[ ] slower/faster   click the bar: seek")
