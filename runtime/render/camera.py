"""Orbit camera: left-drag orbits, right- or middle-drag pans, the wheel zooms, R resets.

State is four numbers (target, distance, heading, pitch) so the default view is data a scene
or a test can compute with; :meth:`OrbitCamera.apply` turns them into the camera transform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from direct.showbase.ShowBase import ShowBase
from direct.task.Task import Task
from panda3d.core import MouseButton, NodePath, Point3, Vec3

from runtime.phases import Phase

ORBIT_DEG_PER_PX = 0.3
ZOOM_STEP = 0.88
PITCH_LIMITS_DEG = (-88.0, -3.0)


@dataclass(slots=True)
class OrbitView:
    """Where the camera looks from: a target point, distance, heading and pitch (degrees)."""

    target: Point3
    distance_m: float
    heading_deg: float
    pitch_deg: float


def default_view(bounds: tuple[float, float, float, float, float, float], fov_v_deg: float,
                 aspect: float) -> OrbitView:
    """A view from the south, 32 degrees down, that fits the plant's bounding box on screen.

    ``bounds`` is (xmin, ymin, zmin, xmax, ymax, zmax) in metres.
    """
    x0, y0, z0, x1, y1, z1 = bounds
    target = Point3((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) * 0.25)
    half_w = max(x1 - x0, 1.0) / 2
    half_d = max(y1 - y0, 1.0) / 2
    fov_h = 2 * math.degrees(math.atan(math.tan(math.radians(fov_v_deg) / 2) * aspect))
    fit_w = half_w / math.tan(math.radians(fov_h) / 2)
    fit_d = (half_d + (z1 - z0) / 2) / math.tan(math.radians(fov_v_deg) / 2)
    return OrbitView(target, 0.98 * max(fit_w, fit_d) + 0.5 * half_d, heading_deg=15.0,
                     pitch_deg=-30.0)


class OrbitCamera:
    """Drives ``app.camera`` from mouse input in :attr:`Phase.INPUT`."""

    def __init__(self, app: ShowBase, home: OrbitView) -> None:
        self._app = app
        self.home = home
        self.view = OrbitView(Point3(home.target), home.distance_m, home.heading_deg,
                              home.pitch_deg)
        self._last_mouse: tuple[float, float] | None = None
        self.active = True
        """False while another controller (walk mode, a tour) owns the camera: the view's
        numbers still change, the camera node is left alone."""
        self.apply()

    def install(self) -> None:
        """Register input handlers and the per-frame task (windowed apps only)."""
        app = self._app
        app.accept("wheel_up", self.zoom, [ZOOM_STEP])
        app.accept("wheel_down", self.zoom, [1 / ZOOM_STEP])
        app.accept("r", self.reset)
        app.accept("home", self.reset)
        app.task_mgr.add(self._task, "orbit-camera", sort=Phase.INPUT)

    def reset(self) -> None:
        self.view = OrbitView(Point3(self.home.target), self.home.distance_m,
                              self.home.heading_deg, self.home.pitch_deg)
        self.apply()

    def zoom(self, factor: float) -> None:
        self.view.distance_m = min(max(self.view.distance_m * factor, 2.0), 500.0)
        self.apply()

    def orbit(self, d_heading_deg: float, d_pitch_deg: float) -> None:
        v = self.view
        v.heading_deg = (v.heading_deg + d_heading_deg) % 360.0
        v.pitch_deg = min(max(v.pitch_deg + d_pitch_deg, PITCH_LIMITS_DEG[0]), PITCH_LIMITS_DEG[1])
        self.apply()

    def pan(self, dx_px: float, dy_px: float) -> None:
        """Move the target in the camera's ground plane so the scene follows the pointer."""
        cam = self._app.camera
        right = cam.get_quat().get_right()
        forward = cam.get_quat().get_forward()
        forward = Vec3(forward.x, forward.y, 0)
        if forward.length() > 1e-6:
            forward.normalize()
        scale = self.view.distance_m / max(self._app.win.get_y_size(), 1) * 1.2
        self.view.target += right * (-dx_px * scale) + forward * (-dy_px * scale)
        self.apply()

    def apply(self) -> None:
        if not self.active:
            return
        v = self.view
        cam: NodePath = self._app.camera
        h, p = math.radians(v.heading_deg), math.radians(v.pitch_deg)
        # Looking along heading h (0 = +Y, north) and down by pitch: the camera sits behind.
        direction = Vec3(-math.sin(h) * math.cos(p), math.cos(h) * math.cos(p), math.sin(p))
        cam.set_pos(v.target - direction * v.distance_m)
        cam.look_at(v.target)

    def _task(self, task: Task) -> int:
        watcher = self._app.mouseWatcherNode
        if not self.active or watcher is None or not watcher.has_mouse():
            self._last_mouse = None
            return Task.cont
        m = watcher.get_mouse()
        w, h = self._app.win.get_x_size(), self._app.win.get_y_size()
        px = (m.x * w / 2, m.y * h / 2)
        last, self._last_mouse = self._last_mouse, px
        if last is None:
            return Task.cont
        dx, dy = px[0] - last[0], px[1] - last[1]
        if watcher.is_button_down(MouseButton.one()):
            self.orbit(-dx * ORBIT_DEG_PER_PX, dy * ORBIT_DEG_PER_PX)
        elif watcher.is_button_down(MouseButton.three()) or watcher.is_button_down(
                MouseButton.two()):
            self.pan(dx, dy)
        return Task.cont
