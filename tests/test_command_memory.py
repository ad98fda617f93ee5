"""Command ids survive an adapter restart (R13): rebuilt from the audit log."""

from __future__ import annotations

from pathlib import Path

from control_fixtures import good_readings, pump_devices

from runtime.control.ack import Outcome
from runtime.control.audit import AuditLog
from runtime.control.command import ControlCommand
from runtime.control.command_memory import OUTCOME_UNKNOWN, restore
from runtime.control.policy import Verdict, WritePolicy


def _command(ident: str, value: float) -> ControlCommand:
    return ControlCommand(id=ident, point="LIC-102/setpoint_m", value=value, role="operator",
                          actor="alice", host="ws-3", action="write")


def _record(log: AuditLog, c: ControlCommand, outcome: str, reason: str = "") -> None:
    log.append(actor=c.actor, role=c.role, host=c.host, command_id=c.id, point=c.point,
               action=c.action, old_value=2.0, new_value=c.value, outcome=outcome,
               reason=reason, detail="")


def test_ids_answered_before_a_restart_are_duplicates_after_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    done, crashed, refused = _command("a", 3.0), _command("b", 3.1), _command("c", 99.0)
    _record(log, done, "pending")
    _record(log, done, "confirmed")
    _record(log, crashed, "pending")  # the adapter died between the write and the ack
    _record(log, refused, "refused", "range")
    log.close()

    policy = WritePolicy(pump_devices())  # a fresh adapter process
    assert restore(policy, path) == 3
    readings = good_readings(policy.devices)
    for c, outcome, reason in ((done, Outcome.CONFIRMED, ""),
                               (crashed, Outcome.FAILED, OUTCOME_UNKNOWN),
                               (refused, Outcome.REFUSED, "range")):
        d = policy.decide(c, 0, readings)
        assert d.verdict is Verdict.DUPLICATE and d.previous is not None
        assert (d.previous.outcome, d.previous.code) == (outcome, reason)
    # The same id with another value is a reused id, refused.
    assert policy.decide(_command("a", 3.5), 0, readings).reason == "id_reused"
