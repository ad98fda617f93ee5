"""Run one command through policy, audit and device: the adapter's whole write path.

Order (R13, R14)::

    decide -> audit (refused | selected | cancelled | pending) -> write -> read back
           -> audit (confirmed | failed) -> ack

Nothing reaches the device unless its ``pending`` record is on disk, and no ack is returned
before the record of its outcome is. So a crash (even kill -9) between the device write and the
ack leaves the attempt in the log, and a log that cannot be written stops all writes.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from runtime.control.ack import Ack, Outcome
from runtime.control.audit import AuditLog, AuditUnavailableError
from runtime.control.command import Action, ControlCommand, parse_action
from runtime.control.policy import Reason, Verdict, WritePolicy, readback_matches
from runtime.control.readings import Readings, is_good
from runtime.scene.model import DevicePoint


class DeviceWriter(Protocol):
    """Where allowed writes go. The real one is ``modbus_writer.ModbusDeviceWriter``."""

    async def write(self, point: str, value: float) -> None:
        """Write the engineering ``value`` to ``point``; raise on any failure."""
        ...

    async def read_back(self, point: str) -> float:
        """Read ``point`` back from the device as an engineering value; raise on failure."""
        ...


_SELECTION_OUTCOME = {Action.SELECT: Outcome.SELECTED, Action.CANCEL: Outcome.CANCELLED}


async def execute(
    command: ControlCommand,
    policy: WritePolicy,
    audit: AuditLog,
    writer: DeviceWriter,
    readings: Readings,
    *,
    now_ns: int,
) -> Ack:
    """Decide, audit, write, read back, audit, and return the ack for ``command``.

    ``now_ns`` is the policy's monotonic clock (select-before-operate expiry). Callers must not
    run two ``execute`` calls on the same policy at once; :class:`Executor` serializes them.
    Never raises for a refused or failed command: the ack says what happened.
    """
    decision = policy.decide(command, now_ns, readings)
    current = readings.get(command.point)
    old_value = None if current is None else float(current.value)

    async def record(outcome: str, reason: str, detail: str) -> None:
        await asyncio.to_thread(
            audit.append,
            actor=command.actor,
            role=command.role,
            host=command.host,
            command_id=command.id,
            point=command.point,
            action=command.action,
            old_value=old_value,
            new_value=command.value,
            outcome=outcome,
            reason=reason,
            detail=detail,
        )

    def ack(outcome: Outcome, reason: str = "", text: str = "", **extra: object) -> Ack:
        return Ack(
            id=command.id,
            point=command.point,
            action=command.action,
            outcome=outcome,
            code=reason,
            text=text,
            requested=command.value,
            **extra,  # type: ignore[arg-type]
        )

    unavailable = ack(
        Outcome.REFUSED,
        Reason.AUDIT_UNAVAILABLE.value,
        f"the audit log cannot be written ({audit.problem or 'unavailable'}); writes are stopped",
    )

    if decision.verdict is Verdict.DUPLICATE:
        assert decision.previous is not None
        try:
            await record("duplicate", decision.reason, decision.text)
        except AuditUnavailableError:
            return unavailable
        return replace(decision.previous, duplicate=True)

    if decision.verdict is Verdict.REFUSE:
        try:
            await record("refused", decision.reason, decision.text)
        except AuditUnavailableError:
            return _settled(policy, command, now_ns, _refresh(unavailable, audit))
        return _settled(
            policy, command, now_ns, ack(Outcome.REFUSED, decision.reason, decision.text)
        )

    action = parse_action(command.action)
    if action in _SELECTION_OUTCOME:
        outcome = _SELECTION_OUTCOME[action]  # type: ignore[index]
        text = (
            f"{command.point} selected by {command.actor}; operate within "
            f"{policy.select_timeout_ns / 1e9:g} s"
            if outcome is Outcome.SELECTED
            else f"selection of {command.point} given back"
        )
        try:
            await record(outcome.value, "", text)
        except AuditUnavailableError:
            return _settled(policy, command, now_ns, _refresh(unavailable, audit))
        return _settled(policy, command, now_ns, ack(outcome, "", text))

    value = command.value
    assert value is not None and math.isfinite(value)  # the policy refuses anything else
    try:
        await record("pending", "", f"writing {value:g} to {command.point}")
    except AuditUnavailableError:
        return _settled(policy, command, now_ns, _refresh(unavailable, audit))

    result = await _write_and_confirm(command, policy, writer, value, readings)
    try:
        await record(result.outcome.value, result.code, result.text)
    except AuditUnavailableError:
        result = replace(
            result,
            code=Reason.AUDIT_UNAVAILABLE.value,
            text=f"{result.text}; but its outcome could not be audited ({audit.problem}), "
            "so writes are now stopped",
        )
    return _settled(policy, command, now_ns, result)


async def _write_and_confirm(
    command: ControlCommand, policy: WritePolicy, writer: DeviceWriter, value: float,
    readings: Readings,
) -> Ack:
    spec = policy.point(command.point)
    assert spec is not None

    def done(outcome: Outcome, reason: str, text: str, read: float | None) -> Ack:
        return Ack(
            id=command.id,
            point=command.point,
            action=command.action,
            outcome=outcome,
            code=reason,
            text=text,
            requested=value,
            readback=read,
            written=True,
        )

    try:
        await writer.write(command.point, value)
    except Exception as exc:  # noqa: BLE001 - any device failure is reported, never raised
        return done(
            Outcome.FAILED,
            Reason.WRITE_FAILED.value,
            f"writing {command.point} failed: {_describe(exc)}",
            None,
        )
    try:
        read = float(await writer.read_back(command.point))
    except Exception as exc:  # noqa: BLE001
        return done(
            Outcome.FAILED,
            Reason.READBACK_FAILED.value,
            f"{command.point} was written but could not be read back: {_describe(exc)}",
            None,
        )
    if not readback_matches(spec, value, read):
        return done(
            Outcome.FAILED,
            Reason.READBACK_MISMATCH.value,
            f"{command.point} reads back {read:g} after writing {value:g}",
            read,
        )
    if spec.feedback is not None:
        return await _confirm_by_feedback(spec, command.point, value, readings, done)
    return done(Outcome.CONFIRMED, "", f"{command.point} = {read:g} {spec.unit}", read)


FEEDBACK_POLL_S = 0.05


async def _confirm_by_feedback(spec: DevicePoint, point: str, value: float, readings: Readings,
                               done: Callable[..., Ack]) -> Ack:
    """Wait for the feedback point (the device's own report of what it did) to come within the
    tolerance of the value written; the adapter's readings are live, refreshed by its poller."""
    feedback = spec.feedback
    assert feedback is not None
    deadline = time.monotonic() + spec.feedback_timeout_ms / 1000.0
    last: float | None = None
    while True:
        reading = readings.get(feedback)
        if is_good(reading):
            last = float(reading.value)  # type: ignore[union-attr]
            if abs(last - value) <= spec.feedback_tolerance:
                return done(Outcome.CONFIRMED, "", f"{point} = {value:g} {spec.unit}; "
                            f"{feedback} reached {last:g} {spec.unit}", last)
        if time.monotonic() >= deadline:
            now = "no Good reading" if last is None else f"{last:g} {spec.unit}"
            return done(Outcome.FAILED, Reason.FEEDBACK_TIMEOUT.value,
                        f"{point} was written, but {feedback} is at {now}, not "
                        f"{value:g} +/- {spec.feedback_tolerance:g} {spec.unit}, "
                        f"{spec.feedback_timeout_ms / 1000:g} s later; check the equipment",
                        last)
        await asyncio.sleep(FEEDBACK_POLL_S)


def _settled(policy: WritePolicy, command: ControlCommand, now_ns: int, ack: Ack) -> Ack:
    policy.settle(command, now_ns, ack)
    return ack


def _refresh(ack: Ack, audit: AuditLog) -> Ack:
    """The audit_unavailable ack with the log's current problem in its text."""
    text = f"the audit log cannot be written ({audit.problem}); writes are stopped"
    return replace(ack, text=text)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Executor:
    """One adapter's write path: holds policy, audit, device writer and clocks, and runs one
    command at a time (the policy's state must not interleave across awaits)."""

    def __init__(
        self,
        policy: WritePolicy,
        audit: AuditLog,
        writer: DeviceWriter,
        readings: Readings | Callable[[], Readings],
        *,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.policy = policy
        self.audit = audit
        self.writer = writer
        self._readings = readings
        self._clock = clock
        self._lock = asyncio.Lock()

    async def execute(self, command: ControlCommand) -> Ack:
        """Run ``command``; waits for any command already running."""
        async with self._lock:
            readings = self._readings() if callable(self._readings) else self._readings
            return await execute(
                command, self.policy, self.audit, self.writer, readings, now_ns=self._clock()
            )


def local_host() -> str:
    """This machine's name, for commands built locally (``twinstage write``)."""
    return socket.gethostname()


__all__ = ["DeviceWriter", "Executor", "execute", "local_host"]
