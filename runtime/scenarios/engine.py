"""The scenario's logic, free of sockets: feed it what was observed, it says what to do.

Each ``tick(seen)`` fires triggers whose time has come or whose condition holds, settles
expectations against their deadlines, scores every whole scenario second passed since the last
tick, and checks the abort and end rules. It returns the actions to carry out (faults,
disturbances, messages, hints); the runner does them and tells the engine nothing back.
Every change is appended to ``log`` as an event map (the run's events and the bus's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from runtime.scenarios.conditions import Observed, holds
from runtime.scenarios.model import Action, Scenario
from runtime.scenarios.scoring import Scorer


@dataclass(slots=True)
class Engine:
    scenario: Scenario
    scorer: Scorer = field(init=False)
    log: list[dict[str, Any]] = field(default_factory=list)
    fired_at: dict[str, float] = field(default_factory=dict)
    scored_to_s: int = 0
    ended: str = ""
    """"" while running; "end" (time or end condition), "abort", or "stopped"."""
    alarms_available: bool = True
    """False when no alarm service runs: expectations on alarms are left out of the score
    (status ``unscored``) rather than counted as missed."""

    def __post_init__(self) -> None:
        self.scorer = Scorer(self.scenario)

    def begin(self, t_s: float = 0.0) -> None:
        """Mark expectations that cannot be judged in this run (no alarm service)."""
        if self.alarms_available:
            return
        for e in self.scenario.expectations:
            cond = e.achieve or e.never
            if cond is not None and any(t.kind == "alarm" for t in cond.terms):
                self.scorer.expectations[e.id].status = "unscored"
                self.note(t_s, "expectation_unscored", f"{e.text}: not scored (no alarm "
                          "service in this run)", id=e.id)

    def note(self, t_s: float, kind: str, text: str, **data: Any) -> dict[str, Any]:
        ev = {"t_s": round(t_s, 3), "kind": kind, "text": text, **data}
        self.log.append(ev)
        return ev

    def tick(self, seen: Observed) -> list[Action]:
        if self.ended:
            return []
        t = seen.time_s
        seen.fired = set(self.fired_at)
        actions: list[Action] = []
        for trig in self.scenario.triggers:
            if trig.id in self.fired_at:
                continue
            due = (trig.at_s is not None and t >= trig.at_s) or \
                (trig.when is not None and holds(trig.when, seen))
            if due:
                # a timed event counts from its time, however coarse the ticks
                self.fired_at[trig.id] = trig.at_s if trig.at_s is not None else t
                seen.fired.add(trig.id)
                self.note(t, "trigger", f"event {trig.id}", id=trig.id)
                for a in trig.actions:
                    if a.kind == "hint":
                        self.scorer.hints += 1
                    self.note(t, a.kind if a.kind in ("message", "hint") else "action",
                              a.describe(), trigger=trig.id)
                    actions.append(a)
        self._expectations(seen)
        for whole in range(self.scored_to_s + 1, int(math.floor(t)) + 1):
            for limit, out in self.scorer.second(seen.values):
                v = seen.values.get(limit.point)
                vtext = f"{v:.3g}" if v is not None else "no value"
                self.note(t, "limit_out" if out else "limit_back",
                          f"{limit.point} {'out of' if out else 'back within'} limits "
                          f"({vtext})", id=limit.id)
            self.scored_to_s = whole
        rules = self.scenario.scoring
        if rules.abort_when is not None and holds(rules.abort_when, seen):
            self.scorer.aborted = True
            self.finish(t, "abort", f"aborted: {rules.abort_when.text()}")
        elif t >= self.scenario.end_after_s:
            self.finish(t, "end", f"time is up ({self.scenario.end_after_s:g} s)")
        elif self.scenario.end_when is not None and holds(self.scenario.end_when, seen):
            self.finish(t, "end", f"end condition: {self.scenario.end_when.text()}")
        return actions

    def hint(self, t_s: float, text: str, actor: str = "instructor") -> None:
        """A hint given by hand (the instructor): same penalty as a scripted one."""
        self.scorer.hints += 1
        self.note(t_s, "hint", text, actor=actor)

    def rewind(self, t_s: float, text: str) -> None:
        """The plant went back to scenario time ``t_s`` (restore, backtrack): events after it
        may fire again and expectations settled after it are open again. Seconds already
        scored stay in the score (the trainee lived through them); from ``t_s`` on, seconds are
        scored again as they are lived again. Hints given stay given."""
        if self.ended:
            return
        for tid, fired in list(self.fired_at.items()):
            if fired > t_s:
                del self.fired_at[tid]
        for st in self.scorer.expectations.values():
            if st.status in ("met", "missed") and st.t_s is not None and st.t_s > t_s:
                st.status, st.t_s, st.deadline_s = "pending", None, None
        self.scored_to_s = min(self.scored_to_s, int(math.floor(max(t_s, 0.0))))
        self.note(t_s, "backtrack", text)

    def _expectations(self, seen: Observed) -> None:
        t = seen.time_s
        for e in self.scenario.expectations:
            st = self.scorer.expectations[e.id]
            if st.status != "pending":
                continue
            if e.after and e.after not in self.fired_at:
                continue
            start = self.fired_at.get(e.after, 0.0) if e.after else 0.0
            if e.within_s is not None:
                st.deadline_s = start + e.within_s
            if e.never is not None:
                if holds(e.never, seen):
                    st.status, st.t_s = "missed", t
                    self.note(t, "expectation_missed", f"{e.text}: {e.never.text()}", id=e.id)
                continue
            assert e.achieve is not None
            if holds(e.achieve, seen):
                late = st.deadline_s is not None and t > st.deadline_s
                st.status, st.t_s = ("missed" if late else "met"), t
                self.note(t, "expectation_" + st.status,
                          f"{e.text} ({'late: ' if late else ''}{t - start:.0f} s)", id=e.id)
            elif st.deadline_s is not None and t > st.deadline_s:
                st.status, st.t_s = "missed", t
                self.note(t, "expectation_missed", f"{e.text}: deadline passed", id=e.id)

    def finish(self, t_s: float, how: str, text: str) -> None:
        if self.ended:
            return
        self.ended = how
        for e in self.scenario.expectations:
            st = self.scorer.expectations[e.id]
            if st.status == "pending":
                if e.never is not None and (not e.after or e.after in self.fired_at) \
                        and how != "abort":
                    st.status, st.t_s = "met", t_s
                else:
                    st.status, st.t_s = "missed", t_s
                    self.note(t_s, "expectation_missed", f"{e.text}: not done by the end",
                              id=e.id)
        self.note(t_s, how, text, score=self.scorer.result()["score"])
