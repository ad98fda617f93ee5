"""``twinstage view SCENE``: the 3D view of a scene, in a window or rendered headless to a PNG.

Headless (``--headless``) renders offscreen through Mesa's software OpenGL when there is no GPU,
so CI and servers can produce screenshots. Without a display and without ``--headless`` the
command says so and renders headless instead, printing where the screenshot went.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from runtime.errors import UsageError

HELP = "open the 3D view of a scene, or render it offscreen to a PNG with --headless"
DEFAULT_FALLBACK_SHOT = "twinstage-view.png"


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

    from runtime.scene import load_scene

    scene = load_scene(args.scene)  # scene errors surface before any graphics start

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
