"""The replay timeline bar at the bottom of the screen: start, end, now, events marked;
play/pause, speed and seek by keys or a click on the bar (hmi.md, screen regions).

Drawn in ``aspect2d`` so it renders offscreen too; its geometry is reported in pixels for
``--stats-json`` so tests check what is on screen without reading pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

from panda3d.core import CardMaker, NodePath, TextNode

from runtime.ui.timeline_model import (
    KEYS_HELP,
    Marker,
    clock_text,
    fraction_at,
    status_line,
    time_at,
)

BAR_HEIGHT = 0.035
BAR_BOTTOM = -0.91
MARGIN = 0.06
TEXT_SCALE = 0.034
BG_RGBA = (0.10, 0.11, 0.12, 0.90)
TRACK_RGBA = (0.32, 0.34, 0.36, 1.0)
PLAYED_RGBA = (0.62, 0.64, 0.66, 1.0)
NOW_RGBA = (1.0, 1.0, 1.0, 1.0)
MARKER_RGBA = {
    "silent": (1.0, 0.55, 0.2, 1.0),
    "back": (0.55, 0.75, 1.0, 1.0),
    "ack": (0.85, 0.85, 0.85, 1.0),
    "event": (1.0, 0.85, 0.3, 1.0),
}
"""Marker tints; each kind also has its own height so colour is never the only cue."""
MARKER_HEIGHT = {"silent": 2.2, "back": 1.6, "ack": 1.2, "event": 2.6}


def _card(parent: NodePath, name: str, left: float, right: float, bottom: float, top: float,
          rgba: tuple[float, float, float, float]) -> NodePath:
    cm = CardMaker(name)
    cm.set_frame(left, right, bottom, top)
    node = parent.attach_new_node(cm.generate())
    node.set_color(*rgba)
    node.set_transparency(True)
    return node


class TimelineBar:
    """The bar and its text; :meth:`update` each frame with the session's time."""

    def __init__(self, aspect2d: NodePath, aspect: float, start_ns: int, end_ns: int,
                 markers: Sequence[Marker]) -> None:
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.markers = list(markers)
        self.left = -aspect + MARGIN
        self.right = aspect - MARGIN
        self.aspect = aspect
        self.root = aspect2d.attach_new_node("timeline")
        self.root.set_bin("fixed", 40)
        self.root.set_depth_test(False)
        self.root.set_depth_write(False)
        b0, b1 = BAR_BOTTOM, BAR_BOTTOM + BAR_HEIGHT
        _card(self.root, "timeline-bg", -aspect, aspect, -1.0, b1 + 0.07, BG_RGBA)
        _card(self.root, "timeline-track", self.left, self.right, b0, b1, TRACK_RGBA)
        self._played = _card(self.root, "timeline-played", 0, 1, b0, b1, PLAYED_RGBA)
        self._played.set_pos(self.left, 0, 0)
        self._played.set_sx(1e-4)
        width = self.right - self.left
        for m in self.markers:
            x = self.left + width * fraction_at(m.t_ns, start_ns, end_ns)
            h = BAR_HEIGHT * MARKER_HEIGHT.get(m.kind, 1.0)
            _card(self.root, f"marker-{m.kind}", x - 0.003, x + 0.003, b0, b0 + h,
                  MARKER_RGBA.get(m.kind, NOW_RGBA))
        self._now = _card(self.root, "timeline-now", -0.004, 0.004, b0 - 0.012, b1 + 0.012,
                          NOW_RGBA)
        self._status = self._text("timeline-status", TextNode.A_left, self.left, b1 + 0.02)
        self._ends = self._text("timeline-ends", TextNode.A_right, self.right, b1 + 0.02)
        self._ends.node().set_text(f"{clock_text(start_ns)} - {clock_text(end_ns)}")
        self._help = self._text("timeline-help", TextNode.A_left, self.left, b0 - 0.045)
        self._help.node().set_text(KEYS_HELP)
        self._help.node().set_text_color(0.75, 0.77, 0.8, 1)
        self._help.set_scale(TEXT_SCALE * 0.75)
        self.text = ""

    def _text(self, name: str, align: int, x: float, y: float) -> NodePath:
        tn = TextNode(name)
        tn.set_align(align)
        tn.set_text_color(1, 1, 1, 1)
        node = self.root.attach_new_node(tn)
        node.set_scale(TEXT_SCALE)
        node.set_pos(x, 0, y)
        return node

    def update(self, now_ns: int, *, speed: object, paused: bool, behind: bool = False) -> None:
        f = fraction_at(now_ns, self.start_ns, self.end_ns)
        width = self.right - self.left
        self._played.set_sx(max(1e-4, f * width))
        self._now.set_pos(self.left + f * width, 0, 0)
        text = status_line(now_ns, self.start_ns, self.end_ns, speed=speed,  # type: ignore[arg-type]
                           paused=paused, behind=behind)
        if text != self.text:
            self.text = text
            self._status.node().set_text(text)

    def time_at_x(self, x_aspect2d: float) -> int | None:
        """The instant under aspect2d x, or None when x is off the bar."""
        if not self.left - 0.02 <= x_aspect2d <= self.right + 0.02:
            return None
        return time_at((x_aspect2d - self.left) / (self.right - self.left), self.start_ns,
                       self.end_ns)

    def hit(self, y_aspect2d: float) -> bool:
        """Whether aspect2d y is on the bar (with a finger's margin)."""
        return BAR_BOTTOM - 0.03 <= y_aspect2d <= BAR_BOTTOM + BAR_HEIGHT + 0.03

    def screen_rect(self, size: tuple[int, int]) -> list[float]:
        """[x, y, w, h] of the bar in pixels, origin top-left (hud conventions)."""
        w, h = size
        x0 = (self.left / self.aspect + 1) / 2 * w
        x1 = (self.right / self.aspect + 1) / 2 * w
        y_top = (1 - (BAR_BOTTOM + BAR_HEIGHT)) / 2 * h
        y_bottom = (1 - BAR_BOTTOM) / 2 * h
        return [round(x0, 1), round(y_top, 1), round(x1 - x0, 1), round(y_bottom - y_top, 1)]

    def reserved(self) -> tuple[float, float, float, float]:
        """The timeline's area (aspect2d left, right, bottom, top): badges keep clear of it."""
        return (-self.aspect, self.aspect, -1.0, BAR_BOTTOM + BAR_HEIGHT + 0.07)

    def destroy(self) -> None:
        self.root.remove_node()

