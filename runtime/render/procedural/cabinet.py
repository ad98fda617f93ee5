"""Control cabinet: plinth, enclosure with a split double door, an HMI screen, indicator lamps
and a roof vent. The door side faces the entity's heading (local +X)."""

from __future__ import annotations

from panda3d.core import NodePath

from runtime.render.geom import MeshBuilder
from runtime.render.materials import Materials
from runtime.render.procedural.base import AssetVisual, add_part
from runtime.scene.model import Entity

WIDTH_M = 1.2
DEPTH_M = 0.5
HEIGHT_M = 2.0
PLINTH_M = 0.1


def build(entity: Entity, materials: Materials) -> AssetVisual:
    root = NodePath(entity.id)
    plinth = MeshBuilder()
    plinth.box((DEPTH_M, WIDTH_M, PLINTH_M), center=(0, 0, PLINTH_M / 2))
    add_part(root, "plinth", plinth, materials, "steel_dark")

    body = MeshBuilder()
    top = PLINTH_M + HEIGHT_M
    body.box((DEPTH_M, WIDTH_M, HEIGHT_M), center=(0, 0, PLINTH_M + HEIGHT_M / 2))
    body.box((DEPTH_M * 0.6, WIDTH_M * 0.8, 0.08), center=(0, 0, top + 0.04))  # roof vent
    add_part(root, "enclosure", body, materials, "cabinet_grey")

    trim = MeshBuilder()
    front = DEPTH_M / 2 + 0.005
    trim.box((0.01, 0.012, HEIGHT_M - 0.1), center=(front, 0, PLINTH_M + HEIGHT_M / 2))
    for y in (-0.04, 0.04):
        trim.box((0.04, 0.02, 0.18), center=(front + 0.02, y, PLINTH_M + 1.0))  # handles
    for side in (-1.0, 1.0):  # vent grilles on both sides of the door line
        for k in range(4):
            trim.box((0.01, 0.3, 0.02),
                     center=(front, side * WIDTH_M / 4, PLINTH_M + 0.2 + 0.05 * k))
    add_part(root, "trim", trim, materials, "steel_dark")

    screen = MeshBuilder()
    screen.box((0.02, 0.34, 0.24), center=(front, -WIDTH_M / 4, PLINTH_M + 1.45))
    add_part(root, "screen", screen, materials, "screen")
    lamps = MeshBuilder()
    for k in range(3):
        lamps.cylinder(0.025, 0.02, origin=(front, WIDTH_M / 4 - 0.1 + 0.1 * k,
                       PLINTH_M + 1.45), axis=(1, 0, 0), segments=10)
    add_part(root, "lamps", lamps, materials, "actuator_yellow")
    return AssetVisual(root=root, height_m=top + 0.5)
