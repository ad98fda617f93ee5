"""Model files (glTF/glb through panda3d-gltf, bam/egg through Panda's loader) as assets.

A file is loaded once per path; every entity gets a copy of its nodes (sharing the Geoms),
placed as the scene's ``model:`` block says (docs/scene-format.md, "Model files"):

1. ``unit``/``scale`` and ``rotate_deg`` turn model units into metres in the entity's frame;
2. ``origin`` picks which point of the model's box sits at the entity's position, ``place:
   floor`` lifts or lowers it so its lowest point is on the entity's Z, ``offset_m`` moves it;
3. ``bindings`` make named nodes the asset's moving parts (the same ``rotor``, ``run_lamp`` and
   ``trip_beacon`` parts the procedural pump has, so RenderSync drives both alike);
4. ``anchors`` become the pipe ports, in the entity's frame.

glTF files are read by calling panda3d-gltf directly, not through Panda's loader plugin: the
plugin prints a Python traceback for a bad file before Panda raises, and a scene error must be
one located line.
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
from direct.showbase.Loader import Loader
from panda3d.core import Filename, NodePath, Notify, NSFatal, Point3

from runtime.render.model_colour import to_display_colours
from runtime.render.procedural.base import AssetVisual, Port, heading_basis
from runtime.scene.errors import SceneError
from runtime.scene.model import Entity, ModelFile

SPIN_PART = "rotor"
ACTION_PART = {"spin": SPIN_PART, "light": "run_lamp", "beacon": "trip_beacon"}
"""Binding action -> the AssetVisual part RenderSync drives."""
LABEL_CLEARANCE_M = 0.4
_LOADER_NOTIFY = (":loader", ":util:bam", ":util", ":egg", ":egg2pg", ":pnmimage")
"""Panda3D notify categories that print while a bam or egg file fails to load."""


class ModelFiles:
    """Loads each model file once (colours made ready for the pipeline) and hands out copies."""

    def __init__(self, loader: Loader | None, *, pipeline: str = "pbr") -> None:
        self.loader = loader
        self.pipeline = pipeline
        self._loaded: dict[Path, NodePath] = {}

    def build(self, entity: Entity, scene_file: Path) -> AssetVisual:
        """The entity's placed, bound model (a fresh copy of the file's nodes)."""
        spec = entity.model or ModelFile(path=entity.model_file)  # type: ignore[arg-type]
        template = self._load(spec, scene_file, entity)
        model = NodePath(template.node().copy_subgraph())
        return place_model(entity, spec, model, scene_file)

    def _load(self, spec: ModelFile, scene_file: Path, entity: Entity) -> NodePath:
        found = self._loaded.get(spec.path)
        if found is not None:
            return found
        try:
            model = self._read(spec.path)
        except Exception as exc:  # panda3d-gltf raises whatever its parser met
            raise _error(scene_file, spec, entity, f"cannot load model {spec.path.name}: "
                         f"{_words(exc)}") from None
        if model is None or model.is_empty():
            raise _error(scene_file, spec, entity, f"cannot load model {spec.path.name}")
        if self.pipeline != "pbr":
            to_display_colours(model)
        self._loaded[spec.path] = model
        return model

    def _read(self, path: Path) -> NodePath | None:
        if path.suffix.lower() in (".gltf", ".glb"):
            from gltf import GltfSettings, load_model

            # panda3d-gltf prints notes (unsupported extensions, missing nodes) to stdout.
            with contextlib.redirect_stdout(io.StringIO()):
                root = load_model(Filename.from_os_specific(str(path)),
                                  GltfSettings(skip_animations=True))
            return NodePath(root)
        if self.loader is None:
            raise RuntimeError("a bam or egg model needs the app's loader")
        # The loader prints its own error lines before raising; the caller says it in one.
        categories = [Notify.ptr().get_category(name) for name in _LOADER_NOTIFY]
        severities = [c.get_severity() for c in categories]
        for category in categories:
            category.set_severity(NSFatal)
        try:
            return self.loader.load_model(Filename.from_os_specific(str(path)), noCache=True)
        except OSError:
            raise _UnreadableError(f"Panda3D cannot read it (not a valid {path.suffix[1:]} "
                                   "file)") from None
        finally:
            for category, severity in zip(categories, severities, strict=True):
                category.set_severity(severity)


def place_model(entity: Entity, spec: ModelFile, model: NodePath,
                scene_file: Path) -> AssetVisual:
    """Scale, turn and move ``model`` under a new entity root; bind its named nodes."""
    holder = NodePath(entity.id)
    xf = holder.attach_new_node("model-placement")
    model.reparent_to(xf)
    xf.set_scale(spec.scale)
    xf.set_hpr(*spec.rotate_hpr_deg)
    found = xf.get_tight_bounds(holder)
    if not found:
        raise _error(scene_file, spec, entity, f"model {spec.path.name} has no geometry")
    lo, hi = (np.array([v.x, v.y, v.z]) for v in found)
    shift = np.zeros(3)
    if spec.origin == "center":
        shift = -(lo + hi) / 2
    elif spec.origin == "bottom_center":
        shift = -np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    if spec.floor:
        shift[2] = -lo[2]
    shift += np.asarray(spec.offset_m)
    xf.set_pos(*shift)
    lo, hi = lo + shift, hi + shift

    parts: dict[str, NodePath] = {}
    spin_axis = "x"
    for binding in spec.bindings:
        node = _find(model, binding.node)
        if node is None:
            raise _error(scene_file, spec, entity, f"model {spec.path.name} has no node "
                         f"named {binding.node!r}", line=binding.line)
        if binding.action == "spin":
            node = _spin_pivot(node)
            spin_axis = binding.axis
        elif binding.action == "beacon":
            node.hide()
        parts[ACTION_PART[binding.action]] = node
    anchors = {}
    centre = (lo + hi) / 2
    for anchor in spec.anchors:
        if anchor.node is not None:
            node = _find(model, anchor.node)
            if node is None:
                raise _error(scene_file, spec, entity, f"model {spec.path.name} has no node "
                             f"named {anchor.node!r}", line=anchor.line)
            p = node.get_pos(holder)
        else:
            p = holder.get_relative_point(xf, Point3(*anchor.at))  # type: ignore[misc]
        point = np.array([p.x, p.y, p.z])
        outward = (np.asarray(anchor.outward, dtype=np.float64) if anchor.outward is not None
                   else _away_from(centre, point, hi - lo))
        anchors[anchor.name] = (point, outward / np.linalg.norm(outward))
    return AssetVisual(root=holder, height_m=float(hi[2]) + LABEL_CLEARANCE_M, parts=parts,
                       anchors=anchors, spin_axis=spin_axis,
                       centre_m=tuple(map(float, centre)))  # type: ignore[arg-type]


def anchor_port(entity: Entity, visual: AssetVisual, toward: np.ndarray,
                name: str | None = None) -> Port:
    """The anchor ``name`` of ``visual`` (or, without a name, the one nearest to ``toward``,
    world metres) as a pipe port; a model without anchors takes pipes at its box's centre."""
    basis = heading_basis(entity.heading_deg)
    origin = np.asarray(entity.position_m, dtype=np.float64)
    if not visual.anchors:
        centre = origin + basis @ np.asarray(visual.centre_m)
        d = np.asarray(toward, dtype=np.float64) - centre
        d[2] = 0.0
        n = float(np.linalg.norm(d))
        return Port(centre, d / n if n > 1e-6 else np.array([1.0, 0.0, 0.0]))
    if name is not None:
        point, outward = visual.anchors[name]
        return Port(origin + basis @ point, basis @ outward)
    best = None
    for point, outward in visual.anchors.values():
        world = origin + basis @ point
        dist = float(np.linalg.norm(world - np.asarray(toward, dtype=np.float64)))
        if best is None or dist < best[0]:
            best = (dist, world, basis @ outward)
    assert best is not None
    return Port(best[1], best[2])


def _away_from(centre: np.ndarray, point: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Default pipe direction at an anchor: horizontally away from the model's centre, or
    straight up or down for an anchor above or below it."""
    d = point - centre
    if math.hypot(d[0], d[1]) > 0.05 * max(float(size[0]), float(size[1]), 1e-6):
        return np.array([d[0], d[1], 0.0])
    return np.array([0.0, 0.0, 1.0 if d[2] >= 0 else -1.0])


def _find(model: NodePath, name: str) -> NodePath | None:
    """The first node called ``name`` (exactly: no pattern matching), depth first."""
    if model.get_name() == name:
        return model
    for node in model.find_all_matches("**"):
        if node.get_name() == name:
            return node
    return None


def _spin_pivot(node: NodePath) -> NodePath:
    """A node that turns ``node`` about its own axes: ``node``'s transform moves to a frame
    node above, a spin node sits between, and ``node`` keeps an identity transform."""
    frame = node.get_parent().attach_new_node(f"{node.get_name()}-frame")
    frame.set_transform(node.get_transform())
    spin = frame.attach_new_node(f"{node.get_name()}-spin")
    node.reparent_to(spin)
    node.clear_transform()
    return spin


def _error(scene_file: Path, spec: ModelFile, entity: Entity, message: str, *,
           line: int = 0) -> SceneError:
    key = spec.key or f"entities.{entity.id}.model"
    return SceneError(scene_file, line or spec.line or entity.line or None, key, message)


class _UnreadableError(Exception):
    """A model file Panda3D's loader refused; the message is the whole story."""


def _words(exc: BaseException) -> str:
    if isinstance(exc, _UnreadableError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
