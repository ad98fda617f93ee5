"""JSON Schema for scene files, generated from the same tables the loader validates with.

``twinstage schema > docs/scene.schema.json`` refreshes the committed copy; a test checks that
the committed file matches, so editors and the loader never disagree.
"""

from __future__ import annotations

from typing import Any

from runtime.scene.components import COMPONENT_FIELDS, PROCEDURAL_MODELS, Field
from runtime.scene.load import SCENE_FORMAT
from runtime.scene.model import (
    ASSET_TYPES,
    MODEL_ACTIONS,
    MODEL_ORIGINS,
    MODEL_UNITS,
    POINT_KINDS,
    SPIN_AXES,
)
from runtime.scene.tours import tour_schema
from runtime.scene.units import UNIT_SUFFIX

_ID = {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*$"}
_VEC3 = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}


def _field_schema(spec: Field) -> dict[str, Any]:
    kind = spec.kind
    if kind == "pos":
        out: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0}
    elif kind == "nonneg":
        out = {"type": "number", "minimum": 0}
    elif kind == "num":
        out = {"type": "number"}
    elif kind == "bool":
        out = {"type": "boolean"}
    elif kind == "range":
        out = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
    elif kind.startswith("choice:"):
        out = {"enum": kind[7:].split("|")}
    elif kind == "point":
        out = {"type": "string", "pattern": r"^[^/]+/[a-z][a-z0-9_]*$"}
    else:
        out = {"type": "string"}
    out["description"] = spec.help
    if not spec.required:
        out["default"] = list(spec.default) if isinstance(spec.default, tuple) else spec.default
    return out


def _model_file(key: str, pattern: str) -> dict[str, Any]:
    """A ``model:`` block naming a file (``gltf:`` or ``file:``) with its placement keys."""
    anchor = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"node": {"type": "string"}, "at": _VEC3, "outward": _VEC3},
        "oneOf": [{"required": ["node"]}, {"required": ["at"]}],
    }
    binding = {
        "type": "object",
        "additionalProperties": False,
        "required": ["node", "action"],
        "properties": {
            "node": {"type": "string", "description": "name of a node in the model"},
            "point": {"type": "string", "description": "own point name or <entity>/<point>"},
            "action": {"enum": list(MODEL_ACTIONS)},
            "axis": {"enum": list(SPIN_AXES), "default": "x"},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [key],
        "properties": {
            key: {"type": "string", "pattern": pattern,
                  "description": "path relative to the scene folder"},
            "unit": {"enum": list(MODEL_UNITS), "default": "m",
                     "description": "length unit the model was authored in"},
            "scale": {"type": "number", "exclusiveMinimum": 0, "default": 1},
            "origin": {"enum": list(MODEL_ORIGINS), "default": "model"},
            "place": {"enum": ["as_is", "floor"], "default": "as_is"},
            "offset_m": _VEC3,
            "rotate_deg": _VEC3,
            "anchors": {"type": "object", "additionalProperties": anchor},
            "bindings": {"type": "array", "items": binding},
        },
    }


def scene_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) describing ``scene.yaml``."""
    entity_variants = []
    for kind in ASSET_TYPES:
        if kind == "pipe":
            continue
        fields = COMPONENT_FIELDS[kind]
        block = {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: _field_schema(v) for k, v in fields.items()},
            "required": [k for k, v in fields.items() if v.required],
        }
        entity_variants.append(
            {
                "if": {"properties": {"type": {"const": kind}}},
                "then": {"properties": {kind: block}},
            }
        )
    point = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "unit", "kind"],
        "properties": {
            "name": {
                "type": "string",
                "pattern": r"^[a-z][a-z0-9_]*$",
                "description": "lower_snake_case ending in the unit suffix, e.g. level_m",
            },
            "unit": {"enum": list(UNIT_SUFFIX)},
            "kind": {"enum": list(POINT_KINDS)},
            "states": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        },
    }
    entity = {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": _ID,
            "type": {"enum": [t for t in ASSET_TYPES if t != "pipe"]},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "transform": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"position_m": _VEC3, "heading_deg": {"type": "number"}},
            },
            "model": {
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["procedural"],
                        "properties": {"procedural": {"enum": list(PROCEDURAL_MODELS)}},
                    },
                    _model_file("gltf", r"\.(gltf|glb)$"),
                    _model_file("file", r"\.(gltf|glb|bam|egg)$"),
                ]
            },
            "points": {"type": "array", "items": point},
            **{k: {"type": "object"} for k in ASSET_TYPES if k != "pipe"},
        },
        "additionalProperties": False,
        "allOf": entity_variants,
    }
    connection = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "from", "to", "diameter_m", "length_m"],
        "properties": {
            "id": _ID,
            "type": {"const": "pipe"},
            "from": {"type": "string"},
            "to": {"type": "string"},
            "diameter_m": {"type": "number", "exclusiveMinimum": 0},
            "length_m": {"type": "number", "exclusiveMinimum": 0},
            "via_m": {"type": "array", "items": _VEC3},
            "from_anchor": {"type": "string",
                            "description": "anchor of the source's model file the pipe leaves"},
            "to_anchor": {"type": "string",
                          "description": "anchor of the target's model file the pipe enters"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://twinstage.dev/schema/scene-1.json",
        "title": "twinstage scene",
        "type": "object",
        "additionalProperties": False,
        "required": ["format", "name", "entities"],
        "properties": {
            "format": {"const": SCENE_FORMAT},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "entities": {"type": "array", "items": entity},
            "connections": {"type": "array", "items": connection},
            "viewpoints": {"type": "array", "maxItems": 9, "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "target_m", "distance_m"],
                "properties": {
                    "name": {"type": "string"},
                    "target_m": _VEC3,
                    "distance_m": {"type": "number", "exclusiveMinimum": 0},
                    "heading_deg": {"type": "number"},
                    "pitch_deg": {"type": "number", "minimum": -88, "maximum": -3},
                },
            }},
            "tours": tour_schema(),
        },
    }
