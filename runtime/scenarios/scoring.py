"""SimuPACT-style scoring: weighted limits scored each second, expectations met by deadlines,
penalties for hints and out-of-bounds warnings, an abort score.

    base  = 100 * sum(weight_i * score_i) / sum(weight_i)     over limits and expectations
    score = clamp(base - hints * hint_penalty - warnings * warning_penalty, 0, 100)
    aborted: score = abort score

A limit's score is the mean of its per-second scores: 1 inside [low, high]; outside, falling
linearly to 0 over ``tolerance`` beyond the limit (0 at once with no tolerance). Each time a
limit's point goes out of bounds is one warning. An expectation scores 1 when met in time,
0 when missed (still pending at the end counts as missed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.scenarios.model import Limit, Scenario, Scoring


def second_score(limit: Limit, value: float | None) -> float:
    """The score of one second for ``limit`` given the point's value (None: no sample = 0)."""
    if value is None or value != value:
        return 0.0
    excess = 0.0
    if limit.low is not None and value < limit.low:
        excess = limit.low - value
    elif limit.high is not None and value > limit.high:
        excess = value - limit.high
    if excess <= 0:
        return 1.0
    if limit.tolerance <= 0:
        return 0.0
    return max(0.0, 1.0 - excess / limit.tolerance)


@dataclass(slots=True)
class LimitTally:
    limit: Limit
    seconds: int = 0
    total: float = 0.0
    warnings: int = 0
    out: bool = False
    worst: float | None = None

    @property
    def score(self) -> float:
        return self.total / self.seconds if self.seconds else 1.0


@dataclass(slots=True)
class ExpectationState:
    status: str = "pending"  # pending | met | missed | unscored
    t_s: float | None = None
    deadline_s: float | None = None


@dataclass(slots=True)
class Scorer:
    """Accumulates one run's score."""

    scenario: Scenario
    limits: list[LimitTally] = field(default_factory=list)
    expectations: dict[str, ExpectationState] = field(default_factory=dict)
    hints: int = 0
    aborted: bool = False

    def __post_init__(self) -> None:
        self.limits = [LimitTally(lim) for lim in self.scenario.limits]
        self.expectations = {e.id: ExpectationState() for e in self.scenario.expectations}

    @property
    def rules(self) -> Scoring:
        return self.scenario.scoring

    def second(self, values: dict[str, float]) -> list[tuple[Limit, bool]]:
        """Score one second; returns the limits whose out-of-bounds state changed."""
        changed = []
        for tally in self.limits:
            v = values.get(tally.limit.point)
            s = second_score(tally.limit, v)
            tally.seconds += 1
            tally.total += s
            out = s < 1.0
            if out and not tally.out:
                tally.warnings += 1
            if out != tally.out:
                changed.append((tally.limit, out))
            tally.out = out
            if v is not None:
                tally.worst = v if tally.worst is None else _worse(tally.limit, tally.worst, v)
        return changed

    @property
    def warnings(self) -> int:
        return sum(t.warnings for t in self.limits)

    def components(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for t in self.limits:
            rows.append({"kind": "limit", "id": t.limit.id, "point": t.limit.point,
                         "weight": t.limit.weight, "score": t.score, "seconds": t.seconds,
                         "warnings": t.warnings, "low": t.limit.low, "high": t.limit.high,
                         "worst": t.worst, "text": t.limit.text})
        for e in self.scenario.expectations:
            st = self.expectations[e.id]
            if st.status == "unscored":
                rows.append({"kind": "expectation", "id": e.id, "text": e.text, "weight": 0.0,
                             "score": 0.0, "status": st.status, "t_s": None,
                             "deadline_s": None})
                continue
            rows.append({"kind": "expectation", "id": e.id, "text": e.text, "weight": e.weight,
                         "score": 1.0 if st.status == "met" else 0.0, "status": st.status,
                         "t_s": st.t_s, "deadline_s": st.deadline_s})
        return rows

    def result(self) -> dict[str, Any]:
        rows = self.components()
        total_w = sum(r["weight"] for r in rows)
        base = 100.0 * sum(r["weight"] * r["score"] for r in rows) / total_w if total_w else 100.0
        hint_pen = self.hints * self.rules.hint_penalty
        warn_pen = self.warnings * self.rules.warning_penalty
        score = min(100.0, max(0.0, base - hint_pen - warn_pen))
        if self.aborted:
            score = self.rules.abort_score
        score = round(score, 2)
        passed = not self.aborted and score >= self.rules.pass_mark
        return {"score": score, "base": round(base, 2), "passed": passed,
                "pass_mark": self.rules.pass_mark, "aborted": self.aborted,
                "hints": self.hints, "hint_penalty": round(hint_pen, 2),
                "warnings": self.warnings, "warning_penalty": round(warn_pen, 2),
                "components": rows}


def _worse(limit: Limit, a: float, b: float) -> float:
    """The value further outside (or nearer the limit) of two."""
    if limit.low is not None and (limit.high is None or abs(a - limit.low) <= abs(a - limit.high)):
        return min(a, b)
    return max(a, b)
