"""The overview mini-map (bottom-left corner): the site from above, every asset a dot (grey when
normal; larger and orange when its data is not Good, so colour is not the only cue), the
selected asset ringed, and a cross where the view looks. A click on it moves the view there.
A caption line above it carries short messages (the tag search)."""

from __future__ import annotations

import numpy as np
from panda3d.core import CardMaker, LineSegs, NodePath, TextNode

from runtime.quality import Quality
from runtime.world import World

SIZE = 0.42
"""Side of the map, aspect2d units."""
BOTTOM = -0.76
"""Its bottom edge: above the replay timeline's band."""
BG_RGBA = (0.10, 0.11, 0.12, 0.80)
DOT_RGBA = (0.75, 0.77, 0.80, 1.0)
ALERT_RGBA = (1.0, 0.55, 0.15, 1.0)
TEXT_SCALE = 0.032
DOTS_EVERY_FRAMES = 30
"""The dots (colour by quality) are redrawn at most this often; the cross every frame."""

Rect = tuple[float, float, float, float]


class MiniMap:
    def __init__(self, aspect2d: NodePath, aspect: float, world: World) -> None:
        self.left = -aspect + 0.03
        self.rect: Rect = (self.left, self.left + SIZE, BOTTOM, BOTTOM + SIZE)
        self.root = aspect2d.attach_new_node("minimap")
        self.root.set_bin("fixed", 40)
        cm = CardMaker("minimap-bg")
        cm.set_frame(*self.rect)
        bg = self.root.attach_new_node(cm.generate())
        bg.set_color(*BG_RGBA)
        bg.set_transparency(True)
        xy = world.entities.position_m[:, :2]
        lo, hi = xy.min(axis=0) - 5.0, xy.max(axis=0) + 5.0
        span = float(max(hi[0] - lo[0], hi[1] - lo[1], 1.0))
        self._lo = lo
        self._span = span
        self._inner = SIZE - 0.04
        self._xy = np.array([self._to_map(float(x), float(y)) for x, y in xy]) if len(xy) else \
            np.zeros((0, 2))
        self._dots = self.root.attach_new_node("dots")
        self._marks = self.root.attach_new_node("marks")
        self._shown: tuple | None = None
        self._frames = 0
        tn = TextNode("minimap-caption")
        tn.set_text_color(1, 1, 1, 1)
        tn.set_card_color(0.1, 0.11, 0.12, 0.9)
        tn.set_card_as_margin(0.3, 0.3, 0.2, 0.2)
        self._caption = self.root.attach_new_node(tn)
        self._caption.set_scale(TEXT_SCALE)
        self._caption.set_pos(self.left, 0, BOTTOM + SIZE + 0.025)
        self.caption = ""

    def _to_map(self, x: float, y: float) -> tuple[float, float]:
        s = self._inner / self._span
        return (self.left + 0.02 + (x - self._lo[0]) * s, BOTTOM + 0.02 + (y - self._lo[1]) * s)

    def ground_at(self, x: float, y: float) -> tuple[float, float] | None:
        """The site point (metres) under aspect2d (x, y), or None off the map."""
        left, right, bottom, top = self.rect
        if not (left <= x <= right and bottom <= y <= top):
            return None
        s = self._span / self._inner
        return (float(self._lo[0] + (x - left - 0.02) * s),
                float(self._lo[1] + (y - bottom - 0.02) * s))

    def hit(self, x_ndc: float, y_ndc: float) -> bool:
        """Whether a normalised screen point (-1..1) is on the map (its click is not a pick)."""
        aspect = -self.left + 0.03
        return self.ground_at(x_ndc * aspect, y_ndc) is not None

    def reserved(self) -> Rect:
        left, right, bottom, top = self.rect
        return (left, right, bottom, top + (0.06 if self.caption else 0.0))

    def set_caption(self, text: str) -> None:
        if text != self.caption:
            self.caption = text
            self._caption.node().set_text(text)

    def update(self, target: object, selected_row: int | None, quality: np.ndarray) -> None:
        """Redraw the dots when qualities or the selection change; the cross every frame."""
        self._frames += 1
        bad = tuple(np.flatnonzero(quality != Quality.GOOD).tolist()) \
            if self._frames % DOTS_EVERY_FRAMES == 0 or self._shown is None else None
        key = (bad, selected_row)
        if bad is not None and key != self._shown:
            self._shown = key
            self._dots.remove_node()
            segs = LineSegs("minimap-dots")
            bad_set = set(bad)
            for i, (mx, my) in enumerate(self._xy.tolist()):
                alert = i in bad_set
                segs.set_thickness(9.0 if alert else 5.0)
                segs.set_color(*(ALERT_RGBA if alert else DOT_RGBA))
                segs.move_to(mx, 0, my)
                segs.draw_to(mx + 0.002, 0, my)
            self._dots = self.root.attach_new_node(segs.create())
        self._marks.remove_node()
        segs = LineSegs("minimap-marks")
        segs.set_thickness(1.5)
        segs.set_color(1, 1, 1, 1)
        tx, ty = self._to_map(float(target.x), float(target.y))  # type: ignore[attr-defined]
        segs.move_to(tx - 0.015, 0, ty)
        segs.draw_to(tx + 0.015, 0, ty)
        segs.move_to(tx, 0, ty - 0.015)
        segs.draw_to(tx, 0, ty + 0.015)
        if selected_row is not None and 0 <= selected_row < len(self._xy):
            sx, sy = self._xy[selected_row].tolist()
            r = 0.012
            segs.move_to(sx - r, 0, sy - r)
            for px, py in ((sx + r, sy - r), (sx + r, sy + r), (sx - r, sy + r), (sx - r, sy - r)):
                segs.draw_to(px, 0, py)
        self._marks = self.root.attach_new_node(segs.create())
