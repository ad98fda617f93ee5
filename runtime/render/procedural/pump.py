"""End-suction centrifugal pump: skid, volute casing, suction and discharge nozzles, bearing
frame, and a ``rotor`` part (shaft + coupling half with lugs) that spins about the shaft.

Local frame: the shaft runs along +X toward the motor at height ``SHAFT_Z_M``; suction enters
along -X, discharge leaves upward from the top of the volute.
"""

from __future__ import annotations

import math

import numpy as np
from panda3d.core import NodePath

from runtime.render.geom import MeshBuilder
from runtime.render.materials import Materials
from runtime.render.procedural.base import AssetVisual, Port, add_part, heading_basis
from runtime.scene.model import Entity

SHAFT_Z_M = 0.6
"""Shaft centreline height, equal to the pipe rack height of the bundled scenes."""
SUCTION_X_M = -0.58
DISCHARGE_Z_M = 1.3
LAMP_POS_M = (0.45, -0.42, 1.25)
"""Run lamp on a post at the skid's front corner (facing the default camera)."""
BEACON_POS_M = (-0.35, -0.42, 1.75)
"""Trip beacon on a taller post beside it; hidden until the pump trips."""


def rotor_mesh(x0: float, x1: float, hub_x0: float,
               hub_x1: float) -> tuple[MeshBuilder, MeshBuilder]:
    """Shaft from x0 to x1 and a coupling hub with four lugs, around the local X axis.

    Returned as (steel shaft, coloured hub) so the hub can take a highly visible finish; the
    lugs make the rotation readable on screen.
    """
    shaft = MeshBuilder()
    shaft.cylinder(0.045, x1 - x0, origin=(x0, 0, 0), axis=(1, 0, 0), segments=12)
    hub = MeshBuilder()
    hub.cylinder(0.13, hub_x1 - hub_x0, origin=(hub_x0, 0, 0), axis=(1, 0, 0), segments=20)
    for k in range(4):
        a = k * math.pi / 2
        hub.box((hub_x1 - hub_x0, 0.05, 0.05),
                center=(0.5 * (hub_x0 + hub_x1), 0.14 * math.cos(a), 0.14 * math.sin(a)))
    return shaft, hub


def build(entity: Entity, materials: Materials) -> AssetVisual:
    root = NodePath(entity.id)
    skid = MeshBuilder()
    skid.box((1.7, 0.9, 0.12), center=(0.1, 0, 0.06))
    add_part(root, "skid", skid, materials, "base_grey")

    z = SHAFT_Z_M
    casing = MeshBuilder()
    casing.cylinder(0.40, 0.34, origin=(-0.17, 0, z), axis=(1, 0, 0), segments=32)
    casing.torus(0.36, 0.14, center=(0, 0, z), axis=(1, 0, 0), segments=32, sides=10)
    # volute tongue and discharge nozzle rising from the top
    casing.cylinder(0.13, DISCHARGE_Z_M - z - 0.3, origin=(0, 0, z + 0.3), segments=16)
    casing.cylinder(0.2, 0.05, origin=(0, 0, DISCHARGE_Z_M - 0.05), segments=20)
    # suction nozzle and flange along -X
    casing.cylinder(0.15, -SUCTION_X_M - 0.17, origin=(-0.17, 0, z), axis=(-1, 0, 0), segments=16)
    casing.cylinder(0.23, 0.05, origin=(SUCTION_X_M + 0.05, 0, z), axis=(-1, 0, 0), segments=20)
    # casing foot and bearing frame with its pedestal
    casing.box((0.3, 0.35, z - 0.3), center=(0, 0, 0.12 + (z - 0.3) / 2))
    casing.cylinder(0.13, 0.4, origin=(0.17, 0, z), axis=(1, 0, 0), segments=16)
    casing.box((0.25, 0.3, z - 0.12), center=(0.4, 0, 0.12 + (z - 0.12) / 2))
    add_part(root, "casing", casing, materials, "pump_blue")

    rotor = root.attach_new_node("rotor")
    rotor.set_pos(0, 0, z)
    shaft, hub = rotor_mesh(0.55, 0.92, 0.80, 0.92)
    add_part(rotor, "shaft", shaft, materials, "steel")
    add_part(rotor, "coupling", hub, materials, "coupling_orange")

    posts = MeshBuilder()
    for x, y, top in (LAMP_POS_M, BEACON_POS_M):
        posts.cylinder(0.025, top - 0.12, origin=(x, y, 0.12), segments=8)
    add_part(root, "status_posts", posts, materials, "steel_dark")
    lamp = MeshBuilder()
    lamp.sphere(0.13, center=LAMP_POS_M, segments=16, rings=8)
    run_lamp = add_part(root, "run_lamp", lamp, materials, "lamp_off")
    beacon = MeshBuilder()
    bx, by, bz = BEACON_POS_M
    beacon.cylinder(0.17, 0.32, origin=(bx, by, bz), radius_top=0.13, segments=16)
    beacon.sphere(0.13, center=(bx, by, bz + 0.32), segments=16, rings=6, z_scale=0.7)
    trip = add_part(root, "trip_beacon", beacon, materials, "beacon_red")
    trip.hide()
    return AssetVisual(root=root, height_m=DISCHARGE_Z_M + 0.4,
                       parts={"rotor": rotor, "run_lamp": run_lamp, "trip_beacon": trip})


def port(entity: Entity, toward: np.ndarray) -> Port:
    """Suction for a pipe arriving at or below shaft height, discharge for one leaving above.

    Scenes route suction lines at shaft height and discharge lines over the motor, so the
    neighbour's height decides; ties go to suction when the neighbour lies behind the pump.
    """
    basis = heading_basis(entity.heading_deg)
    origin = np.asarray(entity.position_m, dtype=np.float64)
    local = basis.T @ (np.asarray(toward, dtype=np.float64) - origin)
    suction = local[0] < 0 and local[2] <= SHAFT_Z_M + 0.3
    if suction:
        return Port(origin + basis @ np.array([SUCTION_X_M, 0, SHAFT_Z_M]), basis[:, 0] * -1.0)
    return Port(origin + basis @ np.array([0.0, 0.0, DISCHARGE_Z_M]), np.array([0.0, 0.0, 1.0]))
