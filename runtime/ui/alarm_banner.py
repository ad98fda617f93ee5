"""The alarm banner under the status bar (hmi.md regions): the most important unacknowledged
alarm with its priority marker (blinking while unacknowledged) and the counts per priority.
Shown only while alarms exist; a flood changes the counts, never the banner's size."""

from __future__ import annotations

from panda3d.core import NodePath, TextNode

from runtime.alarms.board import AlarmView
from runtime.ui.cards import UNIT, card
from runtime.ui.priority_marker import PRIORITY_RGBA, priority_marker

HEIGHT = 0.085
TEXT_SCALE = 0.032
BG_RGBA = (0.10, 0.11, 0.12, 0.95)
CALM_RGBA = (0.35, 0.37, 0.40, 1.0)

Rect = tuple[float, float, float, float]


class AlarmBanner:
    """:meth:`place` under the status bar, then :meth:`show` each refresh."""

    def __init__(self, aspect2d: NodePath, aspect: float) -> None:
        self.aspect = aspect
        self.root = aspect2d.attach_new_node("alarm-banner")
        self.root.set_bin("fixed", 46)
        self.rect: Rect = (-aspect, aspect, 1.0 - HEIGHT, 1.0)
        self._bg = card(self.root, "alarm-banner-bg", UNIT, BG_RGBA)
        self._band = card(self.root, "alarm-banner-band", UNIT, CALM_RGBA)
        self._line = self._text("alarm-banner-text", TextNode.A_left)
        self._counts = self._text("alarm-banner-counts", TextNode.A_right)
        self._markers: dict[str, NodePath] = {
            p: priority_marker(self.root, p, 0.055) for p in PRIORITY_RGBA}
        for m in self._markers.values():
            m.hide()
        self.text = ""
        self.counts = ""
        self.priority = ""
        self.visible = False
        self.root.hide()

    def _text(self, name: str, align: int) -> NodePath:
        tn = TextNode(name)
        tn.set_align(align)
        tn.set_text_color(1, 1, 1, 1)
        node = self.root.attach_new_node(tn)
        node.set_scale(TEXT_SCALE)
        return node

    def place(self, top: float) -> None:
        """Put the banner's top edge at ``top`` (aspect2d), full width."""
        a = self.aspect
        self.rect = (-a, a, top - HEIGHT, top)
        left, right, bottom, _ = self.rect
        self._bg.set_pos(left, 0, bottom)
        self._bg.set_scale(right - left, 1, HEIGHT)
        self._band.set_pos(left, 0, bottom)
        self._band.set_scale(0.018, 1, HEIGHT)
        mid = bottom + HEIGHT / 2
        for m in self._markers.values():
            m.set_pos(left + 0.065, 0, mid)
        self._line.set_pos(left + 0.115, 0, mid - 0.011)
        self._counts.set_pos(right - 0.03, 0, mid - 0.011)

    def show(self, alarm: AlarmView | None, line: str, counts: str, blink_on: bool) -> None:
        """Show the banner (``alarm`` None: calm words, grey band, no marker)."""
        if line != self.text:
            self.text = line
            self._line.node().set_text(line)
        if counts != self.counts:
            self.counts = counts
            self._counts.node().set_text(counts)
        priority = alarm.priority if alarm is not None else ""
        if priority != self.priority:
            for p, m in self._markers.items():
                m.show() if p == priority else m.hide()
            self.priority = priority
        self._band.set_color(*(PRIORITY_RGBA.get(priority, CALM_RGBA)))
        marker = self._markers.get(priority)
        if marker is not None:
            marker.set_alpha_scale(1.0 if (blink_on or not alarm.unacked) else 0.4)
            marker.set_transparency(True)
        if not self.visible:
            self.visible = True
            self.root.show()

    def hide(self) -> None:
        if self.visible:
            self.visible = False
            self.root.hide()

    def contains(self, x: float, y: float) -> bool:
        left, right, bottom, top = self.rect
        return self.visible and left <= x <= right and bottom <= y <= top

    def reserved(self) -> Rect | None:
        return self.rect if self.visible else None


__all__ = ["AlarmBanner"]
