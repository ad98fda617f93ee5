"""The ``model:`` block of an entity: a procedural model, or a model file with its placement,
pipe anchors and live bindings (docs/scene-format.md, "Model files").

A glTF file is opened here (:mod:`runtime.scene.gltf_check`, no Panda3D), so a broken file, a
``.gltf`` whose ``.bin`` is missing or a node name that the file does not have is a located
error from ``validate`` and ``view`` alike, naming the ``model:`` key, not the entity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime.scene.components import MODEL_FILE_SUFFIXES, PROCEDURAL_MODELS
from runtime.scene.fields import Doc, Path_
from runtime.scene.gltf_check import GltfError, check_gltf
from runtime.scene.model import (
    MODEL_ACTIONS,
    MODEL_ORIGINS,
    MODEL_UNITS,
    SPIN_AXES,
    ModelAnchor,
    ModelBinding,
    ModelFile,
)
from runtime.scene.yaml_located import dotted

FILE_KEYS = {"file", "gltf", "unit", "scale", "origin", "place", "offset_m", "rotate_deg",
             "anchors", "bindings"}
GLTF_SUFFIXES = (".gltf", ".glb")
PLACES = ("as_is", "floor")
DEFAULT_ACTION_POINT = {"spin": "speed_rpm", "light": "running", "beacon": "tripped"}
"""The entity's own point an action reads when a binding names none."""


def parse_model(doc: Doc, raw: Any, at: Path_, folder: Path, kind: str,
                entity_id: str) -> tuple[str | None, ModelFile | None]:
    """(procedural model name, None) or (None, model file) for an entity's ``model:``."""
    if raw is None:
        return (kind if kind in PROCEDURAL_MODELS else "cabinet"), None
    model = doc.mapping(raw, at)
    if sum(k in model for k in ("procedural", "gltf", "file")) != 1:
        raise doc.fail(at, "give exactly one of 'procedural: <name>', 'gltf: <path>' or "
                       "'file: <path>'")
    if "procedural" in model:
        doc.only_keys(model, at, {"procedural"})
        return doc.choice(model, at, "procedural", PROCEDURAL_MODELS), None
    doc.only_keys(model, at, FILE_KEYS)
    key = "gltf" if "gltf" in model else "file"
    rel = doc.string(model, at, key)
    path = (folder / rel).resolve()
    suffixes = GLTF_SUFFIXES if key == "gltf" else MODEL_FILE_SUFFIXES
    if path.suffix.lower() not in suffixes:
        raise doc.fail(at + (key,), f"{key}: must name a {' or '.join(suffixes)} file")
    if not path.is_file():
        raise doc.fail(at + (key,), f"model file not found: {path}")
    node_names: frozenset[str] | None = None
    if path.suffix.lower() == ".bam" and not _is_bam(path):
        raise doc.fail(at + (key,), f"cannot use model {rel}: not a Panda3D .bam file (it "
                       "does not start with the BAM header)")
    if path.suffix.lower() in GLTF_SUFFIXES:
        try:
            node_names = check_gltf(path).node_names
        except GltfError as exc:
            words = str(exc).removeprefix(f"{path.name}: ").removeprefix(f"{path.name} ")
            raise doc.fail(at + (key,), f"cannot use model {rel}: {words}") from None

    unit = doc.choice(model, at, "unit", tuple(MODEL_UNITS), default="m")
    scale = doc.number(model, at, "scale", default=1.0, positive=True)
    origin = doc.choice(model, at, "origin", MODEL_ORIGINS, default="model")
    place = doc.choice(model, at, "place", PLACES, default="as_is")
    offset = doc.vector(model.get("offset_m", [0, 0, 0]), at + ("offset_m",), 3)
    rotate = doc.vector(model.get("rotate_deg", [0, 0, 0]), at + ("rotate_deg",), 3)
    anchors = _anchors(doc, model.get("anchors"), at + ("anchors",), node_names, rel)
    bindings = _bindings(doc, model.get("bindings"), at + ("bindings",), node_names, rel,
                         entity_id)
    return None, ModelFile(
        path=path, scale=MODEL_UNITS[unit] * scale, origin=origin, floor=place == "floor",
        offset_m=offset, rotate_hpr_deg=rotate,  # type: ignore[arg-type]
        anchors=anchors, bindings=bindings, line=doc.line(at + (key,)) or 0,
        key=dotted(at + (key,)))


BAM_HEADER = b"pbj\x00\n\r"


def _is_bam(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(BAM_HEADER)) == BAM_HEADER
    except OSError:
        return False


def _node(doc: Doc, spec: dict[str, Any], at: Path_, names: frozenset[str] | None,
          rel: str) -> str:
    node = doc.string(spec, at, "node")
    if names is not None and node not in names:
        known = ", ".join(sorted(names)[:12]) or "none"
        raise doc.fail(at + ("node",), f"model {rel} has no node named {node!r} (its named "
                       f"nodes: {known})")
    return node


def _anchors(doc: Doc, raw: Any, at: Path_, names: frozenset[str] | None,
             rel: str) -> tuple[ModelAnchor, ...]:
    if raw is None:
        return ()
    block = doc.mapping(raw, at)
    out = []
    for name, value in block.items():
        where = at + (name,)
        spec = doc.mapping(value, where)
        doc.only_keys(spec, where, {"node", "at", "outward"})
        if ("node" in spec) == ("at" in spec):
            raise doc.fail(where, "give exactly one of 'node: <name in the model>' or "
                           "'at: [x, y, z]' (model coordinates)")
        node = _node(doc, spec, where, names, rel) if "node" in spec else None
        point = doc.vector(spec["at"], where + ("at",), 3) if "at" in spec else None
        outward = None
        if "outward" in spec:
            outward = doc.vector(spec["outward"], where + ("outward",), 3)
            if not any(outward):
                raise doc.fail(where + ("outward",), "a direction cannot be [0, 0, 0]")
        out.append(ModelAnchor(name, node, point, outward,  # type: ignore[arg-type]
                               line=doc.line(where) or 0))
    return tuple(out)


def _bindings(doc: Doc, raw: Any, at: Path_, names: frozenset[str] | None, rel: str,
              entity_id: str) -> tuple[ModelBinding, ...]:
    if raw is None:
        return ()
    out = []
    seen: dict[str, int] = {}
    for j, value in enumerate(doc.sequence(raw, at)):
        where = at + (j,)
        spec = doc.mapping(value, where)
        doc.only_keys(spec, where, {"node", "point", "action", "axis"})
        action = doc.choice(spec, where, "action", MODEL_ACTIONS)
        if action in seen:
            raise doc.fail(where + ("action",), f"a second '{action}' binding (the first is on "
                           f"line {seen[action]}); each action drives one node")
        seen[action] = doc.line(where) or 0
        node = _node(doc, spec, where, names, rel)
        point = doc.string(spec, where, "point", default=DEFAULT_ACTION_POINT[action])
        full = point if "/" in point else f"{entity_id}/{point}"
        axis = doc.choice(spec, where, "axis", SPIN_AXES, default="x")
        if "axis" in spec and action != "spin":
            raise doc.fail(where + ("axis",), "only a spin binding takes an axis")
        out.append(ModelBinding(node, full, action, axis, line=doc.line(where) or 0))
    return tuple(out)
