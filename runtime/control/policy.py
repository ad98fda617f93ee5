"""The adapter's write policy (reliability R13): may this command reach the device?

:class:`WritePolicy` is decision logic with no I/O and no clock of its own: callers pass
``now_ns`` (any monotonic nanosecond clock), so select-before-operate expiry is tested by
passing numbers, not by sleeping. It keeps three small pieces of state, changed only by
:meth:`WritePolicy.settle` once a command's outcome is known: open selections, the last accepted
value and time of each rate-limited point, and a bounded memory of answered command ids.

Checks run in a fixed order and the first failure is the reason (docs/control.md):
duplicate id -> point known and writable -> role -> action -> select-before-operate ->
quality Good -> value in range and representable -> rate of change -> interlocks.
Values outside limits are refused, never clamped.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from runtime.control import interlocks as il
from runtime.control.ack import Ack, Outcome
from runtime.control.command import Action, ControlCommand, parse_action
from runtime.control.readings import Readings, is_good
from runtime.control.roles import Role, allowed_roles, parse_role
from runtime.quality import describe
from runtime.scene.model import DevicePoint, Devices

SELECT_TIMEOUT_NS = 10_000_000_000
"""A selection must be operated within 10 s (issue 6), else the operate is refused."""
REMEMBERED_IDS = 50_000
"""Answered command ids kept for idempotency; older ids are forgotten first (LRU). They survive
an adapter restart: :func:`runtime.control.command_memory.restore` reads them back from the
audit log (about 25 MB at most)."""
FIRST_WRITE_WINDOW_NS = 1_000_000_000
"""With no accepted write yet, a rate-limited point may move one second's worth of its rate
away from its current reading."""

_INT_RANGES = {
    "int16": (-(1 << 15), (1 << 15) - 1),
    "uint16": (0, (1 << 16) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "uint32": (0, (1 << 32) - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38


class Verdict(StrEnum):
    """What the policy decided."""

    ALLOW = "allow"
    REFUSE = "refuse"
    DUPLICATE = "duplicate"
    """A repeat of an answered id: send the stored ack again, do nothing else."""


class Reason(StrEnum):
    """Stable machine-readable refusal codes (``interlock:<id>`` is built from INTERLOCK)."""

    UNKNOWN_POINT = "unknown_point"
    NOT_WRITABLE = "not_writable"
    ROLE = "role"
    ACTION = "action"
    NOT_SBO = "not_sbo"
    NOT_SELECTED = "not_selected"
    SELECTION_EXPIRED = "selection_expired"
    SELECTED_BY_OTHER = "selected_by_other"
    SELECTION_MISMATCH = "selection_mismatch"
    QUALITY = "quality"
    RANGE = "range"
    RATE = "rate"
    INTERLOCK = "interlock"
    DUPLICATE = "duplicate"
    ID_REUSED = "id_reused"
    AUDIT_UNAVAILABLE = "audit_unavailable"
    WRITE_FAILED = "write_failed"
    READBACK_FAILED = "readback_failed"
    READBACK_MISMATCH = "readback_mismatch"
    FEEDBACK_TIMEOUT = "feedback_timeout"
    """The write read back, but the point's feedback did not reach the value in time."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict, its reason code (``""`` when allowed) and words for a person."""

    verdict: Verdict
    reason: str = ""
    text: str = ""
    previous: Ack | None = None
    """For DUPLICATE: the ack already given for this id."""

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


@dataclass(frozen=True, slots=True)
class Selection:
    """An equipment point reserved by one actor in one role, until ``expires_ns``."""

    point: str
    actor: str
    role: Role
    command_id: str
    value: float | None
    """Value the select named; the operate must carry the same one. None binds nothing."""
    expires_ns: int


@dataclass(frozen=True, slots=True)
class _Seen:
    command: ControlCommand
    ack: Ack


def _refuse(reason: str, text: str) -> Decision:
    return Decision(Verdict.REFUSE, str(reason), text)


_ALLOW = Decision(Verdict.ALLOW)


class WritePolicy:
    """Decides commands for the points of one ``Devices``; one instance per adapter.

    Not thread-safe and not re-entrant: run one command at a time through decide -> settle
    (:class:`runtime.control.executor.Executor` serializes them).
    """

    def __init__(
        self,
        devices: Devices,
        *,
        select_timeout_ns: int = SELECT_TIMEOUT_NS,
        remembered_ids: int = REMEMBERED_IDS,
    ) -> None:
        self.devices = devices
        self.select_timeout_ns = int(select_timeout_ns)
        self._remembered_ids = max(1, int(remembered_ids))
        self._points: dict[str, DevicePoint] = {
            p.point: p for d in devices.devices for p in d.points
        }
        self._interlocks = il.by_point(devices.interlocks)
        self._selections: dict[str, Selection] = {}
        """At most one per sbo point, so it needs no pruning; an expired one is kept until
        replaced or used so that a late operate hears ``selection_expired``."""
        self._accepted: dict[str, tuple[float, int]] = {}
        self._seen: OrderedDict[str, _Seen] = OrderedDict()

    # -- queries ---------------------------------------------------------------------------

    def point(self, point_id: str) -> DevicePoint | None:
        """The device mapping of ``point_id``, or None if no device serves it."""
        return self._points.get(point_id)

    def selection(self, point_id: str, now_ns: int) -> Selection | None:
        """The live (unexpired) selection of ``point_id``, or None."""
        sel = self._selections.get(point_id)
        if sel is None or now_ns >= sel.expires_ns:
            return None
        return sel

    def previous_ack(self, command_id: str) -> Ack | None:
        """The ack already given for ``command_id``, if it is still remembered."""
        seen = self._seen.get(command_id)
        return None if seen is None else seen.ack

    # -- the decision ----------------------------------------------------------------------

    def decide(self, command: ControlCommand, now_ns: int, readings: Readings) -> Decision:
        """Decide ``command`` at ``now_ns`` against ``readings``; changes nothing."""
        seen = self._seen.get(command.id)
        if seen is not None:
            if seen.command.same_request(command):
                return Decision(
                    Verdict.DUPLICATE,
                    Reason.DUPLICATE.value,
                    f"command {command.id} was already handled ({seen.ack.outcome.value}); "
                    "nothing done again",
                    seen.ack,
                )
            return _refuse(
                Reason.ID_REUSED,
                f"command id {command.id} was already used for a different request; send a new id",
            )
        if not command.id:
            return _refuse(Reason.ACTION, "the command has no id")
        spec = self._points.get(command.point)
        if spec is None:
            return _refuse(Reason.UNKNOWN_POINT, f"no device serves point {command.point!r}")
        if not spec.writable:
            return _refuse(Reason.NOT_WRITABLE, f"{spec.point} is read-only")
        role = parse_role(command.role)
        allowed = allowed_roles(spec)
        if role is None or role not in allowed:
            who = f"role {command.role!r}" if role is None else f"the {role.value} role"
            names = ", ".join(sorted(r.value for r in allowed))
            return _refuse(Reason.ROLE, f"{who} may not write {spec.point} (allowed: {names})")
        action = parse_action(command.action)
        if action is None:
            return _refuse(
                Reason.ACTION,
                f"unknown action {command.action!r} (write, select, operate or cancel)",
            )
        if action in (Action.SELECT, Action.CANCEL):
            return self._decide_selection(command, action, role, spec, now_ns, readings)
        if spec.sbo:
            refusal = self._check_selected(command, action, role, spec, now_ns)
            if refusal is not None:
                return refusal
        return self._check_value(command, spec, now_ns, readings, rate=True) or _ALLOW

    def _decide_selection(
        self,
        command: ControlCommand,
        action: Action,
        role: Role,
        spec: DevicePoint,
        now_ns: int,
        readings: Readings,
    ) -> Decision:
        if not spec.sbo:
            return _refuse(
                Reason.NOT_SBO,
                f"{spec.point} is not select-before-operate; send action write instead",
            )
        live = self.selection(spec.point, now_ns)
        if action is Action.CANCEL:
            if live is None or live.actor != command.actor:
                return _refuse(
                    Reason.NOT_SELECTED, f"{command.actor} holds no selection of {spec.point}"
                )
            return _ALLOW
        if live is not None and live.actor != command.actor:
            left_s = (live.expires_ns - now_ns) / 1e9
            return _refuse(
                Reason.SELECTED_BY_OTHER,
                f"{spec.point} is selected by {live.actor} for another {left_s:.1f} s",
            )
        if command.value is None:
            return _ALLOW
        return self._check_value(command, spec, now_ns, readings, rate=False) or _ALLOW

    def _check_selected(
        self, command: ControlCommand, action: Action, role: Role, spec: DevicePoint, now_ns: int
    ) -> Decision | None:
        if action is Action.WRITE:
            return _refuse(
                Reason.NOT_SELECTED,
                f"{spec.point} moves equipment: select it, then operate within "
                f"{self.select_timeout_ns / 1e9:g} s",
            )
        sel = self._selections.get(spec.point)
        if sel is None:
            return _refuse(Reason.NOT_SELECTED, f"{spec.point} was not selected before operate")
        if sel.actor != command.actor or sel.role is not role:
            if now_ns < sel.expires_ns:
                return _refuse(
                    Reason.SELECTED_BY_OTHER,
                    f"{spec.point} is selected by {sel.actor} ({sel.role.value}), "
                    f"not {command.actor} ({role.value})",
                )
            return _refuse(Reason.NOT_SELECTED, f"{spec.point} was not selected before operate")
        if now_ns >= sel.expires_ns:
            late_s = (now_ns - sel.expires_ns) / 1e9 + self.select_timeout_ns / 1e9
            return _refuse(
                Reason.SELECTION_EXPIRED,
                f"the selection of {spec.point} expired: operate came {late_s:.1f} s after "
                f"select (limit {self.select_timeout_ns / 1e9:g} s); select again",
            )
        if sel.value is not None and command.value != sel.value:
            return _refuse(
                Reason.SELECTION_MISMATCH,
                f"operate asks {_fmt(command.value, spec)} but select named "
                f"{_fmt(sel.value, spec)}",
            )
        return None

    def _check_value(
        self,
        command: ControlCommand,
        spec: DevicePoint,
        now_ns: int,
        readings: Readings,
        *,
        rate: bool,
    ) -> Decision | None:
        current = readings.get(spec.point)
        if not is_good(current):
            state = "no reading yet" if current is None else describe(int(current.quality), 0)
            return _refuse(
                Reason.QUALITY,
                f"{spec.point} is not Good ({state}); writes need a Good reading to compare",
            )
        value = command.value
        problem = range_problem(spec, value)
        if problem is not None:
            return _refuse(Reason.RANGE, problem)
        assert value is not None  # range_problem refuses None
        if rate and spec.max_rate_per_s is not None:
            base_value, base_ns = self._accepted.get(
                spec.point,
                (float(current.value), now_ns - FIRST_WRITE_WINDOW_NS),  # type: ignore[union-attr]
            )
            elapsed_s = max(0, now_ns - base_ns) / 1e9
            step = abs(value - base_value)
            allowed_step = spec.max_rate_per_s * elapsed_s
            if step > allowed_step * (1 + 1e-9) + 1e-12:
                return _refuse(
                    Reason.RATE,
                    f"{spec.point}: change of {step:g} {spec.unit} in {elapsed_s:.2f} s exceeds "
                    f"{spec.max_rate_per_s:g} {spec.unit}/s (at most {allowed_step:g} now)",
                )
        blocker = il.blocking(self._interlocks.get(spec.point, ()), value, readings)
        if blocker is not None:
            return _refuse(blocker.reason, blocker.text)
        return None

    # -- state changes ---------------------------------------------------------------------

    def settle(self, command: ControlCommand, now_ns: int, ack: Ack) -> None:
        """Record the final ``ack`` of ``command`` (decided at ``now_ns``).

        Remembers the id (a repeat gets this ack again), opens or closes selections, and moves
        the rate-of-change baseline when a write was attempted (conservatively: a failed write
        may still have reached the device). Acks refused for ``audit_unavailable`` are not
        remembered: nothing about them was recorded, so a retry with the same id is fair.
        """
        if ack.duplicate:
            return
        if ack.code != Reason.AUDIT_UNAVAILABLE or ack.written:
            self._remember(command, ack)
        action = parse_action(command.action)
        role = parse_role(command.role)
        if action is Action.SELECT and ack.outcome is Outcome.SELECTED and role is not None:
            self._selections[command.point] = Selection(
                point=command.point,
                actor=command.actor,
                role=role,
                command_id=command.id,
                value=command.value,
                expires_ns=now_ns + self.select_timeout_ns,
            )
        elif action is Action.CANCEL and ack.outcome is Outcome.CANCELLED:
            self._selections.pop(command.point, None)
        elif action is Action.OPERATE:
            sel = self._selections.get(command.point)
            if (
                sel is not None
                and sel.actor == command.actor
                and ack.code
                not in (
                    Reason.AUDIT_UNAVAILABLE,
                    Reason.DUPLICATE,
                    Reason.ID_REUSED,
                )
            ):
                # A selection is used up by the operate of its holder, whatever its outcome.
                del self._selections[command.point]
        if ack.written and command.value is not None:
            self._accepted[command.point] = (float(command.value), now_ns)

    def remember(self, command: ControlCommand, ack: Ack) -> None:
        """Treat ``command`` as answered with ``ack`` (ids restored from the audit log)."""
        self._remember(command, ack)

    def _remember(self, command: ControlCommand, ack: Ack) -> None:
        self._seen[command.id] = _Seen(command, ack)
        self._seen.move_to_end(command.id)
        while len(self._seen) > self._remembered_ids:
            self._seen.popitem(last=False)


def range_problem(spec: DevicePoint, value: float | None) -> str | None:
    """Why ``value`` cannot be written to ``spec`` as is, or None.

    Beyond min/max, the value must be representable in the register without rounding or
    saturation (a uint16 enum refuses 0.5; a bool refuses 2): the encoder would otherwise change
    it silently, which R13 forbids.
    """
    if value is None or not math.isfinite(value):
        return f"{spec.point}: the value must be a finite number, got {value!r}"
    if spec.min is not None and value < spec.min:
        return f"{spec.point}: {_fmt(value, spec)} is below the minimum {_fmt(spec.min, spec)}"
    if spec.max is not None and value > spec.max:
        return f"{spec.point}: {_fmt(value, spec)} is above the maximum {_fmt(spec.max, spec)}"
    raw = (value - spec.offset) / spec.scale
    if spec.type == "bool":
        if raw not in (0.0, 1.0):
            return f"{spec.point}: a bool point takes 0 or 1, got {value:g}"
        return None
    if spec.type == "float32":
        if abs(raw) > _FLOAT32_MAX:
            return f"{spec.point}: {value:g} does not fit a float32 register"
        return None
    lo, hi = _INT_RANGES[spec.type]
    nearest = round(raw)
    if abs(raw - nearest) > 1e-6 * max(1.0, abs(raw)):
        step = abs(spec.scale)
        return (
            f"{spec.point}: {value:g} is not a multiple of the register's step {step:g} "
            f"{spec.unit}; it would be rounded"
        )
    if not lo <= nearest <= hi:
        return f"{spec.point}: {value:g} does not fit the {spec.type} register"
    return None


def readback_matches(spec: DevicePoint, requested: float, read_back: float) -> bool:
    """Whether a read-back value confirms the requested one, allowing for float32 precision."""
    if not math.isfinite(read_back):
        return False
    if spec.type == "float32":
        tolerance = 1e-6 * max(abs(requested), abs(spec.scale), 1e-30)
    else:
        tolerance = 1e-6 * abs(spec.scale)
    return abs(read_back - requested) <= tolerance


def _fmt(value: float | None, spec: DevicePoint) -> str:
    if value is None:
        return "nothing"
    unit = "" if spec.unit in ("bool", "enum") else f" {spec.unit}"
    return f"{value:g}{unit}"


__all__ = [
    "FIRST_WRITE_WINDOW_NS",
    "REMEMBERED_IDS",
    "SELECT_TIMEOUT_NS",
    "Decision",
    "Reason",
    "Selection",
    "Verdict",
    "WritePolicy",
    "range_problem",
    "readback_matches",
]
