"""The live scenario run: plant truth, bus acks and alarms in; actions, events and a score out.

One loop (about 20 ticks per wall second): read the watched points from the plant in one
request (plant time is the scenario's clock, so freeze stops the run's clock too), take the
command acks the bus republishes and the alarm service's events, let the :class:`Engine` fire
triggers and score the seconds that passed, carry out its actions on the plant (faults,
disturbances) or towards the trainee (messages, hints), and append each new event to the run
folder and the bus (topic ``e.scenario``: the recorder keeps them, the viewers show them).

A trainee's viewer says it is there through the ``scenario`` service (method ``presence``, the
bus vouching for its key's role); with no operator heard for ``trainee_timeout_s`` the run
freezes the plant and says so, and goes on when the trainee is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.bus.security import ClientSecurity
from runtime.bus.subscriber import Subscriber
from runtime.scenarios.autopilot import AutopilotThread
from runtime.scenarios.conditions import Observed
from runtime.scenarios.engine import Engine
from runtime.scenarios.model import Action, Autopilot, Scenario
from runtime.scenarios.plant_link import PlantError, PlantLink
from runtime.scenarios.run_folder import RunFolder
from runtime.scenarios.stack import Stack

TICK_S = 0.05
SAMPLE_EVERY_S = 0.25
"""Samples kept for the report's charts: at most one per this much scenario time."""


class _CancelledError(Exception):
    """The run was stopped (or replaced) before it started."""

PRISTINE_SNAPSHOT = 1
"""The plant's first automatic snapshot (taken as it started): every run starts from it."""


@dataclass
class RunOptions:
    headless: bool = False
    autopilot: Autopilot | None = None
    trainee_timeout_s: float = 5.0
    wait_trainee_s: float | None = None
    """How long to wait for the trainee before starting (None: until Ctrl-C)."""
    speed: float | None = None
    """Plant speed during the run (None: the scenario's)."""


@dataclass
class ScenarioRun:
    """One scenario on a running :class:`Stack`; ``run()`` returns the score result."""

    stack: Stack
    scenario: Scenario
    folder: RunFolder
    options: RunOptions = field(default_factory=RunOptions)
    log: Callable[[str], None] = print
    stop: threading.Event = field(default_factory=threading.Event)
    engine: Engine = field(init=False)
    seen: Observed = field(default_factory=Observed)
    samples: dict[str, Any] = field(default_factory=lambda: {"t_s": [], "values": {}})
    hub: Any = None
    """The run's bus side (events out, presence and instructor requests in); see hub.py."""

    def __post_init__(self) -> None:
        self.engine = Engine(self.scenario)
        self.shown: dict[str, float] = {}
        """Point -> the latest value on the bus: what the trainee's screen shows."""
        self.lock = threading.RLock()
        self._lock = self.lock
        self._published = 0
        self.t0_s = 0.0
        self.paused = False
        """The trainee's viewer is gone: the plant is frozen until it is back."""
        self.instructor_frozen = False
        self.waiting = False
        self.start_snapshot: dict[str, Any] | None = None
        self.points = self.scenario.watched_points()
        if self.options.autopilot:
            for step in self.options.autopilot.steps:
                for p in step.when.points if step.when else []:
                    if p not in self.points:
                        self.points.append(p)
        self.samples["values"] = {p: [] for p in self.points}

    # -- observed state for the autopilot thread -------------------------------------------
    def observed(self) -> Observed:
        """What a trainee could know now: point values as the bus shows them (not the plant's
        truth), alarms, confirmed commands, fired events."""
        with self._lock:
            s = self.seen
            return Observed(s.time_s, dict(self.shown), dict(s.alarms), set(s.alarm_acked),
                            dict(s.commands), set(s.fired))

    def note(self, kind: str, text: str, **data: Any) -> None:
        """An event from outside the engine (autopilot, instructor, runner)."""
        with self._lock:
            self.engine.note(self.seen.time_s, kind, text, **data)

    def hint(self, text: str, actor: str) -> None:
        with self._lock:
            self.engine.hint(self.seen.time_s, text, actor)

    def rewound(self, t_s: float, text: str, state_hash: str) -> None:
        """The plant was restored to scenario time ``t_s`` (instructor restore or backtrack)."""
        with self._lock:
            self.seen.time_s = t_s
            self.engine.rewind(t_s, text)
            self.engine.log[-1]["hash"] = state_hash
            ts = self.samples["t_s"]
            while ts and ts[-1] > t_s:  # the chart shows the history as finally lived
                ts.pop()
                for vals in self.samples["values"].values():
                    vals.pop()

    # -- the run --------------------------------------------------------------------------
    def run(self, plant: PlantLink, security: ClientSecurity | None,
            operator_security: ClientSecurity | None) -> dict[str, Any]:
        sc = self.scenario
        self.prepare(plant)
        self.folder.write_json("scenario.json", self.meta())
        sub = Subscriber(self.stack.endpoints, acks=True, security=security)
        pilot = None
        try:
            if self.hub is not None:
                self.hub.state = "waiting"
            if not self.options.headless:
                self.wait_for_trainee(plant)
            if self.stop.is_set():
                raise _CancelledError
            if self.options.autopilot is not None:
                pilot = AutopilotThread(self.options.autopilot, self.stack.endpoints,
                                        operator_security, self.observed,
                                        lambda kind, text, **d: self.note(kind, text, **d),
                                        self._sbo_points())
            self.note("start", f"scenario {sc.name} started", scenario=sc.id)
            self.engine.alarms_available = self.stack.alarms
            self.engine.begin()
            if self.hub is not None and self.stack.alarms:
                self.hub.alarm_snapshot_due = True  # this run starts from the states now
            plant.call("run")
            if self.hub is not None:
                self.hub.state = "running"
            if pilot is not None:
                pilot.start()
            while not self.stop.is_set() and not self.engine.ended:
                self._tick(plant, sub)
                self.stop.wait(TICK_S)
            if not self.engine.ended:
                with self._lock:
                    self.engine.finish(self.seen.time_s, "stopped", "stopped by the instructor "
                                       "or Ctrl-C")
        except _CancelledError:
            with self._lock:
                self.engine.finish(0.0, "stopped", "not started: another scenario was chosen "
                                   "or the run was stopped")
        finally:
            if self.hub is not None:
                self.hub.state = "ended"
            if pilot is not None:
                pilot.join()
            try:
                plant.call("freeze")
            except PlantError:
                pass
            self._flush_events()
            sub.close()
        result = self.engine.scorer.result()
        result.update({"scenario": sc.id, "ended": self.engine.ended,
                       "duration_s": round(self.seen.time_s, 3)})
        if self.options.autopilot is not None:
            ap = self.options.autopilot
            lo, hi = ap.expect_score
            result["autopilot"] = {"name": ap.name, "expect_score": [lo, hi],
                                   "expect_passed": ap.expect_passed,
                                   "within_expected": lo <= result["score"] <= hi and (
                                       ap.expect_passed is None
                                       or ap.expect_passed == result["passed"])}
        self.folder.write_json("samples.json", self.samples)
        self.folder.write_json("score.json", result)
        self.folder.write_json("scenario.json", self.meta())
        return result

    def prepare(self, plant: PlantLink) -> None:
        """Freeze, put the plant back to its pristine start, apply the initial conditions."""
        sc = self.scenario
        plant.call("freeze")
        plant.call("restore", id=PRISTINE_SNAPSHOT)
        plant.call("clear", target="all")
        if sc.initial_snapshot is not None:
            plant.call("load", path=str(sc.initial_snapshot))
        for point, value in sc.initial_points.items():
            plant.call("write", point=point, value=value)
        for point, value in sc.initial_set.items():
            plant.call("set", point=point, value=value)
        plant.call("speed", speed=self.options.speed or sc.speed)
        snap = plant.call("snapshot", label=f"start of {sc.id}")["snapshot"]
        self.t0_s = snap["time_s"]
        self.start_snapshot = snap
        with self._lock:
            self.seen.time_s = 0.0

    def meta(self) -> dict[str, Any]:
        sc = self.scenario
        ap = self.options.autopilot
        return {"scenario": sc.id, "name": sc.name, "file": str(sc.path),
                "rationale": sc.rationale, "scene": str(sc.scene_dir),
                "speed": self.options.speed or sc.speed, "headless": self.options.headless,
                "autopilot": ap.name if ap else None, "points": self.points,
                "limits": [{"id": lim.id, "point": lim.point, "low": lim.low, "high": lim.high,
                            "tolerance": lim.tolerance, "text": lim.text}
                           for lim in sc.limits],
                "charts": list(sc.key_points), "end_after_s": sc.end_after_s,
                "recording": str(self.stack.recording) if self.stack.recording else None,
                "start_snapshot": self.start_snapshot,
                "plant_t0_s": self.t0_s}

    def wait_for_trainee(self, plant: PlantLink) -> None:
        if self.hub is None:
            return
        self.log("waiting for the trainee's viewer (view --bus ADDR with an operator key) ... "
                 "(Ctrl-C stops)")
        deadline = None if self.options.wait_trainee_s is None else \
            time.monotonic() + self.options.wait_trainee_s
        self.waiting = True
        try:
            while not self.stop.is_set():
                self.hub.poll(self)
                if self.hub.trainee_present(self.options.trainee_timeout_s):
                    self.log(f"trainee {self.hub.trainee_name()} is here")
                    return
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"no trainee viewer came within "
                                       f"{self.options.wait_trainee_s:g} s")
                self.stop.wait(0.1)
        finally:
            self.waiting = False

    # -- one tick ---------------------------------------------------------------------------
    def _tick(self, plant: PlantLink, sub: Subscriber) -> None:
        r = plant.call("read_many", points=self.points)
        updates = sub.poll(5_000_000)
        acks = sub.poll_acks()
        with self._lock:
            for u in updates:
                if u.quality == 0:  # Good only: a Bad value is shown greyed, not trusted
                    self.shown[u.point] = u.value
            seen = self.seen
            seen.time_s = r["time_s"] - self.t0_s
            seen.values = r["values"]
            for ack in acks:
                if ack.outcome == "confirmed":
                    seen.commands[ack.point] = ack.readback
                self.engine.note(seen.time_s, "command",
                                 f"{ack.point}: {ack.outcome}" + (
                                     f" ({ack.readback:g})" if ack.readback is not None else "")
                                 + (f" [{ack.code}]" if ack.code else ""),
                                 point=ack.point, outcome=str(ack.outcome), code=ack.code)
            if self.hub is not None:
                self.hub.observe_alarms(self)
            actions = self.engine.tick(seen)
            if not self.samples["t_s"] or \
                    self.samples["t_s"][-1] + SAMPLE_EVERY_S <= seen.time_s:
                self.samples["t_s"].append(round(seen.time_s, 3))
                for p in self.points:
                    self.samples["values"][p].append(seen.values.get(p))
        for action in actions:
            self._do(plant, action)
        if self.hub is not None:
            self.hub.poll(self)
            self._presence(plant)
        self._flush_events()

    def _presence(self, plant: PlantLink) -> None:
        if self.options.headless:
            return
        present = self.hub.trainee_present(self.options.trainee_timeout_s)
        if not present and not self.paused:
            self.paused = True
            if self.hub is not None:
                self.hub.state = "paused"
            plant.call("freeze")
            self.note("paused", "the trainee's viewer disconnected: the run is paused "
                                "(plant frozen) until it is back")
            self.log("paused: the trainee's viewer disconnected")
        elif present and self.paused:
            self.paused = False
            if self.hub is not None:
                self.hub.state = "running"
            if not self.instructor_frozen:
                plant.call("run")
            self.note("resumed", f"trainee {self.hub.trainee_name()} is back: the run goes on")
            self.log("resumed: the trainee is back")

    def _do(self, plant: PlantLink, a: Action) -> None:
        try:
            if a.kind == "fault":
                req: dict[str, Any] = {"kind": a.fault_kind, "target": a.target}
                if a.value is not None:
                    req["rate"] = a.value
                plant.call("fault", **req)
            elif a.kind == "clear":
                plant.call("clear", target=a.target)
            elif a.kind == "set":
                plant.call("set", point=a.target, value=a.value)
        except PlantError as exc:
            self.note("error", f"{a.describe()}: {exc}")

    def _flush_events(self) -> None:
        with self._lock:
            new = self.engine.log[self._published:]
            self._published = len(self.engine.log)
        for ev in new:
            self.folder.append_event(ev)
            self.log(f"{ev['t_s']:8.1f} s  {ev['kind']:<20} {ev['text']}")
        if new and self.hub is not None:
            self.hub.publish(new)

    def _sbo_points(self) -> set[str]:
        from runtime.scene import load_devices, load_scene

        scene = load_scene(self.scenario.scene_dir)
        devices = load_devices(Path(scene.path) / "devices.yaml", scene)
        return {p.point for d in devices.devices for p in d.points if p.sbo}
