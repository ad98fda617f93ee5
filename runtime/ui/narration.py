"""The narration card of a tour stop (bottom of the screen, right of the mini-map): a title, a
short text, and one line of live values per asset of the stop, each with its name in words.

Sizes are in aspect2d units, which follow the window's height, so the card keeps its share of
the screen at any resolution; ``scale`` enlarges it further for a wall seen from afar
(layouts). :func:`value_lines` is plain text from the world, tested without Panda3D.
"""

from __future__ import annotations

import numpy as np
from panda3d.core import CardMaker, NodePath, TextNode

from runtime.ui.badge_text import badge_text, motor_of
from runtime.world import World

Rect = tuple[float, float, float, float]
TITLE_SCALE = 0.05
BODY_SCALE = 0.036
WIDTH = 1.35
"""Card width (aspect2d units): about 60 characters of body text a line."""
BOTTOM = -0.96
PAD = 0.03
BG_RGBA = (0.10, 0.11, 0.12, 0.88)
TITLE_RGBA = (1.0, 1.0, 1.0, 1.0)
BODY_RGBA = (0.86, 0.88, 0.90, 1.0)
VALUE_RGBA = (0.70, 0.85, 1.0, 1.0)


def value_lines(world: World, assets: tuple[str, ...], cols_of: dict[int, list[int]],
                now_ns: int, estimate: np.ndarray | None, *, bus_lost: bool = False
                ) -> list[str]:
    """``T-101 Raw water tank: 3.50 m  58 %`` per asset (``no live value`` when it has none)."""
    out = []
    for eid in assets:
        row = world.entity_row.get(eid)
        if row is None:
            continue
        entity = world.scene.entities[row]
        text = badge_text(world, row, cols_of.get(row, []), now_ns, estimate,  # type: ignore[arg-type]
                          motor_of(world, row), bus_lost=bus_lost)
        out.append(f"{eid} {entity.name}: {text.near if text is not None else 'no live value'}")
    return out


class NarrationCard:
    """Title, text and live values; hidden until a stop is shown."""

    def __init__(self, aspect2d: NodePath, aspect: float, *, left: float | None = None,
                 scale: float = 1.0) -> None:
        self.aspect = aspect
        self.scale = scale
        self.left = (-aspect + 0.5) if left is None else left
        self.root = aspect2d.attach_new_node("narration")
        self.root.set_bin("fixed", 55)
        # One unit card, moved and scaled to the text (a new card per refresh grew the
        # process by tens of MiB an hour in the kiosk's attract loop).
        cm = CardMaker("narration-bg")
        cm.set_frame(0.0, 1.0, 0.0, 1.0)
        self._bg = self.root.attach_new_node(cm.generate())
        self._bg.set_color(*BG_RGBA)
        self._bg.set_transparency(True)
        self._bg.set_bin("fixed", 54)
        self._title = self._text("narration-title", TITLE_RGBA)
        self._body = self._text("narration-body", BODY_RGBA)
        self._values = self._text("narration-values", VALUE_RGBA)
        self.rect: Rect = (self.left, self.left, BOTTOM, BOTTOM)
        self.title = ""
        self.body = ""
        self.values: list[str] = []
        self.visible = False
        self.root.hide()

    def _text(self, name: str, rgba: tuple[float, ...]) -> NodePath:
        tn = TextNode(name)
        tn.set_align(TextNode.A_left)
        tn.set_text_color(*rgba)
        return self.root.attach_new_node(tn)

    def show(self, title: str, body: str, values: list[str]) -> None:
        """Lay the card out for this text (only when something changed)."""
        if self.visible and (title, body, values) == (self.title, self.body, self.values):
            return
        self.title, self.body, self.values = title, body, list(values)
        k = self.scale
        width = WIDTH * k
        x = self.left + PAD * k
        blocks = [(self._values, "\n".join(values), BODY_SCALE * k),
                  (self._body, body, BODY_SCALE * k),
                  (self._title, title, TITLE_SCALE * k)]
        y = BOTTOM + PAD * k
        for node, text, size in blocks:  # stacked bottom-up so the card grows upwards
            tn = node.node()
            wrap = (width - 2 * PAD * k) / size
            if tn.get_wordwrap() != wrap:
                tn.set_wordwrap(wrap)
            if tn.get_text() != text:
                tn.set_text(text)
            node.set_scale(size)
            if not text:
                node.hide()
                continue
            node.show()
            _l, _r, bottom, top = tn.get_frame_actual()
            node.set_pos(x, 0, y - bottom * size)
            y += (top - bottom) * size + 0.02 * k
        self.rect = (self.left, self.left + width, BOTTOM, y + PAD * k)
        left, right, bottom, top = self.rect
        self._bg.set_pos(left, 0, bottom)
        self._bg.set_scale(right - left, 1.0, top - bottom)
        self.visible = True
        self.root.show()

    def hide(self) -> None:
        self.visible = False
        self.root.hide()

    def reserved(self) -> Rect | None:
        """Where badges must keep clear (None while hidden)."""
        return self.rect if self.visible else None
