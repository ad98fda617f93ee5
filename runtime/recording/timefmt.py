"""Wall-clock nanoseconds as text for people (messages, file names)."""

from __future__ import annotations

import time

NS_PER_S = 1_000_000_000


def utc_clock_text(t_ns: int) -> str:
    """``HH:MM:SS`` in UTC: what a warning or error says about when something happened."""
    return time.strftime("%H:%M:%S", time.gmtime(t_ns // NS_PER_S))


def utc_stamp(t_ns: int) -> str:
    """``YYYYmmddTHHMMSSZ``: sorts as text in time order, so file names list in order."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t_ns // NS_PER_S))


def utc_iso(t_ns: int) -> str:
    """ISO 8601 with milliseconds, for metadata and precise messages."""
    ms = (t_ns // 1_000_000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ns // NS_PER_S)) + f".{ms:03d}Z"
