"""Scoring arithmetic: per-second limit scores, weights, penalties, abort, expectations."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.scenarios.conditions import Observed, parse
from runtime.scenarios.engine import Engine
from runtime.scenarios.model import Action, Expectation, Limit, Scenario, Scoring, Trigger
from runtime.scenarios.scoring import Scorer, second_score


def _scenario(**kw) -> Scenario:
    base = dict(path=Path("x.yaml"), scene_dir=Path("."), id="x", name="x", rationale="r",
                speed=1.0, initial_points={}, initial_set={}, initial_snapshot=None,
                triggers=(), expectations=(), limits=(), scoring=Scoring(), end_after_s=10.0)
    base.update(kw)
    return Scenario(**base)


def test_second_score_inside_outside_and_tolerance() -> None:
    lim = Limit("l", "T-102/level_m", 1.0, low=1.0, high=4.0, tolerance=0.5)
    assert second_score(lim, 2.0) == 1.0
    assert second_score(lim, 1.0) == 1.0
    assert second_score(lim, 0.75) == pytest.approx(0.5)
    assert second_score(lim, 0.4) == 0.0
    assert second_score(lim, 4.25) == pytest.approx(0.5)
    assert second_score(lim, None) == 0.0
    hard = Limit("h", "T-102/level_m", 1.0, low=1.0)
    assert second_score(hard, 0.999) == 0.0


def test_weighted_limits_penalties_and_clamp() -> None:
    a = Limit("a", "A/x", 3.0, low=0.0)
    b = Limit("b", "B/x", 1.0, high=10.0)
    sc = _scenario(limits=(a, b), scoring=Scoring(hint_penalty=5, warning_penalty=2))
    s = Scorer(sc)
    # a: in, out, out, in -> 0.5 and one warning; b: always in -> 1.0
    for v in (1.0, -1.0, -2.0, 3.0):
        s.second({"A/x": v, "B/x": 5.0})
    s.hints = 1
    r = s.result()
    assert r["base"] == pytest.approx(100 * (3 * 0.5 + 1 * 1.0) / 4)  # 62.5
    assert r["warnings"] == 1
    assert r["score"] == pytest.approx(62.5 - 5 - 2)
    assert r["passed"] is False  # pass mark 70
    s.hints = 40
    assert s.result()["score"] == 0.0  # clamped


def test_abort_score_replaces_everything() -> None:
    sc = _scenario(limits=(Limit("a", "A/x", 1.0, low=0.0),),
                   scoring=Scoring(abort_when=parse("A/x < -5"), abort_score=10.0))
    eng = Engine(sc)
    seen = Observed(time_s=1.0, values={"A/x": 1.0})
    eng.tick(seen)
    seen.time_s, seen.values = 2.0, {"A/x": -6.0}
    eng.tick(seen)
    r = eng.scorer.result()
    assert eng.ended == "abort" and r["aborted"] and r["score"] == 10.0 and not r["passed"]


def test_expectations_deadlines_from_their_event_and_hint_penalty() -> None:
    trig = Trigger("trip", 5.0, None, (Action("hint", text="do it"),))
    fast = Expectation("fast", "start within 10 s", 1.0, achieve=parse("P/run == 1"),
                       after="trip", within_s=10.0)
    never = Expectation("never", "never below 1", 1.0, never=parse("T/l < 1"))
    sc = _scenario(triggers=(trig,), expectations=(fast, never), end_after_s=30.0)
    eng = Engine(sc)
    seen = Observed()
    for t, run in ((0.0, 1), (4.0, 0), (6.0, 0), (16.5, 1), (30.0, 1)):
        seen.time_s, seen.values = t, {"P/run": float(run), "T/l": 2.0}
        eng.tick(seen)
    st = eng.scorer.expectations
    # P/run == 1 at t=0 does not count: the deadline starts when 'trip' fires (t=5)
    assert st["fast"].status == "missed" and st["fast"].deadline_s == 15.0
    assert st["never"].status == "met"
    r = eng.scorer.result()
    assert r["hints"] == 1 and r["base"] == pytest.approx(50.0)
    assert r["score"] == pytest.approx(45.0)
    assert eng.ended == "end"


def test_unscored_alarm_expectation_has_no_weight() -> None:
    e = Expectation("ack", "ack it", 3.0, achieve=parse("alarm P-101-TRIP acknowledged"),
                    within_s=10.0)
    ok = Expectation("ok", "run", 1.0, achieve=parse("P/run == 1"), within_s=10.0)
    eng = Engine(_scenario(expectations=(e, ok)), alarms_available=False)
    eng.begin()
    eng.tick(Observed(time_s=1.0, values={"P/run": 1.0}))
    r = eng.scorer.result()
    assert r["base"] == 100.0
    assert [c["status"] for c in r["components"]] == ["unscored", "met"]


def test_end_condition_ends_early_and_rewind_reopens() -> None:
    trig = Trigger("trip", 5.0, None, (Action("message", text="go"),))
    e = Expectation("run", "run within 20 s", 1.0, achieve=parse("P/run == 1"), after="trip",
                    within_s=20.0)
    sc = _scenario(triggers=(trig,), expectations=(e,), end_after_s=100.0,
                   end_when=parse("P/run == 1 and T/l > 3"))
    eng = Engine(sc)
    seen = Observed()
    for t, run in ((4.0, 0), (6.0, 0), (8.0, 1)):
        seen.time_s, seen.values = t, {"P/run": float(run), "T/l": 2.0}
        eng.tick(seen)
    assert eng.scorer.expectations["run"].status == "met"
    eng.rewind(4.5, "backtrack to 4.5 s")  # before the trip: it fires again, the job reopens
    assert "trip" not in eng.fired_at and eng.scorer.expectations["run"].status == "pending"
    for t, run, lvl in ((6.0, 0, 2.0), (9.0, 1, 3.5)):
        seen.time_s, seen.values = t, {"P/run": float(run), "T/l": lvl}
        eng.tick(seen)
    assert eng.ended == "end" and eng.log[-1]["text"].startswith("end condition")
    assert [e["kind"] for e in eng.log].count("trigger") == 2
