"""Field transmitter: round housing with a white display face on a 2-inch pipe stand.

The scene gives the head's position; the stand runs from the ground up to it. The face looks
along local -Y so, at heading 0, it faces the default camera.
"""

from __future__ import annotations

from panda3d.core import NodePath

from runtime.render.geom import MeshBuilder
from runtime.render.materials import Materials
from runtime.render.procedural.base import AssetVisual, add_part
from runtime.scene.model import Entity

HEAD_R_M = 0.11


def build(entity: Entity, materials: Materials) -> AssetVisual:
    root = NodePath(entity.id)
    z = float(entity.position_m[2])
    stand = MeshBuilder()
    if z > 0.2:
        stand.cylinder(0.03, z - 0.12, origin=(0, 0.0, -z), segments=10)
        stand.box((0.3, 0.3, 0.03), center=(0, 0, -z + 0.015))
        stand.box((0.12, 0.04, 0.16), center=(0, 0.05, -0.14))  # mounting bracket
    add_part(root, "stand", stand, materials, "steel_dark")

    head = MeshBuilder()
    head.cylinder(HEAD_R_M, 0.2, origin=(0, 0.1, 0), axis=(0, -1, 0), segments=24)
    head.box((0.1, 0.12, 0.12), center=(0, 0, -0.14))  # sensor body / process connection
    head.cylinder(0.03, 0.08, origin=(HEAD_R_M, 0, 0), axis=(1, 0, 0), segments=8)  # gland
    add_part(root, "head", head, materials, "instrument_head")

    face = MeshBuilder()
    face.disc(HEAD_R_M * 0.8, origin=(0, -0.101, 0), axis=(0, -1, 0), segments=24)
    add_part(root, "face", face, materials, "instrument_face")
    return AssetVisual(root=root, height_m=HEAD_R_M + 0.35)
