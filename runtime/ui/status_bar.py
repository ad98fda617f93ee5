"""The status bar along the top of the screen and the bus banner under it (hmi.md regions).

Drawn in ``aspect2d`` (it renders offscreen too); each reports its rectangle so badges keep
clear of it and ``--hud-json`` can list it.
"""

from __future__ import annotations

from panda3d.core import NodePath, TextNode

from runtime.ui.cards import card

BAR_HEIGHT = 0.06
TEXT_SCALE = 0.033
BAR_RGBA = (0.12, 0.13, 0.14, 0.92)
BANNER_RGBA = (0.85, 0.45, 0.05, 0.95)
"""Abnormal state: saturated orange, with a ``!`` and words (never colour alone)."""
BANNER_HEIGHT = 0.07

Rect = tuple[float, float, float, float]


class StatusBar:
    """The bar and the banner; :meth:`show` with the texts of this frame."""

    def __init__(self, aspect2d: NodePath, aspect: float) -> None:
        self.aspect = aspect
        self.root = aspect2d.attach_new_node("status-bar")
        self.root.set_bin("fixed", 45)
        self.rect: Rect = (-aspect, aspect, 1.0 - BAR_HEIGHT, 1.0)
        card(self.root, "status-bg", self.rect, BAR_RGBA)
        self._text = self._line("status-text", TextNode.A_left, -aspect + 0.03,
                                1.0 - BAR_HEIGHT + 0.019)
        self.banner_rect: Rect = (-aspect * 0.6, aspect * 0.6, 1.0 - BAR_HEIGHT - BANNER_HEIGHT,
                                  1.0 - BAR_HEIGHT)
        self._banner = self.root.attach_new_node("banner")
        card(self._banner, "banner-bg", self.banner_rect, BANNER_RGBA)
        self._banner_text = self._line("banner-text", TextNode.A_center, 0.0,
                                       self.banner_rect[2] + 0.022, parent=self._banner)
        self._banner.hide()
        self.text = ""
        self.banner = ""

    def _line(self, name: str, align: int, x: float, y: float,
              parent: NodePath | None = None) -> NodePath:
        tn = TextNode(name)
        tn.set_align(align)
        tn.set_text_color(1, 1, 1, 1)
        node = (parent or self.root).attach_new_node(tn)
        node.set_scale(TEXT_SCALE)
        node.set_pos(x, 0, y)
        return node

    def show(self, text: str, banner: str) -> None:
        if text != self.text:
            self.text = text
            self._text.node().set_text(text)
        if banner != self.banner:
            self.banner = banner
            if banner:
                self._banner_text.node().set_text(f"!  {banner}")
                self._banner.show()
            else:
                self._banner.hide()

    def reserved(self) -> Rect:
        """The area badges must keep clear of (the bar, and the banner while shown)."""
        left, right, _bottom, top = self.rect
        bottom = self.banner_rect[2] if self.banner else self.rect[2]
        return (left, right, bottom, top)
