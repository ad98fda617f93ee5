"""Pipe header stub: a capped horizontal drum on a saddle support; branches meet its shell.

Local frame: the origin is on the header's axis, which runs along local Y (across the main run
that arrives along X), as in the bundled pump station's suction and discharge headers.
"""

from __future__ import annotations

import numpy as np
from panda3d.core import NodePath

from runtime.render.geom import MeshBuilder
from runtime.render.materials import Materials
from runtime.render.procedural.base import AssetVisual, Port, add_part, direction_to
from runtime.scene.model import Entity

HEADER_R_M = 0.3
HEADER_HALF_LEN_M = 0.75


def build(entity: Entity, materials: Materials) -> AssetVisual:
    root = NodePath(entity.id)
    header = MeshBuilder()
    header.cylinder(HEADER_R_M, 2 * HEADER_HALF_LEN_M, origin=(0, -HEADER_HALF_LEN_M, 0),
                    axis=(0, 1, 0), segments=32, caps=False)
    for sign in (-1.0, 1.0):
        header.sphere(HEADER_R_M, center=(0, sign * HEADER_HALF_LEN_M, 0), segments=24, rings=12)
    add_part(root, "header", header, materials, "header_grey")
    z = float(entity.position_m[2])
    if z > HEADER_R_M:
        support = MeshBuilder()
        support.box((0.2, 0.2, z - HEADER_R_M + 0.05), center=(0, 0, -(z + HEADER_R_M) / 2))
        support.box((0.5, 0.5, 0.1), center=(0, 0, -z + 0.05))
        add_part(root, "support", support, materials, "steel_dark")
    return AssetVisual(root=root, height_m=HEADER_R_M + 0.6)


def port(entity: Entity, toward: np.ndarray) -> Port:
    """Branches leave the shell toward their neighbour, at the header's height."""
    d = direction_to(entity, toward)
    return Port(np.asarray(entity.position_m, dtype=np.float64) + d * HEADER_R_M, d)
