"""Each alarm type, deadbands and on/off delays at exact virtual times, operator actions, and
10,000 definitions where only the changed alarms produce transitions."""

from __future__ import annotations

import numpy as np
import pytest
from alarm_fixtures import T0, Feed, S, alarm, alarm_set, state_of

from runtime.alarms import AlarmEngine, Condition


def _engine(*defs) -> tuple[AlarmEngine, Feed]:  # noqa: ANN002
    engine = AlarmEngine(alarm_set(*defs))
    return engine, Feed(engine)


def test_high_with_deadband_raises_above_limit_and_clears_only_below_the_band() -> None:
    engine, feed = _engine(alarm("H", "T-1/level_m", "high", limit=4.0, deadband=0.2))
    assert feed.set("T-1/level_m", 4.0).at(T0) == []          # at the limit: not above it
    [ev] = feed.set("T-1/level_m", 4.01).at(T0 + S)
    assert (ev["state"], ev["active"], ev["acked"], ev["t_ns"], ev["t_active_ns"]) == \
        ("unack", True, False, T0 + S, T0 + S)
    assert ev["value"] == pytest.approx(4.01) and ev["id"] == "H" and ev["asset"] == "T-1"
    assert feed.set("T-1/level_m", 3.85).at(T0 + 2 * S) == []   # inside the deadband
    [ev] = feed.set("T-1/level_m", 3.8).at(T0 + 3 * S)          # 0.2 below: clears
    assert ev["state"] == "rtn_unack" and not ev["active"]
    assert feed.set("T-1/level_m", 3.9).at(T0 + 4 * S) == []    # re-raise needs > 4.0 again


def test_low_low_and_on_off_delays_at_exact_times() -> None:
    engine, feed = _engine(alarm("LL", "T-1/level_m", "low_low", limit=1.0, deadband=0.1,
                                 on_delay_s=5, off_delay_s=2))
    feed.set("T-1/level_m", 2.0).at(T0)
    assert feed.set("T-1/level_m", 0.9).at(T0 + 1 * S) == []    # condition starts: 1 s
    assert feed.at(T0 + 5 * S + S - 1) == []                      # 1 ns short of 5 s
    [ev] = feed.at(T0 + 6 * S)                                     # exactly 5 s held
    assert ev["state"] == "unack" and ev["t_active_ns"] == T0 + 6 * S
    feed.set("T-1/level_m", 1.05).at(T0 + 7 * S)                  # in the band: still active
    assert feed.set("T-1/level_m", 1.2).at(T0 + 8 * S) == []      # clear starts: off-delay 2 s
    assert feed.set("T-1/level_m", 0.5).at(T0 + 9 * S) == []      # back before 2 s: stays
    feed.set("T-1/level_m", 1.2).at(T0 + 10 * S)
    assert feed.at(T0 + 12 * S - 1) == []
    [ev] = feed.at(T0 + 12 * S)
    assert ev["state"] == "rtn_unack"
    # A blip shorter than the on-delay never raises.
    engine.command("LL", "ack", T0 + 13 * S, actor="op", role="operator")
    feed.set("T-1/level_m", 0.5).at(T0 + 14 * S)
    feed.set("T-1/level_m", 1.5).at(T0 + 18 * S)
    assert feed.at(T0 + 30 * S) == [] and state_of(engine, "LL") == "normal"


def test_deviation_rate_discrete_bad_quality_and_command_disagree() -> None:
    engine, feed = _engine(
        alarm("DEV", "LT/level_m", "deviation", setpoint_point="LIC/setpoint_m", limit=0.5,
              deadband=0.1),
        alarm("ROC", "LT/level_m", "rate", limit=0.3, direction="falling", window_s=60),
        alarm("TRIP", "P/tripped", "discrete", value=1.0),
        alarm("BAD", "LT/level_m", "bad_quality"),
        alarm("CMD", "P/running", "command_disagree", setpoint_point="P/run_cmd", limit=0.5,
              on_delay_s=10),
    )
    feed.set("LT/level_m", 3.0).set("LIC/setpoint_m", 3.0).set("P/tripped", 0)
    feed.set("P/running", 0).set("P/run_cmd", 0)
    assert feed.at(T0) == []
    ids = lambda evs: {e["id"]: e["state"] for e in evs}  # noqa: E731
    assert ids(feed.set("LIC/setpoint_m", 2.4).at(T0 + S)) == {"DEV": "unack"}
    assert ids(feed.set("LIC/setpoint_m", 2.55).at(T0 + 2 * S)) == {}   # 0.45: in the band
    assert ids(feed.set("LIC/setpoint_m", 2.65).at(T0 + 3 * S)) == {"DEV": "rtn_unack"}
    # Rate: judged over 60 s windows; -0.2 m/min is fine, -0.4 m/min falls too fast.
    assert ids(feed.set("LT/level_m", 2.8).at(T0 + 60 * S)) == {}
    assert ids(feed.set("LT/level_m", 2.4).at(T0 + 120 * S)) == {"ROC": "unack"}
    assert ids(feed.set("LT/level_m", 3.3).at(T0 + 150 * S)) == {"DEV": "unack"}  # mid-window
    assert ids(feed.set("LT/level_m", 2.9).at(T0 + 180 * S)) == {"ROC": "rtn_unack",
                                                                  "DEV": "rtn_unack"}
    assert ids(feed.set("P/tripped", 1).at(T0 + 181 * S)) == {"TRIP": "unack"}
    # Bad quality raises BAD and holds (does not clear or raise) the value alarms.
    assert ids(feed.set("LT/level_m", 9.0, quality=2).at(T0 + 182 * S)) == {"BAD": "unack"}
    assert ids(feed.set("LT/level_m", 3.0, quality=1).at(T0 + 183 * S)) == {"BAD": "rtn_unack"}
    # Command disagree: run_cmd 1, not running after 10 s.
    assert ids(feed.set("P/run_cmd", 1).at(T0 + 190 * S)) == {}
    assert ids(feed.at(T0 + 199 * S)) == {}
    assert ids(feed.at(T0 + 200 * S)) == {"CMD": "unack"}
    assert ids(feed.set("P/running", 1).at(T0 + 201 * S)) == {"CMD": "rtn_unack"}


def test_no_reading_yet_holds_and_bad_setpoint_holds() -> None:
    engine, feed = _engine(alarm("H", "X/v", "high", limit=1.0),
                           alarm("B", "X/v", "bad_quality"))
    assert feed.at(T0) == []                                    # NaN, Good: nothing judged
    assert [e["id"] for e in feed.set("X/v", float("nan"), quality=2).at(T0 + S)] == ["B"]


def test_suppression_by_design_resets_and_rejudges_with_its_delay() -> None:
    engine, feed = _engine(alarm("TRIP2", "P2/tripped", "discrete", value=1.0, on_delay_s=2,
                                 suppress_when=(Condition("UC/duty", "==", 0.0),)))
    feed.set("P2/tripped", 1).set("UC/duty", 0)
    [ev] = feed.at(T0)
    assert ev["state"] == "suppressed" and not ev["active"]
    assert feed.at(T0 + 10 * S) == []
    [ev] = feed.set("UC/duty", 1).at(T0 + 11 * S)                # unsuppressed: normal
    assert ev["state"] == "normal"
    [ev] = feed.at(T0 + 13 * S)                                   # standing trip raises after 2 s
    assert ev["state"] == "unack"
    # A suppression point that is Bad does not hold: the alarm is shown, never hidden by doubt.
    assert feed.set("UC/duty", 0, quality=2).at(T0 + 14 * S) == []
    [ev] = feed.set("UC/duty", 0).at(T0 + 15 * S)
    assert ev["state"] == "suppressed"


def test_operator_actions_roles_and_refusals() -> None:
    engine, feed = _engine(alarm("A", "X/v", "high", limit=1.0, shelve_max_minutes=60),
                           alarm("B", "X/v", "high", limit=5.0))
    feed.set("X/v", 2.0).at(T0)
    cmd = engine.command
    r = cmd("NOPE", "ack", T0, actor="op", role="operator")
    assert (r.ok, r.code) == (False, "unknown_alarm") and "NOPE" in r.text
    r = cmd("A", "ack", T0, actor="v", role="viewer")
    assert (r.ok, r.code) == (False, "role") and "viewer" in r.text
    r = cmd("A", "disable", T0, actor="op", role="operator")
    assert r.code == "role"
    assert cmd("B", "ack", T0, actor="op", role="operator").code == "not_applicable"
    assert cmd("A", "explode", T0, actor="op", role="operator").code == "unknown_action"
    assert cmd("A", "shelve", T0, actor="op", role="operator", minutes=10).code == "bad_request"
    r = cmd("A", "shelve", T0, actor="op", role="operator", minutes=61, comment="x")
    assert r.code == "bad_request" and "60" in r.text
    assert cmd("A", "shelve", T0, actor="op", role="operator", minutes=0, comment="x").code == \
        "bad_request"
    r = cmd("A", "shelve", T0 + S, actor="op", role="operator", minutes=1, comment="sensor work")
    assert r.ok and r.transitions[0].event()["state"] == "shelved"
    assert r.transitions[0].shelved_until_ns == T0 + 61 * S
    assert r.transitions[0].actor == "op" and r.transitions[0].comment == "sensor work"
    assert feed.at(T0 + 61 * S - 1) == []
    [ev] = feed.at(T0 + 61 * S)                               # expiry: back to its real state
    assert ev["state"] == "unack" and ev["comment"] == "shelve time ended"
    r = cmd("*", "ack", T0 + 62 * S, actor="op", role="operator")
    assert r.ok and [t.id for t in r.transitions] == ["A"] and r.transitions[0].state == "ack"
    r = cmd("A", "disable", T0 + 63 * S, actor="eng", role="engineer")
    assert r.transitions[0].state == "out_of_service"
    assert [e["id"] for e in feed.set("X/v", 9.0).at(T0 + 64 * S)] == ["B"]  # A: not judged
    assert state_of(engine, "A") == "out_of_service"
    r = cmd("A", "enable", T0 + 65 * S, actor="eng", role="engineer")
    assert r.transitions[0].state == "normal"
    evs = feed.at(T0 + 66 * S)
    assert [(e["id"], e["state"]) for e in evs] == [("A", "unack")]


def test_ack_of_returned_alarm_is_normal_and_reraise_before_ack_is_unack() -> None:
    engine, feed = _engine(alarm("H", "X/v", "high", limit=1.0))
    feed.set("X/v", 2).at(T0)
    feed.set("X/v", 0).at(T0 + S)
    [ev] = feed.set("X/v", 2).at(T0 + 2 * S)
    assert ev["state"] == "unack" and ev["t_active_ns"] == T0 + 2 * S
    feed.set("X/v", 0).at(T0 + 3 * S)
    r = engine.command("H", "ack", T0 + 4 * S, actor="op", role="operator")
    assert r.transitions[0].state == "normal" and r.transitions[0].t_active_ns == -1


def test_values_must_align_with_points() -> None:
    engine, _ = _engine(alarm("H", "X/v", "high", limit=1.0))
    with pytest.raises(ValueError, match="engine.points"):
        engine.evaluate(T0, np.zeros(3), np.zeros(3, np.uint8))


def test_ten_thousand_definitions_only_changed_alarms_transition() -> None:
    n = 10_000
    defs = [alarm(f"A{i}", f"E{i}/v", ("high", "low")[i % 2], limit=10.0, deadband=1.0)
            for i in range(n)]
    engine = AlarmEngine(alarm_set(*defs))
    assert len(engine.points) == n
    values = np.full(n, 10.0)
    quality = np.zeros(n, np.uint8)
    assert engine.evaluate(T0, values, quality) == []
    rng = np.random.default_rng(7)
    crossing = np.sort(rng.choice(n, 300, replace=False))
    values[crossing] = np.where(crossing % 2 == 0, 12.0, 8.0)
    transitions = engine.evaluate(T0 + S // 10, values, quality)
    assert [t.id for t in transitions] == [f"A{i}" for i in crossing]
    assert all(t.state == "unack" for t in transitions)
    assert engine.evaluate(T0 + 2 * S // 10, values, quality) == []
    r = engine.command("*", "ack", T0 + 3 * S // 10, actor="op", role="operator")
    assert len(r.transitions) == 300


def test_judgement_depends_only_on_the_virtual_time_given() -> None:
    """Two engines fed the same readings at the same virtual times produce the same events
    (what makes alarms replay): nothing reads a clock."""
    def run() -> list[dict]:
        engine, feed = _engine(
            alarm("H", "X/v", "high", limit=1.0, deadband=0.1, on_delay_s=0.3, off_delay_s=0.2),
            alarm("R", "X/v", "rate", limit=30.0, window_s=1.0))
        rng = np.random.default_rng(3)
        events = []
        for k in range(400):
            events += feed.set("X/v", float(rng.normal(1.0, 0.5))).at(T0 + k * S // 10)
            if k == 200:
                events += [t.event() for t in engine.command(
                    "*", "ack", T0 + k * S // 10, actor="op", role="operator").transitions]
        return events

    first = run()
    assert len(first) > 20 and first == run()


def test_list_is_most_important_first_then_newest() -> None:
    engine, feed = _engine(alarm("LOW", "A/v", "high", limit=1.0, priority="Low"),
                           alarm("CRIT", "B/v", "high", limit=1.0, priority="Critical"),
                           alarm("HIGH1", "C/v", "high", limit=1.0, priority="High"),
                           alarm("HIGH2", "D/v", "high", limit=1.0, priority="High"),
                           alarm("QUIET", "E/v", "high", limit=1.0, priority="Critical"))
    feed.set("A/v", 0).set("B/v", 0).set("C/v", 0).set("D/v", 0).set("E/v", 0).at(T0)
    for k, point in enumerate(["A/v", "C/v", "B/v", "D/v"], 1):
        feed.set(point, 2.0).at(T0 + k * S)
    assert [s["id"] for s in engine.listed()] == ["CRIT", "HIGH2", "HIGH1", "LOW"]
    assert engine.point_index["C/v"] == engine.points.index("C/v")
