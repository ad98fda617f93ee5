"""Child process for test_navigation (one ShowBase per process): a replay twin with the
navigation plugin, driven through the same methods keys and clicks call; prints JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def settle(nav, viewer) -> None:  # noqa: ANN001
    """Render until the fly (it runs on the session's wall clock) has arrived."""
    import time

    deadline = time.monotonic() + 30
    viewer.step(1)
    while nav.flying and time.monotonic() < deadline:
        viewer.step(1)
    viewer.step(1)


def main(recording: str) -> None:
    from runtime.app.build import replay_session
    from runtime.app.navigation_plugin import NavigationPlugin
    from runtime.app.plugin import Twin
    from runtime.live.live_viewer import LiveViewer
    from runtime.recording.reader import open_recording
    from runtime.render.app import make_app
    from runtime.render.viewer import Viewer
    from runtime.scene import load_devices, load_scene
    from runtime.world import build_world

    scene = load_scene("pump_station")
    world = build_world(scene, load_devices(scene.path / "devices.yaml", scene))
    app = make_app(headless=True, size=(640, 360))
    viewer = Viewer(app, scene, interactive=False)
    session = replay_session(world, open_recording(Path(recording)), paused=True)
    live = LiveViewer(viewer, session)
    twin = Twin(app, viewer, session, live, interactive=False)
    nav = twin.add(NavigationPlugin())
    viewer.step(2)
    out: dict = {"start_target": list(viewer.camera.view.target)}
    nav.start_search()
    out["typing"] = live.typing
    out["match"] = nav.type_search("ft")
    viewer.step(1)
    hud = twin.hud_elements()
    out["message"] = [e["text"] for e in hud if e["kind"] == "message"]
    out["found"] = nav.finish_search()
    out["selected"] = live.selection.selected
    settle(nav, viewer)
    out["fly_target"] = list(viewer.camera.view.target)
    left, right, bottom, top = nav.minimap.rect
    aspect = viewer.aspect
    out["minimap_click"] = nav.click(((left + right) / 2) / aspect, (bottom + top) / 2)
    settle(nav, viewer)
    out["after_map_target"] = list(viewer.camera.view.target)
    out["still_selected"] = live.selection.selected
    out["viewpoint"] = nav.go_to_viewpoint(2)
    out["no_viewpoint"] = nav.go_to_viewpoint(9)
    settle(nav, viewer)
    out["viewpoint_target"] = list(viewer.camera.view.target)
    out["kinds"] = sorted({e["kind"] for e in twin.hud_elements()})
    print(json.dumps(out))
    app.destroy()


if __name__ == "__main__":
    main(sys.argv[1])
