"""Line geometry straight from numpy, and the faceplate's sparkline (last 10 minutes).

:class:`Lines` owns one GeomNode whose vertices are written from an (m, 4) array of segments
in one buffer copy, so redrawing a trend of thousands of points costs a fraction of a
millisecond; nothing is rebuilt in frames where the data did not change.
"""

from __future__ import annotations

import numpy as np
from panda3d.core import (
    CardMaker,
    Geom,
    GeomEnums,
    GeomLines,
    GeomNode,
    GeomVertexData,
    GeomVertexFormat,
    NodePath,
    TextNode,
)

from runtime.ui.trend_geometry import PanelRect, TrendSeries, hatch, polyline, value_range

SPARK_WINDOW_NS = 600_000_000_000
"""The sparkline shows the last 10 minutes."""
SPARK_HEIGHT = 0.11
BG_RGBA = (0.05, 0.07, 0.09, 0.92)
LINE_RGBA = (0.85, 0.87, 0.90, 1.0)
BAD_RGBA = (0.95, 0.55, 0.25, 0.9)
TEXT_SCALE = 0.028


class Lines:
    """A set of line segments under ``parent``; :meth:`set` replaces them."""

    def __init__(self, parent: NodePath, name: str, rgba: tuple[float, float, float, float],
                 thickness: float = 1.0) -> None:
        self.node = GeomNode(name)
        self.path = parent.attach_new_node(self.node)
        self.path.set_color(*rgba)
        self.path.set_render_mode_thickness(thickness)
        if rgba[3] < 1.0:
            self.path.set_transparency(True)
        self.count = 0

    def set(self, seg: np.ndarray) -> None:
        """Segments (m, 4) of x0, z0, x1, z1 in the parent's units."""
        self.node.remove_all_geoms()
        m = len(seg)
        self.count = m
        if not m:
            return
        vdata = GeomVertexData("lines", GeomVertexFormat.get_v3(), Geom.UH_static)
        vdata.unclean_set_num_rows(2 * m)
        xyz = np.zeros((2 * m, 3), np.float32)
        xyz[0::2, 0], xyz[0::2, 2] = seg[:, 0], seg[:, 1]
        xyz[1::2, 0], xyz[1::2, 2] = seg[:, 2], seg[:, 3]
        view = memoryview(vdata.modify_array(0)).cast("B").cast("f")
        view[:] = xyz.ravel()
        prim = GeomLines(Geom.UH_static)
        prim.set_index_type(GeomEnums.NT_uint32)
        handle = prim.modify_vertices()
        handle.unclean_set_num_rows(2 * m)
        memoryview(handle).cast("B").cast("I")[:] = np.arange(2 * m, dtype=np.uint32)
        geom = Geom(vdata)
        geom.add_primitive(prim)
        self.node.add_geom(geom)

    def remove(self) -> None:
        self.path.remove_node()


def card(parent: NodePath, name: str, rect: tuple[float, float, float, float],
         rgba: tuple[float, float, float, float]) -> NodePath:
    left, right, bottom, top = rect
    cm = CardMaker(name)
    cm.set_frame(left, right, bottom, top)
    node = parent.attach_new_node(cm.generate())
    node.set_color(*rgba)
    node.set_transparency(True)
    return node


def text(parent: NodePath, name: str, x: float, z: float, *, align: int = TextNode.A_left,
         scale: float = TEXT_SCALE, rgba: tuple = (1, 1, 1, 1)) -> NodePath:
    """A text line at (x, z); set its text with ``.node().set_text``."""
    tn = TextNode(name)
    tn.set_align(align)
    tn.set_text_color(*rgba)
    node = parent.attach_new_node(tn)
    node.set_scale(scale)
    node.set_pos(x, 0, z)
    return node


class Sparkline:
    """A small trend of one point under the faceplate: the last 10 minutes, Bad hatched."""

    def __init__(self, overlay: NodePath) -> None:
        self.root = overlay.attach_new_node("sparkline")
        self.root.set_bin("fixed", 52)
        self.root.set_depth_test(False)
        self.root.set_depth_write(False)
        self._bg: NodePath | None = None
        self._line = Lines(self.root, "spark-line", LINE_RGBA, 1.5)
        self._bad = Lines(self.root, "spark-bad", BAD_RGBA)
        self._label = text(self.root, "spark-label", 0, 0, rgba=(0.8, 0.82, 0.85, 1))
        self.rect: tuple[float, float, float, float] | None = None
        self.text = ""
        self._drawn: tuple | None = None
        self.root.hide()

    def show(self, rect: tuple[float, float, float, float], series: TrendSeries | None,
             end_ns: int) -> None:
        """Draw ``series`` over the 10 minutes before ``end_ns`` in ``rect`` (aspect2d l, r, b,
        t); the geometry is rebuilt only when the data, the place or the minute changed."""
        key = (rect, id(series), end_ns // 1_000_000_000)
        self.rect = rect
        self.root.show()
        if key == self._drawn:
            return
        self._drawn = key
        left, right, bottom, top = rect
        if self._bg is None or self._bg.get_python_tag("rect") != rect:
            if self._bg is not None:
                self._bg.remove_node()
            self._bg = card(self.root, "spark-bg", rect, BG_RGBA)
            self._bg.set_python_tag("rect", rect)
            self._bg.set_bin("fixed", 51)
        plot = (left + 0.01, right - 0.01, bottom + 0.01, top - 0.035)
        t0 = end_ns - SPARK_WINDOW_NS
        if series is None or not len(series.t_ns):
            self._line.set(np.empty((0, 4)))
            self._bad.set(np.empty((0, 4)))
            self.text = "no history yet (last 10 min)"
        else:
            v0, v1 = value_range([series], t0, end_ns)
            r = PanelRect(*plot, t0, end_ns, v0, v1)
            self._line.set(polyline(series, r, end_ns=end_ns))
            self._bad.set(hatch(series.bad_spans, r, 0.015))
            last = series.value_at(end_ns)
            now = "" if last is None else f"{last[0]:.3g} {series.unit}".strip()
            self.text = f"{series.point}  last 10 min  {now}"
        self._label.node().set_text(self.text)
        self._label.set_pos(left + 0.01, 0, top - 0.028)

    def hide(self) -> None:
        self.root.hide()
        self.rect = None

    @property
    def visible(self) -> bool:
        return not self.root.is_hidden()
