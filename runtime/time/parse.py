"""Instants and durations as people type them: ``+90s``, ``-2h``, ``50%``, ``10:42:05``, ISO 8601.

Used wherever a command takes a time (``view --at``, ``replay --from``); within a recording,
relative forms count from its start (``+``) or end (``-``).
"""

from __future__ import annotations

import re
import time
from datetime import datetime

_UNITS_NS = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "min": 60_000_000_000,
             "h": 3_600_000_000_000, "d": 86_400_000_000_000, "": 1_000_000_000}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d|)$")


def parse_duration_ns(text: str) -> int:
    """``90s``, ``2m``, ``1.5h``, ``250ms``, ``30`` (seconds) -> ns; ValueError otherwise."""
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise ValueError(f"{text!r}: expected a duration such as 90s, 2m, 1.5h or 250ms")
    return round(float(m.group(1)) * _UNITS_NS[m.group(2)])


def parse_instant(text: str, start_ns: int, end_ns: int) -> int:
    """An instant within [start_ns, end_ns] (Unix ns); ValueError naming what is wrong.

    ``+D`` from the start, ``-D`` before the end, ``N%`` of the way, ``HH:MM[:SS]`` local time
    on the start's day, or an ISO 8601 date-time (local unless it has an offset).
    """
    raw = text.strip()
    if not raw:
        raise ValueError("empty time")
    if raw.startswith("+"):
        t = start_ns + parse_duration_ns(raw[1:])
    elif raw.startswith("-"):
        t = end_ns - parse_duration_ns(raw[1:])
    elif raw.endswith("%"):
        try:
            f = float(raw[:-1])
        except ValueError:
            raise ValueError(f"{text!r}: expected a percentage such as 50%") from None
        if not 0.0 <= f <= 100.0:
            raise ValueError(f"{text!r}: a percentage must be 0..100")
        t = start_ns + round((end_ns - start_ns) * f / 100.0)
    elif re.fullmatch(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?", raw):
        day = time.localtime(start_ns / 1e9)
        parts = [float(x) for x in raw.split(":")]
        base = datetime(day.tm_year, day.tm_mon, day.tm_mday)
        secs = parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0.0)
        t = round((base.timestamp() + secs) * 1e9)
    else:
        try:
            dt = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{text!r}: expected +90s, -2m, 50%, 10:42:05 or an ISO 8601 "
                             "time") from None
        t = round(dt.timestamp() * 1e9)
    if not start_ns <= t <= end_ns:
        raise ValueError(f"{text!r} is outside the recording ({_local(start_ns)} to "
                         f"{_local(end_ns)})")
    return t


def _local(t_ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t_ns / 1e9))
