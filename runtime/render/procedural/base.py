"""What every asset builder returns, and the shared helpers they use."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from panda3d.core import NodePath

from runtime.render.geom import MeshBuilder
from runtime.render.materials import Materials
from runtime.scene.model import Entity


@dataclass(slots=True)
class AssetVisual:
    """The scene-graph handles of one built asset.

    ``parts`` holds the nodes that live data moves: ``fill`` (tank water band, scaled in Z by the
    fill fraction), ``rotor`` (pump/motor shaft and coupling, pitched about the shaft axis X),
    ``stem`` (valve stem and travel indicator, moved in Z by the opening).
    """

    root: NodePath
    height_m: float
    """Top of the model above its origin: where the name label is anchored."""
    parts: dict[str, NodePath] = field(default_factory=dict)
    stem_travel_m: float = 0.0
    """Valves: stem movement from closed (0 %) to open (100 %)."""
    anchors: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Model files: named pipe ports, (point, outward unit vector) in the entity's frame."""
    spin_axis: str = "x"
    """The rotor's own axis it turns about: ``x`` (procedural shafts), ``y`` or ``z``."""
    centre_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Model files: centre of the placed model's box, entity frame (pipes without anchors)."""


class Port(NamedTuple):
    """Where a pipe meets an asset, in world metres, and the direction it leaves in."""

    point: np.ndarray
    outward: np.ndarray


def add_part(
    parent: NodePath, name: str, mesh: MeshBuilder, materials: Materials, finish: str
) -> NodePath:
    """Attach ``mesh`` under ``parent`` as a GeomNode named ``name`` with a finish."""
    np_ = parent.attach_new_node(mesh.node(name))
    materials.apply(np_, finish)
    return np_


def heading_basis(heading_deg: float) -> np.ndarray:
    """Rotation about Z by the heading (columns: local X, Y, Z in world)."""
    h = math.radians(heading_deg)
    c, s = math.cos(h), math.sin(h)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def to_world(entity: Entity, local: tuple[float, float, float]) -> np.ndarray:
    """A local point of ``entity`` in world coordinates."""
    return heading_basis(entity.heading_deg) @ np.asarray(local) + np.asarray(entity.position_m)


def direction_to(entity: Entity, toward: np.ndarray) -> np.ndarray:
    """Unit horizontal direction from the entity's origin toward a point (X if coincident)."""
    d = np.asarray(toward, dtype=np.float64)[:2] - np.asarray(entity.position_m)[:2]
    n = float(np.hypot(*d))
    return np.array([d[0] / n, d[1] / n, 0.0]) if n > 1e-6 else np.array([1.0, 0.0, 0.0])


def default_port(entity: Entity, toward: np.ndarray) -> Port:
    """Pipes meet assets without nozzles at their origin."""
    return Port(np.asarray(entity.position_m, dtype=np.float64), direction_to(entity, toward))
