"""Training on a twin: the instructor station and the trainee's message box.

``twinstage view --role instructor --bus ADDR`` gets :class:`InstructorPlugin`: a panel with
the run's state, live score and events, the scene's scenarios, and keys to start a scenario,
freeze and run the plant, change its speed, take a snapshot, backtrack, inject or clear a
malfunction and send the trainee a message or hint. An operator's live view gets
:class:`TraineePlugin`: it tells the training run the trainee is there (the run pauses when it
is not) and shows the instructor's messages and hints. Both talk to the run through
:class:`runtime.scenarios.station_link.StationLink` (a worker thread: the frame never waits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from direct.showbase.DirectObject import DirectObject
from direct.task.Task import Task

from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.scenarios.station_link import StationLink
from runtime.ui.hud import HudElement, element
from runtime.ui.instructor_panel import TextPanel, instructor_lines, trainee_lines

REFRESH_S = 0.25
SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
MESSAGE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;!?'-/%()")


def malfunctions(twin: Twin) -> list[dict[str, Any]]:
    """What the instructor can inject on this scene: trips, stuck valves, drifting and frozen
    transmitters (the virtual plant's model faults)."""
    out: list[dict[str, Any]] = []
    for e in twin.viewer.scene.entities:
        if e.type == "pump":
            out.append({"kind": "trip", "target": e.id})
        elif e.type == "valve":
            out.append({"kind": "stick", "target": e.id})
        elif e.type == "transmitter":
            out.append({"kind": "drift", "target": e.id, "rate": 0.02})
            out.append({"kind": "freeze", "target": e.id})
    return out


def _describe(m: dict[str, Any]) -> str:
    return f"{m['kind']} {m['target']}" + (f" {m['rate']:g}/s" if m.get("rate") else "")


class InstructorPlugin:
    def __init__(self, link: StationLink) -> None:
        self.link = link
        self.twin: Twin | None = None
        self.panel: TextPanel | None = None
        self.chosen = 0
        self.faults: list[dict[str, Any]] = []
        self.fault_at = 0
        self.typing: str | None = None
        self.as_hint = False
        self.view: dict[str, Any] = {}
        self._due_ns = 0
        self._events = DirectObject()

    def build(self, twin: Twin) -> None:
        self.twin = twin
        self.faults = malfunctions(twin)
        self.panel = TextPanel(twin.app.aspect2d, twin.viewer.aspect, "instructor-panel",
                               top=0.86, loader=twin.app.loader)
        twin.viewer.labels.reserved.append(self.panel.reserved)
        twin.hud.append(self.hud)
        twin.app.task_mgr.add(self._task, "instructor", sort=Phase.HUD)
        if twin.interactive:
            self._install_keys()

    # -- actions (keys, scripts and tests call these) --------------------------------------
    def choose(self, step: int) -> None:
        n = len(self.view.get("scenarios") or [])
        if n:
            self.chosen = (self.chosen + step) % n

    def start_chosen(self) -> None:
        scenarios = self.view.get("scenarios") or []
        if scenarios:
            self.link.ask("start", {"scenario": scenarios[self.chosen % len(scenarios)]["id"]})

    def freeze_or_run(self) -> None:
        frozen = bool((self.view.get("status") or {}).get("frozen"))
        self.link.ask("run" if frozen else "freeze")

    def speed(self, step: int) -> None:
        now = float((self.view.get("status") or {}).get("speed") or 1.0)
        i = min(range(len(SPEEDS)), key=lambda k: abs(SPEEDS[k] - now))
        self.link.ask("speed", {"speed": SPEEDS[max(0, min(len(SPEEDS) - 1, i + step))]})

    def next_fault(self) -> None:
        if self.faults:
            self.fault_at = (self.fault_at + 1) % len(self.faults)

    def inject(self) -> None:
        if self.faults:
            self.link.ask("inject", dict(self.faults[self.fault_at]))

    def start_message(self, hint: bool) -> None:
        assert self.twin is not None
        self.typing = ""
        self.as_hint = hint
        self.twin.live.typing = True

    def send_message(self, text: str, hint: bool = False) -> None:
        if text.strip():
            self.link.ask("message", {"text": text.strip(), "hint": hint})

    def _keystroke(self, key: str) -> None:
        if self.typing is None or self.twin is None:
            return
        if key in ("\r", "\n"):
            self.send_message(self.typing, self.as_hint)
            self.typing = None
            self.twin.live.typing = False
        elif key == "\x1b":
            self.typing = None
            self.twin.live.typing = False
        elif key == "\b":
            self.typing = self.typing[:-1]
        elif key in MESSAGE_CHARS and len(self.typing) < 300:
            self.typing += key

    def _install_keys(self) -> None:
        assert self.twin is not None
        live = self.twin.live
        events = self._events

        def key(name: str, action: Callable[[], Any]) -> None:
            events.accept(name, lambda: None if live.typing else action())

        key("f2", lambda: self.choose(-1))
        key("f3", lambda: self.choose(1))
        key("f4", self.start_chosen)
        key("f5", self.freeze_or_run)
        key("f6", lambda: self.speed(-1))
        key("f7", lambda: self.speed(1))
        key("f8", lambda: self.link.ask("snapshot", {"label": "instructor"}))
        key("f9", lambda: self.link.ask("backtrack", {"seconds": 60}))
        key("f10", self.next_fault)
        key("f11", self.inject)
        key("shift-f11", lambda: self.link.ask("clear", {"target": "all"}))
        key("f12", lambda: self.start_message(False))
        key("shift-f12", lambda: self.start_message(True))
        events.accept("keystroke", self._keystroke)

    # -- per frame --------------------------------------------------------------------------
    def _task(self, task: Task) -> int:
        twin = self.twin
        assert twin is not None and self.panel is not None
        if twin.session.wall_ns >= self._due_ns:
            self._due_ns = twin.session.wall_ns + int(REFRESH_S * 1e9)
            self.view = self.link.take()
            fault = _describe(self.faults[self.fault_at]) if self.faults else "none"
            self.panel.show(instructor_lines(self.view, self.chosen, fault, self.typing))
        return Task.cont

    def hud(self) -> list[HudElement]:
        if self.panel is None or self.twin is None or not self.panel.lines:
            return []
        return [element("instructor", self.panel.text, self.panel.rect, self.twin.viewer.aspect,
                        self.twin.size())]

    def close(self) -> None:
        self._events.ignore_all()
        self.link.close()


class TraineePlugin:
    """The trainee's side: presence for the run, and its messages in a box (bottom left)."""

    def __init__(self, link: StationLink) -> None:
        self.link = link
        self.twin: Twin | None = None
        self.box: TextPanel | None = None
        self._due_ns = 0

    def build(self, twin: Twin) -> None:
        self.twin = twin
        self.box = TextPanel(twin.app.aspect2d, twin.viewer.aspect, "trainee-messages",
                             width=1.3, top=0.82, right=False, max_lines=6,
                             loader=twin.app.loader)
        twin.viewer.labels.reserved.append(self.box.reserved)
        twin.hud.append(self.hud)
        twin.app.task_mgr.add(self._task, "trainee-messages", sort=Phase.HUD)

    def _task(self, task: Task) -> int:
        twin = self.twin
        assert twin is not None and self.box is not None
        if twin.session.wall_ns >= self._due_ns:
            self._due_ns = twin.session.wall_ns + int(REFRESH_S * 1e9)
            self.box.show(trainee_lines(self.link.take()))
        return Task.cont

    def hud(self) -> list[HudElement]:
        if self.box is None or self.twin is None or not self.box.lines:
            return []
        return [element("training", self.box.text, self.box.rect, self.twin.viewer.aspect,
                        self.twin.size())]

    def close(self) -> None:
        self.link.close()
