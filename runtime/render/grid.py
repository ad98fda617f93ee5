"""Ground: a concrete slab under the plant and a metre grid on it (major lines every 5 m).

The grid is unlit and drawn without the PBR shader so its lines keep their exact colour; it sits
a few millimetres above the slab with a depth offset, so it never flickers against it.
"""

from __future__ import annotations

import math

from panda3d.core import LineSegs, NodePath

from runtime.render.geom import MeshBuilder
from runtime.render.materials import Materials

MINOR_RGBA = (0.36, 0.37, 0.38, 1.0)
MAJOR_RGBA = (0.22, 0.23, 0.24, 1.0)
MINOR_MAX_SPAN_M = 200
"""Sites wider than this get only the 5 m lines: a metre grid over a 500 m generated plant is
thousands of sub-pixel lines that cost software rendering a third of its frame."""


def build_ground(parent: NodePath, materials: Materials,
                 bounds_xy: tuple[float, float, float, float], *,
                 margin_m: float = 6.0) -> NodePath:
    """Slab and grid covering ``bounds_xy`` (xmin, ymin, xmax, ymax) plus ``margin_m``."""
    x0 = math.floor((bounds_xy[0] - margin_m) / 5) * 5
    y0 = math.floor((bounds_xy[1] - margin_m) / 5) * 5
    x1 = math.ceil((bounds_xy[2] + margin_m) / 5) * 5
    y1 = math.ceil((bounds_xy[3] + margin_m) / 5) * 5
    root = parent.attach_new_node("ground")
    slab = MeshBuilder()
    slab.box((x1 - x0, y1 - y0, 0.2), center=((x0 + x1) / 2, (y0 + y1) / 2, -0.1))
    slab_np = root.attach_new_node(slab.node("slab"))
    materials.apply(slab_np, "concrete")

    grid = root.attach_new_node(_grid_lines(x0, y0, x1, y1))
    grid.set_z(0.004)
    grid.set_shader_off(1)
    grid.set_light_off(1)
    grid.set_depth_offset(1)
    return root


def _grid_lines(x0: int, y0: int, x1: int, y1: int):  # noqa: ANN202 - returns a GeomNode
    minor, major = LineSegs("grid_minor"), LineSegs("grid_major")
    minor.set_color(MINOR_RGBA)
    major.set_color(MAJOR_RGBA)
    step = 1 if max(x1 - x0, y1 - y0) <= MINOR_MAX_SPAN_M else 5
    major.set_thickness(2.0 if step == 1 else 1.0)
    for x in range(x0, x1 + 1, step):
        segs = major if x % 5 == 0 else minor
        segs.move_to(x, y0, 0)
        segs.draw_to(x, y1, 0)
    for y in range(y0, y1 + 1, step):
        segs = major if y % 5 == 0 else minor
        segs.move_to(x0, y, 0)
        segs.draw_to(x1, y, 0)
    node = minor.create()
    major.create(node)
    return node
