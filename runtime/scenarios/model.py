"""Typed records of a validated scenario and of an autopilot script."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runtime.scenarios.conditions import Condition

ACTION_KINDS = ("fault", "clear", "set", "message", "hint")


@dataclass(frozen=True, slots=True)
class Action:
    kind: str
    """fault (inject a plant fault), clear (a fault), set (a disturbance: a plant value),
    message (to the trainee), hint (to the trainee; costs the hint penalty)."""
    target: str = ""
    fault_kind: str = ""
    value: float | None = None
    text: str = ""

    def describe(self) -> str:
        if self.kind == "fault":
            extra = f" rate {self.value:g}/s" if self.value is not None else ""
            return f"fault {self.fault_kind} {self.target}{extra}"
        if self.kind == "clear":
            return f"clear fault on {self.target}"
        if self.kind == "set":
            return f"set {self.target} = {self.value:g}"
        return f"{self.kind}: {self.text}"


@dataclass(frozen=True, slots=True)
class Trigger:
    id: str
    at_s: float | None
    when: Condition | None
    actions: tuple[Action, ...]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Expectation:
    id: str
    text: str
    weight: float
    achieve: Condition | None = None
    """Met when this holds before the deadline."""
    never: Condition | None = None
    """Failed the moment this holds; met at the end otherwise."""
    after: str = ""
    """Trigger id the deadline counts from ("" = scenario start)."""
    within_s: float | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    id: str
    point: str
    weight: float
    low: float | None = None
    high: float | None = None
    tolerance: float = 0.0
    """Beyond the limit, the second's score falls linearly to 0 over this distance
    (0: all or nothing)."""
    text: str = ""


@dataclass(frozen=True, slots=True)
class Scoring:
    hint_penalty: float = 5.0
    warning_penalty: float = 2.0
    pass_mark: float = 70.0
    abort_when: Condition | None = None
    abort_score: float = 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    path: Path
    scene_dir: Path
    id: str
    name: str
    rationale: str
    speed: float
    initial_points: dict[str, float]
    initial_set: dict[str, float]
    initial_snapshot: Path | None
    triggers: tuple[Trigger, ...]
    expectations: tuple[Expectation, ...]
    limits: tuple[Limit, ...]
    scoring: Scoring
    end_after_s: float
    end_when: Condition | None = None
    key_points: tuple[str, ...] = ()
    """Points charted in the report (the limits' points first)."""

    def watched_points(self) -> list[str]:
        """Every point a condition, limit or chart needs, once each, in a stable order."""
        out: list[str] = []
        conds = [t.when for t in self.triggers] + [e.achieve for e in self.expectations] + \
            [e.never for e in self.expectations] + [self.scoring.abort_when, self.end_when]
        for p in [lim.point for lim in self.limits] + list(self.key_points) + \
                [p for c in conds if c is not None for p in c.points]:
            if p not in out:
                out.append(p)
        return out


@dataclass(frozen=True, slots=True)
class PilotStep:
    at_s: float | None
    when: Condition | None
    action: str  # write | ack | wait
    point: str = ""
    value: float | None = None
    line: int = 0

    def describe(self) -> str:
        if self.action == "write":
            return f"write {self.point} {self.value:g}"
        if self.action == "ack":
            return f"ack alarm {self.point}"
        return "wait"


@dataclass(frozen=True, slots=True)
class Autopilot:
    path: Path
    name: str
    scenario: str
    steps: tuple[PilotStep, ...]
    expect_score: tuple[float, float]
    expect_passed: bool | None = None
    text: str = ""
    extras: dict = field(default_factory=dict)
