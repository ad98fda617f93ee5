"""Finding your way (window mode): a click selects and a drag orbits without dropping the
selection; F flies to the selected asset; the keys 1-9 fly to the scene's viewpoints; ``/``
then a tag searches (Enter selects and flies, Escape gives up); a mini-map in the corner shows
the site from above with the view's target, and a click on it moves there. Keys and the mouse
only call small methods here, so scripts and tests drive the same paths headless."""

from __future__ import annotations

import time

from direct.task.Task import Task
from panda3d.core import Point3

from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.ui.hud import HudElement, element
from runtime.ui.minimap import MiniMap

CLICK_PX = 5.0
"""A press and release closer than this is a click (select); farther is a drag (orbit)."""
FLY_S = 0.5
SEARCH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


def is_click(down_px: tuple[float, float], up_px: tuple[float, float]) -> bool:
    """A press and a release this close are a click (select); farther apart, a drag (the
    camera orbited, and the selection stays as it was)."""
    return abs(up_px[0] - down_px[0]) + abs(up_px[1] - down_px[1]) <= CLICK_PX


class NavigationPlugin:
    def __init__(self) -> None:
        self.twin: Twin | None = None
        self.minimap: MiniMap | None = None
        self.search: str | None = None
        """The tag being typed after ``/`` (None when not searching)."""
        self._down_px: tuple[float, float] | None = None
        self._fly: tuple[Point3, Point3, float, float, float] | None = None

    def build(self, twin: Twin) -> None:
        self.twin = twin
        world = twin.session.world
        self.minimap = MiniMap(twin.app.aspect2d, twin.viewer.aspect, world)
        twin.viewer.labels.reserved.append(self.minimap.reserved)
        twin.hud.append(self.hud)
        twin.app.task_mgr.add(self._task, "navigation", sort=Phase.HUD - 3)
        if not twin.interactive:
            return
        app = twin.app
        app.accept("mouse1", self._press)
        app.accept("mouse1-up", self._release)
        app.accept("f", lambda: None if twin.live.typing else self.fly_to_selected())
        app.accept("/", self.start_search)
        for k in range(1, 10):
            app.accept(str(k), lambda k=k: None if twin.live.typing else self.go_to_viewpoint(k))
        for thrower in getattr(app, "buttonThrowers", None) or []:
            if not thrower.node().get_keystroke_event():
                thrower.node().set_keystroke_event("keystroke")
        app.accept("keystroke", self._keystroke)

    # -- actions (keys, mouse, tests) -------------------------------------------------------

    def click(self, x_ndc: float, y_ndc: float) -> str | None:
        """A click at a screen point: on the mini-map it moves the view; else it selects."""
        assert self.twin is not None and self.minimap is not None
        target = self.minimap.ground_at(x_ndc * self.twin.viewer.aspect, y_ndc)
        if target is not None:
            self._start_fly(Point3(target[0], target[1], 0.0), None)
            return None
        if any(take(x_ndc, y_ndc) for take in self.twin.clicks):
            return None
        if any(hit(x_ndc, y_ndc) for hit in self.twin.live.panels_hit):
            return None  # a click on the inspector is not a pick behind it
        return self.twin.live.select_at(x_ndc, y_ndc)

    def fly_to_selected(self) -> bool:
        """Move the view onto the selected asset (False when nothing is selected)."""
        assert self.twin is not None
        eid = self.twin.live.selection.selected
        if eid is None:
            return False
        world = self.twin.session.world
        x, y, z = world.entities.position_m[world.entity_row[eid]]
        vis = self.twin.viewer.view.visuals.get(eid)
        height = vis.height_m if vis is not None else 2.0
        self._start_fly(Point3(float(x), float(y), float(z) + 0.5 * height),
                        max(8.0, 4.0 * height))
        return True

    def go_to_viewpoint(self, key: int) -> str | None:
        """Fly to the scene's viewpoint on number key ``key`` (1-9); its name, or None."""
        assert self.twin is not None
        points = self.twin.session.world.scene.viewpoints
        if not 1 <= key <= len(points):
            return None
        vp = points[key - 1]
        cam = self.twin.viewer.camera
        cam.view.heading_deg = vp.heading_deg
        cam.view.pitch_deg = vp.pitch_deg
        self._start_fly(Point3(*vp.target_m), vp.distance_m)
        self.twin.live.say(f"{key}: {vp.name}", seconds=2.0)
        return vp.name

    def start_search(self) -> None:
        self.search = ""
        if self.twin is not None:
            self.twin.live.typing = True

    def type_search(self, text: str) -> str | None:
        """Append to the search; the first tag starting with it (case-insensitive) is shown."""
        if self.search is None:
            return None
        self.search += text
        return self.match()

    @property
    def flying(self) -> bool:
        """A fly to a target is under way (it runs on the session's wall clock)."""
        return self._fly is not None

    def stop_search(self) -> None:
        self.search = None
        if self.twin is not None:
            self.twin.live.typing = False

    def match(self) -> str | None:
        assert self.twin is not None
        if not self.search:
            return None
        want = self.search.upper()
        for e in self.twin.session.world.scene.entities:
            if e.id.upper().startswith(want):
                return e.id
        return None

    def finish_search(self) -> str | None:
        """Enter: select the match and fly to it."""
        found = self.match()
        self.stop_search()
        if found is not None and self.twin is not None:
            self.twin.live.select(found)
            self.fly_to_selected()
        return found

    # -- events -----------------------------------------------------------------------------

    def _mouse_px(self) -> tuple[float, float] | None:
        assert self.twin is not None
        watcher = self.twin.app.mouseWatcherNode
        if watcher is None or not watcher.has_mouse():
            return None
        m = watcher.get_mouse()
        w, h = self.twin.size()
        return m.x * w / 2, m.y * h / 2

    def _press(self) -> None:
        self._down_px = self._mouse_px()

    def _release(self) -> None:
        down, self._down_px = self._down_px, None
        up = self._mouse_px()
        if down is None or up is None:
            return
        if not is_click(down, up):
            return  # a drag: the camera orbited; the selection stays
        w, h = self.twin.size()  # type: ignore[union-attr]
        self.click(up[0] / (w / 2), up[1] / (h / 2))

    def _keystroke(self, key: str) -> None:
        if self.search is None:
            return
        if key in ("\r", "\n"):
            self.finish_search()
        elif key == "\x1b":
            self.stop_search()
        elif key == "\b":
            self.search = self.search[:-1]
        elif key.lower() in SEARCH_CHARS:
            self.type_search(key)

    # -- per frame --------------------------------------------------------------------------

    def _start_fly(self, target: Point3, distance_m: float | None) -> None:
        assert self.twin is not None
        cam = self.twin.viewer.camera
        start = Point3(cam.view.target)
        self._fly = (start, target, cam.view.distance_m,
                     distance_m if distance_m is not None else cam.view.distance_m,
                     self.twin.session.wall_ns / 1e9)

    def _task(self, task: Task) -> int:
        t0 = time.perf_counter_ns()
        self._step()
        assert self.twin is not None
        self.twin.live.timings.add("ui", time.perf_counter_ns() - t0)
        return Task.cont

    def _step(self) -> None:
        twin = self.twin
        assert twin is not None and self.minimap is not None
        if self._fly is not None:
            start, end, d0, d1, t0 = self._fly
            f = min(1.0, max(0.0, (twin.session.wall_ns / 1e9 - t0) / FLY_S))
            f = f * f * (3 - 2 * f)  # ease in and out
            cam = twin.viewer.camera
            cam.view.target = start + (end - start) * f
            cam.view.distance_m = d0 + (d1 - d0) * f
            cam.apply()
            if f >= 1.0:
                self._fly = None
        selected = twin.live.selection.selected
        self.minimap.update(twin.viewer.camera.view.target,
                            twin.session.world.entity_row.get(selected) if selected else None,
                            twin.live.visual_quality)
        if self.search is None:
            self.minimap.set_caption("")
        else:
            self.minimap.set_caption(f"find: {self.search}_  ->  {self.match() or 'no match'}"
                                     "   (Enter: go, Esc: cancel)")

    def hud(self) -> list[HudElement]:
        if self.twin is None or self.minimap is None:
            return []
        size, aspect = self.twin.size(), self.twin.viewer.aspect
        out = [element("minimap", "", self.minimap.rect, aspect, size)]
        if self.minimap.caption:
            left, right, _bottom, top = self.minimap.reserved()
            out.append(element("message", self.minimap.caption,
                               (left, right, self.minimap.rect[3], top), aspect, size))
        return out
