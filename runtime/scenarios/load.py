"""Load and validate scenario and autopilot files; every error names file, line and key.

``SCENARIO`` on the command line is a file path or ``<scene>/<name>`` (a file
``scenes/<scene>/scenarios/<name>.yaml``); an autopilot is a path or a name in the scenario
folder's ``autopilots/``. Point ids are checked against the scene, fault kinds and targets
against the virtual plant's faults, alarm ids against the scene's ``alarms.yaml`` when it has one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from runtime.scenarios.conditions import Condition, ConditionError, parse
from runtime.scenarios.model import (
    Action,
    Autopilot,
    Expectation,
    Limit,
    PilotStep,
    Scenario,
    Scoring,
    Trigger,
)
from runtime.scene import SceneError, load_scene
from runtime.scene.load import resolve_scene_dir
from runtime.scene.model import Scene
from runtime.scene.yaml_located import Lines, dotted, load_located

SCENARIO_FORMAT = "twinstage.scenario/1"
AUTOPILOT_FORMAT = "twinstage.autopilot/1"
FAULT_TARGETS = {"freeze": "transmitter", "drift": "transmitter", "stick": "valve",
                 "trip": "pump"}
SET_NAMES = ("inflow_m3_h", "outflow_m3_h")
"""Disturbances a ``set`` action may change besides writable points: a tank's supply/demand."""
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|min|h)?\s*$")
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def scenario_dir(scene: str | Path) -> Path:
    return resolve_scene_dir(scene) / "scenarios"


def resolve_scenario(arg: str) -> Path:
    """A scenario file from a path or ``<scene>/<name>``; SceneError when neither exists."""
    path = Path(arg)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise SceneError(path, None, "", "scenario file not found")
        return path
    if "/" in arg:
        scene, name = arg.rsplit("/", 1)
        try:
            candidate = scenario_dir(scene) / f"{name}.yaml"
        except SceneError:
            candidate = None
        if candidate is not None and candidate.is_file():
            return candidate
        known = list_scenarios(scene) if candidate is not None else []
        raise SceneError(arg, None, "", "no such scenario" + (
            f"; {scene} has: {', '.join(p.stem for p in known)}" if known else ""))
    raise SceneError(arg, None, "", "give a scenario file or <scene>/<name>, e.g. "
                     "pump_station/duty_pump_trip")


def list_scenarios(scene: str | Path) -> list[Path]:
    folder = scenario_dir(scene)
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def resolve_autopilot(arg: str, scenario: Path) -> Path:
    path = Path(arg)
    if path.is_file():
        return path
    candidate = scenario.parent / "autopilots" / (arg if arg.endswith(".yaml") else f"{arg}.yaml")
    if candidate.is_file():
        return candidate
    raise SceneError(arg, None, "", f"autopilot not found (looked in {candidate.parent})")


def parse_duration_s(value: Any) -> float:
    """``60``, ``"60 s"``, ``"2 min"``, ``"1 h"`` -> seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '60 s'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration (write '60 s', '2 min' or 60)")
        seconds = float(m.group(1)) * {"s": 1, None: 1, "min": 60, "h": 3600}[m.group(2)]
    if not 0 <= seconds < 1e7:
        raise ValueError(f"{value!r} is not a duration between 0 and 1e7 s")
    return seconds


def alarm_ids(scene_dir: Path) -> set[str] | None:
    """Alarm ids of the scene's ``alarms.yaml`` (None when the scene has none)."""
    path = scene_dir / "alarms.yaml"
    if not path.is_file():
        return None
    data, _ = load_located(path)
    items = data.get("alarms", []) if isinstance(data, dict) else data
    return {str(a["id"]) for a in items or [] if isinstance(a, dict) and "id" in a}


class _Checker:
    """Raises SceneError at a document path (file, line, dotted key)."""

    def __init__(self, path: Path, lines: Lines, scene: Scene | None) -> None:
        self.path = path
        self.lines = lines
        self.scene = scene
        self.points = {p.id: p for p in scene.points} if scene else {}
        self.alarms = alarm_ids(scene.path) if scene else None

    def fail(self, at: tuple, message: str) -> SceneError:
        line = None
        for k in range(len(at), -1, -1):
            if at[:k] in self.lines:
                line = self.lines[at[:k]]
                break
        return SceneError(self.path, line, dotted(at), message)

    def mapping(self, value: Any, at: tuple, allowed: tuple[str, ...],
                required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(at, "expected a mapping")
        for key in value:
            if key not in allowed:
                raise self.fail(at + (key,), f"unknown key; allowed: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                raise self.fail(at, f"missing required key '{key}'")
        return value

    def text(self, value: Any, at: tuple) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(at, "expected text")
        return value.strip()

    def ident(self, value: Any, at: tuple) -> str:
        if not isinstance(value, str) or not _ID.match(value):
            raise self.fail(at, "expected an id (letters, digits, '-', '_', '.')")
        return value

    def number(self, value: Any, at: tuple, low: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise self.fail(at, "expected a number")
        if low is not None and value < low:
            raise self.fail(at, f"must be at least {low:g}")
        return float(value)

    def duration(self, value: Any, at: tuple) -> float:
        try:
            return parse_duration_s(value)
        except ValueError as exc:
            raise self.fail(at, str(exc)) from None

    def point(self, value: Any, at: tuple) -> str:
        if not isinstance(value, str) or value not in self.points:
            raise self.fail(at, f"unknown point {value!r} (not a point of scene "
                                f"{self.scene.name if self.scene else '?'})")
        return value

    def condition(self, value: Any, at: tuple, events: set[str] | None = None) -> Condition:
        try:
            cond = parse(value)
        except ConditionError as exc:
            raise self.fail(at, str(exc)) from None
        for term in cond.terms:
            if term.kind in ("point", "command") and term.subject not in self.points:
                raise self.fail(at, f"unknown point {term.subject!r} in condition")
            if term.kind == "alarm" and self.alarms is not None and term.subject not in self.alarms:
                raise self.fail(at, f"unknown alarm {term.subject!r} (alarms.yaml has "
                                    f"{', '.join(sorted(self.alarms)) or 'none'})")
            if term.kind == "event" and events is not None and term.subject not in events:
                raise self.fail(at, f"unknown event {term.subject!r} (events: "
                                    f"{', '.join(sorted(events)) or 'none'})")
        return cond

    def entity(self, target: str, want: str, at: tuple) -> None:
        assert self.scene is not None
        kinds = {e.id: e.type for e in self.scene.entities}
        if kinds.get(target) != want:
            raise self.fail(at, f"unknown fault target {target!r}: this fault needs a {want}"
                                + (f" ({target} is a {kinds[target]})" if target in kinds else ""))


def load_scenario(path: Path, scene: Scene | None = None) -> Scenario:
    """Read and check one scenario file (its scene is the folder above ``scenarios/``)."""
    path = Path(path).resolve()
    data, lines = load_located(path)
    if scene is None:
        scene = load_scene(path.parent.parent)
    c = _Checker(path, lines, scene)
    doc = c.mapping(data, (), ("format", "name", "rationale", "speed", "initial", "events",
                               "expectations", "limits", "scoring", "end", "charts"),
                    ("format", "name", "rationale", "end"))
    if doc["format"] != SCENARIO_FORMAT:
        raise c.fail(("format",), f"expected {SCENARIO_FORMAT}")
    speed = c.number(doc.get("speed", 1.0), ("speed",), 0.01)
    init_points: dict[str, float] = {}
    init_set: dict[str, float] = {}
    snapshot = None
    if "initial" in doc:
        init = c.mapping(doc["initial"], ("initial",), ("snapshot", "points", "set"))
        if "snapshot" in init:
            snapshot = (path.parent / c.text(init["snapshot"], ("initial", "snapshot"))).resolve()
            if not snapshot.is_file():
                raise c.fail(("initial", "snapshot"), f"snapshot file {snapshot} not found")
        for key, value in c.mapping(init.get("points", {}), ("initial", "points"),
                                    tuple(c.points)).items():
            at = ("initial", "points", key)
            if c.points[key].kind not in ("setpoint", "command"):
                raise c.fail(at, f"{key} is a {c.points[key].kind}: only setpoints and "
                                 "commands can be set at start")
            init_points[key] = c.number(value, at)
        for key, value in (init.get("set") or {}).items():
            at = ("initial", "set", key)
            init_set[_set_target(c, key, at)] = c.number(value, at)
    triggers = _triggers(c, doc.get("events", []))
    events = {t.id for t in triggers}
    expectations = _expectations(c, doc.get("expectations", []), events)
    limits = _limits(c, doc.get("limits", []))
    scoring = _scoring(c, doc.get("scoring", {}), events)
    end = c.mapping(doc["end"], ("end",), ("after_s", "when"), ("after_s",))
    charts = tuple(c.point(p, ("charts", i)) for i, p in enumerate(doc.get("charts", []) or []))
    if not expectations and not limits:
        raise c.fail((), "a scenario scores something: give expectations or limits")
    return Scenario(
        path=path, scene_dir=scene.path, id=path.stem, name=c.text(doc["name"], ("name",)),
        rationale=c.text(doc["rationale"], ("rationale",)), speed=speed,
        initial_points=init_points, initial_set=init_set, initial_snapshot=snapshot,
        triggers=triggers, expectations=expectations, limits=limits, scoring=scoring,
        end_after_s=c.duration(end["after_s"], ("end", "after_s")),
        end_when=c.condition(end["when"], ("end", "when"), events) if "when" in end else None,
        key_points=charts)


def _set_target(c: _Checker, key: Any, at: tuple) -> str:
    if isinstance(key, str) and "/" in key:
        entity, name = key.split("/", 1)
        types = {e.id: e.type for e in c.scene.entities} if c.scene else {}
        if types.get(entity) == "tank" and name in SET_NAMES:
            return key
        if key in c.points and c.points[key].kind in ("setpoint", "command"):
            return key
    raise c.fail(at, f"cannot set {key!r}: give a tank's inflow_m3_h/outflow_m3_h or a "
                     "setpoint/command point of the scene")


def _list(c: _Checker, value: Any, at: tuple) -> list:
    if not isinstance(value, list):
        raise c.fail(at, "expected a list")
    return value


def _triggers(c: _Checker, items: Any) -> tuple[Trigger, ...]:
    raw = _list(c, items, ("events",))
    ids = [item.get("id") for item in raw if isinstance(item, dict)]
    events = {i for i in ids if isinstance(i, str)}
    out = []
    for i, item in enumerate(raw):
        at = ("events", i)
        c.mapping(item, at, ("id", "at", "when", "do", "text"), ("id", "do"))
        tid = c.ident(item["id"], at + ("id",))
        if tid in [t.id for t in out]:
            raise c.fail(at + ("id",), f"event id {tid!r} appears twice")
        if ("at" in item) == ("when" in item):
            raise c.fail(at, "give exactly one of 'at' (a time) or 'when' (a condition)")
        at_s = c.duration(item["at"], at + ("at",)) if "at" in item else None
        when = c.condition(item["when"], at + ("when",), events) if "when" in item else None
        actions = tuple(_action(c, a, at + ("do", j))
                        for j, a in enumerate(_list(c, item["do"], at + ("do",))))
        out.append(Trigger(tid, at_s, when, actions, c.lines.get(at, 0)))
    return tuple(out)


def _action(c: _Checker, item: Any, at: tuple) -> Action:
    if isinstance(item, dict) and len(item) == 1:
        kind, value = next(iter(item.items()))
    else:
        raise c.fail(at, "an action is one of: fault: {kind, target}, clear: TARGET, "
                         "set: {point, value}, message: TEXT, hint: TEXT")
    at = at + (kind,)
    if kind == "fault":
        f = c.mapping(value, at, ("kind", "target", "rate"), ("kind", "target"))
        fk = f["kind"]
        if fk not in FAULT_TARGETS:
            raise c.fail(at + ("kind",), f"unknown fault {fk!r}; plant faults a scenario can "
                                         f"inject: {', '.join(FAULT_TARGETS)}")
        target = str(f["target"])
        c.entity(target, FAULT_TARGETS[fk], at + ("target",))
        rate = c.number(f["rate"], at + ("rate",)) if "rate" in f else None
        if rate is not None and fk != "drift":
            raise c.fail(at + ("rate",), "only a drift takes a rate")
        return Action("fault", target, fk, rate)
    if kind == "clear":
        target = c.text(value, at)
        if target != "all" and c.scene and target not in {e.id for e in c.scene.entities}:
            raise c.fail(at, f"unknown fault target {target!r}")
        return Action("clear", target)
    if kind == "set":
        s = c.mapping(value, at, ("point", "value"), ("point", "value"))
        return Action("set", _set_target(c, s["point"], at + ("point",)),
                      value=c.number(s["value"], at + ("value",)))
    if kind in ("message", "hint"):
        return Action(kind, text=c.text(value, at))
    raise c.fail(at, f"unknown action {kind!r}; choose from fault, clear, set, message, hint")


def _expectations(c: _Checker, items: Any, events: set[str]) -> tuple[Expectation, ...]:
    out = []
    for i, item in enumerate(_list(c, items, ("expectations",))):
        at = ("expectations", i)
        c.mapping(item, at, ("id", "text", "achieve", "never", "after", "within_s", "weight"),
                  ("id", "text"))
        if ("achieve" in item) == ("never" in item):
            raise c.fail(at, "give exactly one of 'achieve' (a condition to reach by a "
                             "deadline) or 'never' (a condition that must not happen)")
        achieve = c.condition(item["achieve"], at + ("achieve",), events) \
            if "achieve" in item else None
        never = c.condition(item["never"], at + ("never",), events) if "never" in item else None
        if achieve is not None and "within_s" not in item:
            raise c.fail(at, "expectation has no deadline: add 'within_s' (seconds after "
                             "'after', or after the start)")
        within = c.duration(item["within_s"], at + ("within_s",)) if "within_s" in item else None
        after = item.get("after", "")
        if after and after not in events:
            raise c.fail(at + ("after",), f"unknown event {after!r} (events: "
                                          f"{', '.join(sorted(events)) or 'none'})")
        eid = c.ident(item["id"], at + ("id",))
        if eid in [e.id for e in out]:
            raise c.fail(at + ("id",), f"expectation id {eid!r} appears twice")
        out.append(Expectation(eid, c.text(item["text"], at + ("text",)),
                               c.number(item.get("weight", 1), at + ("weight",), 0),
                               achieve, never, after, within))
    return tuple(out)


def _limits(c: _Checker, items: Any) -> tuple[Limit, ...]:
    out = []
    for i, item in enumerate(_list(c, items, ("limits",))):
        at = ("limits", i)
        c.mapping(item, at, ("id", "point", "low", "high", "tolerance", "weight", "text"),
                  ("id", "point"))
        if "low" not in item and "high" not in item:
            raise c.fail(at, "a limit needs 'low', 'high' or both")
        low = c.number(item["low"], at + ("low",)) if "low" in item else None
        high = c.number(item["high"], at + ("high",)) if "high" in item else None
        if low is not None and high is not None and low >= high:
            raise c.fail(at + ("high",), "must be above 'low'")
        out.append(Limit(c.ident(item["id"], at + ("id",)), c.point(item["point"], at + ("point",)),
                         c.number(item.get("weight", 1), at + ("weight",), 0), low, high,
                         c.number(item.get("tolerance", 0), at + ("tolerance",), 0),
                         str(item.get("text", ""))))
    return tuple(out)


def _scoring(c: _Checker, item: Any, events: set[str]) -> Scoring:
    at = ("scoring",)
    s = c.mapping(item, at, ("hint_penalty", "warning_penalty", "pass_mark", "abort"))
    abort_when = None
    abort_score = 0.0
    if "abort" in s:
        a = c.mapping(s["abort"], at + ("abort",), ("when", "score"), ("when",))
        abort_when = c.condition(a["when"], at + ("abort", "when"), events)
        abort_score = c.number(a.get("score", 0), at + ("abort", "score"), 0)
    return Scoring(c.number(s.get("hint_penalty", 5), at + ("hint_penalty",), 0),
                   c.number(s.get("warning_penalty", 2), at + ("warning_penalty",), 0),
                   c.number(s.get("pass_mark", 70), at + ("pass_mark",), 0),
                   abort_when, abort_score)


def load_autopilot(path: Path, scenario: Scenario) -> Autopilot:
    """Read and check an autopilot for ``scenario``."""
    path = Path(path).resolve()
    data, lines = load_located(path)
    scene = load_scene(scenario.scene_dir)
    c = _Checker(path, lines, scene)
    doc = c.mapping(data, (), ("format", "scenario", "text", "expect_score", "expect_passed",
                               "steps"), ("format", "scenario", "expect_score", "steps"))
    if doc["format"] != AUTOPILOT_FORMAT:
        raise c.fail(("format",), f"expected {AUTOPILOT_FORMAT}")
    if doc["scenario"] != scenario.id:
        raise c.fail(("scenario",), f"this autopilot is for {doc['scenario']!r}, not "
                                    f"{scenario.id!r}")
    rng = doc["expect_score"]
    if not (isinstance(rng, list) and len(rng) == 2):
        raise c.fail(("expect_score",), "expected [low, high]")
    low = c.number(rng[0], ("expect_score", 0))
    high = c.number(rng[1], ("expect_score", 1))
    if low > high:
        raise c.fail(("expect_score",), "low is above high")
    events = {t.id for t in scenario.triggers}
    steps = []
    for i, item in enumerate(_list(c, doc["steps"], ("steps",))):
        at = ("steps", i)
        c.mapping(item, at, ("at", "when", "write", "ack", "wait"))
        if "at" in item and "when" in item:
            raise c.fail(at, "give at most one of 'at' and 'when'")
        at_s = c.duration(item["at"], at + ("at",)) if "at" in item else None
        when = c.condition(item["when"], at + ("when",), events) if "when" in item else None
        acts = [k for k in ("write", "ack", "wait") if k in item]
        if len(acts) != 1:
            raise c.fail(at, "give one action: write: {point, value}, ack: ALARM_ID, or "
                             "wait: true")
        if acts[0] == "write":
            w = c.mapping(item["write"], at + ("write",), ("point", "value"), ("point", "value"))
            point = c.point(w["point"], at + ("write", "point"))
            steps.append(PilotStep(at_s, when, "write", point,
                                   c.number(w["value"], at + ("write", "value")), lines[at]))
        elif acts[0] == "ack":
            alarm = c.text(item["ack"], at + ("ack",))
            if c.alarms is not None and alarm not in c.alarms and alarm != "*":
                raise c.fail(at + ("ack",), f"unknown alarm {alarm!r}")
            steps.append(PilotStep(at_s, when, "ack", alarm, None, lines[at]))
        else:
            steps.append(PilotStep(at_s, when, "wait", line=lines[at]))
    passed = doc.get("expect_passed")
    if passed is not None and not isinstance(passed, bool):
        raise c.fail(("expect_passed",), "expected true or false")
    return Autopilot(path, path.stem, scenario.id, tuple(steps), (low, high), passed,
                     str(doc.get("text", "")))
