"""``twinstage kiosk SCENE``: the twin for visitors, fullscreen, read-only by construction.

Viewer role with no command client at all (the process never opens the bus's command socket);
after ``--idle`` seconds without input the scene's tour loops as an attract loop; any input
brings the home view back; a friendly card says when live data is paused (bus lost). The cursor
is hidden and only the ``--exit-chord`` followed by the PIN leaves (the PIN comes from
``--pin-file`` or ``$TWINSTAGE_KIOSK_PIN``; without one the kiosk leaves only by a signal from
its supervisor). See docs/walkthrough.md.

Headless: ``--tour-once`` plays the tour from start to end on a stepped clock and writes
``stop-NN.png`` per stop and ``tour.json`` into ``--screenshot-dir``; otherwise it renders in
real time for ``--seconds``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from runtime.errors import UsageError

HELP = "run the visitor kiosk: fullscreen, read-only, attract loop on the scene's tour"
PIN_ENV = "TWINSTAGE_KIOSK_PIN"
DEFAULT_IDLE_S = 90.0
DEFAULT_CHORD = "ctrl+shift+k"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from runtime.commands.key_options import add_key_options

    parser.add_argument("scene", help="scene folder, its scene.yaml, or a bundled scene name")
    parser.add_argument("--bus", default=None, metavar="ADDR",
                        help="subscribe to this bus for live values (default: the scene's "
                             "model alone)")
    add_key_options(parser)
    parser.add_argument("--tour", default=None, metavar="NAME",
                        help="the tour of the attract loop (default: the scene's first)")
    parser.add_argument("--idle", type=float, default=DEFAULT_IDLE_S, metavar="S",
                        help=f"seconds without input before the attract loop (default "
                             f"{DEFAULT_IDLE_S:g})")
    parser.add_argument("--exit-chord", default=DEFAULT_CHORD, metavar="KEYS",
                        help=f"key chord that opens the staff exit prompt (default "
                             f"{DEFAULT_CHORD})")
    parser.add_argument("--pin-file", type=Path, default=None, metavar="FILE",
                        help=f"file holding the exit PIN (digits); default ${PIN_ENV}")
    parser.add_argument("--size", default="1920x1080", metavar="WxH",
                        help="render size (headless) or window size with --windowed")
    parser.add_argument("--windowed", action="store_true",
                        help="a window instead of fullscreen (setting a kiosk up)")
    parser.add_argument("--stereo", default=None, choices=("sbs",),
                        help="side-by-side stereo (3D displays; docs/walkthrough.md)")
    parser.add_argument("--headless", action="store_true", help="render offscreen")
    parser.add_argument("--tour-once", action="store_true",
                        help="headless: play the tour once, a screenshot per stop, then exit")
    parser.add_argument("--seconds", type=float, default=10.0, metavar="S",
                        help="headless: run this long (default 10)")
    parser.add_argument("--screenshot-dir", type=Path, default=None, metavar="DIR")
    parser.add_argument("--screenshot-every", type=float, default=5.0, metavar="S")
    parser.add_argument("--hud-json", type=Path, default=None, metavar="FILE",
                        help="at exit, write every 2D element of the last frame as JSON")
    parser.add_argument("--max-fps", type=float, default=30.0, metavar="N",
                        help="headless frame-rate cap (default 30)")


def read_pin(path: Path | None) -> bytes | None:
    """The PIN's digest from the file or the environment; UsageError for a bad PIN."""
    from runtime.app.kiosk_plugin import pin_digest

    if path is not None:
        try:
            text = path.read_text().strip()
        except OSError as exc:
            raise UsageError(f"--pin-file {path}: {exc.strerror}") from None
        where = f"--pin-file {path}"
    elif os.environ.get(PIN_ENV):
        text, where = os.environ[PIN_ENV].strip(), f"${PIN_ENV}"
    else:
        return None
    if not (text.isdigit() and 4 <= len(text) <= 12):
        raise UsageError(f"{where}: the PIN must be 4 to 12 digits")
    return pin_digest(text)


def check_args(args: argparse.Namespace) -> None:
    from runtime.app.kiosk_plugin import chord_event

    for name, value in (("--idle", args.idle), ("--seconds", args.seconds),
                        ("--screenshot-every", args.screenshot_every),
                        ("--max-fps", args.max_fps)):
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"{name} {value}: must be positive")
    try:
        chord_event(args.exit_chord)
    except ValueError as exc:
        raise UsageError(f"--exit-chord: {exc}") from None
    if args.tour_once and not args.headless:
        raise UsageError("--tour-once needs --headless")
    args.pin_sha256 = read_pin(args.pin_file)
    args.security = None
    if args.bus is not None:
        from runtime.bus.endpoints import BusEndpoints
        from runtime.commands.key_options import security_from_args

        try:
            BusEndpoints.from_address(args.bus)
        except ValueError as exc:
            raise UsageError(f"--bus: {exc}") from exc
        args.security = security_from_args(args, args.bus, "kiosk")


SOFTWARE_GL_THREADS_ENV = "LP_NUM_THREADS"
"""Mesa llvmpipe's rasterizer threads. With its worker threads the process grew by tens of MiB
a minute while a tour flew the camera round (measured: 312 -> 480 MiB in 60 s, 2.4 GB after
22 min); with rasterization on the main thread it stays flat (~330 MiB). A kiosk runs for
days, so on the software renderer it rasterizes on one thread unless the variable is set.
GPU drivers ignore it."""


def run(args: argparse.Namespace) -> int:
    from runtime.commands.view import parse_size

    os.environ.setdefault(SOFTWARE_GL_THREADS_ENV, "0")

    size = parse_size(args.size)
    check_args(args)
    from runtime.scene import load_scene

    scene = load_scene(args.scene)
    args.chosen_tour = None
    if args.tour is not None:
        args.chosen_tour = next((t for t in scene.tours if t.name == args.tour), None)
        if args.chosen_tour is None:
            known = ", ".join(repr(t.name) for t in scene.tours) or "none declared"
            raise UsageError(f"--tour {args.tour!r}: no such tour in {scene.path} "
                             f"(known: {known})")
    if args.tour_once and not scene.tours:
        raise UsageError(f"--tour-once: {scene.path / 'scene.yaml'} declares no tours:")
    if args.pin_sha256 is None and not args.headless:
        print(f"twinstage kiosk: no exit PIN (--pin-file or ${PIN_ENV}): the kiosk leaves only "
              "when its supervisor stops it", file=sys.stderr)
    from runtime.render.config import display_available

    if not args.headless and not display_available():
        raise UsageError("no display (DISPLAY and WAYLAND_DISPLAY are unset); a kiosk needs a "
                         "screen, or use --headless")
    from runtime.sim.precompile import ensure_compiled

    ensure_compiled()
    from runtime.app.run_kiosk import run_kiosk
    from runtime.render.app import make_app
    from runtime.render.viewer import Viewer

    try:
        app = make_app(headless=args.headless, size=size, title=f"twinstage - {scene.name}",
                       pipeline="forward" if args.stereo else "auto")
    except RuntimeError as exc:
        raise UsageError(f"cannot open the kiosk's display: {exc}") from exc
    try:
        viewer = Viewer(app, scene, interactive=not args.headless)
        if args.stereo == "sbs":
            from runtime.render.stereo import SideBySide

            SideBySide(app)
        return run_kiosk(args, app, viewer)
    finally:
        app.destroy()
