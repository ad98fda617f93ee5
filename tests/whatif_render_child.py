"""Child process for the what-if render tests (one ShowBase per process): a live view of the
pump station's model, the what-if plugin, a forecast of "stop P-101" shown as ghosts; writes
PNGs, the hud and what it measured into OUT_DIR/info.json."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(out_dir: Path) -> None:
    import numpy as np

    from runtime.app.build import add_display_plugins, live_session
    from runtime.app.plugin import Twin
    from runtime.app.whatif_plugin import WhatIfPlugin
    from runtime.live.live_viewer import LiveViewer
    from runtime.render.app import make_app
    from runtime.render.screenshot import capture_rgb, save_png
    from runtime.render.viewer import Viewer
    from runtime.scene import load_devices, load_scene
    from runtime.sim.fork import Change
    from runtime.whatif.forecast import command_changes
    from runtime.world import build_world

    out_dir.mkdir(parents=True, exist_ok=True)
    scene = load_scene("pump_station")
    devices = load_devices(scene.path / "devices.yaml", scene)
    world = build_world(scene, devices)
    app = make_app(headless=True, size=(1280, 720))
    viewer = Viewer(app, scene, interactive=False)
    from live_fixtures import PUMP_STATION_VALUES

    from runtime.quality import Quality, Reason

    now = time.monotonic_ns()
    for values in PUMP_STATION_VALUES.values():  # a plausible steady state, every point Good
        cols = np.array([world.point_column[p] for p in values], dtype=np.int64)
        n = len(cols)
        world.write(cols, list(values.values()), [int(Quality.GOOD)] * n,
                    [int(Reason.NONE)] * n, [time.time_ns()] * n, now)
    world.refresh_entity_quality()
    session = live_session(world, None)
    live = LiveViewer(viewer, session, devices=devices)
    twin = Twin(app, viewer, session, live, interactive=False)
    add_display_plugins(twin, where="", actor="test", role="viewer", markers=[])
    plugin = next(p for p in twin.plugins if isinstance(p, WhatIfPlugin))
    info: dict = {"pipe": app.pipe_name, "main_thread": threading.get_ident()}

    def frames_until(pred, timeout_s: float) -> int:  # noqa: ANN001
        n = 0
        t0 = time.monotonic()
        while not pred() and time.monotonic() - t0 < timeout_s:
            viewer.step(1)
            n += 1
        return n

    frames_until(lambda: plugin.lookahead is not None, 60)
    info["status_lookahead"] = plugin.status
    # A long forecast (12 h): frames keep coming while the worker runs it.
    worker = plugin.worker
    assert worker is not None
    info["worker_thread"] = worker.thread.ident
    plugin.horizon_s = 12 * 3600.0
    busy_before = worker.busy_s
    plugin.ask([Change("scale", "T-101/inflow_m3_h", 1.0)], "long run")
    frames_while_busy = 0
    t0 = time.monotonic()
    while plugin.asked is None and time.monotonic() - t0 < 120:
        viewer.step(1)
        if not worker.idle:
            frames_while_busy += 1
    info["frames_while_forecasting"] = frames_while_busy
    info["long_forecast_s"] = worker.busy_s - busy_before
    plugin.horizon_s = 7200.0
    changes, label = command_changes(plugin.model, "P-101/run_cmd", 0.0)
    plugin.ask(changes, label)
    frames_until(lambda: plugin.asked is not None, 60)
    plugin.scrub_s = 3600.0
    plugin._shown_key = None  # noqa: SLF001
    viewer.step(3)
    assert plugin.ghosts is not None
    info["ghosts"] = sorted(plugin.ghosts.shown)
    info["panel"] = plugin.lines
    info["status"] = plugin.status
    save_png(app, out_dir / "ghost.png")
    np.save(out_dir / "ghost.npy", capture_rgb(app))
    # Ghost cost: a frame that changes nothing, then frames that re-show (scrub each frame).
    t = time.perf_counter()
    for k in range(20):
        plugin.scrub(300.0 if k % 2 else -300.0)
        plugin._refresh()  # noqa: SLF001
    info["ghost_update_ms"] = (time.perf_counter() - t) / 20 * 1e3
    plugin.clear_asked()  # the look-ahead is not drawn unless G asks for it
    viewer.step(2)
    save_png(app, out_dir / "no_ghost.png")
    np.save(out_dir / "no_ghost.npy", capture_rgb(app))
    info["ghosts_hidden"] = sorted(plugin.ghosts.shown)
    info["hud"] = twin.hud_elements()
    (out_dir / "info.json").write_text(json.dumps(info, default=str))
    plugin.close()
    app.destroy()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
