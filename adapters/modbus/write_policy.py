"""Whether a write command may reach a device: the one place that says yes or no (R13).

The adapter alone decides writes. Today's checks: the action is a plain write, the point is
served here and writable, the value is a finite number inside the point's min/max and inside what
its register type can hold. A value out of limits is refused, never silently clamped: an operator
who typed 1500 rpm must learn it was not applied, not find 1480 on the pump.

The checks are an ordered list of small functions, so the operator-control issue (roles,
select-before-operate, rate limits, quality Good, interlocks, audit) adds entries here instead of
growing the adapter. Each returns None to pass or a refusal sentence naming point, value and rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from runtime.registers import encode_value, raw_from_value
from runtime.scene.model import DevicePoint, DeviceSpec

_INT_RANGE: dict[str, tuple[int, int]] = {
    "int16": (-(1 << 15), (1 << 15) - 1),
    "uint16": (0, (1 << 16) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "uint32": (0, (1 << 32) - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38


class CommandLike(Protocol):
    """What the policy reads from a command (``runtime.bus.wire.Command`` fits)."""

    id: str
    point: str
    value: float
    role: str
    actor: str
    host: str
    action: str


@dataclass(frozen=True, slots=True)
class WriteTarget:
    """Where a point lives: its device and its register map entry."""

    device: DeviceSpec
    point: DevicePoint


@dataclass(frozen=True, slots=True)
class WriteDecision:
    """``allowed`` with the words to write, or a refusal ``reason``."""

    allowed: bool
    reason: str
    target: WriteTarget | None = None
    registers: tuple[int, ...] = ()
    """Encoded words in the device's word order (``(0|1,)`` for a coil)."""


Check = Callable[[CommandLike, WriteTarget | None], str | None]


def check_action(cmd: CommandLike, target: WriteTarget | None) -> str | None:
    if cmd.action != "write":
        return f"action {cmd.action!r} is not supported yet (only 'write')"
    return None


def check_served(cmd: CommandLike, target: WriteTarget | None) -> str | None:
    if target is None:
        return f"point {cmd.point} is not served by this adapter"
    return None


def check_writable(cmd: CommandLike, target: WriteTarget | None) -> str | None:
    assert target is not None
    if not target.point.writable:
        return f"point {cmd.point} is read-only ({target.point.table} {target.point.address})"
    return None


def check_number(cmd: CommandLike, target: WriteTarget | None) -> str | None:
    value: Any = cmd.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"value {value!r} for {cmd.point} is not a number"
    if not math.isfinite(value):
        return f"value {value!r} for {cmd.point} is not finite"
    return None


def check_limits(cmd: CommandLike, target: WriteTarget | None) -> str | None:
    assert target is not None
    p = target.point
    lo = p.min
    hi = p.max
    if (lo is not None and cmd.value < lo) or (hi is not None and cmd.value > hi):
        shown = f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"
        return (f"value {cmd.value:g} for {cmd.point} is outside its limits {shown} "
                f"{p.unit}; refused, not clamped")
    return None


def check_representable(cmd: CommandLike, target: WriteTarget | None) -> str | None:
    """The register type must hold the value; encode_value would otherwise saturate silently."""
    assert target is not None
    p = target.point
    if p.type == "bool":
        if cmd.value not in (p.offset, p.offset + p.scale):
            return f"value {cmd.value:g} for {cmd.point} must be {p.offset:g} or " \
                   f"{p.offset + p.scale:g} (a coil is on or off)"
        return None
    raw = (float(cmd.value) - p.offset) / p.scale
    if p.type == "float32":
        if abs(raw) > _FLOAT32_MAX:
            return f"value {cmd.value:g} for {cmd.point} does not fit a float32 register"
        return None
    lo, hi = _INT_RANGE[p.type]
    if not lo - 0.5 <= raw < hi + 0.5:
        return f"value {cmd.value:g} for {cmd.point} does not fit its {p.type} register"
    if p.scale == 1.0 and p.offset == 0.0 and raw != round(raw):
        return f"value {cmd.value:g} for {cmd.point} must be a whole number ({p.type})"
    return None


CHECKS: tuple[Check, ...] = (
    check_action,
    check_served,
    check_writable,
    check_number,
    check_limits,
    check_representable,
)
"""Applied in order; the first refusal wins. Later issues add role, quality, interlock checks."""


class WritePolicy:
    """Decides writes for the points of the given devices."""

    def __init__(self, devices: Iterable[DeviceSpec], checks: tuple[Check, ...] = CHECKS):
        self.checks = checks
        self.targets: dict[str, WriteTarget] = {}
        for d in devices:
            for p in d.points:
                self.targets[p.point] = WriteTarget(d, p)

    def decide(self, cmd: CommandLike) -> WriteDecision:
        target = self.targets.get(cmd.point)
        for check in self.checks:
            refusal = check(cmd, target)
            if refusal is not None:
                return WriteDecision(False, refusal, target)
        assert target is not None
        p = target.point
        raw = raw_from_value(p.type, p.scale, p.offset, float(cmd.value))
        if p.type == "bool":
            words: list[int] = [int(raw)]
        else:
            words = encode_value(p.type, target.device.word_order, p.scale, p.offset,
                                 float(cmd.value))
        return WriteDecision(True, "", target, tuple(words))


__all__ = ["CHECKS", "Check", "CommandLike", "WriteDecision", "WritePolicy", "WriteTarget"]
