"""Stateful property test of the whole write path (R13, R14).

Random sequences of select / operate / write / cancel / repeats, with the wrong role, out of
range values, expired selections, Bad quality and active interlocks, run through the real
Executor, a real AuditLog and ModbusDeviceWriter against real pymodbus servers on loopback.
After every step the devices must have received exactly the writes a small independent model
of the rules allows, every ack must match the model, and the audit chain must verify.
The clock is a number the test moves: expiry is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from control_fixtures import LoopbackPlant, ManualClock, good_readings, pump_devices
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from runtime.control.ack import Outcome
from runtime.control.audit import AuditLog, verify
from runtime.control.command import ControlCommand
from runtime.control.executor import Executor
from runtime.control.modbus_writer import ModbusDeviceWriter
from runtime.control.policy import WritePolicy
from runtime.control.readings import Reading
from runtime.quality import Quality
from runtime.registers import encode_value

SPEED = "P-101/speed_sp_rpm"  # float32 0..1480, max 300 rpm/s
RUN1 = "P-101/run_cmd"  # sbo, uint16 0..1
RUN2 = "P-102/run_cmd"  # sbo, IL-1: not 1 while P-101/running == 1
VALVE = "FV-101/position_sp_pct"  # IL-2: not above 80 while LT-102/level_m > 4.5
READ_ONLY = "P-101/speed_rpm"
TARGETS = (SPEED, RUN1, RUN2, VALVE, READ_ONLY)
INPUTS = ("P-101/running", "LT-102/level_m")
SBO = {RUN1, RUN2}
LIMITS = {SPEED: (0.0, 1480.0), RUN1: (0.0, 1.0), RUN2: (0.0, 1.0), VALVE: (0.0, 100.0)}
INTEGRAL = {RUN1, RUN2}
TIMEOUT_S = 10.0


@dataclass
class Sel:
    actor: str
    role: str
    value: float | None
    expires_s: float


class WritePathMachine(RuleBasedStateMachine):
    """Model: what the rules say should happen. System: Executor + Modbus + AuditLog."""

    sent = Bundle("sent")

    def __init__(self) -> None:
        super().__init__()
        self.devices = pump_devices()
        self.dir = Path(tempfile.mkdtemp(prefix="twinstage-sbo-"))
        self.loop = asyncio.new_event_loop()
        self.plant = LoopbackPlant(self.devices)
        self.loop.run_until_complete(self.plant.start())
        self.writer = self.loop.run_until_complete(
            ModbusDeviceWriter.connect(self.devices, hosts=self.plant.hosts)
        )
        self.clock = ManualClock()
        self.readings: dict[str, Reading] = good_readings(self.devices)
        self.readings[SPEED] = Reading(0.0)
        self.audit = AuditLog(self.dir / "audit.jsonl")
        self.executor = Executor(
            WritePolicy(self.devices), self.audit, self.writer, self.readings, clock=self.clock
        )
        # The model.
        self.now_s = 0.0
        self.selections: dict[str, Sel] = {}
        self.accepted: dict[str, tuple[float, float]] = {}
        self.seen: dict[str, tuple[ControlCommand, str, str]] = {}
        self.expected_writes: list[tuple[str, int, int, tuple[int, ...]]] = []
        self.records = 0
        self.next_id = 0

    def teardown(self) -> None:
        self.writer.close()
        self.audit.close()
        self.loop.run_until_complete(self.plant.stop())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the world changes -----------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.0, 0.3, 1.0, 4.0, 9.9, 10.0, 25.0]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.now_s += seconds

    @rule(point=st.sampled_from(TARGETS[:4] + INPUTS), good=st.booleans())
    def quality_changes(self, point: str, good: bool) -> None:
        q = Quality.GOOD if good else Quality.BAD
        self.readings[point] = Reading(self.readings[point].value, q)

    @rule(running=st.booleans())
    def p101_running(self, running: bool) -> None:
        r = self.readings["P-101/running"]
        self.readings["P-101/running"] = Reading(float(running), r.quality)

    @rule(level=st.sampled_from([3.0, 4.5, 4.6]))
    def clearwell_level(self, level: float) -> None:
        r = self.readings["LT-102/level_m"]
        self.readings["LT-102/level_m"] = Reading(level, r.quality)

    # -- commands --------------------------------------------------------------------------

    @rule(
        target=sent,
        action=st.sampled_from(["write", "select", "operate", "cancel", "jump"]),
        point=st.sampled_from(TARGETS),
        value=st.sampled_from(
            [None, 0.0, 1.0, 0.5, 70.0, 85.0, 250.0, 600.0, 1480.0, 1500.0, -1.0, math.nan]
        ),  # fmt: skip
        actor=st.sampled_from(["ann", "bob"]),
        role=st.sampled_from(["operator", "operator", "instructor", "viewer", "root"]),
    )
    def send(self, action: str, point: str, value: float | None, actor: str, role: str):  # noqa: ANN201
        return self._send(self._new(action, point, value, actor, role))

    @rule(
        target=sent,
        point=st.sampled_from(sorted(SBO)),
        value=st.sampled_from([0.0, 1.0]),
        actor=st.sampled_from(["ann", "bob"]),
        role=st.sampled_from(["operator", "instructor"]),
        bind=st.booleans(),
    )
    def select(self, point: str, value: float, actor: str, role: str, bind: bool):  # noqa: ANN201
        """Selections that can succeed, so operates have something to find."""
        return self._send(self._new("select", point, value if bind else None, actor, role))

    @rule(
        target=sent,
        point=st.sampled_from([SPEED, VALVE]),
        value=st.sampled_from([0.0, 50.0, 79.0, 85.0, 100.0, 250.0, 299.0, 301.0, 700.0]),
        role=st.sampled_from(["operator", "instructor"]),
    )
    def write_setpoint(self, point: str, value: float, role: str):  # noqa: ANN201
        """Setpoint writes that can succeed, so rate limits and interlocks get exercised."""
        return self._send(self._new("write", point, value, "ann", role))

    @rule(target=sent, command=sent)
    def operate_after(self, command: ControlCommand):  # noqa: ANN201
        """Operate the point a previous command named, as the same actor and role."""
        value = command.value if command.value is not None else 1.0
        return self._send(self._new("operate", command.point, value, command.actor, command.role))

    @rule(command=sent)
    def repeat(self, command: ControlCommand) -> None:
        """Resend a command verbatim (a client retry): no second effect."""
        self._send(command)

    def _new(
        self, action: str, point: str, value: float | None, actor: str, role: str
    ) -> ControlCommand:
        self.next_id += 1
        return ControlCommand(
            id=f"c{self.next_id}", point=point, value=value, role=role, actor=actor,
            host="test", action=action,
        )  # fmt: skip

    def _send(self, command: ControlCommand) -> ControlCommand:
        repeat = command.id in self.seen
        expected_outcome, expected_reason = self._expect(command)
        label = "repeat" if repeat else command.action
        event(f"{label} -> {expected_outcome} {expected_reason}".strip())
        ack = self.loop.run_until_complete(self.executor.execute(command))
        assert (ack.outcome.value, ack.code) == (expected_outcome, expected_reason), (
            command,
            ack,
        )
        assert self.plant.writes_as_tuples() == self.expected_writes  # type: ignore[attr-defined]
        return command

    # -- the model of the rules ------------------------------------------------------------

    def _good(self, point: str) -> bool:
        r = self.readings.get(point)
        return r is not None and r.quality == Quality.GOOD and math.isfinite(r.value)

    def _value_problem(self, point: str, value: float | None, rate: bool) -> str:
        if not self._good(point):
            return "quality"
        lo, hi = LIMITS[point]
        if value is None or not math.isfinite(value) or not lo <= value <= hi:
            return "range"
        if point in INTEGRAL and value != int(value):
            return "range"
        if rate and point == SPEED:
            base, t = self.accepted.get(point, (self.readings[point].value, self.now_s - 1.0))
            if abs(value - base) > 300.0 * (self.now_s - t) * (1 + 1e-9) + 1e-12:
                return "rate"
        if point == RUN2 and value != 0.0:
            running = self.readings["P-101/running"]
            if not self._good("P-101/running") or running.value == 1.0:
                return "interlock:IL-1"
        if point == VALVE and value > 80.0:
            level = self.readings["LT-102/level_m"]
            if not self._good("LT-102/level_m") or level.value > 4.5:
                return "interlock:IL-2"
        return ""

    def _decide(self, c: ControlCommand) -> str:
        """'' for allowed, else the reason code."""
        if c.point == READ_ONLY:
            return "not_writable"
        if c.role not in ("operator", "instructor"):
            return "role"
        if c.action not in ("write", "select", "operate", "cancel"):
            return "action"
        sel = self.selections.get(c.point)
        live = sel if sel is not None and self.now_s < sel.expires_s else None
        if c.action in ("select", "cancel"):
            if c.point not in SBO:
                return "not_sbo"
            if c.action == "cancel":
                return "" if live is not None and live.actor == c.actor else "not_selected"
            if live is not None and live.actor != c.actor:
                return "selected_by_other"
            return "" if c.value is None else self._value_problem(c.point, c.value, rate=False)
        if c.point in SBO:
            if c.action == "write" or sel is None:
                return "not_selected"
            if sel.actor != c.actor or sel.role != c.role:
                return "selected_by_other" if live is not None else "not_selected"
            if live is None:
                return "selection_expired"
            if sel.value is not None and c.value != sel.value:
                return "selection_mismatch"
        return self._value_problem(c.point, c.value, rate=True)

    def _expect(self, c: ControlCommand) -> tuple[str, str]:
        if c.id in self.seen:
            self.records += 1
            previous, outcome, reason = self.seen[c.id]
            assert previous == c
            return outcome, reason
        problem = self._decide(c)
        if problem:
            outcome, reason = Outcome.REFUSED.value, problem
            self.records += 1
        elif c.action == "select":
            outcome, reason = Outcome.SELECTED.value, ""
            self.records += 1
            self.selections[c.point] = Sel(c.actor, c.role, c.value, self.now_s + TIMEOUT_S)
        elif c.action == "cancel":
            outcome, reason = Outcome.CANCELLED.value, ""
            self.records += 1
            del self.selections[c.point]
        else:
            outcome, reason = Outcome.CONFIRMED.value, ""
            self.records += 2
            assert c.value is not None
            device, spec = self.devices.owner_of(c.point)  # type: ignore[misc]
            words = tuple(encode_value(spec.type, device.word_order, 1.0, 0.0, c.value))
            fc = 6 if len(words) == 1 else 16
            self.expected_writes.append((device.id, fc, spec.address, words))
            self.accepted[c.point] = (c.value, self.now_s)
            r = self.readings[c.point]
            self.readings[c.point] = Reading(c.value, r.quality)
        if c.action == "operate":
            sel = self.selections.get(c.point)
            if sel is not None and sel.actor == c.actor:
                del self.selections[c.point]
        self.seen[c.id] = (c, outcome, reason)
        return outcome, reason

    @invariant()
    def audit_chain_holds(self) -> None:
        assert self.audit.last_seq == self.records
        if self.records % 7 == 0:  # full verify now and then keeps the run short
            assert verify(self.dir / "audit.jsonl").ok


def _writes_as_tuples(self: LoopbackPlant) -> list[tuple[str, int, int, tuple[int, ...]]]:
    return [(w.device_id, w.function_code, w.address, w.values) for w in self.writes]


LoopbackPlant.writes_as_tuples = _writes_as_tuples  # type: ignore[attr-defined]

WritePathMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestWritePath = WritePathMachine.TestCase
