"""Child process for the walkthrough tests (one ShowBase per process): walk mode, tours, the
kiosk's idle loop, side-by-side stereo and layouts, each on the real renderer offscreen. Prints
one JSON object on its last line; screenshots go into the folder given."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def model_twin(size: tuple[int, int], scene_name: str = "pump_station"):  # noqa: ANN201
    """A twin of the scene's model alone (no bus): app, viewer, session, live view."""
    from runtime.app.build import live_session
    from runtime.app.plugin import Twin
    from runtime.live.live_viewer import LiveViewer
    from runtime.render.app import make_app
    from runtime.render.viewer import Viewer
    from runtime.scene import load_devices, load_scene
    from runtime.world import build_world

    scene = load_scene(scene_name)
    devices_file = scene.path / "devices.yaml"
    devices = load_devices(devices_file, scene) if devices_file.is_file() else None
    world = build_world(scene, devices)
    app = make_app(headless=True, size=size)
    viewer = Viewer(app, scene, interactive=False)
    session = live_session(world, None)
    live = LiveViewer(viewer, session, devices=devices)
    return Twin(app, viewer, session, live, interactive=False)


def walk(out: Path) -> dict:
    from runtime.app.walk_plugin import WalkPlugin
    from runtime.render.screenshot import save_png
    from runtime.render.walk import WalkPose

    twin = model_twin((640, 360))
    plugin = twin.add(WalkPlugin())
    twin.viewer.step(2)
    twin.live.select("P-101")
    result: dict = {"orbit_target_before": list(twin.viewer.camera.view.target)}
    result["mode"] = plugin.toggle()
    walker = plugin.walker
    result["selected_walking"] = twin.live.selection.selected
    # T-101: a tank of 8 m diameter at (-22, 0). Stand 12 m south of it, face north, walk.
    walker.place(WalkPose(-22.0, -12.0, 0.0, 0.0))
    twin.viewer.step(2)
    save_png(twin.app, out / "walk-start.png")
    result["start"] = [walker.pose.x_m, walker.pose.y_m, walker.pose.z_m]
    for _ in range(100):  # 10 s at walking pace: 16 m, which would cross the whole tank
        walker.walk(1.0, 0.0, 0.1)
    twin.viewer.step(2)
    save_png(twin.app, out / "walk-at-wall.png")
    result["at_wall"] = [walker.pose.x_m, walker.pose.y_m, walker.pose.z_m]
    result["eye"] = list(walker.eye_m())
    result["camera"] = list(twin.app.camera.get_pos(twin.app.render))
    # Open ground: nothing stops a walk eastwards along y = -12.
    walker.place(WalkPose(-30.0, -14.0, 0.0, 270.0))
    for _ in range(20):
        walker.walk(1.0, 0.0, 0.1)
    result["open_ground"] = [walker.pose.x_m, walker.pose.y_m]
    result["teleport"] = walker.teleport(1)
    result["teleport_pose"] = [walker.pose.x_m, walker.pose.y_m]
    result["mode_back"] = plugin.toggle()
    twin.viewer.step(2)
    save_png(twin.app, out / "walk-back-to-orbit.png")
    result["selected_after"] = twin.live.selection.selected
    result["orbit_target_after"] = list(twin.viewer.camera.view.target)
    result["solids"] = walker.world.solid_count
    return result


MODES = {"walk": walk}


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    result = MODES[mode](out, *sys.argv[3:])
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
