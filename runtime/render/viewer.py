"""The viewer's frame: scene graph, lights, ground, labels, camera and the per-frame tasks.

:class:`Viewer` is the plugin-style assembly: it builds once and registers tasks at their
:class:`runtime.phases.Phase` sort values; the tasks themselves are small functions over the
arrays in :class:`runtime.render.sync.RenderSync`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from direct.task.Task import Task
from panda3d.core import NodePath

from runtime.phases import Phase
from runtime.render.app import ViewerApp
from runtime.render.camera import OrbitCamera, default_view
from runtime.render.grid import build_ground
from runtime.render.horizon import build_sky, field_rgba
from runtime.render.labels import LabelLayer
from runtime.render.lighting import add_lights
from runtime.render.materials import Materials
from runtime.render.scene_graph import SceneView, build_scene_graph
from runtime.scene.model import Entity, Scene

FOV_V_DEG = 40.0


def _asset_box(entity: Entity, height_m: float
               ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """An asset's rough extent for badge placement: a tank's diameter, else a metre or so."""
    x, y, z = entity.position_m
    if entity.type == "tank":
        r = 0.5 * float(entity.params.get("diameter_m", 2.0))
    else:
        r = max(0.4, min(1.2, 0.5 * height_m))
    return (x - r, y - r, z), (x + r, y + r, z + max(height_m, 0.3))


class Viewer:
    """One scene shown in one app. ``interactive`` adds mouse and keyboard camera control."""

    def __init__(self, app: ViewerApp, scene: Scene, *, interactive: bool) -> None:
        self.app = app
        self.scene = scene
        self.materials = Materials(pipeline=app.pipeline)
        w, h = app.size
        self.aspect = w / h
        app.camLens.set_fov(FOV_V_DEG * self.aspect, FOV_V_DEG)
        app.camLens.set_near_far(0.3, 1000.0)

        self.view: SceneView = build_scene_graph(scene, app.render, loader=app.loader,
                                                 materials=self.materials)
        x0, y0, z0, x1, y1, z1 = self.view.bounds
        extent = 1.2 * max(x1 - x0, y1 - y0, 10.0)
        self.ground = build_ground(app.render, self.materials, (x0, y0, x1, y1))
        display = app.pipeline != "pbr"
        app.set_background_color(*field_rgba(display_space=display))  # the field
        self.sky = build_sky(app.camera, app.render, display_space=display)
        self.lights = add_lights(app.render, extent_m=extent,
                                 shadows=bool(getattr(app, "shadows", False)),
                                 pipeline=app.pipeline,
                                 center_m=((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2))

        self.labels = LabelLayer(app.aspect2d, app.camera, app.cam, self.aspect)
        for entity in scene.entities:
            anchor = self.view.label_anchors.get(entity.id)
            if anchor is not None:
                self.labels.add(entity.id, f"{entity.id}  {entity.name}", anchor,
                                _asset_box(entity, self.view.visuals[entity.id].height_m))
        self.view.sync.labels = self.labels

        self.camera = OrbitCamera(app, default_view(self.view.bounds, FOV_V_DEG, self.aspect))
        if interactive:
            self.camera.install()
        self.picker = None
        """:class:`runtime.render.picking.Picker`, built on the first pick."""
        self.sync_writers: list[Callable[[float], None]] = []
        """Called with the frame's dt (s) at the start of the sync phase, before the arrays are
        pushed to nodes: the live twin writes the visual arrays here."""
        self.hud_writers: list[Callable[[], None]] = []
        """Called in the HUD phase after the labels are placed (inspector panel)."""
        self.frame_dt_s: Callable[[], float] = app.clock.get_dt
        """The frame's delta for animations (rotors, flow beads): the session's virtual delta
        once a session drives the view (paused replay stands still), else the app's clock."""
        self.sync_ns = 0
        """CPU time of the last sync phase, ns (writers + node updates)."""
        self.hud_ns = 0
        app.task_mgr.add(self._sync_task, "render-sync", sort=Phase.SYNC)
        app.task_mgr.add(self._hud_task, "labels", sort=Phase.HUD)
        self.labels.update(app.render)

    @property
    def root(self) -> NodePath:
        return self.view.root

    def _sync_task(self, task: Task) -> int:
        t0 = time.perf_counter_ns()
        sync = self.view.sync
        dt = self.frame_dt_s()
        for writer in self.sync_writers:
            writer(dt)
        if sync.near_cells is not None:
            eye = self.app.camera.get_pos(self.view.root)
            sync.eye_m = (eye.x, eye.y, eye.z)
        sync.advance(dt)
        sync.apply()
        self.sync_ns = time.perf_counter_ns() - t0
        return Task.cont

    def _hud_task(self, task: Task) -> int:
        t0 = time.perf_counter_ns()
        self.labels.update(self.app.render)
        for writer in self.hud_writers:
            writer()
        self.hud_ns = time.perf_counter_ns() - t0
        return Task.cont

    def step(self, frames: int = 1) -> None:
        """Run ``frames`` whole frames (all tasks, render, flip): headless and tests."""
        for _ in range(frames):
            self.app.task_mgr.step()
