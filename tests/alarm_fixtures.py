"""Helpers for the alarm tests: definitions built in code and a feed of point values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from runtime.alarms import AlarmDef, AlarmEngine, AlarmSet, Rationalization

S = 1_000_000_000
"""Nanoseconds per second."""
T0 = 1_700_000_000 * S
"""A virtual start time."""
WHY = Rationalization("a cause", "a consequence", "a response")


def alarm(ident: str, point: str, kind: str, **kw: Any) -> AlarmDef:
    kw.setdefault("priority", "Medium")
    kw.setdefault("message", f"{ident} message")
    return AlarmDef(id=ident, point=point, type=kind, rationalization=WHY, **kw)


def alarm_set(*alarms: AlarmDef, shelve_max_minutes: float = 480.0) -> AlarmSet:
    return AlarmSet(path=Path("alarms.yaml"), alarms=tuple(alarms),
                    shelve_max_minutes=shelve_max_minutes)


class Feed:
    """The latest value and quality of each of an engine's points (all Good, NaN at first)."""

    def __init__(self, engine: AlarmEngine) -> None:
        self.engine = engine
        self.col = {p: i for i, p in enumerate(engine.points)}
        self.values = np.full(len(engine.points), np.nan)
        self.quality = np.zeros(len(engine.points), np.uint8)

    def set(self, point: str, value: float, quality: int = 0) -> Feed:
        self.values[self.col[point]] = value
        self.quality[self.col[point]] = quality
        return self

    def at(self, t_ns: int) -> list[dict[str, Any]]:
        """Evaluate at ``t_ns``; the transitions' event maps."""
        return [t.event() for t in self.engine.evaluate(t_ns, self.values, self.quality)]


def state_of(engine: AlarmEngine, ident: str) -> str:
    return next(s["state"] for s in engine.states() if s["id"] == ident)
