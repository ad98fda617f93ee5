"""Which asset is under a screen point: a ray from the camera against one solid per asset.

Equipment gets a box around its model's tight bounds (in its own frame, so it turns with the
asset); pipes get one capsule per straight leg. The solids hang under the entity's own node and
carry its id as a tag, on a collide mask that nothing else in the scene uses, so picking never
walks the visible geometry's triangles. Labels win over the 3D scene: clicking an asset's name
card picks that asset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from panda3d.core import (
    BitMask32,
    CollisionBox,
    CollisionCapsule,
    CollisionHandlerQueue,
    CollisionNode,
    CollisionRay,
    CollisionTraverser,
    NodePath,
    Point3,
)

if TYPE_CHECKING:
    from runtime.render.viewer import Viewer

PICK_MASK = BitMask32.bit(20)
TAG = "entity"
MIN_HALF_M = 0.15
"""Thin assets (a transmitter on its stand) still get a box one can hit."""
PIPE_PICK_RADIUS_FACTOR = 1.5


class Picker:
    """The ray, traverser and per-asset solids of one viewer."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        app = viewer.app
        self.traverser = CollisionTraverser("picker")
        self.queue = CollisionHandlerQueue()
        node = CollisionNode("pick-ray")
        node.set_from_collide_mask(PICK_MASK)
        node.set_into_collide_mask(BitMask32.all_off())
        self.ray = CollisionRay()
        node.add_solid(self.ray)
        self.ray_np = app.camera.attach_new_node(node)
        self.traverser.add_collider(self.ray_np, self.queue)
        self.solids: dict[str, NodePath] = {}
        scene = viewer.scene
        view = viewer.view
        diam = {c.id: c.diameter_m for c in scene.connections}
        for eid, vis in view.visuals.items():
            if eid in view.pipe_routes:
                continue
            bounds = vis.root.get_tight_bounds(vis.root)
            if not bounds:  # no geometry (a model-less entity): None, not (None, None)
                continue
            lo, hi = bounds
            centre = (lo + hi) * 0.5
            half = [max((hi[i] - lo[i]) * 0.5, MIN_HALF_M) for i in range(3)]
            cn = CollisionNode(f"pick-{eid}")
            cn.add_solid(CollisionBox(Point3(centre), *half))
            self._attach(vis.root, cn, eid)
        for cid, points in view.pipe_routes.items():
            cn = CollisionNode(f"pick-{cid}")
            r = 0.5 * diam.get(cid, 0.2) * PIPE_PICK_RADIUS_FACTOR
            for a, b in zip(points, points[1:], strict=False):
                if np.linalg.norm(np.asarray(b) - np.asarray(a)) > 1e-6:
                    cn.add_solid(CollisionCapsule(Point3(*a), Point3(*b), r))
            self._attach(view.root, cn, cid)

    def _attach(self, parent: NodePath, node: CollisionNode, entity_id: str) -> None:
        node.set_from_collide_mask(BitMask32.all_off())
        node.set_into_collide_mask(PICK_MASK)
        np_ = parent.attach_new_node(node)
        np_.set_tag(TAG, entity_id)
        self.solids[entity_id] = np_

    def pick(self, x_ndc: float, y_ndc: float) -> str | None:
        """Entity id under the normalised screen point (-1..1, y up), or None."""
        label = self._label_at(x_ndc, y_ndc)
        if label is not None:
            return label
        app = self.viewer.app
        self.ray.set_from_lens(app.camNode, x_ndc, y_ndc)
        self.queue.clear_entries()
        self.traverser.traverse(self.viewer.view.root)
        if self.queue.get_num_entries() == 0:
            return None
        self.queue.sort_entries()
        for entry in self.queue.entries:
            into = entry.get_into_node_path()
            if into.has_net_tag(TAG):
                return into.get_net_tag(TAG)
        return None

    def _label_at(self, x_ndc: float, y_ndc: float) -> str | None:
        labels = getattr(self.viewer, "labels", None)
        if labels is None:
            return None
        x = x_ndc * self.viewer.aspect
        for eid, (left, right, bottom, top) in labels.screen_rects().items():
            if left <= x <= right and bottom <= y_ndc <= top:
                return eid
        return None


def pick(viewer: Viewer, x_ndc: float, y_ndc: float) -> str | None:
    """The entity under (x_ndc, y_ndc) in ``viewer`` (built on first use), or None."""
    picker = getattr(viewer, "picker", None)
    if picker is None:
        picker = viewer.picker = Picker(viewer)
    return picker.pick(x_ndc, y_ndc)
