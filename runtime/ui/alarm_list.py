"""The alarm list panel (toggled): active and shelved alarms sorted by priority then time, one
page at a time so a flood never drowns the screen, a filter, and a selected row to acknowledge
or fly to. Rows carry the priority's marker shape and number, never colour alone."""

from __future__ import annotations

from panda3d.core import NodePath, TextNode

from runtime.alarms.board import AlarmView
from runtime.render.inspector import mono_font
from runtime.ui.cards import UNIT, card
from runtime.ui.priority_marker import PRIORITY_RGBA, priority_marker

PAGE_SIZE = 8
ROW_H = 0.052
TEXT_SCALE = 0.025
WIDTH = 1.62
BG_RGBA = (0.05, 0.07, 0.09, 0.93)
SELECT_RGBA = (0.30, 0.34, 0.40, 0.95)
BOTTOM = -0.86
"""Above the timeline's band, like the mini-map."""

Rect = tuple[float, float, float, float]


class AlarmListPanel:
    """:meth:`show` a page of rows; :meth:`row_at` maps a click to a row index."""

    def __init__(self, aspect2d: NodePath, aspect: float, loader: object | None = None) -> None:
        self.aspect = aspect
        self.root = aspect2d.attach_new_node("alarm-list")
        self.root.set_bin("fixed", 47)
        self.height = ROW_H * (PAGE_SIZE + 2.4)
        self.right = aspect - 0.02
        self.rect: Rect = (self.right - WIDTH, self.right, BOTTOM, BOTTOM + self.height)
        self._bg = card(self.root, "alarm-list-bg", UNIT, BG_RGBA)
        self._sel = card(self.root, "alarm-list-sel", UNIT, SELECT_RGBA)
        self._sel.hide()
        font = mono_font(loader)
        self._title = self._text("alarm-list-title", font)
        self._footer = self._text("alarm-list-footer", font)
        self._rows = [self._text(f"alarm-row-{i}", font) for i in range(PAGE_SIZE)]
        self._markers: list[dict[str, NodePath]] = []
        for _ in range(PAGE_SIZE):
            markers = {p: priority_marker(self.root, p, 0.036) for p in PRIORITY_RGBA}
            for m in markers.values():
                m.hide()
            self._markers.append(markers)
        self.lines: list[str] = []
        self.visible = False
        self.root.hide()
        self.place(self.right)

    def _text(self, name: str, font: object | None) -> NodePath:
        tn = TextNode(name)
        if font is not None:
            tn.set_font(font)
        tn.set_text_color(0.92, 0.93, 0.95, 1)
        node = self.root.attach_new_node(tn)
        node.set_scale(TEXT_SCALE)
        return node

    def place(self, right: float) -> None:
        """Keep the panel's right edge at ``right`` (left of the faceplate when it is open)."""
        self.right = right
        left = right - WIDTH
        self.rect = (left, right, BOTTOM, BOTTOM + self.height)
        self._bg.set_pos(left, 0, BOTTOM)
        self._bg.set_scale(WIDTH, 1, self.height)
        top = BOTTOM + self.height
        self._title.set_pos(left + 0.03, 0, top - ROW_H * 0.8)
        for i, row in enumerate(self._rows):
            y = top - ROW_H * (i + 1.9)
            row.set_pos(left + 0.085, 0, y)
            for m in self._markers[i].values():
                m.set_pos(left + 0.045, 0, y + 0.009)
        self._footer.set_pos(left + 0.03, 0, BOTTOM + ROW_H * 0.35)

    def show(self, title: str, rows: list[AlarmView], texts: list[str], footer: str,
             selected: int | None, blink_on: bool) -> None:
        self._title.node().set_text(title)
        self._footer.node().set_text(footer)
        for i in range(PAGE_SIZE):
            alarm = rows[i] if i < len(rows) else None
            self._rows[i].node().set_text(texts[i] if i < len(texts) else "")
            for p, m in self._markers[i].items():
                if alarm is not None and p == alarm.priority:
                    m.show()
                    m.set_transparency(True)
                    m.set_alpha_scale(1.0 if blink_on or not alarm.unacked else 0.4)
                else:
                    m.hide()
        if selected is not None and 0 <= selected < len(rows):
            top = BOTTOM + self.height
            y = top - ROW_H * (selected + 1.9)
            self._sel.set_pos(self.rect[0] + 0.01, 0, y - ROW_H * 0.3)
            self._sel.set_scale(WIDTH - 0.02, 1, ROW_H)
            self._sel.show()
        else:
            self._sel.hide()
        self.lines = [title, *texts, footer]
        if not self.visible:
            self.visible = True
            self.root.show()

    def hide(self) -> None:
        if self.visible:
            self.visible = False
            self.root.hide()

    def row_at(self, x: float, y: float) -> int | None:
        """The row index under an aspect2d point, or None (outside the rows)."""
        left, right, bottom, top = self.rect
        if not (self.visible and left <= x <= right and bottom <= y <= top):
            return None
        index = int((top - ROW_H * 1.6 - y) // ROW_H)
        return index if 0 <= index < PAGE_SIZE else None

    def contains(self, x: float, y: float) -> bool:
        left, right, bottom, top = self.rect
        return self.visible and left <= x <= right and bottom <= y <= top

    def reserved(self) -> Rect | None:
        return self.rect if self.visible else None


__all__ = ["PAGE_SIZE", "AlarmListPanel"]
