"""Panda3D configuration for the viewer, as prc text applied before ShowBase starts.

Headless runs use an offscreen buffer on the OpenGL pipe (Mesa llvmpipe works with no display
and no GPU); ``p3tinydisplay`` is the software fallback when OpenGL cannot start at all. It is
not listed as an ``aux-display``: Panda3D would then prefer it over OpenGL. The app opens it
itself when the OpenGL pipe fails (see ``runtime.render.app``).
"""

from __future__ import annotations

import os
import sys

FALLBACK_DISPLAY = "p3tinydisplay"
DEFAULT_SIZE = (1280, 720)


def prc_text(*, headless: bool, size: tuple[int, int], title: str = "twinstage") -> str:
    """The prc lines for one app. Offscreen buffers get no vsync so frames run flat out."""
    w, h = size
    lines = [
        f"window-title {title}",
        f"win-size {w} {h}",
        "load-display pandagl",
        f"window-type {'offscreen' if headless else 'onscreen'}",
        f"sync-video {'false' if headless else 'true'}",
        "framebuffer-multisample 0",
        # Windows sound the alarm annunciator (OpenAL; Panda3D falls back to silence when the
        # machine has no sound device); offscreen runs never open audio.
        f"audio-library-name {_audio_library(headless)}",
        "notify-level-audio error",
        "textures-power-2 none",
        "model-cache-dir",
        "notify-level warning",
        "default-directnotify-level warning",
        "show-frame-rate-meter false",
        "print-pipe-types false",
        # Expected noise on a display-less machine: the X11 probe before EGL takes over, and
        # no /dev/input for joysticks. Real GL errors still print (glgsg is untouched).
        "notify-level-x11display fatal",
        "notify-level-egldisplay error",
        "notify-level-device fatal",
    ]
    return "\n".join(lines) + "\n"


def _audio_library(headless: bool) -> str:
    """``null`` offscreen or with TWINSTAGE_AUDIO=0, else OpenAL."""
    return "null" if headless or os.environ.get("TWINSTAGE_AUDIO") == "0" else "p3openal_audio"


def display_available() -> bool:
    """Whether an onscreen window can plausibly open (X11/Wayland on Linux; always elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True
