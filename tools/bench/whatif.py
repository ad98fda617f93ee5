"""Bench suite ``whatif``: forecast speed and the ghost's cost per frame.

- forecast 2 h of the pump station (fork + run + crossings, the worker's whole job), best of 3;
  target <= 0.2 s (>= 36,000x real time);
- forecast speed of the generated 1,000-asset plant as a multiple of real time; target >= 1,000x;
- ghosts per frame (child process, offscreen): the frame-time difference between drawing the
  forecast's ghosts and not (median frames, alternating frame by frame); target <= 1 ms. A
  frame in which nothing changes costs the ghost layer no CPU at all; the same child measures
  one re-show in which every ghost changes state (scrubbing).
"""

from __future__ import annotations

import json
import time

from tools.bench.child import bench_main, run_child
from tools.bench.row import Row

SUITE = "whatif"


def _forecast_s(scene, horizon_s: float, repeats: int) -> tuple[float, float]:  # noqa: ANN001
    """(best CPU seconds of a whole forecast on its thread, best wall seconds). CPU time is
    what the forecast costs; wall time on this shared machine adds other people's work."""
    from runtime.sim.fork import fork_model
    from runtime.sim.plant_model import PlantModel
    from runtime.whatif.alarm_defs import load_alarm_defs
    from runtime.whatif.forecast import forecast

    live = PlantModel(scene)
    live.warm_up()
    live.step(1000)
    defs, _ = load_alarm_defs(scene)
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        c0, t0 = time.thread_time(), time.perf_counter()
        fork = fork_model(live)
        forecast(fork, [], defs, horizon_s=horizon_s)
        best_cpu = min(best_cpu, time.thread_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - t0)
    return best_cpu, best_wall


def _child(n_assets: int, seconds: float) -> None:
    """Frames of the pump station's live view with and without ghosts; prints JSON."""
    from runtime.app.build import add_display_plugins, live_session
    from runtime.app.plugin import Twin
    from runtime.app.whatif_plugin import WhatIfPlugin
    from runtime.live.live_viewer import LiveViewer
    from runtime.render.app import make_app
    from runtime.render.viewer import Viewer
    from runtime.scene import load_devices, load_scene
    from runtime.whatif.forecast import command_changes
    from runtime.world import build_world

    scene = load_scene("pump_station")
    devices = load_devices(scene.path / "devices.yaml", scene)
    world = build_world(scene, devices)
    app = make_app(headless=True, size=(1280, 720))
    viewer = Viewer(app, scene, interactive=False)
    session = live_session(world, None)
    live = LiveViewer(viewer, session, devices=devices)
    twin = Twin(app, viewer, session, live, interactive=False)
    add_display_plugins(twin, where="", actor="bench", role="viewer", markers=[])
    plugin = next(p for p in twin.plugins if isinstance(p, WhatIfPlugin))
    plugin.ask(*command_changes(plugin.model, "P-101/run_cmd", 0.0))
    t0 = time.monotonic()
    while plugin.asked is None and time.monotonic() - t0 < 60:
        viewer.step(1)
    plugin.scrub_s = 3600.0
    frames = max(40, int(seconds * 50))

    viewer.step(3)  # ghosts built and shown
    ghosts = plugin.ghosts
    assert ghosts is not None
    # Frames alternate with the ghost geometry drawn and not (the root shown / hidden, nothing
    # else changes), so the machine's load falls on both sets alike; medians of each.
    on: list[float] = []
    off: list[float] = []
    for k in range(2 * frames):
        drawn = k % 2 == 0
        if drawn:
            ghosts.root.show()
        else:
            ghosts.root.hide()
        t = time.perf_counter()
        viewer.step(1)
        (on if drawn else off).append(time.perf_counter() - t)
    ghosts.root.show()
    on.sort()
    off.sort()
    with_ms, without_ms = 1e3 * on[len(on) // 2], 1e3 * off[len(off) // 2]
    assert plugin.asked is not None
    a, _ = plugin.ghost_states(plugin.asked, 1800.0)
    b, _ = plugin.ghost_states(plugin.asked, 3600.0)
    t = time.perf_counter()
    for k in range(500):
        ghosts.show(a if k % 2 else b)  # every ghost changes state: the worst re-show
    refresh_ms = (time.perf_counter() - t) / 500 * 1e3
    calls = ghosts.calls
    print(json.dumps({"with_ms": with_ms, "without_ms": without_ms, "refresh_ms": refresh_ms,
                      "ghosts": len(plugin.ghosts.shown) if plugin.ghosts else 0,
                      "calls": calls, "pipe": app.pipe_name}))
    plugin.close()


def run(quick: bool) -> list[Row]:
    from runtime.scene import load_scene
    from runtime.sim.generate import generated_scene

    rows = []
    cpu, wall = _forecast_s(load_scene("pump_station"), 7200.0, 1 if quick else 3)
    rows.append(Row(SUITE, "forecast 2 h, pump station (fork + run + alarms, CPU)", cpu, "s",
                    0.2, "lower", f"wall {wall:.3f} s"))
    n = 150 if quick else 1000
    horizon = 60.0 if quick else 600.0
    cpu, wall = _forecast_s(generated_scene(n), horizon, 1 if quick else 2)
    rows.append(Row(SUITE, f"forecast speed, {n}-asset generated plant (CPU)", horizon / cpu,
                    "x real time", 1000.0, "higher", f"wall {horizon / wall:.0f}x"))
    try:
        got = run_child("tools.bench.whatif", 0, 1.0 if quick else 3.0, what="whatif ghost")
        rows.append(Row(SUITE, f"ghosts per frame ({got['ghosts']} ghosts drawn, {got['pipe']})",
                        max(0.0, got["with_ms"] - got["without_ms"]), "ms", 1.0, "lower",
                        f"frame {got['without_ms']:.1f} -> {got['with_ms']:.1f} ms"))
        rows.append(Row(SUITE, "ghost layer CPU per re-show (all ghosts change)",
                        got["refresh_ms"], "ms", 1.0, "lower"))
    except RuntimeError as exc:
        rows.append(Row(SUITE, f"ghosts per frame ({exc})", float("nan"), "ms", 1.0, "lower"))
    return rows


if __name__ == "__main__":
    raise SystemExit(bench_main("what-if bench", _child, run))
