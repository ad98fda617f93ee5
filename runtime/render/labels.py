"""Value badges: one TextNode card per asset, drawn in 2D at the asset's projected anchor.

Badges live on the 2D overlay rather than in the 3D scene so they keep a constant, readable
size at any zoom, are never tonemapped or lit, and never hide behind equipment. Each frame
(phase HUD) the anchors are projected with the camera lens; a card stands a little above its
asset with a leader line down to it, and overlapping cards are nudged up (the leader follows).
A card shows the tag and name, then the asset's key values (the live twin writes them with
:meth:`LabelLayer.set_values`), then a status line (quality words and age). Far from the
camera a card declutters to the tag and its most important value. Panels (inspector,
status bar, timeline) reserve their screen rectangles: no card is placed over them.

Large scenes: anchors are projected in one numpy product, overlap is found through a grid of
screen cells (not by scanning every card placed before), at most :data:`MAX_SHOWN` cards (the
nearest) are placed, and a card nudged above the top of the screen, or over more than
:data:`MAX_NUDGES` others, is hidden. Each card's text is laid out (and its size measured) only
when it is first shown, and the layout is redone only when the camera, the lens or a text has
changed, so a still camera over 5,000 labels costs one matrix comparison a frame.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from panda3d.core import CullBinManager, LineSegs, NodePath, Point2, Point3, TextNode

TEXT_SCALE = 0.036
"""Height of one text line in aspect2d units (the window is 2 units tall): ~13 px at 720p."""
CARD_RGBA = (0.08, 0.10, 0.13, 0.85)
TEXT_RGBA = (1.0, 1.0, 1.0, 1.0)
STATUS_RGBA = (1.0, 0.82, 0.25, 1.0)
MAX_SHOWN = 400
"""Cards placed per frame, nearest first; the rest are hidden (they could not be read anyway)."""
MAX_NUDGES = 12
"""A card that would have to climb over more cards than this is hidden: it stands in a crowd."""
NUDGE_GAP = 0.004
"""Vertical gap left between a nudged card and the card it cleared, aspect2d units."""
CELL_X = 0.25
CELL_Y = 0.1
"""Size of the screen cells the overlap search files placed cards under, aspect2d units."""
LIFT = 0.035
"""A card stands this far above its anchor (aspect2d units), joined to it by a leader line,
so it does not sit on the equipment it names."""
NEAR_M = 70.0
"""Cards of assets nearer than this (metres along the view) show every key value; farther
ones only the tag and the most important value."""
GREY_RGBA = (0.72, 0.74, 0.76, 1.0)
"""Text of a badge whose values are not Good: greyed, and marked ``?``/``!`` in the text."""
LEADER_RGBA = (0.9, 0.92, 0.95, 0.8)
TEXT_RELAYOUT_FRAMES = 12
TEXT_RELAYOUT_S = 1.0
"""Changed badge texts (values tick every refresh) re-place the cards at most every this many
frames and seconds; a camera or panel change re-places them at once. Between layouts a card
keeps its place and shows its new text (placing 400 cards takes tens of milliseconds)."""

LABEL_BIN = "labels"
"""An unsorted cull bin between the transparent (30) and fixed (40) bins: the cards draw in
scene-graph order (leaders, then each card and its text), under the fixed-bin panels. A card
as a decal of its text costs several times more to draw in software rendering."""
LABEL_BIN_SORT = 35

Rect = tuple[float, float, float, float]
"""(left, right, bottom, top) in aspect2d units."""


@dataclass(slots=True)
class Label:
    entity_id: str
    anchor_m: Point3
    """World point the label stands on (top of the asset)."""
    text: TextNode
    node: NodePath
    title: str
    status: str = ""
    near: str = ""
    """Every key value (near the camera)."""
    far: str = ""
    """The most important value (far from the camera)."""
    grey: bool = False
    box_m: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    """The asset's extent (min and max corners, metres): cards keep off other assets."""
    level: str = "near"
    """Which form the card shows now: ``near`` or ``far``."""
    card: tuple[float, float, float, float] | None = None
    """The text's card (left, right, bottom, top) in text units; None until next measured."""
    shown: bool = True
    """Whether :attr:`node` is shown (kept here so a frame touches only cards that change)."""
    stale: bool = False
    """The status changed while the card was hidden; its text is set when it is next needed."""

    def compose(self) -> str:
        """The card's text for its current level."""
        if self.level == "far":
            lines = [self.entity_id, self.far]
        else:
            lines = [self.title, self.near]
        lines.append(self.status)
        return "\n".join(line for line in lines if line)

    def card_actual(self) -> tuple[float, float, float, float]:
        """The card's (left, right, bottom, top) in text units, measured once per text."""
        if self.stale:
            self.apply_text()
        if self.card is None:
            left, right, bottom, top = self.text.get_card_actual()
            self.card = (left, right, bottom, top)
        return self.card

    def apply_text(self) -> None:
        self.text.set_text(self.compose())
        self.card = None
        self.stale = False


class LabelLayer:
    """All asset labels of a view; :meth:`update` places them for the current camera."""

    def __init__(self, overlay: NodePath, camera: NodePath, lens_node: NodePath,
                 aspect_ratio: float) -> None:
        self._root = overlay.attach_new_node("labels")
        bins = CullBinManager.get_global_ptr()
        if bins.find_bin(LABEL_BIN) < 0:
            bins.add_bin(LABEL_BIN, CullBinManager.BT_unsorted, LABEL_BIN_SORT)
        self._root.set_bin(LABEL_BIN, 0)
        self._camera = camera
        self._lens_node = lens_node
        self._aspect = aspect_ratio
        self.labels: list[Label] = []
        self.by_id: dict[str, Label] = {}
        self._anchors = np.zeros((0, 4), dtype=np.float64)
        """(n, 4) homogeneous anchor points in the scene root's frame, rebuilt after adds."""
        self._version = 0
        """Bumped by every add and text change: the layout must be redone."""
        self._laid_out: tuple | None = None
        """(version, aspect, scene-to-camera matrix, projection matrix, reserved) of the last
        layout."""
        self.reserved: list[Callable[[], Rect | None]] = []
        """Panels' screen rectangles: no card is placed over them."""
        self.near_m = NEAR_M
        self.font = None
        """A font for the cards (set before adding them); Panda's default when None."""
        self._leaders = self._root.attach_new_node("leaders")
        self.layouts = 0
        """How many times the cards were laid out (a still camera lays out nothing)."""
        self._frames_since_layout = 0
        self._layout_at_s = 0.0
        self.text_relayout_frames = TEXT_RELAYOUT_FRAMES
        self.text_relayout_s = TEXT_RELAYOUT_S
        self.shown_mask = np.zeros(0, dtype=bool)
        """bool (labels,): whether each card is shown (same order as :attr:`labels`)."""
        self.on_show: Callable[[Label], None] | None = None
        """Called with a hidden card about to be placed again, before it is measured: render
        sync gives it the status words it did not write while the card was hidden."""

    def add(self, entity_id: str, title: str, anchor_m: tuple[float, float, float],
            box_m: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
            ) -> Label:
        tn = TextNode(f"label-{entity_id}")
        tn.set_text(title)
        tn.set_align(TextNode.A_center)
        tn.set_text_color(TEXT_RGBA)
        if self.font is not None:
            tn.set_font(self.font)
        tn.set_card_color(CARD_RGBA)
        tn.set_card_as_margin(0.35, 0.35, 0.2, 0.15)
        np_ = self._root.attach_new_node(tn)
        np_.set_scale(TEXT_SCALE)
        label = Label(entity_id, Point3(*anchor_m), tn, np_, title, box_m=box_m)
        self.labels.append(label)
        self.shown_mask = np.append(self.shown_mask, True)
        self.by_id[entity_id] = label
        self._version += 1
        return label

    def set_status(self, entity_id: str, status: str) -> None:
        """The last line (quality words and age, TRIP); empty string removes it."""
        label = self.by_id[entity_id]
        if status == label.status:
            return
        label.status = status
        self._retext(label)

    def set_values(self, entity_id: str, near: str, far: str, *, grey: bool = False) -> None:
        """The badge's key values: all of them (near) and the most important (far)."""
        label = self.by_id[entity_id]
        if (near, far, grey) == (label.near, label.far, label.grey):
            return
        label.near, label.far = near, far
        if grey != label.grey:
            label.grey = grey
            label.text.set_text_color(GREY_RGBA if grey else TEXT_RGBA)
        self._retext(label)

    def _retext(self, label: Label) -> None:
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
        reserved = tuple(r for r in (f() for f in self.reserved) if r is not None)
        last = self._laid_out
        self._frames_since_layout += 1
        if (last is not None and last[1] == self._aspect
                and np.array_equal(last[2], to_cam) and np.array_equal(last[3], projection)
                and last[4] == reserved):
            if last[0] == self._version:
                return  # nothing moved and no text changed: the cards stand where they are
            if (self._frames_since_layout < self.text_relayout_frames
                    or time.monotonic() - self._layout_at_s < self.text_relayout_s):
                return  # only texts changed: they show in place; re-place them a bit later
        self._frames_since_layout = 0
        self._layout_at_s = time.monotonic()
        depth, on_screen = self._project(to_cam, projection)
        for label, d in zip(self.labels, depth.tolist(), strict=True):
            level = "near" if d < self.near_m else "far"
            if level != label.level:
                label.level = level
                self._retext(label)
        self._laid_out = (self._version, self._aspect, to_cam, projection, reserved)
        self.layouts += 1
        visible = np.flatnonzero(on_screen)
        order = visible[np.argsort(depth[visible], kind="stable")]  # nearest first keeps its place
        placed: list[tuple[float, float, float, float]] = []
        cells: dict[tuple[int, int], list[int]] = {}
        for left, right, bottom, top in reserved:  # panels: placed first, never moved
            index = len(placed)
            placed.append(((left + right) / 2, bottom, right - left, top - bottom))
            for cell in _cells(left, right, bottom, top):
                cells.setdefault(cell, []).append(index)
        owners = [-1] * len(placed)
        for i, rect in self._equipment_rects(order[:MAX_SHOWN], to_cam, projection):
            index = len(placed)
            left, right, bottom, top = rect
            placed.append(((left + right) / 2, bottom, right - left, top - bottom))
            owners.append(i)
            for cell in _cells(left, right, bottom, top):
                cells.setdefault(cell, []).append(index)
        show = np.zeros(len(self.labels), dtype=bool)
        top_of_screen = 1.0
        leaders = LineSegs("leaders")
        leaders.set_color(*LEADER_RGBA)
        leaders.set_thickness(1.0)
        for i in order[:MAX_SHOWN].tolist():
            label = self.labels[i]
            if not label.shown and self.on_show is not None:
                self.on_show(label)
            # Panda's own float32 projection for the cards placed: the same pixels as always.
            p_cam = self._camera.get_relative_point(scene_root, label.anchor_m)
            p2 = Point2()
            if p_cam.y <= 0 or not lens.project(p_cam, p2):
                continue
            x = p2.x * self._aspect
            left, right, bottom, top = label.card_actual()
            w = (right - left) * TEXT_SCALE
            h = (top - bottom) * TEXT_SCALE
            yb = _free_spot(placed, cells, owners, i, x, w, h, p2.y, top_of_screen,
                            len(reserved))
            if yb is None:
                continue  # in a crowd, boxed in by panels: nothing to read
            leaders.move_to(x, 0, p2.y)
            leaders.draw_to(x, 0, yb if yb > p2.y else yb + h)
            show[i] = True
            if not label.shown:
                label.node.show()
                label.shown = True
                self.shown_mask[i] = True
            label.node.set_pos(x, 0, yb - bottom * TEXT_SCALE)
            index = len(placed)
            placed.append((x, yb, w, h))
            owners.append(-1)
            for cell in _cells(x - w / 2, x + w / 2, yb, yb + h):
                cells.setdefault(cell, []).append(index)
        for i in np.flatnonzero(self.shown_mask & ~show).tolist():
            label = self.labels[i]
            label.node.hide()
            label.shown = False
        self.shown_mask &= show
        self._leaders.remove_node()
        self._leaders = self._root.attach_new_node(leaders.create(), -1)  # under the cards

    def _equipment_rects(self, rows: np.ndarray, to_cam: np.ndarray, projection: np.ndarray
                         ) -> list[tuple[int, Rect]]:
        """(label index, screen rectangle) of each listed asset's box that is wholly in front
        of the camera: the cards of the others keep off it."""
        rows = [i for i in rows.tolist() if self.labels[i].box_m is not None]
        if not rows:
            return []
        boxes = np.array([self.labels[i].box_m for i in rows], dtype=np.float64)  # (n, 2, 3)
        corners = np.empty((len(rows), 8, 4))
        for k, (a, b, c) in enumerate(np.ndindex(2, 2, 2)):
            corners[:, k, 0] = boxes[:, a, 0]
            corners[:, k, 1] = boxes[:, b, 1]
            corners[:, k, 2] = boxes[:, c, 2]
        corners[:, :, 3] = 1.0
        p_cam = corners @ to_cam
        full = p_cam @ projection
        with np.errstate(divide="ignore", invalid="ignore"):
            x = full[:, :, 0] / full[:, :, 3] * self._aspect
            y = full[:, :, 1] / full[:, :, 3]
        front = (p_cam[:, :, 1] > 0).all(axis=1) & (full[:, :, 3] > 0).all(axis=1)
        return [(i, (float(x[k].min()), float(x[k].max()), float(y[k].min()), float(y[k].max())))
                for k, i in enumerate(rows) if front[k]]

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


def _free_spot(placed: list[tuple[float, float, float, float]],
               cells: dict[tuple[int, int], list[int]], owners: list[int], me: int, x: float,
               w: float, h: float, anchor_y: float, top_of_screen: float,
               panels: int) -> float | None:
    """Where a card's bottom edge can stand: above the anchor (nudged up past the cards,
    panels and other assets in the way), else below it (nudged down), else None."""
    yb = anchor_y + LIFT
    for _ in range(MAX_NUDGES + 1 + panels):
        clash = _first_clash(placed, cells, owners, me, x, w, yb, h)
        if clash is None:
            if yb + h <= top_of_screen:
                return yb
            break
        yb = placed[clash][1] + placed[clash][3] + NUDGE_GAP
        if yb + h > top_of_screen:
            break
    yb = anchor_y - LIFT - h
    for _ in range(MAX_NUDGES + 1 + panels):
        clash = _first_clash(placed, cells, owners, me, x, w, yb, h)
        if clash is None:
            return yb if yb >= -1.0 else None
        yb = placed[clash][1] - h - NUDGE_GAP
        if yb < -1.0:
            return None
    return None


def _cells(x0: float, x1: float, y0: float, y1: float) -> list[tuple[int, int]]:
    """The grid cells a box touches."""
    i0, i1 = math.floor(x0 / CELL_X), math.floor(x1 / CELL_X)
    j0, j1 = math.floor(y0 / CELL_Y), math.floor(y1 / CELL_Y)
    return [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]


def _first_clash(placed: list[tuple[float, float, float, float]],
                 cells: dict[tuple[int, int], list[int]], owners: list[int], me: int,
                 x: float, w: float, yb: float, h: float) -> int | None:
    """Index of the earliest placed box (panel, asset other than ``me``, card) that a
    (w x h) card at (x, yb) would overlap."""
    best: int | None = None
    for cell in _cells(x - w / 2, x + w / 2, yb, yb + h):
        for k in cells.get(cell, ()):
            if (best is not None and k >= best) or owners[k] == me:
                continue
            rx, ry, rw, rh = placed[k]
            if abs(rx - x) < (rw + w) / 2 and yb < ry + rh and ry < yb + h:
                best = k
    return best
