"""Replay at scale: the 5,000-asset generated plant played from a recording at 64x, offscreen.

A child process (``python -m tools.bench.replay --child N SECONDS``) writes a recording of the
generated plant (every point at 10 Hz from one source, values wobbling) with the real
:class:`~runtime.recording.writer.RecordingWriter`, then runs the same loop as
``twinstage view SCENE --replay DIR --speed 64 --headless`` at 1280x720 for ``SECONDS`` and
prints the frame rate from the viewer's stats. Target (issue 9): >= 60 fps.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from tools.bench.child import bench_main, run_child
from tools.bench.row import Row

SUITE = "replay"
SIZE = "1280x720"
SPEED = 64
RECORD_HZ = 10.0
TARGET_FPS = 60.0


def _write_recording(folder: Path, points: list[str], units: list[str], seconds: float) -> None:
    import numpy as np

    from runtime.bus.wire import columns, layout_of
    from runtime.recording.writer import RecordingWriter
    from tools.bench.live import BASE_VALUE

    base = np.array([BASE_VALUE.get(u, 1.0) for u in units], dtype=np.float64)
    wobble = np.linspace(0.0, 2 * math.pi, len(points), endpoint=False)
    q = np.zeros(len(points), np.uint8)
    layout = layout_of(points)
    t0 = time.time_ns() - int(seconds * 1e9)
    step = int(1e9 / RECORD_HZ)
    with RecordingWriter(folder, clock=lambda: t0) as writer:
        for k in range(int(seconds * RECORD_HZ)):
            t = t0 + k * step
            values = base * (1.0 + 0.02 * np.sin(wobble + k / RECORD_HZ))
            stamp = np.full(len(points), t, np.int64)
            writer.write_readings(t, "bench-replay", 1, k + 1, t,
                                  columns(layout, values, q, q, stamp))
            writer.tick(t)


def _child(n_assets: int, seconds: float) -> None:
    """``n_assets`` 0: the bundled pump station; else the generated plant of that size."""
    from runtime.app.run_view import run_twin
    from runtime.commands import view
    from runtime.render.app import make_app
    from runtime.render.viewer import Viewer
    from tools.bench.live import bench_scene

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scene, points, units = bench_scene(n_assets, folder / "scene")
        rec = folder / "rec"
        t0 = time.perf_counter()
        _write_recording(rec, points, units, seconds * SPEED + 30)
        write_s = time.perf_counter() - t0
        parser = argparse.ArgumentParser()
        view.add_arguments(parser)
        stats_path = folder / "stats.json"
        args = parser.parse_args([
            str(folder / "scene"), "--headless", "--size", SIZE, "--replay", str(rec),
            "--speed", str(SPEED), "--seconds", str(seconds), "--stats-json", str(stats_path),
            "--screenshot-every", "1000", "--max-fps", "1000"])
        view.check_args(args)
        app = make_app(headless=True, size=view.parse_size(SIZE))
        viewer = Viewer(app, scene, interactive=False)
        run_twin(args, app, viewer, headless=True)
        stats = json.loads(stats_path.read_text())
    timings = stats.get("timings_ms", {})
    session = stats.get("session", {})
    played_s = (session.get("now_ns", 0) - session.get("start_ns", 0)) / 1e9
    print(json.dumps({"n_assets": len(scene.entities), "points": len(points),
                      "fps": timings.get("fps_mean"), "frames": stats.get("frames"),
                      "effective_speed": played_s / max(1e-9, float(stats.get("seconds", 1))),
                      "write_s": write_s, "timings_ms": timings}), flush=True)


def _run_child(n_assets: int, seconds: float) -> dict:
    return run_child("tools.bench.replay", n_assets, seconds, what="replay", extra_timeout_s=600)


def run(quick: bool) -> list[Row]:
    rows = []
    for n, seconds in ((0, 3.0), (500, 3.0)) if quick else ((0, 10.0), (5000, 10.0)):
        r = _run_child(n, seconds)
        frame = r["timings_ms"].get("ingest+sim+sync", {})
        what = "pump station" if n == 0 else f"{r['n_assets']:,} assets"
        rows.append(Row(
            SUITE, f"replay at {SPEED}x, {what}, {SIZE} offscreen",
            float(r["fps"] or float("nan")), "fps", target=TARGET_FPS if n >= 5000 else None,
            note=f"{r['points']:,} points at {RECORD_HZ:g} Hz recorded; played at "
                 f"{r['effective_speed']:.1f}x; session+sync p50 "
                 f"{frame.get('p50', float('nan')):.1f} ms/frame"))
    return rows


def _main() -> int:
    return bench_main("replay bench", _child, run)


if __name__ == "__main__":
    raise SystemExit(_main())
