"""TEFC induction motor: finned frame, end shields, fan cowl, terminal box, feet on a plinth,
and a ``rotor`` part (shaft + coupling half) at the drive end facing -X (toward the pump).

The motor shares the pump's shaft height so the two coupling halves meet when the scene puts
the motor about 1.9 m along the pump's heading, as the bundled scenes do.
"""

from __future__ import annotations

import math

import numpy as np
from panda3d.core import NodePath

from runtime.render.geom import MeshBuilder
from runtime.render.materials import Materials
from runtime.render.procedural.base import AssetVisual, add_part
from runtime.render.procedural.pump import SHAFT_Z_M, rotor_mesh
from runtime.scene.model import Entity

FRAME_R_M = 0.3
BODY_X = (-0.6, 0.45)
FIN_COUNT = 20


def build(entity: Entity, materials: Materials) -> AssetVisual:
    root = NodePath(entity.id)
    z = SHAFT_Z_M
    base = MeshBuilder()
    base.box((1.3, 0.8, 0.12), center=(0.0, 0, 0.06))
    add_part(root, "skid", base, materials, "base_grey")

    frame = MeshBuilder()
    x0, x1 = BODY_X
    frame.cylinder(FRAME_R_M, x1 - x0, origin=(x0, 0, z), axis=(1, 0, 0), segments=32)
    for k in range(FIN_COUNT):
        a = 2 * math.pi * (k + 0.5) / FIN_COUNT
        if math.sin(a) < -0.6:  # leave the bottom clear for the feet
            continue
        rot = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
        frame.box((x1 - x0 - 0.1, 0.07, 0.018), center=(0.5 * (x0 + x1),
                  (FRAME_R_M + 0.03) * math.cos(a), z + (FRAME_R_M + 0.03) * math.sin(a)),
                  basis=rot)
    frame.box((0.28, 0.28, 0.22), center=(0.0, 0.0, z + FRAME_R_M + 0.1))  # terminal box
    for fx in (x0 + 0.15, x1 - 0.15):
        frame.box((0.14, 0.62, z - FRAME_R_M + 0.05 - 0.12),
                  center=(fx, 0, 0.12 + (z - FRAME_R_M + 0.05 - 0.12) / 2))
    add_part(root, "frame", frame, materials, "motor_green")

    ends = MeshBuilder()
    ends.cylinder(FRAME_R_M + 0.04, 0.06, origin=(x0 - 0.06, 0, z), axis=(1, 0, 0), segments=32)
    ends.cylinder(FRAME_R_M + 0.04, 0.28, origin=(x1, 0, z), axis=(1, 0, 0), segments=32)  # cowl
    ends.disc(FRAME_R_M * 0.8, origin=(x1 + 0.285, 0, z), axis=(1, 0, 0), segments=24)
    add_part(root, "end_shields", ends, materials, "steel_dark")

    rotor = root.attach_new_node("rotor")
    rotor.set_pos(0, 0, z)
    shaft, hub = rotor_mesh(-0.97, x0 - 0.06, -0.97, -0.85)
    add_part(rotor, "shaft", shaft, materials, "steel")
    add_part(rotor, "coupling", hub, materials, "coupling_orange")
    return AssetVisual(root=root, height_m=z + FRAME_R_M + 0.5, parts={"rotor": rotor})
