"""A flat coloured card in ``aspect2d``: the background of every 2D panel and band."""

from __future__ import annotations

from panda3d.core import CardMaker, NodePath

Rect = tuple[float, float, float, float]
UNIT: Rect = (0.0, 1.0, 0.0, 1.0)
"""A unit card, placed and sized later with ``set_pos`` / ``set_scale``."""


def card(parent: NodePath, name: str, rect: Rect, rgba: tuple[float, ...]) -> NodePath:
    """A card of ``rect`` (left, right, bottom, top) and colour ``rgba`` (alpha honoured)."""
    cm = CardMaker(name)
    cm.set_frame(*rect)
    node = parent.attach_new_node(cm.generate())
    node.set_color(*rgba)
    node.set_transparency(True)
    return node
