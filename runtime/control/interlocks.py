"""Evaluate the interlocks declared in devices.yaml against the adapter's latest readings.

Interlocks are parsed and validated with the rest of devices.yaml (``runtime.scene.devices``,
so errors name file, line and key); this module only evaluates them. Conditions are a closed
set of comparisons on one reading each: nothing is ever ``eval``-ed.

Fail safe: a condition whose input has no Good, finite reading counts as holding, so an
interlock whose inputs cannot be trusted blocks the write it guards.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from runtime.control.readings import Readings, is_good
from runtime.quality import describe
from runtime.scene.model import Interlock, InterlockCondition

_OPS: Mapping[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True, slots=True)
class Blocking:
    """An interlock that refuses a requested value, and why in words."""

    interlock: Interlock
    text: str

    @property
    def reason(self) -> str:
        """The machine code: ``interlock:<id>``."""
        return f"interlock:{self.interlock.id}"


def by_point(interlocks: Iterable[Interlock]) -> dict[str, tuple[Interlock, ...]]:
    """Interlocks grouped by the point they guard, in file order."""
    grouped: dict[str, list[Interlock]] = {}
    for il in interlocks:
        grouped.setdefault(il.blocks, []).append(il)
    return {k: tuple(v) for k, v in grouped.items()}


def blocks_value(interlock: Interlock, value: float) -> bool:
    """Whether ``value`` lies in the region the interlock forbids while it is active."""
    if interlock.unless_value is not None:
        return value != interlock.unless_value
    if interlock.above is None and interlock.below is None:
        return True
    over = interlock.above is not None and value > interlock.above
    under = interlock.below is not None and value < interlock.below
    return over or under


def condition_holds(condition: InterlockCondition, readings: Readings) -> tuple[bool, str]:
    """(holds, words). An input without a Good, finite reading holds (fail safe)."""
    reading = readings.get(condition.point)
    if not is_good(reading):
        state = "no reading" if reading is None else describe(int(reading.quality), 0)
        return True, f"{condition.point} is not Good ({state}), so the interlock stays on"
    value = float(reading.value)  # type: ignore[union-attr]
    holds = _OPS[condition.op](value, condition.value)
    return holds, f"{condition.point} = {value:g} {condition.op} {condition.value:g}"


def blocking(interlocks: Sequence[Interlock], value: float, readings: Readings) -> Blocking | None:
    """The first interlock (file order) among ``interlocks`` that refuses ``value``, or None."""
    for il in interlocks:
        if not blocks_value(il, value):
            continue
        because = []
        for cond in il.when:
            holds, words = condition_holds(cond, readings)
            if not holds:
                break
            because.append(words)
        else:
            head = il.message or f"interlock {il.id} is active"
            return Blocking(il, f"{il.id}: {head} ({'; '.join(because)})")
    return None


__all__ = ["Blocking", "blocking", "blocks_value", "by_point", "condition_holds"]
