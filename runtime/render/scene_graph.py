"""Scene -> Panda3D nodes: one subtree per entity (procedural or glTF), pipes from connections.

Everything is built once at load, in file order; what changes at run time goes through
:class:`runtime.render.sync.RenderSync`, built here with the handles it needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from direct.showbase.Loader import Loader
from panda3d.core import NodePath

from runtime.render.far_field import MIN_MODELS as FAR_MIN_MODELS
from runtime.render.far_field import TYPE_RGB, FarItem, NearCells, add_far_field, pipe_boxes
from runtime.render.materials import PIPE_SERVICE_FINISH, Materials
from runtime.render.model_file import ModelFiles, anchor_port
from runtime.render.procedural import BUILDERS, port_for
from runtime.render.procedural import tank as tank_model
from runtime.render.procedural.base import AssetVisual, Port, add_part
from runtime.render.procedural.pipe import pipe_meshes, route
from runtime.render.sync import RenderSync
from runtime.scene.components import COMPONENT_FIELDS
from runtime.scene.errors import SceneError
from runtime.scene.model import Connection, Entity, Scene


@dataclass(slots=True)
class SceneView:
    """The built scene: nodes per entity, pipe routes, and the sync object that drives them."""

    root: NodePath
    visuals: dict[str, AssetVisual]
    """Entity id -> its built model (pipes included; their ``root`` is the pipe run)."""
    pipe_routes: dict[str, list[np.ndarray]]
    """Connection id -> polyline in world metres, nozzle to nozzle."""
    sync: RenderSync
    bounds: tuple[float, float, float, float, float, float]
    """(xmin, ymin, zmin, xmax, ymax, zmax) of all built geometry, metres."""
    label_anchors: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    """Entity id -> world point its name label stands on."""


def build_scene_graph(scene: Scene, parent: NodePath, *, loader: Loader | None = None,
                      materials: Materials | None = None,
                      far_field_min: int = FAR_MIN_MODELS) -> SceneView:
    """Build every entity of ``scene`` under ``parent``.

    ``loader`` (the app's ``loader``) is needed only for glTF/bam models; procedural scenes
    build without one, which keeps this testable with a bare NodePath. A scene of at least
    ``far_field_min`` modelled assets gets a far field (:mod:`runtime.render.far_field`).
    """
    mats = materials or Materials()
    root = parent.attach_new_node(f"scene:{scene.name}")
    visuals: dict[str, AssetVisual] = {}
    scene_file = scene.path / "scene.yaml"
    models = _SharedModels()
    files = ModelFiles(loader, pipeline=mats.pipeline)
    # Bounds are gathered per model from its kind's local bounds (a tight-bounds walk of the
    # whole tree visits every vertex of every copy: seconds at 10,000 assets).
    lows: list[np.ndarray] = []
    highs: list[np.ndarray] = []
    far_items: list[FarItem] = []
    for entity in scene.entities:
        if entity.type == "pipe":
            continue
        found = models.get(entity)
        if found is None:
            vis = _build_entity(entity, mats, files, scene_file)
            local = models.put(entity, vis)
        else:
            vis, local = found
        vis.root.reparent_to(root)
        vis.root.set_pos(*entity.position_m)
        vis.root.set_h(entity.heading_deg)
        visuals[entity.id] = vis
        if local is not None:
            lo, hi = _placed_box(local, entity.position_m, entity.heading_deg)
            lows.append(lo)
            highs.append(hi)
            far_items.append(FarItem(vis.root, lo, hi, TYPE_RGB.get(entity.type, _GREY)))
    models = len(far_items)

    by_id = {e.id: e for e in scene.entities}
    routes: dict[str, list[np.ndarray]] = {}
    pipes = _PipeGeometry(mats)
    shapes: dict[tuple, list[np.ndarray]] = {}
    for conn in scene.connections:
        src, dst = by_id[conn.source], by_id[conn.target]
        points = _route(src, dst, conn, shapes, visuals)
        routes[conn.id] = points
        pipe_root = root.attach_new_node(conn.id)
        service = "water"
        lo, hi = pipes.build(pipe_root, points, conn.diameter_m, PIPE_SERVICE_FINISH[service])
        lows.append(lo)
        highs.append(hi)
        visuals[conn.id] = AssetVisual(root=pipe_root, height_m=0.0)
        far_items.append(FarItem(pipe_root, *pipe_boxes(points, conn.diameter_m),
                                 TYPE_RGB["pipe"], top_only=True))
    cells = add_far_field(root, far_items) if models >= far_field_min else []

    anchors = {}
    for entity in scene.entities:
        vis = visuals.get(entity.id)
        if vis is None or entity.type == "pipe":
            continue
        x, y, z = entity.position_m
        anchors[entity.id] = (x, y, z + vis.height_m)

    ordered = [visuals.get(e.id) for e in scene.entities]
    band = [tank_model.band_height_m(e) if e.type == "tank" and e.model_procedural else 0.0
            for e in scene.entities]
    travel = [v.stem_travel_m if v is not None else 0.0 for v in ordered]
    sync = RenderSync([e.id for e in scene.entities], ordered, fill_band_m=band,
                      stem_travel_m=travel, materials=mats)
    if cells:
        sync.near_cells = NearCells.of(cells, [v.root if v is not None else None
                                               for v in ordered])
    if lows:
        lo3, hi3 = np.min(lows, axis=0), np.max(highs, axis=0)
        bounds = (*map(float, lo3), *map(float, hi3))
    else:
        bounds = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return SceneView(root, visuals, routes, sync, bounds, anchors)  # type: ignore[arg-type]


_GREY = (0.6, 0.6, 0.6)


def _port(entity: Entity, visual: AssetVisual | None, toward: np.ndarray,
          anchor: str | None) -> Port:
    """Where a pipe meets ``entity``: a model file's named (or else nearest) anchor, else the
    procedural model's nozzle."""
    if entity.model_procedural is None and visual is not None:
        return anchor_port(entity, visual, toward, anchor)
    return port_for(entity.type)(entity, toward)


def _route(src: Entity, dst: Entity, conn: Connection, shapes: dict[tuple, list[np.ndarray]],
           visuals: dict[str, AssetVisual]) -> list[np.ndarray]:
    """The pipe's polyline; routes between the same kinds of model at the same relative
    placement are computed once and moved (a generated plant repeats one train)."""
    via_m = conn.via_m
    origin = np.asarray(src.position_m, dtype=np.float64)
    key = None
    src_kind, dst_kind = _SharedModels.key(src), _SharedModels.key(dst)
    if src_kind is not None and dst_kind is not None:
        rel = np.asarray(dst.position_m, dtype=np.float64) - origin
        rel_via = tuple(tuple((np.asarray(v, dtype=np.float64) - origin).tolist()) for v in via_m)
        key = (src.type, src_kind, dst.type, dst_kind, src.heading_deg, dst.heading_deg,
               tuple(rel.tolist()), rel_via, conn.source_anchor, conn.target_anchor)
        shape = shapes.get(key)
        if shape is not None:
            return [p + origin for p in shape]
    first = np.asarray(via_m[0] if via_m else dst.position_m, dtype=np.float64)
    last = np.asarray(via_m[-1] if via_m else src.position_m, dtype=np.float64)
    points = route(_port(src, visuals.get(src.id), first, conn.source_anchor),
                   _port(dst, visuals.get(dst.id), last, conn.target_anchor), via_m)
    if key is not None:
        shapes[key] = [np.asarray(p, dtype=np.float64) - origin for p in points]
    return points


def _placed_box(local: tuple[np.ndarray, np.ndarray], position: tuple[float, float, float],
                heading_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """World box around a model's local box turned by the heading and moved to the position
    (exact for multiples of 90 degrees, a little larger otherwise)."""
    lo, hi = local
    if heading_deg % 360.0 == 0.0:
        corners = np.array([[lo[0], lo[1]], [hi[0], hi[1]]])
    else:
        h = math.radians(heading_deg)
        c, s = math.cos(h), math.sin(h)
        xy = np.array([[x, y] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])])
        corners = xy @ np.array([[c, s], [-s, c]])
    pos = np.asarray(position, dtype=np.float64)
    return (np.array([*corners.min(axis=0), lo[2]]) + pos,
            np.array([*corners.max(axis=0), hi[2]]) + pos)


def _tight(node: NodePath) -> tuple[np.ndarray, np.ndarray] | None:
    """``node``'s tight bounds in its own space, or None when it holds no geometry."""
    found = node.get_tight_bounds(node)
    if not found:
        return None
    lo, hi = found
    return np.array([lo.x, lo.y, lo.z]), np.array([hi.x, hi.y, hi.z])


class _SharedModels:
    """Procedural models shared between entities that would build the same one.

    A builder reads only the model name, the type's parameters and the height of the entity's
    origin (stands and supports reach the ground); everything else (position, heading, name)
    is applied by the scene graph. So the first entity of a kind is built and kept as a
    pristine template, and every entity of that kind, the first included, gets a copy of its
    nodes: new nodes that share the template's Geoms (a generated plant of 10,000 assets has
    a handful of kinds, and a procedural build costs milliseconds). The moving parts (fill,
    rotor, stem, lamp) are found in the copy by their place in the tree.
    """

    def __init__(self) -> None:
        self.templates: dict[tuple, tuple[AssetVisual, dict[str, tuple[int, ...]],
                                          tuple[np.ndarray, np.ndarray] | None]] = {}

    @staticmethod
    def key(entity: Entity) -> tuple | None:
        if entity.model is not None:
            m = entity.model  # bindings name the entity's points: only their nodes are shape
            return ("file", m.path, m.scale, m.origin, m.floor, m.offset_m, m.rotate_hpr_deg,
                    m.anchors, tuple((b.node, b.action, b.axis) for b in m.bindings))
        if entity.model_procedural is None:
            return None
        # References to other entities or points (a pump's motor, what a transmitter measures)
        # are wiring, not shape: no builder draws them.
        fields = COMPONENT_FIELDS.get(entity.type, {})
        shape = sorted((k, v) for k, v in entity.params.items()
                       if not fields.get(k) or not _is_reference(fields[k].kind))
        return (entity.model_procedural, entity.type, repr(shape), float(entity.position_m[2]))

    def get(self, entity: Entity
            ) -> tuple[AssetVisual, tuple[np.ndarray, np.ndarray] | None] | None:
        """A copy of the entity's kind of model with its local bounds, or None (not built
        yet, or not a procedural model)."""
        key = self.key(entity)
        found = self.templates.get(key) if key is not None else None
        if found is None:
            return None
        template, paths, local = found
        root = NodePath(template.root.node().copy_subgraph())
        root.set_name(entity.id)
        parts = {name: _follow(root, path) for name, path in paths.items()}
        return AssetVisual(root=root, height_m=template.height_m, parts=parts,
                           stem_travel_m=template.stem_travel_m, anchors=template.anchors,
                           spin_axis=template.spin_axis, centre_m=template.centre_m), local

    def put(self, entity: Entity, vis: AssetVisual) -> tuple[np.ndarray, np.ndarray] | None:
        """Keep a pristine copy of ``vis`` (just built for ``entity``, not placed yet) as its
        kind's template; returns its local bounds."""
        local = _tight(vis.root)
        key = self.key(entity)
        if key is None:
            return local
        paths = {name: _child_path(vis.root, part) for name, part in vis.parts.items()}
        pristine = NodePath(vis.root.node().copy_subgraph())
        self.templates[key] = (AssetVisual(root=pristine, height_m=vis.height_m,
                                           parts={}, stem_travel_m=vis.stem_travel_m,
                                           anchors=vis.anchors, spin_axis=vis.spin_axis,
                                           centre_m=vis.centre_m), paths, local)
        return local


def _is_reference(kind: str) -> bool:
    return kind == "point" or kind.startswith("entity:")


def _child_path(root: NodePath, node: NodePath) -> tuple[int, ...]:
    """Child indices leading from ``root`` down to ``node``."""
    path = []
    while node != root:
        parent = node.get_parent()
        path.append(parent.node().find_child(node.node()))
        node = parent
    return tuple(reversed(path))


def _follow(root: NodePath, path: tuple[int, ...]) -> NodePath:
    for index in path:
        root = root.get_child(index)
    return root


class _PipeGeometry:
    """Pipe meshes shared between runs of the same shape (same diameter, same route up to a
    translation), as generated plants repeat one train many times.

    The first run of a shape is built in world metres under its pipe node, exactly as a lone
    pipe; a later run of that shape is a copy of the first's part nodes, which shares their
    Geoms, moved by the difference of the two routes' first points.
    """

    def __init__(self, materials: Materials) -> None:
        self.materials = materials
        self.templates: dict[tuple, tuple[np.ndarray, list[NodePath], tuple]] = {}
        """Shape key -> (first point of the route built, its part nodes, their bounds)."""

    def build(self, pipe_root: NodePath, points: list[np.ndarray], diameter_m: float,
              finish: str) -> tuple[np.ndarray, np.ndarray]:
        """Build the run under ``pipe_root``; returns its world bounds (lo, hi)."""
        first = np.asarray(points[0], dtype=np.float64)
        key = (round(float(diameter_m), 6), finish,
               tuple(tuple(np.round(np.asarray(p) - first, 6).tolist()) for p in points))
        template = self.templates.get(key)
        if template is None:
            body, flanges = pipe_meshes(points, diameter_m)
            parts = [add_part(pipe_root, "pipe", body, self.materials, finish),
                     add_part(pipe_root, "flanges", flanges, self.materials, "pipe_flange")]
            bounds = _tight(pipe_root) or (first, first)
            self.templates[key] = (first, parts, bounds)
            return bounds
        origin, parts, (lo, hi) = template
        move = first - origin
        dx, dy, dz = move.tolist()
        for part in parts:  # built at the pipe node's origin, so the copy's offset is the move
            part.copy_to(pipe_root).set_pos(dx, dy, dz)
        return lo + move, hi + move


def _build_entity(entity: Entity, mats: Materials, files: ModelFiles,
                  scene_file: Path) -> AssetVisual:
    if entity.model_procedural is not None:
        builder = BUILDERS.get(entity.model_procedural)
        if builder is None:
            name = entity.model_procedural
            raise SceneError(scene_file, entity.line or None, f"entities.{entity.id}.model",
                             f"no procedural model named {name!r}")
        return builder(entity, mats)
    if entity.model_file is not None:
        return files.build(entity, scene_file)
    return AssetVisual(root=NodePath(entity.id), height_m=1.0)
