"""Tours on a twin: G (guided tour) starts or stops the scene's tour, N / Page Down step forward,
B / Page Up step back (T and P belong to the trend panel). While a tour plays it owns the camera
(through the orbit camera's view) and shows the narration card of the stop it is at, with the
live values of that stop's assets.

Time comes from ``now_s`` (default: the session's wall clock), so a test or the kiosk can drive
a tour frame by frame without sleeping; ``on_event`` hooks see each arrival, departure and the
end (the headless runner takes a screenshot per stop from them).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from direct.showbase.DirectObject import DirectObject
from direct.task.Task import Task
from panda3d.core import Point3

from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.render.tour import Pose, TourPlayer
from runtime.scene.tours import Tour
from runtime.ui.hud import HudElement, element
from runtime.ui.narration import NarrationCard, value_lines

VALUES_REFRESH_S = 0.5
MAX_FRAME_S = 0.25
"""A stalled frame does not jump the tour ahead by more than this."""


class TourPlugin:
    def __init__(self, tour: Tour | None = None, *, loop: bool = False,
                 now_s: Callable[[], float] | None = None, ui_scale: float = 1.0) -> None:
        self.tour = tour
        """None: the scene's first tour (no tour at all: the plugin does nothing)."""
        self.loop = loop
        self.player: TourPlayer | None = None
        self.card: NarrationCard | None = None
        self.twin: Twin | None = None
        self.on_event: list[Callable[[str, int], None]] = []
        self._now_s = now_s
        self._last_s: float | None = None
        self._values_due_s = 0.0
        self._ui_scale = ui_scale
        self._events = DirectObject()

    @property
    def playing(self) -> bool:
        return self.player is not None and self.player.playing

    def build(self, twin: Twin) -> None:
        self.twin = twin
        if self.tour is None and twin.viewer.scene.tours:
            self.tour = twin.viewer.scene.tours[0]
        if self.tour is None:
            return
        self.player = TourPlayer(self.tour, loop=self.loop)
        self.card = NarrationCard(twin.app.aspect2d, twin.viewer.aspect, scale=self._ui_scale)
        twin.viewer.labels.reserved.append(self.card.reserved)
        twin.hud.append(self.hud)
        twin.app.task_mgr.add(self._task, "tour", sort=Phase.INPUT + 2)
        if twin.interactive:
            # O (tOur): G belongs to the what-if ghosts; Page Up/Down page the alarm list.
            self._events.accept("o", self._on_key, [self.toggle])
            self._events.accept("n", self._on_key, [self.next])
            self._events.accept("b", self._on_key, [self.previous])

    # -- actions ------------------------------------------------------------------------------

    def start(self, index: int = 0) -> bool:
        """Play from stop ``index`` (False when the scene has no tour)."""
        if self.player is None:
            return False
        self._take_camera()
        self.player.start(self._current_pose(), index)
        self._last_s = None
        self._values_due_s = 0.0
        return True

    def stop(self) -> None:
        """Stop playing and hide the card; the camera stays where the tour left it."""
        if self.player is not None:
            self.player.stop_playing()
        if self.card is not None:
            self.card.hide()

    def toggle(self) -> None:
        if self.playing:
            self.stop()
        else:
            self.start()

    def next(self) -> None:
        if self.player is None:
            return
        if not self.playing:
            self.start()
            return
        self.player.next()

    def previous(self) -> None:
        if self.player is not None and self.playing:
            self.player.previous()

    def advance(self, dt_s: float) -> list[tuple[str, int]]:
        """Play on by ``dt_s`` seconds and move the camera; the events of this step."""
        if self.player is None or not self.playing:
            return []
        events = self.player.advance(dt_s)
        self._apply(self.player.pose())
        for kind, index in events:
            if kind == "arrive":
                self._values_due_s = 0.0
            for hook in self.on_event:
                hook(kind, index)
        self._show_card(dt_s)
        return events

    # -- internals ----------------------------------------------------------------------------

    def _on_key(self, action: Callable[[], None]) -> None:
        if self.twin is not None and not self.twin.live.typing:
            action()

    def _take_camera(self) -> None:
        """Leave walk mode (if a walk plugin has it) so the orbit camera drives the view."""
        assert self.twin is not None
        for plugin in self.twin.plugins:
            if getattr(plugin, "walking", False):
                plugin.to_orbit()  # type: ignore[attr-defined]

    def _current_pose(self) -> Pose:
        assert self.twin is not None
        v = self.twin.viewer.camera.view
        return Pose((v.target.x, v.target.y, v.target.z), v.distance_m, v.heading_deg,
                    v.pitch_deg)

    def _apply(self, pose: Pose) -> None:
        assert self.twin is not None
        cam = self.twin.viewer.camera
        cam.view.target = Point3(*pose.target_m)
        cam.view.distance_m = pose.distance_m
        cam.view.heading_deg = pose.heading_deg
        cam.view.pitch_deg = pose.pitch_deg
        cam.apply()

    def _show_card(self, dt_s: float) -> None:
        assert self.twin is not None and self.card is not None and self.player is not None
        stop = self.player.stop
        if stop is None or not self.playing:
            self.card.hide()
            return
        self._values_due_s -= dt_s
        if self._values_due_s > 0 and self.card.visible and self.card.title == stop.title:
            return
        self._values_due_s = VALUES_REFRESH_S
        twin = self.twin
        world, live = twin.session.world, twin.live
        cols = {world.entity_row[a]: [int(c) for c in live.bindings.entity_points[
            world.entity_row[a]]] for a in stop.assets}
        lines = value_lines(world, stop.assets, cols, twin.session.time.now_ns,
                            live.observer.display, bus_lost=twin.bus_lost)
        self.card.show(stop.title, stop.text, lines)

    def _task(self, task: Task) -> int:
        assert self.twin is not None
        t0 = time.perf_counter_ns()
        now = self._now_s() if self._now_s is not None else self.twin.session.wall_ns / 1e9
        last, self._last_s = self._last_s, now
        if last is not None and self.playing:
            self.advance(min(max(now - last, 0.0), MAX_FRAME_S))
        self.twin.live.timings.add("ui", time.perf_counter_ns() - t0)
        return Task.cont

    def hud(self) -> list[HudElement]:
        if self.twin is None or self.card is None or not self.card.visible:
            return []
        text = "\n".join([self.card.title, self.card.body, *self.card.values])
        return [element("narration", text, self.card.rect, self.twin.viewer.aspect,
                        self.twin.size())]
