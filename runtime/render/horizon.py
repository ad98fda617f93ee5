"""Ground and sky to the horizon: a wide, plain field under the site's slab and grid, so the
view never ends in a void past the grid, and a gradient sky dome that follows the camera; the
field meets the dome's haze where the camera's far plane ends it."""

from __future__ import annotations

import math

from panda3d.core import (
    CardMaker,
    Geom,
    GeomNode,
    GeomTriangles,
    GeomVertexData,
    GeomVertexFormat,
    GeomVertexWriter,
    NodePath,
)

FIELD_RGBA = (0.40, 0.45, 0.33, 1.0)
"""Muted dark olive: calm, well apart from the steel greys of the site (hmi.md)."""
FIELD_HALF_M = 4000.0


def build_horizon(parent: NodePath, center_xy: tuple[float, float], *,
                  display_space: bool = True) -> NodePath:
    """A flat field of FIELD_HALF_M around the site, just under the slab. FIELD_RGBA is a
    display colour; without ``display_space`` (simplepbr encodes for the display itself) it is
    given in linear light, so the field looks the same on both pipelines."""
    cm = CardMaker("horizon-field")
    x, y = center_xy
    cm.set_frame(x - FIELD_HALF_M, x + FIELD_HALF_M, y - FIELD_HALF_M, y + FIELD_HALF_M)
    field = parent.attach_new_node(cm.generate())
    field.set_p(-90)
    field.set_z(-0.25)
    rgb = FIELD_RGBA[:3] if display_space else tuple(c ** 2.2 for c in FIELD_RGBA[:3])
    field.set_color(*rgb, FIELD_RGBA[3])
    field.set_two_sided(True)
    field.set_light_off(1)
    field.set_shader_off(1)
    return field


SKY_ZENITH_RGB = (0.13, 0.27, 0.55)
SKY_HORIZON_RGB = (0.50, 0.58, 0.68)
"""Linear light: a clear blue overhead fading into a pale haze at the horizon, where the
field meets it (beyond the camera's far plane the field ends; the haze hides the seam)."""
SKY_BELOW_RGB = (0.36, 0.40, 0.36)
"""Just under the horizon (between the field's far edge and the horizon line)."""
SKY_RADIUS_M = 500.0
"""Inside the camera's far plane (1,000 m); the dome follows the camera, so only its
direction matters."""
_SKY_RINGS_DEG = (-20.0, -1.0, 0.0, 4.0, 12.0, 30.0, 60.0, 90.0)


def _sky_rgb(elevation_deg: float) -> tuple[float, float, float]:
    if elevation_deg < 0.0:
        return SKY_BELOW_RGB
    t = min(elevation_deg / 60.0, 1.0) ** 0.6
    return tuple(h + (z - h) * t for h, z in zip(SKY_HORIZON_RGB, SKY_ZENITH_RGB,
                                                  strict=True))  # type: ignore[return-value]


def build_sky(camera: NodePath, render: NodePath, *, display_space: bool,
              segments: int = 32) -> NodePath:
    """A gradient dome around ``camera`` (turning with the world, not with the camera), drawn
    first and behind everything. ``display_space``: the pipeline has no encoding pass, so the
    colours are given display-encoded (as :class:`runtime.render.materials.Materials` does)."""
    vdata = GeomVertexData("sky", GeomVertexFormat.get_v3c4(), Geom.UH_static)
    vertex = GeomVertexWriter(vdata, "vertex")
    colour = GeomVertexWriter(vdata, "color")
    for elevation in _SKY_RINGS_DEG:
        rgb = _sky_rgb(elevation)
        if display_space:
            rgb = tuple(c ** (1 / 2.2) for c in rgb)  # type: ignore[assignment]
        e = math.radians(elevation)
        for k in range(segments + 1):
            a = 2 * math.pi * k / segments
            vertex.add_data3(SKY_RADIUS_M * math.cos(e) * math.cos(a),
                             SKY_RADIUS_M * math.cos(e) * math.sin(a), SKY_RADIUS_M * math.sin(e))
            colour.add_data4(*rgb, 1.0)
    tris = GeomTriangles(Geom.UH_static)
    row = segments + 1
    for r in range(len(_SKY_RINGS_DEG) - 1):
        for k in range(segments):
            a, b = r * row + k, r * row + k + 1
            tris.add_vertices(a, a + row, b)  # seen from inside: clockwise from outside
            tris.add_vertices(b, a + row, b + row)
    geom = Geom(vdata)
    geom.add_primitive(tris)
    node = GeomNode("sky")
    node.add_geom(geom)
    sky = camera.attach_new_node(node)
    sky.set_compass(render)
    sky.set_two_sided(True)
    sky.set_bin("background", 0)
    sky.set_depth_write(False)
    sky.set_depth_test(False)
    sky.set_light_off(1)
    sky.set_shader_off(1)
    sky.set_fog_off(1)
    return sky
