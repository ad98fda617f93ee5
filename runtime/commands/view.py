"""``twinstage view SCENE``: the 3D view of a scene, in a window or rendered headless to a PNG.

Headless (``--headless``) renders offscreen through Mesa's software OpenGL when there is no GPU,
so CI and servers can produce screenshots. Without a display and without ``--headless`` the
command says so and renders headless instead, printing where the screenshot went.

With ``--bus ADDR`` the view is live (the live twin, :mod:`runtime.live`): readings from the bus
drive the 3D world. In a window it runs until the window closes (or ``--seconds``); headless it
renders frames continuously in real time for ``--seconds`` (default 10), writes screenshots into
``--screenshot-dir`` (``live-000.png`` at start, one every ``--screenshot-every`` seconds, and
``final.png``), optionally ``--stats-json``, and exits 0, also on SIGINT/SIGTERM.

Operator control (docs/control.md, "In the viewer"): ``--role`` (default ``viewer``: no control
UI and no command socket at all, the safe default for kiosks and VR) and ``--actor`` say who
acts; operators and instructors get the writable points of the selected asset in the inspector
(keys: Up/Down, W or Enter, +/- or digits, Enter to confirm, Enter to send, Esc to back out).
``--write POINT=VALUE`` (repeatable) runs that same two-step flow by itself after start; a
headless run then ends once the writes are settled and shown (or at ``--seconds``), and exits 1
if one of them was not confirmed, like ``twinstage write``. With ``--screenshot-dir`` every
change of the control lines is captured as ``control-NNN.png``.
"""

from __future__ import annotations

import argparse
import math
import re
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.control.actor import actor_name
from runtime.errors import UsageError

if TYPE_CHECKING:
    from runtime.scene.model import Scene

HELP = "open the 3D view of a scene, or render it offscreen to a PNG with --headless"
DEFAULT_FALLBACK_SHOT = "twinstage-view.png"
DEFAULT_LIVE_SECONDS = 10.0
DEFAULT_SHOT_EVERY_S = 2.0
DEFAULT_MAX_FPS = 60.0
DEFAULT_SCRIPT_SECONDS = 60.0
"""Headless upper bound on a ``--write`` run without ``--seconds``; it normally ends sooner."""
ROLES = ("viewer", "operator", "instructor")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", help="scene folder, its scene.yaml, or a bundled scene name")
    parser.add_argument("--headless", action="store_true",
                        help="render offscreen (no display or GPU needed) and exit")
    parser.add_argument("--frames", type=int, default=None, metavar="N",
                        help="frames to render before the screenshot (headless default: 2)")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="PNG",
                        help="write the last frame to this PNG (headless default: "
                             f"./{DEFAULT_FALLBACK_SHOT})")
    parser.add_argument("--size", default="1280x720", metavar="WxH",
                        help="window or image size in pixels (default 1280x720)")
    live = parser.add_argument_group("live twin (with --bus)")
    live.add_argument("--bus", default=None, metavar="ADDR",
                      help="subscribe to this bus (tcp://HOST:PORT) and show live readings")
    live.add_argument("--seconds", type=float, default=None, metavar="S",
                      help="run the live view this long, then exit 0 (headless default: 10)")
    live.add_argument("--screenshot-dir", type=Path, default=None, metavar="DIR",
                      help="headless live: write live-NNN.png periodically and final.png here")
    live.add_argument("--screenshot-every", type=float, default=DEFAULT_SHOT_EVERY_S,
                      metavar="S", help="seconds between live screenshots (default "
                      f"{DEFAULT_SHOT_EVERY_S:g})")
    live.add_argument("--select", default=None, metavar="ENTITY",
                      help="open the inspector on this entity at start")
    live.add_argument("--stats-json", type=Path, default=None, metavar="FILE",
                      help="at exit, write per-point/entity state and frame timings as JSON")
    live.add_argument("--max-fps", type=float, default=DEFAULT_MAX_FPS, metavar="N",
                      help=f"headless live frame-rate cap (default {DEFAULT_MAX_FPS:g})")
    ctl = parser.add_argument_group("operator control (with --bus; docs/control.md)")
    ctl.add_argument("--role", default=None, choices=ROLES,
                     help="what this viewer may do: viewer (looks only, no control UI; kiosk "
                          "and VR), operator, instructor; default: the --key's role, else "
                          "viewer. The bus and the adapter enforce it")
    ctl.add_argument("--key", default=None, metavar="FILE",
                     help="sign in with this key (NAME.key_secret); default $TWINSTAGE_KEY as "
                          "a viewer")
    ctl.add_argument("--insecure", action="store_true",
                     help="plaintext to a bus started with --insecure (loopback only)")
    ctl.add_argument("--idle-timeout", type=float, default=300.0, metavar="S",
                     help="window mode: after S seconds without input an operator or "
                          "instructor station drops back to the viewer role (default 300)")
    ctl.add_argument("--actor", default=None, metavar="NAME",
                     help="who operates, for the audit log (default: the OS user)")
    ctl.add_argument("--write", action="append", default=[], metavar="POINT=VALUE",
                     help="after start, run the two-step write of VALUE to POINT through the "
                          "inspector (repeatable, in order; sbo points: select then operate)")
    ctl.add_argument("--ack-timeout", type=float, default=5.0, metavar="S",
                     help="seconds a command may stay pending before it shows 'no answer' "
                          "(default 5)")


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720); anything else is the user's to fix."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise UsageError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise UsageError(f"--size {text!r}: each side must be 16..8192 pixels")
    return w, h


def run(args: argparse.Namespace) -> int:
    size = parse_size(args.size)
    if args.frames is not None and args.frames < 1:
        raise UsageError(f"--frames {args.frames}: must be at least 1")
    _check_live_args(args)

    from runtime.scene import load_scene

    scene = load_scene(args.scene)  # scene errors surface before any graphics start
    if args.select is not None and args.select not in {e.id for e in scene.entities}:
        raise UsageError(f"--select {args.select!r}: no such entity in scene {scene.name!r}")
    args.planned_writes = plan_writes(args.write, args.role, scene.path / "devices.yaml", scene)

    from runtime.render.config import display_available

    headless = bool(args.headless)
    shot = args.screenshot
    if not headless and not display_available():
        shot = shot or Path(DEFAULT_FALLBACK_SHOT)
        print(f"twinstage view: no display (DISPLAY and WAYLAND_DISPLAY are unset); rendering "
              f"headless instead, screenshot goes to {shot.expanduser().resolve()}",
              file=sys.stderr)
        headless = True

    from runtime.render.app import make_app
    from runtime.render.screenshot import save_png
    from runtime.render.viewer import Viewer

    try:
        app = make_app(headless=headless, size=size, title=f"twinstage - {scene.name}")
    except RuntimeError as exc:
        if headless:
            raise UsageError(f"cannot render offscreen: {exc}; check the OpenGL/Mesa "
                             "installation (p3tinydisplay was tried as well)") from exc
        shot = shot or Path(DEFAULT_FALLBACK_SHOT)
        print(f"twinstage view: no window could open ({exc}); rendering headless instead, "
              f"screenshot goes to {shot.expanduser().resolve()}", file=sys.stderr)
        headless = True
        app = make_app(headless=True, size=size, title=scene.name)

    viewer = Viewer(app, scene, interactive=not headless)
    if args.bus is not None:
        try:
            return _run_live(args, app, viewer, headless=headless)
        finally:
            app.destroy()
    try:
        if headless or args.frames is not None:
            viewer.step(args.frames or 2)
            if headless or shot is not None:
                out = save_png(app, shot or Path(DEFAULT_FALLBACK_SHOT))
                print(f"wrote {out} ({size[0]}x{size[1]}, {app.pipe_name})")
            return 0
        print(f"{scene.name}: left-drag orbit, right-drag pan, wheel zoom, R reset, Esc quit")
        app.accept("escape", app.user_exit)
        app.run()
        return 0
    finally:
        app.destroy()


def _check_live_args(args: argparse.Namespace) -> None:
    """Live-only flags need --bus; numbers must make sense. Said before any window opens."""
    live_only = [name for name, value in (("--seconds", args.seconds),
                                          ("--screenshot-dir", args.screenshot_dir),
                                          ("--select", args.select),
                                          ("--stats-json", args.stats_json)) if value is not None]
    if args.write:
        live_only.append("--write")
    if args.bus is None:
        args.role = args.role or "viewer"
        if live_only:
            raise UsageError(f"{', '.join(live_only)} need(s) --bus ADDR (the live view)")
        return
    if args.seconds is not None and not args.seconds > 0:
        raise UsageError(f"--seconds {args.seconds}: must be positive")
    if not args.screenshot_every > 0:
        raise UsageError(f"--screenshot-every {args.screenshot_every}: must be positive")
    if not args.max_fps > 0:
        raise UsageError(f"--max-fps {args.max_fps}: must be positive")
    if not (math.isfinite(args.idle_timeout) and args.idle_timeout > 0):
        raise UsageError(f"--idle-timeout {args.idle_timeout}: must be positive")
    if not (math.isfinite(args.ack_timeout) and args.ack_timeout > 0):
        raise UsageError(f"--ack-timeout {args.ack_timeout}: must be positive")
    from runtime.commands.key_options import security_from_args
    from runtime.control.signin import station_role

    args.security = security_from_args(args, args.bus, "view")
    key = args.security
    args.role = station_role(args.role, key.name if key else "", key.role if key else "",
                             explicit_key=args.key is not None)
    if args.write and args.role == "viewer":
        raise UsageError("--write needs --role operator or instructor: the viewer role writes "
                         "nothing")
    args.actor = actor_name(args.actor)
    from runtime.bus.endpoints import BusEndpoints

    try:
        BusEndpoints.from_address(args.bus)
    except ValueError as exc:
        raise UsageError(f"--bus: {exc}") from exc


def plan_writes(texts: list[str], role: str, devices_file: Path,
                scene: Scene) -> list[tuple[str, float]]:
    """``--write POINT=VALUE`` -> (point, value), checked against devices.yaml and the role.

    Said before any window opens. The role check only mirrors what the viewer offers; the
    adapter still decides every write.
    """
    if not texts:
        return []
    from runtime.commands.write import parse_value
    from runtime.control.roles import may_write, parse_role
    from runtime.scene import load_devices

    if not devices_file.is_file():
        raise UsageError(f"--write: the scene has no devices.yaml ({devices_file}), so nothing "
                         "can be written")
    devices = load_devices(devices_file, scene)
    out = []
    for text in texts:
        point, sep, value_text = text.partition("=")
        point = point.strip()
        if not sep or not point or not value_text.strip():
            raise UsageError(f"--write {text!r}: expected POINT=VALUE, e.g. "
                             "FV-101/position_sp_pct=60")
        found = devices.owner_of(point)
        if found is None:
            raise UsageError(f"--write {text!r}: {point} is not a point of {devices_file}")
        spec = found[1]
        if not spec.writable:
            raise UsageError(f"--write {text!r}: {point} is read-only in {devices_file}")
        if not may_write(parse_role(role), spec):
            raise UsageError(f"--write {text!r}: role {role} may not write {point} "
                             f"(roles: {', '.join(spec.roles or ())} in {devices_file})")
        try:
            value = parse_value(value_text)
        except UsageError as exc:
            raise UsageError(f"--write {text!r}: {exc}") from None
        out.append((point, value))
    return out


def _make_control(args: argparse.Namespace, world, devices, endpoints):  # noqa: ANN001, ANN202
    """The commander and control panel for operator/instructor roles; (None, None) for viewer:
    no command socket is ever opened by a viewer-role view."""
    if args.role == "viewer":
        return None, None
    from runtime.control.roles import parse_role
    from runtime.live.commander import Commander
    from runtime.live.control_panel import ControlPanel, writable_points

    commander = Commander(endpoints, role=args.role, actor=args.actor,
                          timeout_ns=int(args.ack_timeout * 1e9), security=args.security)
    offered = writable_points(devices, world, parse_role(args.role))
    return commander, ControlPanel(world, offered, commander, ack_timeout_s=args.ack_timeout)


def _run_live(args: argparse.Namespace, app, viewer, *, headless: bool) -> int:  # noqa: ANN001
    """The live loop: headless for --seconds with screenshots, or a window until closed."""
    from runtime.bus.endpoints import BusEndpoints
    from runtime.bus.subscriber import Subscriber
    from runtime.live.live_viewer import LiveViewer
    from runtime.live.stats import write_stats
    from runtime.render.screenshot import save_png
    from runtime.scene import load_devices
    from runtime.world import build_world

    scene = viewer.scene
    devices_file = scene.path / "devices.yaml"
    devices = load_devices(devices_file, scene) if devices_file.is_file() else None
    world = build_world(scene, devices)
    endpoints = BusEndpoints.from_address(args.bus)
    # Callers that skip _check_live_args (the live bench) get a plaintext viewer-role view.
    args.security = getattr(args, "security", None)
    args.role = args.role or "viewer"
    subscriber = Subscriber(endpoints, security=args.security)
    commander, control = _make_control(args, world, devices, endpoints)
    writes = getattr(args, "planned_writes", [])
    shots: list[str] = []
    stop = {"requested": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["requested"] = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        live = LiveViewer(viewer, world, subscriber, select=args.select, control=control,
                          role=args.role)
        live.install_control_keys()
        if writes:
            live.run_writes(writes)
        who = f"signed in: {args.security.name} as {args.role}" if args.security else \
            f"plaintext, role {args.role}"
        print(f"live view of {scene.name} from {args.bus} ({app.pipe_name}; "
              f"{type(live.observer).__name__}; role {args.role}; {who})", flush=True)
        timeline: list[dict] = []
        if headless:
            _headless_loop(args, app, live, stop, shots, timeline)
        else:
            _window_loop(args, app, live, stop)
        if headless or args.screenshot_dir is not None:
            final_dir = args.screenshot_dir
            if final_dir is not None:
                shots.append(str(save_png(app, final_dir / "final.png")))
                timeline.append(live.timeline_entry(screenshot="final.png"))
            elif args.screenshot is not None:
                shots.append(str(save_png(app, args.screenshot)))
        if args.stats_json is not None:
            out = write_stats(args.stats_json, live.stats(screenshots=shots, bus_address=args.bus,
                                                          timeline=timeline))
            print(f"stats: {out}", flush=True)
        if shots:
            print(f"screenshots: {', '.join(shots)}", flush=True)
        return _report_writes(live, len(writes))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        subscriber.close()
        if commander is not None:
            commander.close()


def _report_writes(live, planned: int) -> int:  # noqa: ANN001
    """Print what became of each command; 1 if a ``--write`` was not confirmed (or not run)."""
    control = live.control
    if control is None:
        return 0
    for line in control.history:
        print(f"control: {line}", flush=True)
    if not planned:
        return 0
    script = live.script
    ids = script.sent_ids if script is not None else []
    states = [control.commander.get(cid) for cid in ids]
    ok = [item is not None and str(item.state) == "confirmed" for item in states]
    finished = script is not None and script.done
    if not finished:
        print(f"control: {planned - (script.index if script else 0)} of {planned} --write not "
              "finished when the run ended", flush=True)
    return 0 if finished and all(ok) else 1


def _headless_loop(args: argparse.Namespace, app, live, stop: dict,  # noqa: ANN001
                   shots: list[str], timeline: list[dict]) -> None:
    """Render continuously in real time (capped at --max-fps) with periodic screenshots."""
    from runtime.render.screenshot import save_png

    scripted = live.script is not None
    seconds = args.seconds if args.seconds is not None else (
        DEFAULT_SCRIPT_SECONDS if scripted else DEFAULT_LIVE_SECONDS)
    period = 1.0 / args.max_fps
    start = time.monotonic()
    next_shot = start
    index = 0
    control_shown = 0
    while not stop["requested"] and time.monotonic() - start < seconds:
        if scripted and live.writes_done:
            break
        t0 = time.monotonic()
        try:
            live.viewer.step(1)
        except KeyboardInterrupt:  # Panda's task manager re-raises a SIGINT caught mid-frame
            stop["requested"] = True
        if args.screenshot_dir is not None and time.monotonic() >= next_shot:
            name = f"live-{index:03d}.png"
            shots.append(str(save_png(app, args.screenshot_dir / name)))
            timeline.append(live.timeline_entry(screenshot=name))
            index += 1
            next_shot += args.screenshot_every
        if args.screenshot_dir is not None and live.control_frames != control_shown:
            name = f"control-{live.control_frames:03d}.png"
            control_shown = live.control_frames
            shots.append(str(save_png(app, args.screenshot_dir / name)))
            timeline.append(live.timeline_entry(screenshot=name,
                                                control=live.control.lines()))
        spare = period - (time.monotonic() - t0)
        if spare > 0:
            time.sleep(spare)


def _window_loop(args: argparse.Namespace, app, live, stop: dict) -> None:  # noqa: ANN001
    """Run the window until it closes, Q is pressed, --seconds pass or a signal arrives."""
    from direct.task.Task import Task

    from runtime.phases import Phase

    live.install_input()
    live.install_buttons()
    deadline = None if args.seconds is None else time.monotonic() + args.seconds

    def on_escape() -> None:
        if not live.clear_or_false():
            stop["requested"] = True

    def watch(task: Task) -> int:
        if stop["requested"] or (deadline is not None and time.monotonic() > deadline):
            app.task_mgr.stop()  # ShowBase.run() returns; the caller writes its files
        return Task.cont

    app.accept("escape", on_escape)
    app.accept("q", lambda: stop.update(requested=True))
    app.task_mgr.add(watch, "live-stop-watch", sort=Phase.CAPTURE)
    print(f"{live.world.scene.name}: click an asset to inspect, Tab/Shift-Tab cycle, Esc clears "
          "(Esc again or Q quits); left-drag orbit, right-drag pan, wheel zoom", flush=True)
    if live.control is not None and args.security is not None:
        from runtime.control.signin import SignIn, install_idle_lock

        signin = SignIn(args.security.name, args.role, int(args.idle_timeout * 1e9))
        install_idle_lock(app, live, signin)
    if live.control is not None:
        print(f"control ({args.role} {args.actor}): Up/Down pick a writable point, W or Enter "
              "write, +/- or digits set the value, Enter confirm, Enter send, Esc back out",
              flush=True)
    try:
        app.run()
    except (SystemExit, KeyboardInterrupt):  # window closed (ShowBase.userExit), or Ctrl-C
        pass
