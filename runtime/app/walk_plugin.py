"""Walk mode on a twin: V switches between the orbit camera and walking at eye height.

Switching keeps the selection (the inspector stays open on the same asset) and the place:
orbit -> walk stands where the orbit camera hovered (drawn in to at most
:data:`MAX_START_DISTANCE_M` from what it looked at), facing its target; walk -> orbit looks at
the point :data:`ORBIT_LOOK_AHEAD_M` ahead of the walker from behind, at the walker's heading.
While walking, the number keys jump to teleport points: the scene's viewpoints, seen from the
ground.
"""

from __future__ import annotations

import math
import time

from direct.showbase.DirectObject import DirectObject
from direct.task.Task import Task
from panda3d.core import Point3

from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.render.walk import WalkController, WalkPose, WalkWorld
from runtime.scene.model import Viewpoint
from runtime.ui.hud import HudElement

MAX_START_DISTANCE_M = 12.0
ORBIT_LOOK_AHEAD_M = 6.0
ORBIT_DISTANCE_M = 14.0
ORBIT_PITCH_DEG = -25.0
TOGGLE_KEY = "v"
WALK_NEAR_M = 0.1
"""Near clip while walking: a wall at arm's length is still drawn."""
WALK_FAR_M = 60.0
"""Far clip while walking: a person at eye level reads nothing farther, and a large plant's
rows beyond it cost most of the frame (the sky stands behind)."""
ORBIT_NEAR_M = 0.3
ORBIT_FAR_M = 1000.0
"""The viewer's own clip planes (runtime/render/viewer.py)."""


def teleport_pose(vp: Viewpoint) -> WalkPose:
    """Stand on the ground a few metres short of a viewpoint's target, facing it."""
    x, y, _z = vp.target_m
    h = math.radians(vp.heading_deg)
    back = min(vp.distance_m * 0.5, 10.0)
    return WalkPose(x + math.sin(h) * back, y - math.cos(h) * back, 0.0, vp.heading_deg)


class WalkPlugin:
    """Registers the walk controller, the V toggle, walking keys and teleports."""

    def __init__(self) -> None:
        self.twin: Twin | None = None
        self.walker: WalkController | None = None
        self._events = DirectObject()
        self._last_wall_ns = -1

    @property
    def walking(self) -> bool:
        return self.walker is not None and self.walker.active

    def build(self, twin: Twin) -> None:
        self.twin = twin
        viewer = twin.viewer
        world = WalkWorld(viewer.scene, viewer.view)
        self.walker = WalkController(twin.app, world, self._pose_from_orbit())
        self.walker.teleports = [(vp.name, teleport_pose(vp))
                                 for vp in viewer.scene.viewpoints]
        twin.hud.append(self.hud)
        twin.app.task_mgr.add(self._task, "walk", sort=Phase.INPUT + 1)
        if not twin.interactive:
            return
        self.walker.find_gamepad()
        self._events.accept(TOGGLE_KEY, self._on_toggle)
        for k in range(1, 10):
            self._events.accept(str(k), self._on_number, [k])

    # -- actions ------------------------------------------------------------------------------

    def toggle(self) -> str:
        """Switch between orbit and walk; returns the mode now (``walk`` or ``orbit``)."""
        return self.to_orbit() if self.walking else self.to_walk()

    def to_walk(self) -> str:
        assert self.twin is not None and self.walker is not None
        self.walker.place(self._pose_from_orbit())
        self.twin.viewer.camera.active = False
        self.twin.app.camLens.set_near_far(WALK_NEAR_M, WALK_FAR_M)
        self.walker.active = True
        self.walker.apply()
        self.twin.live.say("Walking: W A S D or arrows, drag to look, V for the overview",
                           seconds=4.0)
        return "walk"

    def to_orbit(self) -> str:
        assert self.twin is not None and self.walker is not None
        pose = self.walker.pose
        h = math.radians(pose.heading_deg)
        cam = self.twin.viewer.camera
        cam.view.target = Point3(pose.x_m - math.sin(h) * ORBIT_LOOK_AHEAD_M,
                                 pose.y_m + math.cos(h) * ORBIT_LOOK_AHEAD_M, pose.z_m + 1.0)
        cam.view.heading_deg = pose.heading_deg
        cam.view.pitch_deg = ORBIT_PITCH_DEG
        cam.view.distance_m = ORBIT_DISTANCE_M
        self.walker.active = False
        self.twin.app.camLens.set_near_far(ORBIT_NEAR_M, ORBIT_FAR_M)
        cam.active = True
        cam.apply()
        return "orbit"

    def _pose_from_orbit(self) -> WalkPose:
        """Where the orbit camera hovers, on the ground, drawn in toward its target."""
        assert self.twin is not None
        view = self.twin.viewer.camera.view
        h = math.radians(view.heading_deg)
        reach = min(view.distance_m * math.cos(math.radians(view.pitch_deg)),
                    MAX_START_DISTANCE_M)
        x = view.target.x + math.sin(h) * reach
        y = view.target.y - math.cos(h) * reach
        return WalkPose(x, y, 0.0, view.heading_deg)

    def _on_toggle(self) -> None:
        if self.twin is not None and not self.twin.live.typing:
            self.toggle()

    def _on_number(self, key: int) -> None:
        if not self.walking or self.twin is None or self.twin.live.typing:
            return
        assert self.walker is not None
        name = self.walker.teleport(key - 1)
        if name is not None:
            self.twin.live.say(f"{key}: {name}", seconds=2.0)

    # -- per frame ----------------------------------------------------------------------------

    def _task(self, task: Task) -> int:
        twin = self.twin
        assert twin is not None and self.walker is not None
        t0 = time.perf_counter_ns()
        wall = twin.session.wall_ns
        dt = 0.0 if self._last_wall_ns < 0 or wall < 0 else (wall - self._last_wall_ns) / 1e9
        self._last_wall_ns = wall
        if self.walking and twin.interactive and not twin.live.typing:
            self.walker.read_input(min(dt, 0.1))
        twin.live.timings.add("ui", time.perf_counter_ns() - t0)
        return Task.cont

    def hud(self) -> list[HudElement]:
        return []
