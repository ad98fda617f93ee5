"""WritePolicy decisions, one reason at a time (R13). No I/O, no sleeping: time is a number."""

from __future__ import annotations

import math

import pytest
from control_fixtures import good_readings, pump_devices

from runtime.control.ack import Ack, Outcome
from runtime.control.command import ControlCommand
from runtime.control.policy import SELECT_TIMEOUT_NS, Verdict, WritePolicy, range_problem
from runtime.control.readings import Reading
from runtime.control.roles import Role, allowed_roles, may_write, parse_role
from runtime.quality import Quality

T0 = 5_000_000_000_000
S = 1_000_000_000


def cmd(
    point: str,
    value: float | None,
    *,
    action: str = "write",
    role: str = "operator",
    actor: str = "ann",
    ident: str = "c1",
) -> ControlCommand:
    return ControlCommand(
        id=ident, point=point, value=value, role=role, actor=actor, host="hmi", action=action
    )


@pytest.fixture
def policy() -> WritePolicy:
    return WritePolicy(pump_devices())


@pytest.fixture
def readings() -> dict[str, Reading]:
    return good_readings(pump_devices())


def reason(policy: WritePolicy, command: ControlCommand, readings, now_ns: int = T0) -> str:  # noqa: ANN001
    d = policy.decide(command, now_ns, readings)
    return "allow" if d.verdict is Verdict.ALLOW else d.reason


def ack_for(command: ControlCommand, outcome: Outcome, **kw: object) -> Ack:
    return Ack(
        id=command.id, point=command.point, action=command.action, outcome=outcome,
        requested=command.value, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_roles(policy: WritePolicy, readings) -> None:  # noqa: ANN001
    point = "LIC-102/setpoint_m"
    assert reason(policy, cmd(point, 3.0), readings) == "allow"
    assert reason(policy, cmd(point, 3.0, role="instructor"), readings) == "allow"
    assert reason(policy, cmd(point, 3.0, role="viewer"), readings) == "role"
    assert reason(policy, cmd(point, 3.0, role="root"), readings) == "role"
    assert reason(policy, cmd(point, 3.0, role=""), readings) == "role"
    assert parse_role(" Operator ") is Role.OPERATOR and parse_role("admin") is None
    spec = policy.point(point)
    assert spec is not None and may_write(Role.OPERATOR, spec) and not may_write(Role.VIEWER, spec)


def test_per_point_roles_override(readings) -> None:  # noqa: ANN001
    from dataclasses import replace

    devices = pump_devices()
    dev = devices.devices[1]
    points = tuple(
        replace(p, roles=("instructor",)) if p.point == "LIC-102/setpoint_m" else p
        for p in dev.points
    )
    patched = replace(devices, devices=(devices.devices[0], replace(dev, points=points),
                                        devices.devices[2]))  # fmt: skip
    policy = WritePolicy(patched)
    assert allowed_roles(policy.point("LIC-102/setpoint_m")) == {Role.INSTRUCTOR}  # type: ignore[arg-type]
    assert reason(policy, cmd("LIC-102/setpoint_m", 3.0), readings) == "role"
    assert reason(policy, cmd("LIC-102/setpoint_m", 3.0, role="instructor"), readings) == "allow"


def test_unknown_and_read_only_points(policy: WritePolicy, readings) -> None:  # noqa: ANN001
    assert reason(policy, cmd("P-101/speed_rpm", 1.0), readings) == "not_writable"
    assert reason(policy, cmd("P-109/speed_sp_rpm", 1.0), readings) == "unknown_point"
    assert reason(policy, cmd("LIC-102/setpoint_m", 3.0, action="jump"), readings) == "action"


@pytest.mark.parametrize(
    ("point", "value", "expected"),
    [
        ("LIC-102/setpoint_m", 0.5, "allow"),
        ("LIC-102/setpoint_m", 4.5, "allow"),
        ("LIC-102/setpoint_m", 0.49, "range"),
        ("LIC-102/setpoint_m", 4.6, "range"),
        ("LIC-102/setpoint_m", math.nan, "range"),
        ("LIC-102/setpoint_m", math.inf, "range"),
        ("LIC-102/setpoint_m", None, "range"),
        ("UC-101/mode", 1, "allow"),
        ("UC-101/mode", 0.5, "range"),  # a uint16 would round it: refused, never rounded
        ("P-101/reset_cmd", 1, "allow"),
        ("P-101/reset_cmd", 2, "range"),
    ],
)
def test_range_is_refused_not_clamped(policy, readings, point, value, expected) -> None:  # noqa: ANN001
    assert reason(policy, cmd(point, value), readings) == expected


def test_quality_must_be_good(policy: WritePolicy, readings) -> None:  # noqa: ANN001
    point = "LIC-102/setpoint_m"
    readings[point] = Reading(3.0, Quality.UNCERTAIN)
    assert reason(policy, cmd(point, 3.0), readings) == "quality"
    readings[point] = Reading(math.nan, Quality.GOOD)
    assert reason(policy, cmd(point, 3.0), readings) == "quality"
    del readings[point]
    assert reason(policy, cmd(point, 3.0), readings) == "quality"


def test_rate_of_change(policy: WritePolicy, readings) -> None:  # noqa: ANN001
    point = "P-101/speed_sp_rpm"  # max_rate_per_s: 300
    readings[point] = Reading(1000.0)
    # First write: one second's worth away from the current reading.
    assert reason(policy, cmd(point, 1300.0), readings) == "allow"
    assert reason(policy, cmd(point, 1301.0), readings) == "rate"
    first = cmd(point, 1300.0)
    policy.settle(first, T0, ack_for(first, Outcome.CONFIRMED, written=True))
    # Then against the last accepted value and time.
    assert reason(policy, cmd(point, 1450.0, ident="c2"), readings, T0 + S // 2) == "allow"
    assert reason(policy, cmd(point, 1451.0, ident="c2"), readings, T0 + S // 2) == "rate"
    assert reason(policy, cmd(point, 1300.0, ident="c2"), readings, T0) == "allow"
    assert reason(policy, cmd(point, 0.0, ident="c2"), readings, T0 + 4 * S) == "rate"
    assert reason(policy, cmd(point, 100.0, ident="c2"), readings, T0 + 4 * S) == "allow"


def test_interlocks(policy: WritePolicy, readings) -> None:  # noqa: ANN001
    readings["P-101/running"] = Reading(1.0)
    refused = policy.decide(cmd("P-102/run_cmd", 1, action="select"), T0, readings)
    assert refused.reason == "interlock:IL-1" and "P-101 is running" in refused.text
    assert reason(policy, cmd("P-102/run_cmd", 0, action="select"), readings) == "allow"
    readings["P-101/running"] = Reading(0.0)
    assert reason(policy, cmd("P-102/run_cmd", 1, action="select"), readings) == "allow"
    readings["P-101/running"] = Reading(0.0, Quality.BAD)  # fail safe
    assert reason(policy, cmd("P-102/run_cmd", 1, action="select"), readings) == "interlock:IL-1"

    fv = "FV-101/position_sp_pct"
    readings["LT-102/level_m"] = Reading(4.6)
    assert reason(policy, cmd(fv, 80.0), readings) == "allow"
    assert reason(policy, cmd(fv, 80.5), readings) == "interlock:IL-2"
    readings["LT-102/level_m"] = Reading(4.5)
    assert reason(policy, cmd(fv, 100.0), readings) == "allow"
    del readings["LT-102/level_m"]
    assert reason(policy, cmd(fv, 100.0), readings) == "interlock:IL-2"


def _settle(policy: WritePolicy, command: ControlCommand, now: int, outcome: Outcome) -> None:
    written = outcome is Outcome.CONFIRMED
    policy.settle(command, now, ack_for(command, outcome, written=written))


def test_select_before_operate(policy: WritePolicy, readings) -> None:  # noqa: ANN001
    p = "P-101/run_cmd"
    assert reason(policy, cmd(p, 1), readings) == "not_selected"  # a plain write
    assert reason(policy, cmd(p, 1, action="operate"), readings) == "not_selected"
    assert reason(policy, cmd("LIC-102/setpoint_m", 3, action="select"), readings) == "not_sbo"
    sel = cmd(p, 1, action="select", ident="s1")
    assert reason(policy, sel, readings) == "allow"
    _settle(policy, sel, T0, Outcome.SELECTED)
    other = cmd(p, 1, action="select", actor="bob", ident="s2")
    assert reason(policy, other, readings, T0 + S) == "selected_by_other"
    assert reason(policy, cmd(p, 1, action="operate", actor="bob", ident="o0"), readings) == (
        "selected_by_other"
    )
    assert reason(policy, cmd(p, 0, action="operate", ident="o1"), readings) == (
        "selection_mismatch"
    )
    late = T0 + SELECT_TIMEOUT_NS
    assert reason(policy, cmd(p, 1, action="operate", ident="o1"), readings, late) == (
        "selection_expired"
    )
    assert reason(policy, other, readings, late) == "allow"  # the expired one no longer holds
    op = cmd(p, 1, action="operate", ident="o1")
    assert reason(policy, op, readings, late - 1) == "allow"
    _settle(policy, op, late - 1, Outcome.CONFIRMED)
    # Used up by the operate:
    assert reason(policy, cmd(p, 1, action="operate", ident="o2"), readings, late - 1) == (
        "not_selected"
    )


def test_cancel(policy: WritePolicy, readings) -> None:  # noqa: ANN001
    p = "P-102/run_cmd"
    assert reason(policy, cmd(p, None, action="cancel"), readings) == "not_selected"
    sel = cmd(p, None, action="select", ident="s1")  # no value: binds nothing
    _settle(policy, sel, T0, Outcome.SELECTED)
    assert reason(policy, cmd(p, None, action="cancel", actor="bob", ident="x"), readings) == (
        "not_selected"
    )
    cancel = cmd(p, None, action="cancel", ident="x1")
    assert reason(policy, cancel, readings) == "allow"
    _settle(policy, cancel, T0, Outcome.CANCELLED)
    assert reason(policy, cmd(p, 1, action="operate", ident="o"), readings) == "not_selected"


def test_duplicate_ids(policy: WritePolicy, readings) -> None:  # noqa: ANN001
    c = cmd("LIC-102/setpoint_m", 3.0, ident="same")
    _settle(policy, c, T0, Outcome.CONFIRMED)
    d = policy.decide(c, T0 + S, readings)
    assert d.verdict is Verdict.DUPLICATE and d.previous is not None
    assert d.previous.outcome is Outcome.CONFIRMED
    assert reason(policy, cmd("LIC-102/setpoint_m", 4.0, ident="same"), readings) == "id_reused"


def test_remembered_ids_are_bounded(readings) -> None:  # noqa: ANN001
    policy = WritePolicy(pump_devices(), remembered_ids=3)
    for i in range(5):
        c = cmd("LIC-102/setpoint_m", 3.0, ident=f"c{i}")
        _settle(policy, c, T0, Outcome.CONFIRMED)
    assert policy.previous_ack("c0") is None and policy.previous_ack("c4") is not None


def test_range_problem_messages() -> None:
    spec = WritePolicy(pump_devices()).point("P-101/speed_sp_rpm")
    assert spec is not None
    assert "above the maximum 1480 rpm" in (range_problem(spec, 1500) or "")


def test_command_from_wire_message() -> None:
    class Wire:
        id = "abc"
        point = "P-101/run_cmd"
        value = "oops"
        role = "operator"
        actor = "ann"
        host = "hmi"
        action = "operate"

    c = ControlCommand.from_message(Wire())
    assert c.value is not None and math.isnan(c.value) and c.action == "operate"
    m = ControlCommand.from_message({"id": "x", "point": "p", "value": 2, "role": "viewer"})
    assert (m.value, m.action, m.actor) == (2.0, "write", "")
