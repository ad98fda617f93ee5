"""The alarm priority marker: a shape and a number per priority, so colour is never the only
cue (hmi.md: Critical red inverted triangle "1", High orange diamond "2", Medium yellow
square "3", Low cyan circle "4"). Used flat in the banner and list, and as a billboard in 3D."""

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
    TextNode,
)

PRIORITY_RGBA = {
    "Critical": (0.86, 0.10, 0.10, 1.0),
    "High": (0.95, 0.50, 0.05, 1.0),
    "Medium": (0.95, 0.85, 0.10, 1.0),
    "Low": (0.20, 0.80, 0.90, 1.0),
}
NUMBER = {"Critical": "1", "High": "2", "Medium": "3", "Low": "4"}
SHAPE = {"Critical": "inverted triangle", "High": "diamond", "Medium": "square", "Low": "circle"}


def _outline(priority: str) -> list[tuple[float, float]]:
    """The shape's corners in a unit box centred on 0 (x right, y up)."""
    if priority == "Critical":
        return [(-0.58, 0.5), (0.58, 0.5), (0.0, -0.55)]
    if priority == "High":
        return [(0.0, 0.6), (0.6, 0.0), (0.0, -0.6), (-0.6, 0.0)]
    if priority == "Medium":
        return [(-0.46, -0.46), (0.46, -0.46), (0.46, 0.46), (-0.46, 0.46)]
    return [(0.5 * math.cos(a), 0.5 * math.sin(a))
            for a in (2 * math.pi * i / 20 for i in range(20))]


def _fan(name: str, points: list[tuple[float, float]], rgba: tuple[float, ...],
         flat_y: bool) -> GeomNode:
    vdata = GeomVertexData(name, GeomVertexFormat.get_v3c4(), Geom.UH_static)
    vertex = GeomVertexWriter(vdata, "vertex")
    colour = GeomVertexWriter(vdata, "color")
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    for x, y in [(cx, cy), *points]:
        # aspect2d draws in x/z; a 3D billboard too (it faces the camera along y)
        vertex.add_data3(x, 0.0, y) if flat_y else vertex.add_data3(x, y, 0.0)
        colour.add_data4(*rgba)
    tris = GeomTriangles(Geom.UH_static)
    n = len(points)
    for i in range(n):
        a, b = 1 + i, 1 + (i + 1) % n
        tris.add_vertices(0, b, a)
        tris.add_vertices(0, a, b)  # both faces: seen from either side
    geom = Geom(vdata)
    geom.add_primitive(tris)
    node = GeomNode(name)
    node.add_geom(geom)
    return node


def priority_marker(parent: NodePath, priority: str, size: float) -> NodePath:
    """A marker of ``size`` (its width) under ``parent``, in the x/z plane, centred on 0."""
    root = parent.attach_new_node(f"alarm-marker-{priority}")
    dark = (0.05, 0.05, 0.05, 1.0)
    outline = [(1.18 * x, 1.18 * y) for x, y in _outline(priority)]
    root.attach_new_node(_fan("edge", outline, dark, True))
    face = root.attach_new_node(_fan("face", _outline(priority),
                                     PRIORITY_RGBA.get(priority, PRIORITY_RGBA["Low"]), True))
    face.set_y(-0.001)
    text = TextNode("number")
    text.set_text(NUMBER.get(priority, "4"))
    text.set_align(TextNode.A_center)
    text.set_text_color(0.0, 0.0, 0.0, 1.0)
    label = root.attach_new_node(text)
    label.set_scale(0.62)
    label.set_pos(0.0, -0.002, -0.22 if priority != "Critical" else -0.05)
    root.set_scale(size)
    return root


__all__ = ["NUMBER", "PRIORITY_RGBA", "SHAPE", "priority_marker"]
