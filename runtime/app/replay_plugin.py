"""Replay controls: the timeline bar, keys (play/pause, speed, seek) and a click on the bar.

Every control acts on the session's virtual clock; a seek goes through
:meth:`runtime.app.session.Session.seek`, which rebuilds the world from the recording's index.
"""

from __future__ import annotations

from direct.task.Task import Task

from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.ui.timeline import TimelineBar
from runtime.ui.timeline_model import Marker

SEEK_STEP_NS = 10_000_000_000
SEEK_BIG_STEP_NS = 60_000_000_000


class ReplayPlugin:
    """Registers the timeline (HUD phase) and the replay keys on a replay session."""

    def __init__(self, markers: list[Marker]) -> None:
        self.markers = markers
        self.bar: TimelineBar | None = None
        self.twin: Twin | None = None

    def build(self, twin: Twin) -> None:
        session = twin.session
        if session.source is None or not session.source.seekable:
            raise ValueError("the replay plugin needs a replay session")
        self.twin = twin
        start, end = session.source.start_ns, session.source.end_ns
        assert start is not None and end is not None
        self.bar = TimelineBar(twin.app.aspect2d, twin.viewer.aspect, start, end, self.markers)
        twin.app.task_mgr.add(self._hud_task, "timeline", sort=Phase.HUD - 1)
        twin.hud.append(self.hud)
        twin.viewer.labels.reserved.append(self.bar.reserved)
        accept = twin.app.accept
        accept("space", self.toggle)
        accept("arrow_left", self.step, [-SEEK_STEP_NS])
        accept("arrow_right", self.step, [SEEK_STEP_NS])
        accept("shift-arrow_left", self.step, [-SEEK_BIG_STEP_NS])
        accept("shift-arrow_right", self.step, [SEEK_BIG_STEP_NS])
        accept("[", self.slower)
        accept("]", self.faster)
        accept("control-arrow_left", self.seek, [start])
        accept("control-arrow_right", self.seek, [end])
        twin.clicks.append(self.click_at)

    # -- controls (keys, clicks, scripts and tests call these) ------------------------------

    def toggle(self) -> None:
        assert self.twin is not None
        self.twin.session.clock.toggle_pause()

    def faster(self) -> None:
        assert self.twin is not None
        self.twin.session.clock.faster()

    def slower(self) -> None:
        assert self.twin is not None
        self.twin.session.clock.slower()

    def seek(self, t_ns: int) -> int:
        assert self.twin is not None
        return self.twin.session.seek(t_ns)

    def step(self, delta_ns: int) -> int:
        assert self.twin is not None
        return self.seek(self.twin.session.clock.now_ns + delta_ns)

    def click_at(self, x_ndc: float, y_ndc: float) -> bool:
        """A click on the bar seeks there (and is not a pick in the world)."""
        assert self.twin is not None and self.bar is not None
        if not self.bar.hit(y_ndc):
            return False
        t = self.bar.time_at_x(x_ndc * self.twin.viewer.aspect)
        if t is not None:
            self.seek(t)
        return True

    def _hud_task(self, task: Task) -> int:
        assert self.twin is not None and self.bar is not None
        ft = self.twin.session.time
        self.bar.update(ft.now_ns, speed=self.twin.session.clock.speed, paused=ft.paused,
                        behind=ft.behind)
        return Task.cont

    def hud(self) -> list[dict]:
        """The timeline as hud elements ({kind, text, bbox})."""
        if self.bar is None or self.twin is None:
            return []
        size = (self.twin.app.win.get_x_size(), self.twin.app.win.get_y_size())
        return [{"kind": "timeline", "text": self.bar.text, "bbox": self.bar.screen_rect(size)}]
