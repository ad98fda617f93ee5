"""Read back the finished frame: save it as PNG or hand it to tests as a numpy array."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from direct.showbase.ShowBase import ShowBase
from panda3d.core import Filename


def capture_rgb(app: ShowBase) -> np.ndarray:
    """The last rendered frame as uint8 (height, width, 3), row 0 at the top."""
    tex = app.win.get_screenshot()
    if tex is None:
        raise RuntimeError("the frame could not be read back")
    data = np.frombuffer(tex.get_ram_image_as("RGB"), dtype=np.uint8)
    h, w = tex.get_y_size(), tex.get_x_size()
    return data.reshape(h, w, 3)[::-1].copy()


def save_png(app: ShowBase, path: str | Path) -> Path:
    """Write the last rendered frame to ``path`` (parents created); returns the absolute path."""
    out = Path(path).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tex = app.win.get_screenshot()
    if tex is None or not tex.write(Filename.from_os_specific(str(out))):
        raise RuntimeError(f"could not write the screenshot to {out}")
    return out
