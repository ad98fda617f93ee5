"""Name labels: one TextNode card per asset, drawn in 2D at the asset's projected anchor.

Labels live on the 2D overlay rather than in the 3D scene so they keep a constant, readable
size at any zoom, are never tonemapped or lit, and never hide behind equipment. Each frame
(phase HUD) the anchors are projected with the camera lens and overlapping cards are nudged up.
The second text line is free for status: the live twin writes quality and age there.

Large scenes: anchors are projected in one numpy product, overlap is found through a grid of
screen cells (not by scanning every card placed before), at most :data:`MAX_SHOWN` cards (the
nearest) are placed, and a card nudged above the top of the screen, or over more than
:data:`MAX_NUDGES` others, is hidden. Each card's text is laid out (and its size measured) only
when it is first shown, and the layout is redone only when the camera, the lens or a text has
changed, so a still camera over 5,000 labels costs one matrix comparison a frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from panda3d.core import NodePath, Point2, Point3, TextNode

TEXT_SCALE = 0.036
"""Height of one text line in aspect2d units (the window is 2 units tall): ~13 px at 720p."""
CARD_RGBA = (0.08, 0.10, 0.13, 0.85)
TEXT_RGBA = (1.0, 1.0, 1.0, 1.0)
STATUS_RGBA = (1.0, 0.82, 0.25, 1.0)
MAX_SHOWN = 400
"""Cards placed per frame, nearest first; the rest are hidden (they could not be read anyway)."""
MAX_NUDGES = 8
"""A card that would have to climb over more cards than this is hidden: it stands in a crowd."""
NUDGE_GAP = 0.004
"""Vertical gap left between a nudged card and the card it cleared, aspect2d units."""
CELL_X = 0.25
CELL_Y = 0.1
"""Size of the screen cells the overlap search files placed cards under, aspect2d units."""


@dataclass(slots=True)
class Label:
    entity_id: str
    anchor_m: Point3
    """World point the label stands on (top of the asset)."""
    text: TextNode
    node: NodePath
    title: str
    status: str = ""
    card: tuple[float, float, float, float] | None = None
    """The text's card (left, right, bottom, top) in text units; None until next measured."""
    shown: bool = True
    """Whether :attr:`node` is shown (kept here so a frame touches only cards that change)."""
    stale: bool = False
    """The status changed while the card was hidden; its text is set when it is next needed."""

    def card_actual(self) -> tuple[float, float, float, float]:
        """The card's (left, right, bottom, top) in text units, measured once per text."""
        if self.stale:
            self.apply_text()
        if self.card is None:
            left, right, bottom, top = self.text.get_card_actual()
            self.card = (left, right, bottom, top)
        return self.card

    def apply_text(self) -> None:
        self.text.set_text(self.title if not self.status else f"{self.title}\n{self.status}")
        self.card = None
        self.stale = False


class LabelLayer:
    """All asset labels of a view; :meth:`update` places them for the current camera."""

    def __init__(self, overlay: NodePath, camera: NodePath, lens_node: NodePath,
                 aspect_ratio: float) -> None:
        self._root = overlay.attach_new_node("labels")
        self._camera = camera
        self._lens_node = lens_node
        self._aspect = aspect_ratio
        self.labels: list[Label] = []
        self.by_id: dict[str, Label] = {}
        self._anchors = np.zeros((0, 4), dtype=np.float64)
        """(n, 4) homogeneous anchor points in the scene root's frame, rebuilt after adds."""
        self._version = 0
        """Bumped by every add and text change: the layout must be redone."""
        self._laid_out: tuple[int, float, np.ndarray, np.ndarray] | None = None
        """(version, aspect, scene-to-camera matrix, projection matrix) of the last layout."""

    def add(self, entity_id: str, title: str, anchor_m: tuple[float, float, float]) -> Label:
        tn = TextNode(f"label-{entity_id}")
        tn.set_text(title)
        tn.set_align(TextNode.A_center)
        tn.set_text_color(TEXT_RGBA)
        tn.set_card_color(CARD_RGBA)
        tn.set_card_as_margin(0.35, 0.35, 0.2, 0.15)
        tn.set_card_decal(True)
        np_ = self._root.attach_new_node(tn)
        np_.set_scale(TEXT_SCALE)
        label = Label(entity_id, Point3(*anchor_m), tn, np_, title)
        self.labels.append(label)
        self.by_id[entity_id] = label
        self._version += 1
        return label

    def set_status(self, entity_id: str, status: str) -> None:
        """Second line under the title (quality and age cues); empty string removes it."""
        label = self.by_id[entity_id]
        if status == label.status:
            return
        label.status = status
        if label.shown:
            label.apply_text()
        else:
            # A hidden card's text is set only when it is placed again: a TextNode whose text
            # changes is laid out again at the next frame even when hidden (its bounds count
            # in its parent's), and a live plant of 10,000 assets changes thousands of ages a
            # second (over a second of software rendering per frame).
            label.stale = True
            label.card = None
        self._version += 1

    def _project(self, to_cam: np.ndarray, projection: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(depth along the view, whether on screen) of every anchor.

        Same arithmetic as ``camera.get_relative_point`` then ``lens.project``, for all anchors
        in two matrix products (float64: it picks and orders the cards, it does not place them).
        """
        n = len(self.labels)
        if self._anchors.shape[0] != n:
            self._anchors = np.array([(*lb.anchor_m, 1.0) for lb in self.labels],
                                     dtype=np.float64).reshape(n, 4)
        p_cam = self._anchors @ to_cam
        full = p_cam @ projection
        with np.errstate(divide="ignore", invalid="ignore"):
            x = full[:, 0] / full[:, 3]
            y = full[:, 1] / full[:, 3]
        ok = ((p_cam[:, 1] > 0) & (full[:, 3] > 0) & (x >= -1.0) & (x <= 1.0)
              & (y >= -1.0) & (y <= 1.0))
        return p_cam[:, 1], ok

    def update(self, scene_root: NodePath, aspect_ratio: float | None = None) -> None:
        """Project every anchor and place its card; hide those behind the camera."""
        if aspect_ratio is not None:
            self._aspect = aspect_ratio
        if not self.labels:
            return
        to_cam = np.array(scene_root.get_mat(self._camera), dtype=np.float64)
        lens = self._lens_node.node().get_lens()
        projection = np.array(lens.get_projection_mat(), dtype=np.float64)
        last = self._laid_out
        if (last is not None and last[0] == self._version and last[1] == self._aspect
                and np.array_equal(last[2], to_cam) and np.array_equal(last[3], projection)):
            return  # nothing moved and no text changed: the cards stand where they are
        self._laid_out = (self._version, self._aspect, to_cam, projection)
        depth, on_screen = self._project(to_cam, projection)
        visible = np.flatnonzero(on_screen)
        order = visible[np.argsort(depth[visible], kind="stable")]  # nearest first keeps its place
        placed: list[tuple[float, float, float, float]] = []
        cells: dict[tuple[int, int], list[int]] = {}
        show = np.zeros(len(self.labels), dtype=bool)
        top_of_screen = 1.0
        for i in order[:MAX_SHOWN].tolist():
            label = self.labels[i]
            # Panda's own float32 projection for the cards placed: the same pixels as always.
            p_cam = self._camera.get_relative_point(scene_root, label.anchor_m)
            p2 = Point2()
            if p_cam.y <= 0 or not lens.project(p_cam, p2):
                continue
            x = p2.x * self._aspect
            left, right, bottom, top = label.card_actual()
            w = (right - left) * TEXT_SCALE
            h = (top - bottom) * TEXT_SCALE
            yb = p2.y  # the card's bottom edge sits on the anchor
            free = False
            for _ in range(MAX_NUDGES + 1):
                clash = _first_clash(placed, cells, x, w, yb, h)
                if clash is None:
                    free = True
                    break
                yb = placed[clash][1] + placed[clash][3] + NUDGE_GAP
                if yb > top_of_screen:
                    break
            if not free:
                continue  # in a crowd, or nudged off the top: nothing to read
            show[i] = True
            if not label.shown:
                label.node.show()
                label.shown = True
            label.node.set_pos(x, 0, yb - bottom * TEXT_SCALE)
            index = len(placed)
            placed.append((x, yb, w, h))
            for cell in _cells(x - w / 2, x + w / 2, yb, yb + h):
                cells.setdefault(cell, []).append(index)
        for label, on in zip(self.labels, show.tolist(), strict=True):
            if label.shown and not on:
                label.node.hide()
                label.shown = False

    def screen_rects(self) -> dict[str, tuple[float, float, float, float]]:
        """Entity id -> card (left, right, bottom, top) in aspect2d units, for visible labels.

        Tests use it to find label pixels; a HUD can use it for picking.
        """
        out = {}
        for label in self.labels:
            if not label.shown:
                continue
            left, right, bottom, top = label.card_actual()
            pos = label.node.get_pos()
            out[label.entity_id] = (pos.x + left * TEXT_SCALE, pos.x + right * TEXT_SCALE,
                                    pos.z + bottom * TEXT_SCALE, pos.z + top * TEXT_SCALE)
        return out


def _cells(x0: float, x1: float, y0: float, y1: float) -> list[tuple[int, int]]:
    """The grid cells a box touches."""
    i0, i1 = math.floor(x0 / CELL_X), math.floor(x1 / CELL_X)
    j0, j1 = math.floor(y0 / CELL_Y), math.floor(y1 / CELL_Y)
    return [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]


def _first_clash(placed: list[tuple[float, float, float, float]],
                 cells: dict[tuple[int, int], list[int]], x: float, w: float, yb: float,
                 h: float) -> int | None:
    """Index of the earliest placed card that a (w x h) card at (x, yb) would overlap."""
    best: int | None = None
    for cell in _cells(x - w / 2, x + w / 2, yb, yb + h):
        for k in cells.get(cell, ()):
            if best is not None and k >= best:
                continue
            rx, ry, rw, rh = placed[k]
            if abs(rx - x) < (rw + w) / 2 and yb < ry + rh and ry < yb + h:
                best = k
    return best
