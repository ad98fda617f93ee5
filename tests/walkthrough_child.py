"""Child process for the walkthrough tests (one ShowBase per process): walk mode, tours, the
kiosk's idle loop, side-by-side stereo and layouts, each on the real renderer offscreen. Prints
one JSON object on its last line; screenshots go into the folder given."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

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


def kiosk(out: Path) -> dict:
    """Idle -> attract -> input -> home on a clock moved by hand; the staff exit's PIN."""
    import argparse

    from runtime.app.kiosk_plugin import pin_digest
    from runtime.app.run_kiosk import SteppedClock, build_kiosk
    from runtime.render.app import make_app
    from runtime.render.screenshot import save_png
    from runtime.render.viewer import Viewer
    from runtime.scene import load_scene

    scene = load_scene("pump_station")
    app = make_app(headless=True, size=(640, 360))
    viewer = Viewer(app, scene, interactive=False)
    args = argparse.Namespace(bus=None, security=None, headless=True, chosen_tour=None,
                              tour_once=False, idle=30.0, exit_chord="ctrl+shift+k",
                              pin_sha256=pin_digest("4321"))
    clock = SteppedClock(1000.0)
    twin, kiosk, tour, _sub = build_kiosk(args, app, viewer, now_s=clock)
    home = _view(viewer)
    states = []

    def frames(seconds: float, step_s: float = 0.5) -> None:
        for _ in range(int(round(seconds / step_s))):
            clock.now_s += step_s
            viewer.step(1)
        states.append(kiosk.state)

    frames(1.0)
    result: dict = {"home": home}
    frames(20.0)  # still under the 30 s idle time
    result["before_idle"] = kiosk.state
    frames(10.0)  # 31 s idle: the attract loop starts
    result["at_idle"] = kiosk.state
    frames(6.0)  # well into the first hop of the tour
    result["attract_view"] = _view(viewer)
    result["tour_playing"] = tour.playing
    result["attract_stop"] = tour.player.index
    result["kinds_attract"] = sorted({e["kind"] for e in twin.hud_elements()})
    save_png(app, out / "kiosk-attract.png")
    app.messenger.send("kiosk-button", ["mouse1"])  # a touch, as the button thrower sends it
    frames(0.5)
    result["after_input"] = kiosk.state
    result["after_input_view"] = _view(viewer)
    result["tour_after_input"] = tour.playing
    result["kinds_home"] = sorted({e["kind"] for e in twin.hud_elements()})
    save_png(app, out / "kiosk-home.png")
    frames(29.0)
    result["idle_again_short"] = kiosk.state
    frames(2.0)
    result["idle_again"] = kiosk.state
    # Staff exit: the chord opens the prompt; a wrong PIN does not leave, the right one does.
    app.messenger.send(kiosk.exit_event)
    result["prompt_open"] = kiosk.prompt is not None
    for ch in "1111\r":
        app.messenger.send("kiosk-keystroke", [ch])
    result["exit_after_wrong"] = kiosk.exit_requested
    result["state_after_prompt"] = kiosk.state
    for ch in "4321\r":
        app.messenger.send("kiosk-keystroke", [ch])
    result["exit_after_right"] = kiosk.exit_requested
    result["escape_quits"] = False
    app.messenger.send("escape")
    result["states"] = states
    app.destroy()
    return result


def _view(viewer) -> list[float]:  # noqa: ANN001
    v = viewer.camera.view
    return [round(float(x), 3) for x in (*v.target, v.distance_m, v.heading_deg, v.pitch_deg)]


def stereo(out: Path) -> dict:
    """One side-by-side frame of the pump station."""
    from runtime.render.app import make_app
    from runtime.render.screenshot import capture_rgb, save_png
    from runtime.render.stereo import SideBySide
    from runtime.render.viewer import Viewer
    from runtime.scene import load_scene

    scene = load_scene("pump_station")
    app = make_app(headless=True, size=(960, 360), pipeline="forward")
    viewer = Viewer(app, scene, interactive=False)
    # Close in on the pump skid: parallax is largest near the camera.
    viewer.camera.view.target.set(-8.0, 0.0, 0.8)
    viewer.camera.view.distance_m = 9.0
    viewer.camera.apply()
    sbs = SideBySide(app, eye_separation_m=0.3, convergence_m=9.0)
    viewer.step(2)
    save_png(app, out / "stereo-sbs.png")
    np.save(out / "sbs.npy", capture_rgb(app))
    result = {"regions": {k: [list(r.get_dimensions()) for r in v]
                          for k, v in sbs.regions.items()},
              "labels": len(viewer.labels.screen_rects())}
    app.destroy()
    return result


def layout(out: Path, size: str = "1280x720", select: str = "P-101,T-102") -> dict:
    """The pump station's wall layout on the scene's model, with a trend panel registered at
    run time (the alarm list has no provider: its placeholder shows)."""
    from panda3d.core import TextNode

    from runtime.app.build import live_session
    from runtime.app.layout import LayoutPlugin, layout_path, load_layout, prepare_layout
    from runtime.app.panel_registry import register_panel
    from runtime.app.plugin import Twin
    from runtime.app.status_plugin import StatusPlugin
    from runtime.commands.view import parse_size
    from runtime.live.live_viewer import LiveViewer
    from runtime.render.app import make_app
    from runtime.render.screenshot import capture_rgb, save_png
    from runtime.render.viewer import Viewer
    from runtime.scene import load_scene
    from runtime.ui.hud import element
    from runtime.world import build_world

    class LevelTrend:  # a stand-in provider: one line of text from the world
        def __init__(self, ctx) -> None:  # noqa: ANN001
            self.ctx = ctx
            self.node = ctx.root.attach_new_node(TextNode("trend-test"))
            self.node.set_scale(0.1)
            self.text = ""

        def update(self) -> None:
            self.text = f"trend of {', '.join(self.ctx.options.get('points', []))}"
            self.node.node().set_text(self.text)

        def hud(self) -> list:
            return [element("trend", self.text, (-0.5, 0.5, -0.1, 0.1), self.ctx.aspect,
                            self.ctx.size_px)]

    register_panel("trend", LevelTrend)
    scene = load_scene("pump_station")
    chosen = load_layout(layout_path("wall", scene))
    app = make_app(headless=True, size=parse_size(size))
    viewer = Viewer(app, scene, interactive=False)
    aspect = prepare_layout(app, viewer, chosen)
    world = build_world(scene)
    session = live_session(world, None)
    live = LiveViewer(viewer, session)
    twin = Twin(app, viewer, session, live, interactive=False)
    twin.add(StatusPlugin(where="test", user="test", role="viewer"))
    plugin = twin.add(LayoutPlugin(chosen))
    regions = [app.win.get_display_region(i) for i in range(app.win.get_num_display_regions())]
    result: dict = {"aspect": aspect, "regions": [
        [[round(v, 4) for v in dr.get_dimensions()],
         "" if dr.get_camera().is_empty() else dr.get_camera().get_name()] for dr in regions]}
    for eid in select.split(","):
        live.select(eid)
        viewer.step(1)
        plugin.detail[0].settle()
        viewer.step(2)
        save_png(app, out / f"layout-{eid}.png")
        np.save(out / f"layout-{eid}.npy", capture_rgb(app))
        result[eid] = twin.hud_elements()
    result["viewport"] = list(twin.viewport)
    app.destroy()
    return result


MODES = {"walk": walk, "kiosk": kiosk, "stereo": stereo, "layout": layout}


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    result = MODES[mode](out, *sys.argv[3:])
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
