"""The vectorised engine against the explicit transition tables of runtime.alarms.states.

A hypothesis state machine drives value changes, time steps (delays, shelve expiry),
suppression toggles, acks, shelves, unshelves and out-of-service in any order and timing; a
model that knows only the tables (reference_step) and the delay rule says what must happen.
"""

from __future__ import annotations

from dataclasses import dataclass

import hypothesis.strategies as st
from alarm_fixtures import T0, Feed, S, alarm, alarm_set
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from runtime.alarms import AlarmEngine, Condition
from runtime.alarms.states import (
    PLAIN_FLAGS,
    PLAIN_TRANSITIONS,
    SHELVED_PLAIN_TRANSITIONS,
    FullState,
    reference_step,
)

LIMIT = 1.0
BAND = 0.5
VALUES = (0.0, 0.8, 1.2, 2.0)
"""Below the band, inside it, just above the limit, far above."""
WHICH = st.sampled_from(["A", "B", "*"])


@dataclass
class ModelAlarm:
    point: str
    on_ns: int
    off_ns: int
    suppressible: bool
    full: FullState = FullState()
    cond: bool = False
    cond_since_ns: int = 0
    shelved_until_ns: int = -1

    @property
    def flags(self) -> tuple[str, bool, bool, int]:
        active, acked = PLAIN_FLAGS[self.full.plain]
        return self.full.reported, active, acked, self.shelved_until_ns

    def step(self, event: str) -> None:
        self.full = reference_step(self.full, event)


class AlarmMachine(RuleBasedStateMachine):
    @initialize(on_s=st.sampled_from([0, 1, 2]), off_s=st.sampled_from([0, 1, 3]))
    def setup(self, on_s: int, off_s: int) -> None:
        self.engine = AlarmEngine(alarm_set(
            alarm("A", "X/v", "high", limit=LIMIT, deadband=BAND, on_delay_s=on_s,
                  off_delay_s=off_s, suppress_when=(Condition("S/v", "==", 1.0),),
                  shelve_max_minutes=1),
            alarm("B", "Y/v", "high", limit=LIMIT, deadband=BAND),
            shelve_max_minutes=1,
        ))
        self.model = {"A": ModelAlarm("X/v", on_s * S, off_s * S, True),
                      "B": ModelAlarm("Y/v", 0, 0, False)}
        self.feed = Feed(self.engine).set("X/v", 0.0).set("Y/v", 0.0).set("S/v", 0.0)
        self.now = T0
        self._tick()

    def _tick(self) -> None:
        before = {k: m.flags for k, m in self.model.items()}
        suppressed = self.feed.values[self.feed.col["S/v"]] == 1.0
        for m in self.model.values():
            if m.full.shelved and self.now >= m.shelved_until_ns:
                m.step("unshelve")
                m.shelved_until_ns = -1
            if m.suppressible and suppressed != m.full.suppressed:
                m.step("suppress" if suppressed else "unsuppress")
            hidden = m.full.suppressed or m.full.out_of_service
            v = self.feed.values[self.feed.col[m.point]]
            cond = (v > LIMIT - (BAND if m.cond else 0.0)) and not hidden
            if cond != m.cond:
                m.cond, m.cond_since_ns = cond, self.now
            held = self.now - m.cond_since_ns
            active = PLAIN_FLAGS[m.full.plain][0]
            target = (active or held >= m.on_ns) if cond else (active and held < m.off_ns)
            if target != active and not hidden:
                m.step("raise" if target else "clear")
        events = self.feed.at(self.now)
        changed = {k for k, m in self.model.items() if m.flags != before[k]}
        assert {e["id"] for e in events} == changed, (events, changed)

    @rule(dt_ms=st.integers(0, 3000), which=st.sampled_from(["X/v", "Y/v"]),
          value=st.sampled_from(VALUES))
    def change_value(self, dt_ms: int, which: str, value: float) -> None:
        self.now += dt_ms * 1_000_000
        self.feed.set(which, value)
        self._tick()

    @rule(dt_ms=st.integers(0, 70_000))
    def time_passes(self, dt_ms: int) -> None:
        self.now += dt_ms * 1_000_000
        self._tick()

    @rule(dt_ms=st.integers(0, 2000), on=st.booleans())
    def toggle_suppression(self, dt_ms: int, on: bool) -> None:
        self.now += dt_ms * 1_000_000
        self.feed.set("S/v", 1.0 if on else 0.0)
        self._tick()

    @rule(which=WHICH)
    def ack(self, which: str) -> None:
        self.operator(which, "ack")

    @rule(which=WHICH)
    def shelve(self, which: str) -> None:
        self.operator(which, "shelve")

    @rule(which=WHICH)
    def unshelve(self, which: str) -> None:
        self.operator(which, "unshelve")

    @rule(which=WHICH)
    def disable(self, which: str) -> None:
        self.operator(which, "disable")

    @rule(which=WHICH)
    def enable(self, which: str) -> None:
        self.operator(which, "enable")

    def operator(self, which: str, action: str) -> None:
        target = which
        ids = ["A", "B"] if target == "*" else [target]
        before = {k: m.flags for k, m in self.model.items()}
        applied = []
        for k in ids:
            m = self.model[k]
            rep = m.full.reported
            applies = {
                "ack": rep in ("unack", "rtn_unack"),
                "shelve": (not m.full.out_of_service if target != "*"
                           else rep in ("unack", "ack", "rtn_unack")),
                "unshelve": rep == "shelved",
                "disable": not m.full.out_of_service,
                "enable": m.full.out_of_service,
            }[action]
            if not applies:
                continue
            applied.append(k)
            m.step(action)
            if action == "shelve":
                m.shelved_until_ns = self.now + 30 * S
            if action in ("unshelve", "disable"):
                m.shelved_until_ns = -1
            if action in ("disable", "enable"):
                m.cond, m.cond_since_ns = False, self.now
        result = self.engine.command(target, action, self.now, actor="op", role="engineer",
                                     comment="reason", minutes=0.5)
        assert result.ok == (bool(applied) or target == "*"), (result, applied)
        changed = {k for k, m in self.model.items() if m.flags != before[k]}
        assert {t.id for t in result.transitions} == changed

    @invariant()
    def engine_matches_model(self) -> None:
        if not hasattr(self, "engine"):
            return
        for s in self.engine.states():
            m = self.model[s["id"]]
            reported, active, acked, until = m.flags
            assert (s["state"], s["active"], s["acked"], s["shelved_until_ns"]) == \
                (reported, active, acked, until), (s, m)


TestAlarmStateMachine = AlarmMachine.TestCase
TestAlarmStateMachine.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_tables_cover_every_plain_state_and_event() -> None:
    plain = set(PLAIN_FLAGS)
    assert {(p, e) for p in plain for e in ("raise", "clear", "ack")} == set(PLAIN_TRANSITIONS)
    assert {(p, e) for p in plain for e in ("raise", "clear")} == set(SHELVED_PLAIN_TRANSITIONS)
    # The ISA-18.2 core in one line each.
    assert PLAIN_TRANSITIONS[("unack", "clear")] == "rtn_unack"
    assert PLAIN_TRANSITIONS[("rtn_unack", "ack")] == "normal"
    assert reference_step(FullState("unack"), "disable").reported == "out_of_service"
    assert reference_step(FullState("unack", shelved=True), "unshelve").reported == "unack"
