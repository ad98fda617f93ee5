"""The overview mini-map (bottom-left corner): the site from above, every asset a dot (grey when
normal; larger and orange when its data is not Good, so colour is not the only cue), the
selected asset ringed, and a cross where the view looks. A click on it moves the view there.
A caption line above it carries short messages (the tag search)."""

from __future__ import annotations

import numpy as np
from panda3d.core import CardMaker, LineSegs, NodePath, SamplerState, TextNode, Texture

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
DOTS_TEX = 256
"""Texels across the dots texture (the map is ~150 px across at 720p)."""
DOT_HALF_TEXELS = 2
ALERT_HALF_TEXELS = 3
"""A dot is (2 * half + 1) texels square: about 3 and 5 px at 720p."""
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
        self._dots_tex = Texture("minimap-dots")
        self._dots_tex.setup_2d_texture(DOTS_TEX, DOTS_TEX, Texture.T_unsigned_byte,
                                        Texture.F_rgba8)
        self._dots_tex.set_magfilter(SamplerState.FT_nearest)
        self._dots_tex.set_minfilter(SamplerState.FT_linear)
        cm = CardMaker("minimap-dots")
        cm.set_frame(*self.rect)
        self._dots = self.root.attach_new_node(cm.generate())
        self._dots.set_texture(self._dots_tex)
        self._dots.set_transparency(True)
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

    def _paint(self, alert: np.ndarray) -> None:
        """Every asset as a square dot (bigger and orange when not Good) in the dots texture."""
        img = np.zeros((DOTS_TEX, DOTS_TEX, 4), dtype=np.uint8)
        left, _right, bottom, _top = self.rect
        texel = SIZE / DOTS_TEX
        col = ((self._xy[:, 0] - left) / texel).astype(np.int64)
        row = ((self._xy[:, 1] - bottom) / texel).astype(np.int64)
        row = np.clip(row, 0, DOTS_TEX - 1)
        col = np.clip(col, 0, DOTS_TEX - 1)
        for mask, half, rgba in ((~alert, DOT_HALF_TEXELS, DOT_RGBA),
                                 (alert, ALERT_HALF_TEXELS, ALERT_RGBA)):
            centres = np.zeros((DOTS_TEX + 2 * half, DOTS_TEX + 2 * half), dtype=bool)
            centres[row[mask] + half, col[mask] + half] = True
            square = np.zeros((DOTS_TEX, DOTS_TEX), dtype=bool)
            for dy in range(2 * half + 1):  # grow each centre into a square: 25-49 shifts
                for dx in range(2 * half + 1):
                    square |= centres[dy:dy + DOTS_TEX, dx:dx + DOTS_TEX]
            img[square] = np.array([rgba[2], rgba[1], rgba[0], rgba[3]]) * 255
        self._dots_tex.set_ram_image(img.tobytes())

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
            alert = np.zeros(len(self._xy), dtype=bool)
            alert[list(bad)] = True
            # Painted into one texture from arrays: a plant of 10,000 assets as line segments
            # took a third of a second to build and ~20 ms a frame to draw in software.
            self._paint(alert)
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

