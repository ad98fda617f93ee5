"""Ground and sky to the horizon: a plain field under the site's slab and grid as far as the
eye sees, so the view never ends in a void past the grid, and a gradient sky dome above the
horizon that follows the camera.

Both cost a software rasteriser next to nothing: the field is the window's clear colour (every
pixel the sky, slab and plant leave is field, and a flat camera-height ground plane fills
everything under the horizon), and the dome starts at the horizon, so a view looking down on
the site (the whole-site view) draws no sky pixels at all. Before, an 8 km field quad and a
full dome cost llvmpipe ~6 ms of fill a 1280x720 frame.
"""

from __future__ import annotations

import math

from panda3d.core import (
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


def field_rgba(*, display_space: bool = True) -> tuple[float, float, float, float]:
    """The clear colour that draws the field. FIELD_RGBA is a display colour; without
    ``display_space`` (simplepbr encodes for the display itself, after its clear) it is given
    in linear light, so the field looks the same on both pipelines."""
    rgb = FIELD_RGBA[:3] if display_space else tuple(c ** 2.2 for c in FIELD_RGBA[:3])
    return (*rgb, FIELD_RGBA[3])  # type: ignore[return-value]


SKY_ZENITH_RGB = (0.13, 0.27, 0.55)
SKY_HORIZON_RGB = (0.50, 0.58, 0.68)
"""Linear light: a clear blue overhead fading into a pale haze at the horizon, where the
field meets it."""
SKY_RADIUS_M = 500.0
"""Inside the camera's far plane (1,000 m); the dome follows the camera, so only its
direction matters."""
_SKY_RINGS_DEG = (0.0, 4.0, 12.0, 30.0, 60.0, 90.0)


def _sky_rgb(elevation_deg: float) -> tuple[float, float, float]:
    t = min(elevation_deg / 60.0, 1.0) ** 0.6
    return tuple(h + (z - h) * t for h, z in zip(SKY_HORIZON_RGB, SKY_ZENITH_RGB,
                                                  strict=True))  # type: ignore[return-value]


def build_sky(camera: NodePath, render: NodePath, *, display_space: bool,
              segments: int = 32) -> NodePath:
    """A gradient dome above the horizon around ``camera`` (turning with the world, not with
    the camera), drawn first and behind everything; under it the clear colour is the field.
    ``display_space``: the pipeline has no encoding pass, so the colours are given
    display-encoded (as :class:`runtime.render.materials.Materials` does)."""
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
