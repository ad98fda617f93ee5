"""Name labels: one TextNode card per asset, drawn in 2D at the asset's projected anchor.

Labels live on the 2D overlay rather than in the 3D scene so they keep a constant, readable
size at any zoom, are never tonemapped or lit, and never hide behind equipment. Each frame
(phase HUD) the anchors are projected with the camera lens and overlapping cards are nudged up.
The second text line is free for status: the live twin writes quality and age there.
"""

from __future__ import annotations

from dataclasses import dataclass

from panda3d.core import NodePath, Point2, Point3, TextNode

TEXT_SCALE = 0.036
"""Height of one text line in aspect2d units (the window is 2 units tall): ~13 px at 720p."""
CARD_RGBA = (0.08, 0.10, 0.13, 0.85)
TEXT_RGBA = (1.0, 1.0, 1.0, 1.0)
STATUS_RGBA = (1.0, 0.82, 0.25, 1.0)


@dataclass(slots=True)
class Label:
    entity_id: str
    anchor_m: Point3
    """World point the label stands on (top of the asset)."""
    text: TextNode
    node: NodePath
    title: str
    status: str = ""


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
        return label

    def set_status(self, entity_id: str, status: str) -> None:
        """Second line under the title (quality and age cues); empty string removes it."""
        label = self.by_id[entity_id]
        if status == label.status:
            return
        label.status = status
        label.text.set_text(label.title if not status else f"{label.title}\n{status}")

    def update(self, scene_root: NodePath, aspect_ratio: float | None = None) -> None:
        """Project every anchor and place its card; hide those behind the camera."""
        if aspect_ratio is not None:
            self._aspect = aspect_ratio
        lens = self._lens_node.node().get_lens()
        placed: list[tuple[float, float, float, float]] = []
        items = []
        for label in self.labels:
            p_cam = self._camera.get_relative_point(scene_root, label.anchor_m)
            p2 = Point2()
            if p_cam.y <= 0 or not lens.project(p_cam, p2):
                label.node.hide()
                continue
            items.append((p_cam.y, label, p2))
        items.sort(key=lambda it: it[0])  # nearest first keeps its place
        for _depth, label, p2 in items:
            label.node.show()
            x = p2.x * self._aspect
            left, right, bottom, top = label.text.get_card_actual()
            w = (right - left) * TEXT_SCALE
            h = (top - bottom) * TEXT_SCALE
            yb = p2.y  # the card's bottom edge sits on the anchor
            for _ in range(len(placed)):
                clash = next((r for r in placed if abs(r[0] - x) < (r[2] + w) / 2
                              and yb < r[1] + r[3] and r[1] < yb + h), None)
                if clash is None:
                    break
                yb = clash[1] + clash[3] + 0.004
            label.node.set_pos(x, 0, yb - bottom * TEXT_SCALE)
            placed.append((x, yb, w, h))

    def screen_rects(self) -> dict[str, tuple[float, float, float, float]]:
        """Entity id -> card (left, right, bottom, top) in aspect2d units, for visible labels.

        Tests use it to find label pixels; a HUD can use it for picking.
        """
        out = {}
        for label in self.labels:
            if label.node.is_hidden():
                continue
            left, right, bottom, top = label.text.get_card_actual()
            pos = label.node.get_pos()
            out[label.entity_id] = (pos.x + left * TEXT_SCALE, pos.x + right * TEXT_SCALE,
                                    pos.z + bottom * TEXT_SCALE, pos.z + top * TEXT_SCALE)
        return out
