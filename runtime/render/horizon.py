"""Ground to the horizon: a wide, plain field under the site's slab and grid, so the view never
ends in a void past the grid; it meets the sky where the camera's far plane ends it."""

from __future__ import annotations

from panda3d.core import CardMaker, NodePath

FIELD_RGBA = (0.40, 0.45, 0.33, 1.0)
"""Muted dark olive: calm, well apart from the steel greys of the site (hmi.md)."""
FIELD_HALF_M = 4000.0


def build_horizon(parent: NodePath, center_xy: tuple[float, float]) -> NodePath:
    """A flat field of FIELD_HALF_M around the site, just under the slab."""
    cm = CardMaker("horizon-field")
    x, y = center_xy
    cm.set_frame(x - FIELD_HALF_M, x + FIELD_HALF_M, y - FIELD_HALF_M, y + FIELD_HALF_M)
    field = parent.attach_new_node(cm.generate())
    field.set_p(-90)
    field.set_z(-0.25)
    field.set_color(*FIELD_RGBA)
    field.set_two_sided(True)
    field.set_light_off(1)
    field.set_shader_off(1)
    return field
