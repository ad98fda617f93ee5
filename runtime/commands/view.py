"""``twinstage view SCENE``: the 3D view of a scene, in a window or rendered headless to a PNG.

Headless (``--headless``) renders offscreen through Mesa's software OpenGL when there is no GPU,
so CI and servers can produce screenshots. Without a display and without ``--headless`` the
command says so and renders headless instead, printing where the screenshot went.

With ``--replay FILE|DIR`` the view plays a recording (``twinstage record``) on the replay
clock: a timeline bar at the bottom, Space to play/pause, ``[``/``]`` for speed (1/64x-64x),
Left/Right to seek 10 s (Shift: 60 s; Ctrl: to the start/end), a click on the bar to seek; ``--at``
and ``--speed`` set where and how fast it starts. Headless, ``--screenshot-at TIME``
(repeatable) seeks to each time and writes ``at-NNN.png`` into ``--screenshot-dir``.

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
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.control.actor import actor_name
from runtime.errors import UsageError

if TYPE_CHECKING:
    from runtime.scene.model import Scene

HELP = "open the 3D view of a scene, or render it offscreen to a PNG with --headless"
DEFAULT_FALLBACK_SHOT = "twinstage-view.png"
DEFAULT_SHOT_EVERY_S = 2.0
DEFAULT_MAX_FPS = 60.0
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
    parser.add_argument("--stereo", default=None, choices=("sbs", "vr"),
                        help="sbs: side-by-side stereo frame (3D displays); vr: an OpenXR "
                             "headset (pip install 'twinstage[vr]'; docs/walkthrough.md)")
    parser.add_argument("--layout", default=None, metavar="NAME|FILE",
                        help="a control-room layout (the scene's layouts/NAME.yaml): several "
                             "display regions from one world (docs/walkthrough.md)")
    parser.add_argument("--shadows", default="auto", choices=("auto", "on", "off"),
                        help="sun shadows: auto (on with a GPU, off on a software renderer, "
                             "which cannot draw them), on, off")
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
    live.add_argument("--hud-json", type=Path, default=None, metavar="FILE",
                      help="at exit, write every 2D element of the last frame (kind, text, "
                           "bounding box in pixels) as JSON")
    live.add_argument("--ingest", default="thread", choices=("thread", "frame"),
                      help="decode the bus in an ingest thread that overlaps rendering "
                      "(default), or in each frame as before")
    live.add_argument("--max-fps", type=float, default=DEFAULT_MAX_FPS, metavar="N",
                      help=f"headless live frame-rate cap (default {DEFAULT_MAX_FPS:g})")
    rep = parser.add_argument_group("replay (a recording from twinstage record)")
    rep.add_argument("--replay", type=Path, default=None, metavar="FILE|DIR",
                     help="play this recording (an .mcap file or a folder of them) instead of "
                          "the live bus; a timeline bar shows start, end, now and events")
    rep.add_argument("--at", default=None, metavar="TIME",
                     help="start here: +90s / +2m / 50%% of the way / 10:42:05 / an ISO 8601 "
                          "time (default: the start)")
    rep.add_argument("--speed", default="1", metavar="X",
                     help="playback speed, 1/64 to 64 (default 1)")
    rep.add_argument("--paused", action="store_true", help="start paused")
    rep.add_argument("--screenshot-at", action="append", default=[], metavar="TIME",
                     help="headless replay: seek to TIME and write at-NNN.png into "
                          "--screenshot-dir (repeatable)")
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
    check_args(args)

    from runtime.scene import load_scene

    scene = load_scene(args.scene)  # scene errors surface before any graphics start
    if args.select is not None and args.select not in {e.id for e in scene.entities}:
        raise UsageError(f"--select {args.select!r}: no such entity in scene {scene.name!r}")
    args.planned_writes = plan_writes(args.write, args.role, scene.path / "devices.yaml", scene)
    args.loaded_layout = _layout(args.layout, scene)

    from runtime.render.config import display_available

    headless = bool(args.headless)
    shot = args.screenshot
    if not headless and not display_available():
        shot = shot or Path(DEFAULT_FALLBACK_SHOT)
        print(f"twinstage view: no display (DISPLAY and WAYLAND_DISPLAY are unset); rendering "
              f"headless instead, screenshot goes to {shot.expanduser().resolve()}",
              file=sys.stderr)
        headless = True

    if args.bus is not None or args.replay is not None:
        from runtime.sim.precompile import ensure_compiled

        ensure_compiled()  # the observer's plant model: progress lines, not a frozen window

    from runtime.render.app import make_app
    from runtime.render.screenshot import save_png
    from runtime.render.viewer import Viewer

    try:
        app = make_app(headless=headless, size=size, title=f"twinstage - {scene.name}",
                       pipeline="forward" if args.stereo == "sbs" else "auto",
                       shadows=args.shadows)
    except RuntimeError as exc:
        if headless:
            raise UsageError(f"cannot render offscreen: {exc}; check the OpenGL/Mesa "
                             "installation (p3tinydisplay was tried as well)") from exc
        shot = shot or Path(DEFAULT_FALLBACK_SHOT)
        print(f"twinstage view: no window could open ({exc}); rendering headless instead, "
              f"screenshot goes to {shot.expanduser().resolve()}", file=sys.stderr)
        headless = True
        app = make_app(headless=True, size=size, title=scene.name, shadows=args.shadows)
    if app.shadows_note:
        print(f"twinstage view: {app.shadows_note}", file=sys.stderr)

    viewer = Viewer(app, scene, interactive=not headless)
    _stereo(args, app, viewer)
    if args.loaded_layout is not None:
        from runtime.app.layout import prepare_layout

        prepare_layout(app, viewer, args.loaded_layout)
    if args.bus is not None or args.replay is not None or args.loaded_layout is not None:
        from runtime.app.run_view import run_twin

        try:
            return run_twin(args, app, viewer, headless=headless)
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


def _layout(name: str | None, scene: Scene):  # noqa: ANN202
    """``--layout NAME|FILE`` -> the checked layout (None without the option)."""
    if name is None:
        return None
    from runtime.app.layout import available_layouts, layout_path, load_layout

    path = layout_path(name, scene)
    if not path.is_file():
        known = ", ".join(available_layouts(scene)) or "none"
        raise UsageError(f"--layout {name!r}: no layout file {path} (layouts of "
                         f"{scene.name!r}: {known})")
    return load_layout(path)


def _stereo(args: argparse.Namespace, app, viewer) -> None:  # noqa: ANN001
    """``--stereo``: split the window into two eyes, or hand the rig to a VR headset."""
    if args.stereo == "sbs":
        from runtime.render.stereo import SideBySide

        SideBySide(app)
    elif args.stereo == "vr":
        from runtime.render.stereo import VrUnavailableError, open_vr

        rig = app.render.attach_new_node("vr-rig")
        target = viewer.camera.home.target
        rig.set_pos(target.x, target.y - 8.0, 0.0)
        try:
            open_vr(app, rig)
        except VrUnavailableError as exc:
            app.destroy()
            raise UsageError(str(exc)) from None


def check_args(args: argparse.Namespace) -> None:
    """Live-only flags need --bus; numbers must make sense. Said before any window opens."""
    live_only = [name for name, value in (("--seconds", args.seconds),
                                          ("--screenshot-dir", args.screenshot_dir),
                                          ("--select", args.select),
                                          ("--stats-json", args.stats_json),
                                          ("--hud-json", args.hud_json)) if value is not None]
    if args.write:
        live_only.append("--write")
    _check_replay_args(args)
    if args.replay is not None:
        if args.write:
            raise UsageError("--write: a replay cannot operate the plant (it shows the past)")
        if args.screenshot_at and args.screenshot_dir is None:
            raise UsageError("--screenshot-at needs --screenshot-dir DIR")
        _check_numbers(args)
        args.actor = actor_name(args.actor)
        args.role = args.role or "viewer"  # a replay operates nothing: no key, no control
        args.security = None
        return
    if args.bus is None:
        args.role = args.role or "viewer"
        args.security = None
        if args.layout is not None:  # the scene's model on a layout: a twin with no source
            if args.write:
                raise UsageError("--write needs --bus ADDR (the live view)")
            _check_numbers(args)
            args.actor = actor_name(args.actor)
            return
        if live_only:
            raise UsageError(f"{', '.join(live_only)} need(s) --bus ADDR (the live view) "
                             "or --replay FILE")
        return
    _check_numbers(args)
    if not (math.isfinite(args.idle_timeout) and args.idle_timeout > 0):
        raise UsageError(f"--idle-timeout {args.idle_timeout}: must be positive")
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


def _check_replay_args(args: argparse.Namespace) -> None:
    """Open the recording and resolve --at/--speed/--screenshot-at before any window opens."""
    args.opened_recording = None
    replay_only = [name for name, value in (("--at", args.at), ("--paused", args.paused or None),
                                            ("--screenshot-at", args.screenshot_at or None))
                   if value is not None]
    if args.replay is None:
        if replay_only or args.speed != "1":
            raise UsageError(f"{', '.join(replay_only) or '--speed'} need(s) --replay FILE")
        return
    if args.bus is not None:
        raise UsageError("--bus and --replay: choose one clock (live or replay)")
    from runtime.recording.errors import RecordingError
    from runtime.recording.reader import open_recording
    from runtime.time.parse import parse_instant
    from runtime.time.virtual_clock import parse_speed

    try:
        args.speed = parse_speed(args.speed)
    except ValueError as exc:
        raise UsageError(f"--speed: {exc}") from None
    try:
        recording = open_recording(args.replay)
    except RecordingError as exc:
        raise UsageError(str(exc)) from None
    for warning in recording.warnings:
        print(f"twinstage view: {warning}", file=sys.stderr)
    start, end = recording.start_ns, recording.end_ns
    try:
        args.at_ns = None if args.at is None else parse_instant(args.at, start, end)
        args.screenshot_at_ns = [parse_instant(t, start, end) for t in args.screenshot_at]
    except ValueError as exc:
        recording.close()
        raise UsageError(f"--at/--screenshot-at: {exc}") from None
    args.opened_recording = recording


def _check_numbers(args: argparse.Namespace) -> None:
    """Numbers the live and replay loops use must make sense."""
    if args.seconds is not None and not args.seconds > 0:
        raise UsageError(f"--seconds {args.seconds}: must be positive")
    if not args.screenshot_every > 0:
        raise UsageError(f"--screenshot-every {args.screenshot_every}: must be positive")
    if not args.max_fps > 0:
        raise UsageError(f"--max-fps {args.max_fps}: must be positive")
    if not (math.isfinite(args.ack_timeout) and args.ack_timeout > 0):
        raise UsageError(f"--ack-timeout {args.ack_timeout}: must be positive")


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


