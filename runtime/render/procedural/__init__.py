"""One procedural model builder per asset type, and the pipe router.

``BUILDERS`` maps a scene's ``model: {procedural: NAME}`` to a function
``build(entity, materials) -> AssetVisual``; ``PORTS`` maps an entity type to the function that
says where a pipe attaches to it. Builders place geometry in the entity's local frame (X is the
heading, Z up, origin at the entity's position); the scene graph applies the transform.
"""

from __future__ import annotations

from collections.abc import Callable

from runtime.render.procedural import (
    cabinet,
    junction,
    motor,
    pump,
    tank,
    transmitter,
    valve,
)
from runtime.render.procedural.base import AssetVisual, Port, default_port

__all__ = ["BUILDERS", "PORTS", "AssetVisual", "Port"]

BUILDERS: dict[str, Callable[..., AssetVisual]] = {
    "tank": tank.build,
    "pump": pump.build,
    "motor": motor.build,
    "valve": valve.build,
    "junction": junction.build,
    "transmitter": transmitter.build,
    "cabinet": cabinet.build,
}
"""Procedural model name -> builder."""

PORTS: dict[str, Callable[..., Port]] = {
    "tank": tank.port,
    "pump": pump.port,
    "valve": valve.port,
    "junction": junction.port,
}
"""Entity type -> pipe attachment; other types use :func:`default_port` (the origin)."""


def port_for(entity_type: str) -> Callable[..., Port]:
    """The port function for an entity type (the entity origin when it has no nozzles)."""
    return PORTS.get(entity_type, default_port)
