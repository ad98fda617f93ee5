"""Scene -> Panda3D nodes: one subtree per entity (procedural or glTF), pipes from connections.

Everything is built once at load, in file order; what changes at run time goes through
:class:`runtime.render.sync.RenderSync`, built here with the handles it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from direct.showbase.Loader import Loader
from panda3d.core import Filename, NodePath

from runtime.render.materials import PIPE_SERVICE_FINISH, Materials
from runtime.render.procedural import BUILDERS, port_for
from runtime.render.procedural import tank as tank_model
from runtime.render.procedural.base import AssetVisual, add_part
from runtime.render.procedural.pipe import pipe_meshes, route
from runtime.render.sync import RenderSync
from runtime.scene.errors import SceneError
from runtime.scene.model import Entity, Scene


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
                      materials: Materials | None = None) -> SceneView:
    """Build every entity of ``scene`` under ``parent``.

    ``loader`` (the app's ``loader``) is needed only for glTF/bam models; procedural scenes
    build without one, which keeps this testable with a bare NodePath.
    """
    mats = materials or Materials()
    root = parent.attach_new_node(f"scene:{scene.name}")
    visuals: dict[str, AssetVisual] = {}
    scene_file = scene.path / "scene.yaml"
    for entity in scene.entities:
        if entity.type == "pipe":
            continue
        vis = _build_entity(entity, mats, loader, scene_file)
        vis.root.reparent_to(root)
        vis.root.set_pos(*entity.position_m)
        vis.root.set_h(entity.heading_deg)
        visuals[entity.id] = vis

    by_id = {e.id: e for e in scene.entities}
    routes: dict[str, list[np.ndarray]] = {}
    pipes = _PipeGeometry(mats)
    for conn in scene.connections:
        src, dst = by_id[conn.source], by_id[conn.target]
        first = np.asarray(conn.via_m[0] if conn.via_m else dst.position_m, dtype=np.float64)
        last = np.asarray(conn.via_m[-1] if conn.via_m else src.position_m, dtype=np.float64)
        points = route(port_for(src.type)(src, first), port_for(dst.type)(dst, last), conn.via_m)
        routes[conn.id] = points
        pipe_root = root.attach_new_node(conn.id)
        service = "water"
        pipes.build(pipe_root, points, conn.diameter_m, PIPE_SERVICE_FINISH[service])
        visuals[conn.id] = AssetVisual(root=pipe_root, height_m=0.0)

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
    lo, hi = root.get_tight_bounds()
    bounds = (lo.x, lo.y, lo.z, hi.x, hi.y, hi.z)
    return SceneView(root, visuals, routes, sync, bounds, anchors)


class _PipeGeometry:
    """Pipe meshes shared between runs of the same shape (same diameter, same route up to a
    translation), as generated plants repeat one train many times.

    The first run of a shape is built in world metres under its pipe node, exactly as a lone
    pipe; a later run of that shape is a copy of the first's part nodes, which shares their
    Geoms, moved by the difference of the two routes' first points.
    """

    def __init__(self, materials: Materials) -> None:
        self.materials = materials
        self.templates: dict[tuple, tuple[np.ndarray, list[NodePath]]] = {}
        """Shape key -> (first point of the route built, its part nodes)."""

    def build(self, pipe_root: NodePath, points: list[np.ndarray], diameter_m: float,
              finish: str) -> None:
        first = np.asarray(points[0], dtype=np.float64)
        key = (round(float(diameter_m), 6), finish,
               tuple(tuple(np.round(np.asarray(p) - first, 6).tolist()) for p in points))
        template = self.templates.get(key)
        if template is None:
            body, flanges = pipe_meshes(points, diameter_m)
            parts = [add_part(pipe_root, "pipe", body, self.materials, finish),
                     add_part(pipe_root, "flanges", flanges, self.materials, "pipe_flange")]
            self.templates[key] = (first, parts)
            return
        origin, parts = template
        dx, dy, dz = (first - origin).tolist()
        for part in parts:  # built at the pipe node's origin, so the copy's offset is the move
            part.copy_to(pipe_root).set_pos(dx, dy, dz)


def _model_error(scene_file: Path, entity: Entity, message: str) -> SceneError:
    return SceneError(scene_file, entity.line or None, f"entities.{entity.id}.model", message)


def _build_entity(entity: Entity, mats: Materials, loader: Loader | None,
                  scene_file: Path) -> AssetVisual:
    if entity.model_procedural is not None:
        builder = BUILDERS.get(entity.model_procedural)
        if builder is None:
            name = entity.model_procedural
            raise _model_error(scene_file, entity, f"no procedural model named {name!r}")
        return builder(entity, mats)
    if entity.model_file is not None:
        if loader is None:
            raise _model_error(scene_file, entity, "a model file needs the app's loader")
        try:
            model = loader.load_model(Filename.from_os_specific(str(entity.model_file)),
                                      noCache=True)
        except Exception as exc:  # Panda raises IOError or a bare Exception for bad files
            message = f"cannot load {entity.model_file}: {exc}"
            raise _model_error(scene_file, entity, message) from exc
        if model is None:
            raise _model_error(scene_file, entity, f"cannot load {entity.model_file}")
        holder = NodePath(entity.id)
        model.reparent_to(holder)
        lo, hi = holder.get_tight_bounds()
        return AssetVisual(root=holder, height_m=(hi.z + 0.4) if hi is not None else 1.0)
    return AssetVisual(root=NodePath(entity.id), height_m=1.0)
