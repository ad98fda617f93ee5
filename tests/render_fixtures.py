"""Offscreen render helpers for the rendering tests (import explicitly; not a conftest).

A process holds one Panda3D ShowBase, so every render runs in a child process: this file is
also the child's script. ``render_scene`` renders a scene headless and returns the frame as a
numpy array with, for each entity, where known points of it land on screen (projected with the
camera's own lens) and where each label card was drawn.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Rendered:
    png: Path
    frame: np.ndarray
    """uint8 (H, W, 3), row 0 at the top."""
    info: dict
    """``probes`` name -> [x_px, y_px] or null (behind the camera);
    ``labels`` entity id -> [left, right, top, bottom] pixels; anything the script added."""

    def pixel(self, name: str) -> np.ndarray | None:
        xy = self.info["probes"].get(name)
        if xy is None:
            return None
        x, y = xy
        return self.frame[int(round(y)), int(round(x))]

    def patch(self, name: str, radius: int = 3) -> np.ndarray:
        """The (2r+1)^2 pixels around a probe, as an (n, 3) int array."""
        x, y = (int(round(v)) for v in self.info["probes"][name])
        h, w = self.frame.shape[:2]
        sub = self.frame[max(0, y - radius): min(h, y + radius + 1),
                         max(0, x - radius): min(w, x + radius + 1)]
        return sub.reshape(-1, 3).astype(int)


def run_child(script: str, out_dir: Path, *args: str, timeout_s: float = 90.0) -> Rendered:
    """Run this file's ``script`` mode in a child; read back ``frame.npy``/``info.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, __file__, script, str(out_dir), *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise AssertionError(f"render child {script} failed ({proc.returncode}):\n{proc.stderr}")
    frame = np.load(out_dir / "frame.npy")
    info = json.loads((out_dir / "info.json").read_text())
    return Rendered(out_dir / "shot.png", frame, info)


def render_scene(out_dir: Path, scene: str = "pump_station", size: str = "960x540") -> Rendered:
    return run_child("scene", out_dir, scene, size)


def render_instances(out_dir: Path, count: int, shown: int) -> Rendered:
    return run_child("instances", out_dir, str(count), str(shown))


# -- child side ---------------------------------------------------------------------------------


def _project(app, world_xyz) -> list[float] | None:  # noqa: ANN001 - child-only helper
    from panda3d.core import Point2, Point3

    p_cam = app.camera.get_relative_point(app.render, Point3(*world_xyz))
    p2 = Point2()
    if p_cam.y <= 0 or not app.camLens.project(p_cam, p2):
        return None
    w, h = app.win.get_x_size(), app.win.get_y_size()
    return [(p2.x + 1) * 0.5 * w, (1 - p2.y) * 0.5 * h]


def _write(app, out_dir: Path, info: dict) -> None:  # noqa: ANN001
    from runtime.render.screenshot import capture_rgb, save_png

    save_png(app, out_dir / "shot.png")
    np.save(out_dir / "frame.npy", capture_rgb(app))
    (out_dir / "info.json").write_text(json.dumps(info))


def _child_scene(out_dir: Path, scene_name: str, size: str) -> None:
    from runtime.commands.view import parse_size
    from runtime.render.app import make_app
    from runtime.render.procedural import tank
    from runtime.render.viewer import Viewer
    from runtime.scene import load_scene

    w, h = parse_size(size)
    scene = load_scene(scene_name)
    app = make_app(headless=True, size=(w, h))
    viewer = Viewer(app, scene, interactive=False)
    viewer.step(2)
    probes: dict[str, list[float] | None] = {}
    for e in scene.entities:
        x, y, z = e.position_m
        if e.type == "tank":
            r = 0.5 * e.params["diameter_m"]
            band = tank.band_height_m(e)
            fill = e.params["initial_level_m"] / e.params["height_m"]
            shell_xyz = (x + 0.45 * r, y - 0.9 * r, 0.3 * e.params["height_m"])
            probes[f"{e.id}/shell"] = _project(app, shell_xyz)
            probes[f"{e.id}/fill"] = _project(
                app, (x, y - r - 0.07, tank.BAND_MARGIN_M + 0.5 * fill * band))
        elif e.type == "pump":
            probes[f"{e.id}/casing"] = _project(app, (x, y - 0.2, z + 0.6))
    labels = {}
    for eid, (left, right, bottom, top) in viewer.labels.screen_rects().items():
        # aspect2d units -> pixels (x spans +-aspect, y spans +-1)
        a = w / h
        labels[eid] = [(left / a + 1) / 2 * w, (right / a + 1) / 2 * w,
                       (1 - top) / 2 * h, (1 - bottom) / 2 * h]
    _write(app, out_dir, {"probes": probes, "labels": labels, "pipe": app.pipe_name})
    app.destroy()


def _child_instances(out_dir: Path, count: int, shown: int) -> None:
    from runtime.render.app import make_app
    from runtime.render.instancing import InstancedRenderer, box_geom

    app = make_app(headless=True, size=(480, 480))
    inst = InstancedRenderer(app.render, box_geom((1.0, 1.0, 0.5)), count)
    side = int(np.ceil(np.sqrt(count)))
    ij = np.indices((side, side)).reshape(2, -1).T[:count]
    inst.position_m[:, :2] = (ij - (side - 1) / 2) * 3.0
    inst.rgba[:] = (0.9, 0.05, 0.03, 1.0)
    inst.heading_rad[:] = np.linspace(0, np.pi, count)
    inst.upload(shown)
    app.camera.set_pos(0, 0, 4.0 * side + 10)
    app.camera.look_at(0, 0, 0)
    for _ in range(2):
        app.task_mgr.step()
    probes = {f"i{k}": _project(app, (*inst.position_m[k, :2], 0.5)) for k in range(count)}
    probes["gap"] = _project(app, (inst.position_m[0, 0] + 1.5, inst.position_m[0, 1] + 1.5, 0))
    _write(app, out_dir, {"probes": probes, "shown": shown})
    app.destroy()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    mode, out = sys.argv[1], Path(sys.argv[2])
    if mode == "scene":
        _child_scene(out, sys.argv[3], sys.argv[4])
    elif mode == "instances":
        _child_instances(out, int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode}")
