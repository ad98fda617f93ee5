"""Bench suite ``scale``: the generated 10,000-asset plant in the viewer (issue 17, item 6).

The plant is ``twinstage generate``'s (:mod:`runtime.scene.generated`): trains of 15 entities
with procedural models, pipes from the connections, and devices.yaml. A child process
(``python -m tools.bench.scale --child N``; one ShowBase per process) loads the scene files,
builds the viewer (scene graph, ground, lights, labels) offscreen at 1280x720 with the viewer's
default pipeline, and renders frames from the viewer's default camera (the whole site in view).
A frame-rate window ends with a framebuffer read-back, so queued rendering is counted; the best
of three windows is kept (other load on a shared machine only slows a window down).

    python -m runtime.cli bench scale
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.bench.row import Row

SUITE = "scale"
REPO_ROOT = Path(__file__).resolve().parents[2]
SIZE = (1280, 720)
TARGET_BUILD_S = 5.0
TARGET_FPS = 30.0


def _child(n_assets: int, frames: int) -> None:
    from runtime.render.app import make_app
    from runtime.render.viewer import Viewer
    from runtime.scene import load_devices, load_scene
    from runtime.scene.generated import write_generated_plant

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_generated_plant(folder, n_assets, devices=100)
        app = make_app(headless=True, size=SIZE)
        t0 = time.perf_counter()
        scene = load_scene(folder)
        load_devices(folder / "devices.yaml", scene)
        t1 = time.perf_counter()
        viewer = Viewer(app, scene, interactive=False)
        t2 = time.perf_counter()
    viewer.step(3)
    app.win.get_screenshot()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        viewer.step(frames)
        app.win.get_screenshot()
        best = min(best, (time.perf_counter() - start) / frames)
    pipe = app.pipe_name.replace(" (LLVM", "|").split("|")[0] + " / " + app.pipeline
    print(json.dumps({"entities": len(scene.entities), "load_s": t1 - t0, "build_s": t2 - t1,
                      "frame_s": best, "pipe": pipe}), flush=True)
    app.destroy()


def _run_child(n_assets: int, frames: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tools.bench.scale", "--child", str(n_assets), "--frames",
         str(frames)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"scale bench child failed (rc {out.returncode}): "
                           f"{out.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


def run(quick: bool) -> list[Row]:
    """Rows: load + validate the files, viewer build, frames per second at 1280x720."""
    n = 1000 if quick else 10_000
    r = _run_child(n, 5 if quick else 20)
    what = f"generated plant of {r['entities']:,} entities"
    return [
        Row(SUITE, f"load scene.yaml + devices.yaml, {what}", r["load_s"], "s", better="lower",
            note="100 devices"),
        Row(SUITE, f"viewer build (scene graph, ground, labels), {what}", r["build_s"], "s",
            TARGET_BUILD_S if n >= 10_000 else None, "lower",
            "shared models; was 81 s here"),
        Row(SUITE, f"fps offscreen 1280x720, {what}, whole site in view", 1.0 / r["frame_s"],
            "fps", TARGET_FPS if n >= 10_000 else None, "higher",
            f"{r['frame_s'] * 1e3:.0f} ms/frame, {r['pipe']}; was 0.7 fps"),
    ]


def _main() -> int:
    p = argparse.ArgumentParser(description="scale bench (--child N measures in this process)")
    p.add_argument("--child", type=int, default=None, metavar="N_ASSETS")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.child is not None:
        _child(args.child, args.frames)
        return 0
    from tools.bench.runner import render_table

    print(render_table(run(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
