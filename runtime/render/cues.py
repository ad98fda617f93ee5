"""Quality markers in 3D: a "?" (Uncertain) or "!" (Bad) sign floating over the asset.

Colour alone fails operators with colour-vision deficiency and washes out on a projector, so a
non-Good asset gets a shape as well: a billboard that always faces the camera, drawn over the
asset's own body (depth test off, fixed bin) so it cannot hide behind a tank wall, and large
enough to read from across the plant. The label's status line carries the same cue in words.
Markers are built on first use and then only shown, hidden or relabelled on a quality change.
In a scene with a far field (:mod:`runtime.render.far_field`) a marker lives in its asset's
cell, beside the real models, so it is drawn only when the cell is near: thousands of Bad
assets seen from afar would otherwise be thousands of billboards a frame (seconds per frame in
software rendering); from afar the labels carry the cue.
"""

from __future__ import annotations

from dataclasses import dataclass

from panda3d.core import NodePath, TextNode, TransparencyAttrib

from runtime.quality import Quality
from runtime.render.far_field import cell_of, near_nodes

GLYPH = {int(Quality.UNCERTAIN): "?", int(Quality.BAD): "!"}
CARD_RGBA = {int(Quality.UNCERTAIN): (0.95, 0.75, 0.10, 1.0),
             int(Quality.BAD): (0.0, 0.0, 0.0, 1.0)}
TEXT_RGBA = {int(Quality.UNCERTAIN): (0.0, 0.0, 0.0, 1.0), int(Quality.BAD): (1.0, 1.0, 1.0, 1.0)}
FRAME_RGBA = (1.0, 1.0, 1.0, 1.0)
MIN_SIZE_M = 0.9
MAX_SIZE_M = 2.2
"""Glyph height: a fraction of the asset's height within these bounds."""
ICON_BIN_SORT = 40


@dataclass(slots=True)
class _Icon:
    node: NodePath
    text: TextNode
    quality: int = 0


class QualityIcons:
    """One lazily built marker per entity row; :meth:`set_quality` shows or hides it."""

    def __init__(self, parent: NodePath, positions_m: dict[int, tuple[float, float, float]],
                 sizes_m: dict[int, float]) -> None:
        self._root = _icon_root(parent)
        self._cells = near_nodes(parent)
        self._cell_roots: dict[tuple[int, int], NodePath] = {}
        self._positions = positions_m
        self._sizes = sizes_m
        self._icons: dict[int, _Icon] = {}

    def set_quality(self, row: int, quality: int) -> None:
        """Show the marker for ``quality`` over entity ``row`` (hide it when Good)."""
        icon = self._icons.get(row)
        if quality == Quality.GOOD or row not in self._positions:
            if icon is not None:
                icon.node.hide()
                icon.quality = quality
            return
        if icon is None:
            icon = self._icons[row] = self._build(row)
        if icon.quality != quality:
            icon.text.set_text(GLYPH.get(quality, "!"))
            icon.text.set_text_color(TEXT_RGBA.get(quality, TEXT_RGBA[int(Quality.BAD)]))
            icon.text.set_card_color(CARD_RGBA.get(quality, CARD_RGBA[int(Quality.BAD)]))
            icon.quality = quality
        icon.node.show()

    def shown(self) -> dict[int, str]:
        """Row -> glyph of every visible marker (tests and the inspector)."""
        return {r: i.text.get_text() for r, i in self._icons.items() if not i.node.is_hidden()}

    def world_position(self, row: int) -> tuple[float, float, float] | None:
        """Where the marker of ``row`` stands (its centre), metres; None if it has none."""
        return self._positions.get(row)

    def _build(self, row: int) -> _Icon:
        tn = TextNode(f"quality-icon-{row}")
        tn.set_align(TextNode.A_center)
        tn.set_card_as_margin(0.35, 0.35, 0.15, 0.1)
        tn.set_frame_color(FRAME_RGBA)
        tn.set_frame_as_margin(0.35, 0.35, 0.15, 0.1)
        tn.set_frame_line_width(3.0)
        tn.set_card_decal(True)
        x, y, z = self._positions[row]
        np_ = self._holder(x, y).attach_new_node(tn)
        np_.set_billboard_point_eye()
        size = self._sizes.get(row, MIN_SIZE_M)
        np_.set_scale(size)
        np_.set_pos(x, y, z - 0.35 * size)
        return _Icon(np_, tn, int(Quality.GOOD))


    def _holder(self, x: float, y: float) -> NodePath:
        """Where a marker at (x, y) hangs: its far-field cell's models, or the one root."""
        key = cell_of(x, y)
        holder = self._cell_roots.get(key)
        if holder is None:
            near = self._cells.get(key)
            if near is None:
                return self._root
            holder = self._cell_roots[key] = _icon_root(near)
        return holder


def _icon_root(parent: NodePath) -> NodePath:
    """A node drawing its markers unlit, over everything, in the fixed bin."""
    root = parent.attach_new_node("quality-icons")
    root.set_light_off(1)
    root.set_shader_off(1)
    root.set_depth_test(False)
    root.set_depth_write(False)
    root.set_bin("fixed", ICON_BIN_SORT)
    root.set_transparency(TransparencyAttrib.M_alpha)
    return root


def icon_placement(visual_heights_m: dict[int, float],
                   origins_m: dict[int, tuple[float, float, float]],
                   ) -> tuple[dict[int, tuple[float, float, float]], dict[int, float]]:
    """Marker centre (at 60 % of the asset's height, over its body) and size per entity row."""
    positions, sizes = {}, {}
    for row, h in visual_heights_m.items():
        x, y, z = origins_m[row]
        size = min(max(0.35 * h, MIN_SIZE_M), MAX_SIZE_M)
        positions[row] = (x, y, z + 0.6 * h)
        sizes[row] = size
    return positions, sizes
