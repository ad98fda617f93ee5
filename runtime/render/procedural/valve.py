"""Globe control valve inline on a pipe: flanged body, bonnet, yoke, diaphragm actuator and a
``stem`` part (stem + travel indicator) that rises as the valve opens.

Local frame: the origin is on the pipe centreline, flow along X; the actuator stands on +Z.
"""

from __future__ import annotations

import numpy as np
from panda3d.core import NodePath

from runtime.render.geom import MeshBuilder
from runtime.render.materials import Materials
from runtime.render.procedural.base import AssetVisual, Port, add_part, heading_basis
from runtime.scene.model import Entity

FLANGE_X_M = 0.42
STEM_TRAVEL_M = 0.16
"""Stem rise from closed to fully open (exaggerated so the opening reads on screen)."""
YOKE_Z = (0.42, 0.92)


def build(entity: Entity, materials: Materials) -> AssetVisual:
    root = NodePath(entity.id)
    body = MeshBuilder()
    body.sphere(0.27, segments=24, rings=12, z_scale=0.85)
    for sign in (-1.0, 1.0):
        body.cylinder(0.15, FLANGE_X_M - 0.05, origin=(0, 0, 0), axis=(sign, 0, 0), segments=16)
        body.cylinder(0.25, 0.06, origin=(sign * (FLANGE_X_M - 0.06), 0, 0), axis=(sign, 0, 0),
                      segments=24)
    body.cylinder(0.12, YOKE_Z[0] - 0.15, origin=(0, 0, 0.15), segments=16)  # bonnet
    body.cylinder(0.16, 0.04, origin=(0, 0, YOKE_Z[0] - 0.04), segments=16)
    add_part(root, "body", body, materials, "valve_body")

    yoke = MeshBuilder()
    for sign in (-1.0, 1.0):
        yoke.box((0.05, 0.04, YOKE_Z[1] - YOKE_Z[0]),
                 center=(0, sign * 0.11, 0.5 * (YOKE_Z[0] + YOKE_Z[1])))
    add_part(root, "yoke", yoke, materials, "steel_dark")

    actuator = MeshBuilder()
    z = YOKE_Z[1]
    actuator.cylinder(0.2, 0.08, origin=(0, 0, z), radius_top=0.38, segments=32)
    actuator.cylinder(0.38, 0.06, origin=(0, 0, z + 0.08), segments=32)
    actuator.cylinder(0.38, 0.2, origin=(0, 0, z + 0.14), radius_top=0.14, segments=32)
    actuator.cylinder(0.05, 0.08, origin=(0, 0, z + 0.34), segments=12)
    add_part(root, "actuator", actuator, materials, "actuator_yellow")

    stem = root.attach_new_node("stem")
    stem_mesh = MeshBuilder()
    stem_mesh.cylinder(0.022, YOKE_Z[1] - YOKE_Z[0] - STEM_TRAVEL_M + 0.1,
                       origin=(0, 0, YOKE_Z[0] - 0.1), segments=10)
    stem_mesh.box((0.09, 0.16, 0.03), center=(0, 0, YOKE_Z[0] + 0.05))  # travel indicator
    add_part(stem, "stem_rod", stem_mesh, materials, "steel")
    initial = float(entity.params.get("initial_position_pct", 0.0)) / 100.0
    set_stem(stem, initial)
    return AssetVisual(root=root, height_m=YOKE_Z[1] + 0.6, parts={"stem": stem},
                       stem_travel_m=STEM_TRAVEL_M)


def set_stem(stem: NodePath, fraction: float) -> None:
    """Raise the stem to ``fraction`` (0 closed .. 1 open) of its travel."""
    stem.set_z(max(0.0, min(1.0, fraction)) * STEM_TRAVEL_M)


def port(entity: Entity, toward: np.ndarray) -> Port:
    """The flange face on the side of the valve that faces ``toward``."""
    basis = heading_basis(entity.heading_deg)
    origin = np.asarray(entity.position_m, dtype=np.float64)
    side = 1.0 if float(basis[:, 0] @ (np.asarray(toward) - origin)) >= 0 else -1.0
    return Port(origin + basis[:, 0] * side * FLANGE_X_M, basis[:, 0] * side)
