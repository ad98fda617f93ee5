"""Conditions of triggers, expectations and end/abort rules, parsed from one line of text.

Grammar (terms joined with `` and ``, all must hold)::

    POINT OP NUMBER            T-102/level_m < 1.5     (OP: < <= > >= == !=)
    alarm ID STATE             alarm P-101-TRIP acknowledged
                               (STATE: active, acknowledged, unacknowledged, cleared)
    command POINT [= NUMBER]   command P-102/run_cmd = 1   (an operator command confirmed)
    event ID                   event trip                  (a scenario event has fired)

Point values are the plant's truth, sampled by the runner each tick; alarm states come from the
alarm service's events and command confirmations from the acks the bus republishes.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": lambda a, b: math.isclose(a, b, abs_tol=1e-9), "!=": lambda a, b: not math.isclose(
        a, b, abs_tol=1e-9),
}
ALARM_STATES = ("active", "acknowledged", "unacknowledged", "cleared")
_POINT_TERM = re.compile(r"^(\S+/\S+)\s*(<=|>=|==|!=|<|>)\s*(\S+)$")


class ConditionError(ValueError):
    """Text that is not a condition (the loader adds file, line and key)."""


@dataclass(frozen=True, slots=True)
class Term:
    kind: str  # "point" | "alarm" | "command" | "event"
    subject: str
    op: str = ""
    value: float | None = None
    state: str = ""

    def text(self) -> str:
        if self.kind == "point":
            return f"{self.subject} {self.op} {self.value:g}"
        if self.kind == "alarm":
            return f"alarm {self.subject} {self.state}"
        if self.kind == "command":
            return f"command {self.subject}" + (f" = {self.value:g}" if self.value is not None
                                                 else "")
        return f"event {self.subject}"


@dataclass(frozen=True, slots=True)
class Condition:
    terms: tuple[Term, ...]
    source: str = ""

    @property
    def points(self) -> list[str]:
        return [t.subject for t in self.terms if t.kind in ("point",)]

    def text(self) -> str:
        return " and ".join(t.text() for t in self.terms)


@dataclass(slots=True)
class Observed:
    """What the runner knows at one tick; conditions are evaluated against it."""

    time_s: float = 0.0
    """Scenario time: plant seconds since the scenario started."""
    values: dict[str, float] = field(default_factory=dict)
    alarms: dict[str, dict] = field(default_factory=dict)
    """Alarm id -> its latest event map (state, active, acked) seen during this run."""
    alarm_acked: set[str] = field(default_factory=set)
    """Alarm ids acknowledged during this run (by anyone)."""
    commands: dict[str, float | None] = field(default_factory=dict)
    """Point -> read-back of the last confirmed operator command during this run."""
    fired: set[str] = field(default_factory=set)


def parse(text: str) -> Condition:
    """Parse a condition; ConditionError says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("a condition is a line of text, e.g. 'T-102/level_m < 1.5'")
    terms = []
    for part in re.split(r"\s+and\s+", text.strip()):
        terms.append(_term(part.strip()))
    return Condition(tuple(terms), text.strip())


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConditionError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConditionError(f"{where}: {text!r} is not a finite number")
    return value


def _term(part: str) -> Term:
    words = part.split()
    if words and words[0] == "alarm":
        if len(words) != 3 or words[2] not in ALARM_STATES:
            raise ConditionError(f"{part!r}: write 'alarm ID STATE' with STATE one of "
                                 f"{', '.join(ALARM_STATES)}")
        return Term("alarm", words[1], state=words[2])
    if words and words[0] == "command":
        m = re.fullmatch(r"command\s+(\S+/\S+)(?:\s*=\s*(\S+))?", part)
        if not m:
            raise ConditionError(f"{part!r}: write 'command POINT' or 'command POINT = VALUE'")
        value = _number(m.group(2), part) if m.group(2) is not None else None
        return Term("command", m.group(1), value=value)
    if words and words[0] == "event":
        if len(words) != 2:
            raise ConditionError(f"{part!r}: write 'event ID'")
        return Term("event", words[1])
    m = _POINT_TERM.match(part)
    if not m:
        raise ConditionError(f"{part!r}: expected 'POINT OP NUMBER' (OP one of "
                             f"{' '.join(OPS)}), 'alarm ID STATE', 'command POINT' or 'event ID'")
    return Term("point", m.group(1), m.group(2), _number(m.group(3), part))


def holds(cond: Condition, seen: Observed) -> bool:
    """True when every term holds now (a point with no sample yet does not hold)."""
    return all(_term_holds(t, seen) for t in cond.terms)


def _term_holds(t: Term, seen: Observed) -> bool:
    if t.kind == "point":
        v = seen.values.get(t.subject)
        return v is not None and OPS[t.op](v, float(t.value))
    if t.kind == "alarm":
        a = seen.alarms.get(t.subject)
        if t.state == "acknowledged":
            return t.subject in seen.alarm_acked
        if a is None:
            return t.state == "cleared"
        if t.state == "active":
            return bool(a.get("active"))
        if t.state == "unacknowledged":
            return bool(a.get("active")) and not a.get("acked")
        return not a.get("active")
    if t.kind == "command":
        if t.subject not in seen.commands:
            return False
        rb = seen.commands[t.subject]
        return t.value is None or (rb is not None and math.isclose(rb, t.value, abs_tol=1e-6))
    return t.subject in seen.fired
