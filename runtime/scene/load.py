"""Load and validate ``scene.yaml`` into a :class:`~runtime.scene.model.Scene`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from runtime.scene.components import COMPONENT_FIELDS, Field
from runtime.scene.errors import SceneError
from runtime.scene.fields import Doc, Path_
from runtime.scene.gc_pause import gc_paused
from runtime.scene.model import (
    ASSET_TYPES,
    POINT_KINDS,
    Connection,
    Entity,
    PointSpec,
    Scene,
    Viewpoint,
)
from runtime.scene.model_keys import parse_model
from runtime.scene.tours import parse_tours
from runtime.scene.units import unit_problem
from runtime.scene.yaml_located import load_located

SCENE_FORMAT = "twinstage.scene/1"
ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*$")
POINT_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_POINT_ID_LEN = 128
"""``<entity>/<point>`` as the bus carries it (docs/bus-protocol.md: a point name is at most 128
characters); validate refuses what the adapter could not publish."""
MAX_ID_LEN = 64
_ENTITY_KEYS = {"id", "type", "name", "transform", "model", "points", "description"}
_KEYS_OF_TYPE = {kind: _ENTITY_KEYS | {kind} for kind in ASSET_TYPES}
"""The keys an entity of each type may have: the common ones and its own block."""
_TRANSFORM_KEYS = {"position_m", "heading_deg"}
_POINT_KEYS = {"name", "unit", "kind", "states"}
_CONNECTION_KEYS = {"id", "type", "from", "to", "diameter_m", "length_m", "via_m", "from_anchor",
                    "to_anchor"}


def resolve_scene_dir(scene: str | Path) -> Path:
    """Accept a scene folder, a ``scene.yaml`` path, or the name of a bundled scene."""
    from runtime import SCENES_DIR

    candidate = Path(scene)
    if candidate.is_file():
        return candidate.parent
    if candidate.is_dir():
        return candidate
    bundled = SCENES_DIR / str(scene)
    if bundled.is_dir():
        return bundled
    raise SceneError(candidate, None, "", "no such scene folder or file")


def load_scene(scene: str | Path) -> Scene:
    """Read, validate and build a scene. Raises SceneError naming file, line and key."""
    with gc_paused():
        return _load_scene(scene)


def _load_scene(scene: str | Path) -> Scene:
    folder = resolve_scene_dir(scene)
    path = Path(scene) if Path(scene).is_file() else folder / "scene.yaml"
    data, lines = load_located(path)
    doc = Doc(path, lines)
    root = doc.mapping(data, ())
    doc.only_keys(root, (), {"format", "name", "description", "entities", "connections",
                             "viewpoints", "tours"})
    fmt = doc.string(root, (), "format")
    if fmt != SCENE_FORMAT:
        raise doc.fail(("format",), f"unsupported format {fmt!r}; expected {SCENE_FORMAT!r}")
    name = doc.string(root, (), "name")
    description = str(root.get("description") or "").strip()

    raw_entities = doc.sequence(doc.required(root, (), "entities"), ("entities",))
    seen: dict[str, Path_] = {}
    entities: list[Entity] = []
    for i, raw in enumerate(raw_entities):
        at: Path_ = ("entities", i)
        entity = _entity(doc, doc.mapping(raw, at), at, folder)
        _claim_id(doc, seen, entity.id, at + ("id",))
        entities.append(entity)

    connections: list[Connection] = []
    raw_connections = doc.sequence(root.get("connections") or [], ("connections",))
    for i, raw in enumerate(raw_connections):
        at = ("connections", i)
        conn = _connection(doc, doc.mapping(raw, at), at)
        _claim_id(doc, seen, conn.id, at + ("id",))
        for end, ref, anchor in (("from", conn.source, conn.source_anchor),
                                 ("to", conn.target, conn.target_anchor)):
            if ref not in seen or seen[ref][0] != "entities":
                raise doc.fail(
                    at + (end,), f"connection {conn.id} refers to missing entity {ref!r}"
                )
            if anchor is not None:
                _check_anchor(doc, at + (f"{end}_anchor",), entities[seen[ref][1]], anchor)
        connections.append(conn)
    positions = {e.id: e.position_m for e in entities}
    entities.extend(_pipe_entity(conn, positions) for conn in connections)

    points = tuple(p for e in entities for p in e.points)
    _check_references(doc, entities, points)
    viewpoints = _viewpoints(doc, root.get("viewpoints"))
    tours = parse_tours(doc, root.get("tours"), {e.id for e in entities}, viewpoints)
    return Scene(
        viewpoints=viewpoints,
        tours=tours,
        path=folder,
        name=name,
        description=description,
        entities=tuple(entities),
        connections=tuple(connections),
        points=points,
    )


MAX_VIEWPOINTS = 9
"""Viewpoints sit on the number keys 1-9."""


def _viewpoints(doc: Doc, raw: Any) -> tuple[Viewpoint, ...]:
    if raw is None:
        return ()
    items = doc.sequence(raw, ("viewpoints",))
    if len(items) > MAX_VIEWPOINTS:
        raise doc.fail(("viewpoints",), f"{len(items)} viewpoints; at most {MAX_VIEWPOINTS} "
                       "(they sit on the keys 1-9)")
    out = []
    for i, item in enumerate(items):
        at: Path_ = ("viewpoints", i)
        vp = doc.mapping(item, at)
        doc.only_keys(vp, at, {"name", "target_m", "distance_m", "heading_deg", "pitch_deg"})
        pitch = doc.number(vp, at, "pitch_deg", default=-30.0)
        if not -88.0 <= pitch <= -3.0:
            raise doc.fail(at + ("pitch_deg",), f"{pitch:g} is outside -88..-3 (degrees down)")
        out.append(Viewpoint(
            name=doc.string(vp, at, "name"),
            target_m=doc.vector(doc.required(vp, at, "target_m"), at + ("target_m",), 3),
            distance_m=doc.number(vp, at, "distance_m", positive=True),
            heading_deg=doc.number(vp, at, "heading_deg", default=0.0),
            pitch_deg=pitch))
    return tuple(out)


def _check_anchor(doc: Doc, at: Path_, entity: Entity, anchor: str) -> None:
    names = [a.name for a in entity.model.anchors] if entity.model is not None else []
    if anchor not in names:
        have = ", ".join(names) if names else "none (anchors come with a model file's anchors:)"
        raise doc.fail(at, f"{entity.id} has no anchor {anchor!r} (its anchors: {have})")


def _claim_id(doc: Doc, seen: dict[str, Path_], ident: str, at: Path_) -> None:
    if ident in seen:
        first = doc.line(seen[ident])
        raise doc.fail(at, f"duplicate id {ident!r} (first used on line {first})")
    seen[ident] = at[:-1]


def _entity(doc: Doc, raw: dict[str, Any], at: Path_, folder: Path) -> Entity:
    ident = doc.string(raw, at, "id")
    if not ID_PATTERN.match(ident):
        raise doc.fail(
            at + ("id",), f"id {ident!r} must look like P-101 or T_201 (letters, digits, -, _)"
        )
    if len(ident) > MAX_ID_LEN:
        raise doc.fail(at + ("id",), f"id {ident[:20]!r}... is {len(ident)} characters; at most "
                       f"{MAX_ID_LEN}")
    kind = doc.string(raw, at, "type")
    if kind not in ASSET_TYPES or kind == "pipe":
        options = ", ".join(t for t in ASSET_TYPES if t != "pipe")
        raise doc.fail(
            at + ("type",),
            f"unknown asset type {kind!r} (known: {options}; pipes go under connections)",
        )
    doc.only_keys(raw, at, _KEYS_OF_TYPE[kind])
    for other in ASSET_TYPES:
        if other != kind and other in raw:
            raise doc.fail(at + (other,), f"a {kind} cannot have a {other!r} block")

    transform = doc.mapping(raw.get("transform") or {}, at + ("transform",))
    doc.only_keys(transform, at + ("transform",), _TRANSFORM_KEYS)
    position = doc.vector(
        transform.get("position_m", [0, 0, 0]), at + ("transform", "position_m"), 3
    )
    heading = doc.number(transform, at + ("transform",), "heading_deg", default=0.0)

    procedural, model = parse_model(doc, raw.get("model"), at + ("model",), folder, kind,
                                    ident)
    params = _params(doc, raw.get(kind) or {}, at + (kind,), COMPONENT_FIELDS[kind])
    points = tuple(
        _point(doc, ident, p, at + ("points", j))
        for j, p in enumerate(doc.sequence(raw.get("points") or [], at + ("points",)))
    )
    names = [p.name for p in points]
    for j, n in enumerate(names):
        if n in names[:j]:
            raise doc.fail(at + ("points", j, "name"), f"point {ident}/{n} is declared twice")
    return Entity(
        id=ident,
        type=kind,
        name=doc.string(raw, at, "name", default=ident),
        position_m=position,  # type: ignore[arg-type]
        heading_deg=heading,
        model_procedural=procedural,
        model_file=model.path if model is not None else None,
        params=params,
        points=points,
        line=doc.line(at) or 0,
        model=model,
    )


def _params(doc: Doc, raw: Any, at: Path_, fields: dict[str, Field]) -> dict[str, Any]:
    block = doc.mapping(raw, at)
    doc.only_keys(block, at, set(fields))
    out: dict[str, Any] = {}
    for key, spec in fields.items():
        if key not in block:
            if spec.required:
                raise doc.fail(at, f"missing required key {key!r} ({spec.help})")
            out[key] = spec.default
            continue
        value = block[key]
        where = at + (key,)
        if spec.kind in ("pos", "num", "nonneg"):
            out[key] = doc.as_number(
                value,
                where,
                positive=spec.kind == "pos",
                minimum=0.0 if spec.kind == "nonneg" else None,
            )
        elif spec.kind == "bool":
            out[key] = doc.boolean(block, at, key, False)
        elif spec.kind == "range":
            lo, hi = doc.vector(value, where, 2)
            if not lo < hi:
                raise doc.fail(where, f"range low must be below high, got [{lo}, {hi}]")
            out[key] = (lo, hi)
        elif spec.kind.startswith("choice:"):
            out[key] = doc.choice(block, at, key, tuple(spec.kind[7:].split("|")))
        else:  # entity:<type> or point: references are checked once all entities are known
            out[key] = doc.string(block, at, key)
    return out


def _point(doc: Doc, entity_id: str, raw: Any, at: Path_) -> PointSpec:
    spec = doc.mapping(raw, at)
    doc.only_keys(spec, at, _POINT_KEYS)
    name = doc.string(spec, at, "name")
    if not POINT_NAME_PATTERN.match(name):
        raise doc.fail(
            at + ("name",), f"point name {name!r} must be lower_snake_case with its unit suffix"
        )
    if len(entity_id) + 1 + len(name) > MAX_POINT_ID_LEN:
        raise doc.fail(at + ("name",), f"point {entity_id}/{name[:20]}... is "
                       f"{len(entity_id) + 1 + len(name)} characters; the bus carries at most "
                       f"{MAX_POINT_ID_LEN}")
    unit = spec.get("unit")
    if not isinstance(unit, str):
        raise doc.fail(
            at + ("unit",) if "unit" in spec else at,
            f"point {name!r} needs a unit as text, e.g. unit: m",
        )
    problem = unit_problem(name, unit)
    if problem:
        raise doc.fail(at + ("unit",), problem)
    kind = doc.choice(spec, at, "kind", POINT_KINDS)
    states: tuple[str, ...] = ()
    if unit == "enum":
        raw_states = doc.sequence(doc.required(spec, at, "states"), at + ("states",))
        states = tuple(str(s) for s in raw_states)
        if len(states) < 2:
            raise doc.fail(at + ("states",), "an enum point needs at least two states")
    elif "states" in spec:
        raise doc.fail(at + ("states",), "only points with unit: enum take states")
    return PointSpec(entity_id, name, unit, kind, states, line=doc.line(at) or 0)


def _connection(doc: Doc, raw: dict[str, Any], at: Path_) -> Connection:
    doc.only_keys(raw, at, _CONNECTION_KEYS)
    ident = doc.string(raw, at, "id")
    if not ID_PATTERN.match(ident):
        raise doc.fail(at + ("id",), f"id {ident!r} must look like L-101")
    doc.choice(raw, at, "type", ("pipe",), default="pipe")
    via = tuple(
        doc.vector(v, at + ("via_m", i), 3)
        for i, v in enumerate(doc.sequence(raw.get("via_m") or [], at + ("via_m",)))
    )
    return Connection(
        id=ident,
        type="pipe",
        source=doc.string(raw, at, "from"),
        target=doc.string(raw, at, "to"),
        diameter_m=doc.number(raw, at, "diameter_m", positive=True),
        length_m=doc.number(raw, at, "length_m", positive=True),
        via_m=via,  # type: ignore[arg-type]
        line=doc.line(at) or 0,
        source_anchor=doc.string(raw, at, "from_anchor") if "from_anchor" in raw else None,
        target_anchor=doc.string(raw, at, "to_anchor") if "to_anchor" in raw else None,
    )


def _pipe_entity(conn: Connection, positions: dict[str, tuple[float, float, float]]) -> Entity:
    a, b = positions[conn.source], positions[conn.target]
    mid = tuple((x + y) / 2 for x, y in zip(a, b, strict=True))
    return Entity(
        id=conn.id,
        type="pipe",
        name=f"Pipe {conn.source} to {conn.target}",
        position_m=mid,  # type: ignore[arg-type]
        heading_deg=0.0,
        model_procedural=None,
        model_file=None,
        params={"diameter_m": conn.diameter_m, "length_m": conn.length_m},
        points=(PointSpec(conn.id, "flow_m3_h", "m3/h", "process", line=conn.line),),
        line=conn.line,
    )


_REFERENCE_FIELDS = {
    kind: [(key, spec) for key, spec in fields.items()
           if spec.kind.startswith("entity:") or spec.kind == "point"]
    for kind, fields in COMPONENT_FIELDS.items()
}
"""Per asset type, its fields that name another entity or a point."""


def _check_references(doc: Doc, entities: list[Entity], points: tuple[PointSpec, ...]) -> None:
    by_id = {e.id: e for e in entities}
    point_ids = {p.id: p for p in points}
    for i, entity in enumerate(e for e in entities if e.type != "pipe"):
        for key, spec in _REFERENCE_FIELDS[entity.type]:
            value = entity.params.get(key)
            if not value or not isinstance(value, str):
                continue
            at: Path_ = ("entities", i, entity.type, key)
            if spec.kind.startswith("entity:"):
                want = spec.kind[7:]
                target = by_id.get(value)
                if target is None:
                    raise doc.fail(at, f"refers to missing entity {value!r}")
                if target.type != want:
                    raise doc.fail(at, f"{value!r} is a {target.type}, expected a {want}")
            elif spec.kind == "point" and value not in point_ids:
                raise doc.fail(
                    at,
                    f"refers to undeclared point {value!r} (declare it under that entity's points)",
                )
    _check_controllers(doc, entities)
    _check_model_bindings(doc, entities, point_ids)


_ACTION_UNITS = {"spin": ("rpm",), "light": ("bool",), "beacon": ("bool",)}


def _check_model_bindings(doc: Doc, entities: list[Entity],
                          points: dict[str, PointSpec]) -> None:
    for i, entity in enumerate(entities):
        if entity.model is None:
            continue
        for j, binding in enumerate(entity.model.bindings):
            at: Path_ = ("entities", i, "model", "bindings", j, "point")
            spec = points.get(binding.point)
            if spec is None:
                raise doc.fail(at, f"binding of node {binding.node!r} reads undeclared point "
                               f"{binding.point!r} (declare it under the entity's points)")
            if spec.unit not in _ACTION_UNITS[binding.action]:
                want = " or ".join(_ACTION_UNITS[binding.action])
                raise doc.fail(at, f"a {binding.action} binding needs a point in {want}; "
                               f"{binding.point} is in {spec.unit}")


def _check_controllers(doc: Doc, entities: list[Entity]) -> None:
    for i, entity in enumerate(entities):
        if entity.type != "controller":
            continue
        needed = ("pv", "output") if entity.params["algorithm"] == "pid" else ("duty", "standby")
        for key in needed:
            if not entity.params.get(key):
                raise doc.fail(
                    ("entities", i, "controller"),
                    f"a {entity.params['algorithm']} controller needs {key!r}",
                )
