"""Bench suite ``models``: a large plant whose pumps are glTF files (issue 16, item 6).

The generated plant (:mod:`runtime.scene.generated`) with every pump drawn from the bundled
``pump.glb`` (with its anchors and bindings) instead of the procedural pump. A child process
(``python -m tools.bench.models --child N``; one ShowBase per process) builds the viewer
offscreen at 1280x720 with the default pipeline and renders: the whole site from the default
camera, where the far field (:mod:`runtime.render.far_field`, one Panda3D ``LODNode`` per site
cell) stands in for distant models, and a close-up of one pump train, where the cells around
the camera show the real glTF models. Frame windows end with a framebuffer read-back; the best
of three is kept.

    python -m runtime.cli bench models
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.bench.row import Row

SUITE = "models"
REPO_ROOT = Path(__file__).resolve().parents[2]
PUMP_GLB = REPO_ROOT / "scenes" / "pump_station" / "assets" / "pump.glb"
SIZE = (1280, 720)
TARGET_BUILD_S = 5.0
TARGET_FPS = 30.0
GLTF_PUMP = {
    "gltf": "assets/pump.glb",
    "place": "floor",
    "anchors": {"suction": {"node": "suction", "outward": [-1, 0, 0]},
                "discharge": {"node": "discharge", "outward": [0, 0, 1]}},
    "bindings": [{"node": "impeller", "action": "spin", "axis": "x"}],
}


def write_gltf_plant(folder: Path, n_assets: int, *, gltf: bool = True) -> int:
    """The generated plant with glTF pumps (procedural ones with ``gltf=False``, the control);
    returns how many pumps there are."""
    import yaml

    from runtime.scene.generated import generated_plant

    scene_doc, devices_doc = generated_plant(n_assets, devices=100)
    pumps = 0
    for entity in scene_doc["entities"]:
        if entity["type"] == "pump" and gltf:
            entity["model"] = copy.deepcopy(GLTF_PUMP)  # no YAML aliases: refused on load
            entity.setdefault("points", []).append(
                {"name": "speed_rpm", "unit": "rpm", "kind": "measurement"})
        pumps += entity["type"] == "pump"
    (folder / "assets").mkdir(parents=True, exist_ok=True)
    shutil.copy(PUMP_GLB, folder / "assets" / "pump.glb")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    (folder / "scene.yaml").write_text(yaml.dump(scene_doc, Dumper=dumper, sort_keys=False,
                                                 default_flow_style=None, width=200))
    return pumps


def _frames(viewer, app, frames: int) -> float:  # noqa: ANN001 - Viewer, ViewerApp
    viewer.step(2)
    app.win.get_screenshot()
    best = float("inf")
    for _ in range(3 if frames >= 10 else 1):  # --quick: one short window
        start = time.perf_counter()
        viewer.step(frames)
        app.win.get_screenshot()
        best = min(best, (time.perf_counter() - start) / frames)
    return best


def _child(n_assets: int, frames: int, gltf: bool) -> None:
    from runtime.render.app import make_app
    from runtime.render.viewer import Viewer
    from runtime.scene import load_scene

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pumps = write_gltf_plant(folder, n_assets, gltf=gltf)
        app = make_app(headless=True, size=SIZE)
        t0 = time.perf_counter()
        scene = load_scene(folder)
        t1 = time.perf_counter()
        viewer = Viewer(app, scene, interactive=False)
        t2 = time.perf_counter()
    site = _frames(viewer, app, frames)
    pump = next(e for e in scene.entities if e.type == "pump")
    x, y, z = pump.position_m
    app.camera.set_pos(x - 6, y - 14, z + 6)
    app.camera.look_at(x, y, z + 0.8)
    near = _frames(viewer, app, frames)
    pipe = app.pipe_name.replace(" (LLVM", "|").split("|")[0] + " / " + app.pipeline
    print(json.dumps({"entities": len(scene.entities), "pumps": pumps, "load_s": t1 - t0,
                      "build_s": t2 - t1, "site_s": site, "near_s": near, "pipe": pipe}),
          flush=True)
    app.destroy()


def _run_child(n_assets: int, frames: int, gltf: bool = True) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tools.bench.models", "--child", str(n_assets), "--frames",
         str(frames), *([] if gltf else ["--procedural"])],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"models bench child failed (rc {out.returncode}): "
                           f"{out.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


def run(quick: bool) -> list[Row]:
    """Rows: load (opens the glb once), viewer build, fps whole site (LOD) and close up."""
    n = 5000 if quick else 10_000
    r = _run_child(n, 3 if quick else 20)
    what = f"{r['entities']:,} entities, {r['pumps']:,} glTF pumps"
    targeted = n >= 10_000
    control = [] if quick else [_run_child(n, 20, gltf=False)]
    rows = [
        Row(SUITE, f"fps 1280x720, same plant with procedural pumps, {label}",
            1.0 / c[key], "fps", note=f"{c[key] * 1e3:.0f} ms/frame (control)")
        for c in control for key, label in (("site_s", "whole site"),
                                            ("near_s", "close-up of one train"))]
    return rows + [
        Row(SUITE, f"load + validate scene.yaml (glTF checked), {what}", r["load_s"], "s",
            better="lower"),
        Row(SUITE, f"viewer build, {what}", r["build_s"], "s",
            TARGET_BUILD_S if targeted else None, "lower", "one load per file, shared Geoms"),
        Row(SUITE, f"fps 1280x720, {what}, whole site (far-field LOD)", 1.0 / r["site_s"],
            "fps", TARGET_FPS if targeted else None, "higher",
            f"{r['site_s'] * 1e3:.0f} ms/frame, {r['pipe']}"),
        Row(SUITE, f"fps 1280x720, {what}, close-up of one train (real models)",
            1.0 / r["near_s"], "fps", TARGET_FPS if targeted else None, "higher",
            f"{r['near_s'] * 1e3:.0f} ms/frame"),
    ]


def _main() -> int:
    p = argparse.ArgumentParser(description="models bench (--child N measures in-process)")
    p.add_argument("--child", type=int, default=None, metavar="N_ASSETS")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--procedural", action="store_true", help="child: keep procedural pumps")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.child is not None:
        _child(args.child, args.frames, not args.procedural)
        return 0
    from tools.bench.runner import render_table

    print(render_table(run(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
