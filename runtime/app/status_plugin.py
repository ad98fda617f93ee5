"""The status bar and the bus banner on every twin (HUD phase): site time, the session's clock,
the bus, each adapter, who is signed in. While the whole bus is lost, one banner replaces the
per-asset Bad words and markers (the values stay greyed with their age)."""

from __future__ import annotations

import time

from direct.task.Task import Task

from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.ui.hud import HudElement, element
from runtime.ui.status_bar import StatusBar
from runtime.ui.status_model import StatusInputs, banner_text, bus_lost_since, status_text

REFRESH_S = 0.25


class StatusPlugin:
    """Registers the status bar, its banner and their space (badges keep clear of it)."""

    def __init__(self, *, where: str, user: str, role: str) -> None:
        self.where = where
        self.user = user
        self.role = role
        self.bar: StatusBar | None = None
        self.twin: Twin | None = None
        self.inputs: StatusInputs | None = None
        self._due_ns = 0

    def build(self, twin: Twin) -> None:
        self.twin = twin
        self.bar = StatusBar(twin.app.aspect2d, twin.viewer.aspect)
        twin.viewer.labels.reserved.append(self.bar.reserved)
        twin.hud.append(self.hud)
        twin.app.task_mgr.add(self._task, "status-bar", sort=Phase.HUD - 1)

    def _task(self, task: Task) -> int:
        t0 = time.perf_counter_ns()
        try:
            return self._update()
        finally:
            assert self.twin is not None
            self.twin.live.timings.add("ui", time.perf_counter_ns() - t0)

    def _update(self) -> int:
        twin = self.twin
        assert twin is not None and self.bar is not None
        session = twin.session
        if session.wall_ns < self._due_ns:
            return Task.cont
        self._due_ns = session.wall_ns + int(REFRESH_S * 1e9)
        source = session.source
        frame = session.time
        self.inputs = StatusInputs(
            wall_s=time.time(), mode=session.mode, virtual_s=frame.now_ns / 1e9,
            speed=frame.speed, paused=frame.paused, bus=self.where,
            synced=source.synced if source is not None else True,
            bus_down_s=source.bus_down_s(frame.now_ns) if source is not None else None,
            publishers=tuple(source.publishers(frame.now_ns)) if source is not None else (),
            user=self.user, role=self.role)
        self.bar.show(status_text(self.inputs), banner_text(self.inputs))
        bottoms = [b for b in (f() for f in twin.header_bottoms) if b is not None]
        twin.live.panel.top = min([self.bar.reserved()[2], *bottoms]) - 0.02
        lost = bus_lost_since(self.inputs) is not None
        twin.viewer.view.sync.set_quiet_no_comm(lost)
        twin.bus_lost = lost
        return Task.cont

    def hud(self) -> list[HudElement]:
        if self.bar is None or self.twin is None:
            return []
        size, aspect = self.twin.size(), self.twin.viewer.aspect
        out = [element("status", self.bar.text, self.bar.rect, aspect, size)]
        if self.bar.banner:
            out.append(element("banner", self.bar.banner, self.bar.banner_rect, aspect, size))
        return out
