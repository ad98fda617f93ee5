"""glTF test files and offscreen renders of them (import explicitly; not a conftest).

The files are real .glb files written by tools/gltf_writer.py into the test's folder; renders
run in a child process (one ShowBase per process), this file being the child's script, and come
back as a frame plus an info dict, like tests/render_fixtures.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from render_fixtures import Rendered  # noqa: E402

from tools.gltf_writer import GltfNode, box_mesh, png_rgb, write_glb  # noqa: E402

GLTF_PUMP_SCENE = REPO_ROOT / "tests" / "scenes" / "gltf_pump"
PUMP_GLB = REPO_ROOT / "scenes" / "pump_station" / "assets" / "pump.glb"
SWATCH_RGB = (108, 173, 223)
"""The texture colour of the issue's report (sRGB, 0..255)."""
BOX_RGBA = (0.80, 0.04, 0.02, 1.0)

MM_BOX_SIZE = (2000.0, 1000.0, 500.0)
MM_BOX_CENTRE = (5000.0, 3000.0, 1000.0)
"""A box authored in millimetres, its centre well away from the file's origin."""


def linear(srgb_255: tuple[int, int, int]) -> tuple[float, float, float]:
    """A display (sRGB-ish, 0..255) colour as the linear factor our materials use (gamma 2.2)."""
    return tuple((c / 255.0) ** 2.2 for c in srgb_255)  # type: ignore[return-value]


def write_mm_box(path: Path) -> Path:
    return write_glb(path, [GltfNode("box", meshes=[
        box_mesh(MM_BOX_SIZE, MM_BOX_CENTRE, base_rgba=BOX_RGBA, roughness=0.8)])])


def write_swatches(folder: Path) -> None:
    """``textured.glb`` (white factor, a flat SWATCH_RGB texture) and ``factor.glb`` (no
    texture, the same colour as a linear base colour factor): 1 m cards facing -Y."""
    tex = np.tile(np.array(SWATCH_RGB, np.uint8), (4, 4, 1))
    write_glb(folder / "textured.glb", [GltfNode("card", meshes=[box_mesh(
        (1.0, 0.05, 1.0), (0, 0, 0.5), base_rgba=(1, 1, 1, 1), roughness=1.0,
        texture_png=png_rgb(tex))])])
    write_glb(folder / "factor.glb", [GltfNode("card", meshes=[box_mesh(
        (1.0, 0.05, 1.0), (0, 0, 0.5), base_rgba=(*linear(SWATCH_RGB), 1.0),
        roughness=1.0)])])


def mm_box_scene(folder: Path) -> Path:
    """A scene with the millimetre box placed twice: bottom-centred at (4, 2, 0), and by its
    own origin sitting on the floor, lifted 0.25 m, at (-4, -2, 0)."""
    write_mm_box(folder / "assets" / "box_mm.glb")
    (folder / "scene.yaml").write_text("""\
format: twinstage.scene/1
name: mm box
entities:
  - id: B-1
    type: junction
    transform: {position_m: [4, 2, 0]}
    model:
      gltf: assets/box_mm.glb
      unit: mm
      origin: bottom_center
  - id: B-2
    type: junction
    transform: {position_m: [-4, -2, 0]}
    model: {gltf: assets/box_mm.glb, unit: mm, place: floor, offset_m: [0, 0, 0.25]}
""")
    return folder


def run_child(mode: str, out_dir: Path, *args: str, timeout_s: float = 120.0) -> Rendered:
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, __file__, mode, str(out_dir), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise AssertionError(f"gltf child {mode} failed ({proc.returncode}):\n{proc.stderr}")
    frame = np.load(out_dir / "frame.npy")
    info = json.loads((out_dir / "info.json").read_text())
    return Rendered(out_dir / "shot.png", frame, info)


# -- child side ---------------------------------------------------------------------------------


def _child_scene(out_dir: Path, scene_dir: str) -> None:
    """The scene through the viewer; bounds of every entity's model; probes at box tops."""
    from render_fixtures import _project, _write

    from runtime.render.app import make_app
    from runtime.render.viewer import Viewer
    from runtime.scene import load_scene

    scene = load_scene(scene_dir)
    app = make_app(headless=True, size=(640, 360))
    viewer = Viewer(app, scene, interactive=False)
    viewer.labels._root.hide()  # the probes look at the models, not at their name cards
    viewer.step(2)
    bounds, probes = {}, {}
    for e in scene.entities:
        if e.type == "pipe":
            continue
        lo, hi = viewer.view.visuals[e.id].root.get_tight_bounds(app.render)
        bounds[e.id] = [[lo.x, lo.y, lo.z], [hi.x, hi.y, hi.z]]
        probes[f"{e.id}/top"] = _project(app, ((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, hi.z))
    _write(app, out_dir, {"bounds": bounds, "probes": probes, "pipe": app.pipe_name})
    app.destroy()


def _child_pump(out_dir: Path) -> None:
    """The glTF pump scene: P-101 (glTF) and P-102 (procedural) running at 1,480 rpm and
    tripped; rotor angles for two speeds; probes at both pumps' lamps and beacons."""
    from render_fixtures import _project, _write

    from runtime.render.app import make_app
    from runtime.render.procedural import pump
    from runtime.render.viewer import Viewer
    from runtime.scene import load_scene

    scene = load_scene(GLTF_PUMP_SCENE)
    app = make_app(headless=True, size=(640, 360))
    viewer = Viewer(app, scene, interactive=False)
    viewer.labels._root.hide()
    viewer.frame_dt_s = lambda: 0.0  # the test moves time itself
    sync = viewer.view.sync
    vis = viewer.view.visuals["P-101"]
    spin = vis.parts["rotor"]
    frame_node = spin.get_parent()

    def angle() -> float:
        return float(spin.get_hpr(frame_node)[1])  # pitch: the impeller turns about X

    turns = []
    for speed in (1480.0, 740.0, 0.0):
        sync.set_speed("P-101", speed)
        before = angle()
        sync.advance(0.05)
        sync.apply()
        turns.append({"speed_rpm": speed, "before_deg": before, "after_deg": angle(),
                      "sync_deg": float(sync.rotor_angle_deg[sync.row["P-101"]])})
    n = len(scene.entities)
    running = np.full(n, -1, np.int8)
    tripped = np.full(n, -1, np.int8)
    for pid in ("P-101", "P-102"):
        running[sync.row[pid]] = 1
        tripped[sync.row[pid]] = 1
    sync.sync(running=running, tripped=tripped)
    app.camera.set_pos(-9.0, -14.0, 4.0)
    app.camera.look_at(-8.6, 0.0, 1.0)
    viewer.step(2)
    probes = {}
    for e in (scene.entity("P-101"), scene.entity("P-102")):
        x, y, z = e.position_m
        lx, ly, lz = pump.LAMP_POS_M
        bx, by, bz = pump.BEACON_POS_M
        probes[f"{e.id}/lamp"] = _project(app, (x + lx, y + ly - 0.1, z + lz))
        probes[f"{e.id}/beacon"] = _project(app, (x + bx, y + by - 0.12, z + bz + 0.12))
    parts = {name: node.get_name() for name, node in vis.parts.items()}
    _write(app, out_dir, {"turns": turns, "probes": probes, "parts": parts,
                          "pipe": app.pipe_name, "pipeline": app.pipeline})
    app.destroy()


def _child_colour(out_dir: Path, pipeline: str) -> None:
    """Three cards under one white ambient light (flat lighting, no direct light): the
    textured glb, the base-colour glb, and a procedural card of our own materials."""
    from panda3d.core import AmbientLight
    from render_fixtures import _project, _write

    from runtime.render.app import make_app
    from runtime.render.geom import MeshBuilder
    from runtime.render.materials import FINISHES, Finish, Materials
    from runtime.render.procedural.base import add_part
    from runtime.render.scene_graph import build_scene_graph
    from runtime.scene import load_scene

    folder = out_dir / "scene"
    write_swatches(folder / "assets")
    (folder / "scene.yaml").write_text("""\
format: twinstage.scene/1
name: swatches
entities:
  - {id: TEX, type: junction, transform: {position_m: [-1.4, 0, 0]},
     model: {gltf: assets/textured.glb}}
  - {id: FAC, type: junction, transform: {position_m: [0, 0, 0]},
     model: {gltf: assets/factor.glb}}
""")
    app = make_app(headless=True, size=(360, 160), pipeline=pipeline)
    mats = Materials(pipeline=app.pipeline)
    view = build_scene_graph(load_scene(folder), app.render, loader=app.loader, materials=mats)
    FINISHES["test_swatch"] = Finish(linear(SWATCH_RGB), 1.0, 0.0)
    card = MeshBuilder()
    card.box((1.0, 0.05, 1.0), center=(1.4, 0, 0.5))
    add_part(view.root, "procedural", card, mats, "test_swatch")
    amb = AmbientLight("flat")
    amb.set_color((1, 1, 1, 1))
    app.render.set_light(app.render.attach_new_node(amb))
    app.camera.set_pos(0, -6, 0.5)
    app.camera.look_at(0, 0, 0.5)
    for _ in range(2):
        app.task_mgr.step()
    probes = {name: _project(app, (x, -0.03, 0.5))
              for name, x in (("textured", -1.4), ("factor", 0.0), ("procedural", 1.4))}
    _write(app, out_dir, {"probes": probes, "pipeline": app.pipeline, "pipe": app.pipe_name})
    app.destroy()


if __name__ == "__main__":
    mode, out = sys.argv[1], Path(sys.argv[2])
    if mode == "scene":
        _child_scene(out, sys.argv[3])
    elif mode == "pump":
        _child_pump(out)
    elif mode == "colour":
        _child_colour(out, sys.argv[3])
    else:
        raise SystemExit(f"unknown mode {mode}")
