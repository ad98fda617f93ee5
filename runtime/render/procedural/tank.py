"""Vertical storage tank: plinth, shell with stiffener rings, cone roof, roof handrail, and a
level band (a dark sight strip with a blue water bar that the live level scales)."""

from __future__ import annotations

import math

import numpy as np
from panda3d.core import NodePath

from runtime.render.geom import MeshBuilder
from runtime.render.materials import Materials
from runtime.render.procedural.base import AssetVisual, Port, add_part, direction_to
from runtime.scene.model import Entity

ROOF_RISE = 0.12
"""Cone roof rise as a fraction of the radius."""
BAND_MARGIN_M = 0.25
"""The level band leaves this much shell bare at the bottom and top."""
BAND_ANGLES_DEG = (-90.0, 90.0)
"""The band is drawn facing -Y (the default camera) and +Y (the far side)."""
BAND_WIDTH_DEG = 14.0


def _dims(entity: Entity) -> tuple[float, float, float]:
    p = entity.params
    return 0.5 * float(p.get("diameter_m", 6.0)), float(p.get("height_m", 5.0)), float(
        p.get("elevation_m", 0.0)
    )


def build(entity: Entity, materials: Materials) -> AssetVisual:
    """Build the tank; the ``fill`` part is unit height, scaled in Z by level/height."""
    r, h, z0 = _dims(entity)
    root = NodePath(entity.id)
    body = root.attach_new_node("body")
    body.set_z(z0)

    plinth = MeshBuilder()
    plinth.cylinder(r + 0.35, 0.2 + z0, origin=(0, 0, -z0 - 0.05), segments=48)
    add_part(body, "plinth", plinth, materials, "concrete")

    shell = MeshBuilder()
    shell.cylinder(r, h, segments=64, caps=False)
    add_part(body, "shell", shell, materials, "tank_shell")

    rings = MeshBuilder()
    z = 1.5
    while z < h - 0.3:
        rings.torus(r, 0.035, center=(0, 0, z), segments=64, sides=6)
        z += 1.5
    rings.torus(r, 0.06, center=(0, 0, h), segments=64, sides=6)
    add_part(body, "rings", rings, materials, "tank_roof")

    roof = MeshBuilder()
    roof.cylinder(r + 0.05, r * ROOF_RISE, origin=(0, 0, h), radius_top=0.0, segments=64)
    roof.cylinder(0.35, 0.3, origin=(0, 0, h + r * ROOF_RISE - 0.05), segments=16)
    add_part(body, "roof", roof, materials, "tank_roof")

    rail = MeshBuilder()
    rail_r = r - 0.25
    rail_z = h + ROOF_RISE * (r - rail_r)
    rail.torus(rail_r, 0.03, center=(0, 0, rail_z + 1.0), segments=64, sides=6)
    for k in range(16):
        a = 2 * math.pi * k / 16
        rail.cylinder(0.025, 1.0, origin=(rail_r * math.cos(a), rail_r * math.sin(a), rail_z),
                      segments=6, caps=False)
    add_part(body, "handrail", rail, materials, "safety_yellow")

    glass = MeshBuilder()
    fill = MeshBuilder()
    band_h = h - 2 * BAND_MARGIN_M
    for centre in BAND_ANGLES_DEG:
        arc = (centre - BAND_WIDTH_DEG / 2, centre + BAND_WIDTH_DEG / 2)
        glass.cylinder(r + 0.03, band_h, origin=(0, 0, BAND_MARGIN_M), arc_deg=arc,
                       segments=6, caps=False)
        fill.cylinder(r + 0.06, 1.0, arc_deg=(arc[0] + 1.0, arc[1] - 1.0), segments=6,
                      caps=False)
        for frac in (0.25, 0.5, 0.75):
            glass.cylinder(r + 0.07, 0.03, origin=(0, 0, BAND_MARGIN_M + frac * band_h),
                           arc_deg=(arc[0] - 1.5, arc[0] + 1.0), segments=2, caps=False)
    add_part(body, "level_band", glass, materials, "level_glass")
    fill_np = add_part(body, "fill", fill, materials, "water")
    fill_np.set_z(BAND_MARGIN_M)
    initial = float(entity.params.get("initial_level_m", 0.0)) / h
    set_fill(fill_np, band_h, initial)
    return AssetVisual(root=root, height_m=z0 + h + r * ROOF_RISE + 0.3, parts={"fill": fill_np})


def band_height_m(entity: Entity) -> float:
    """Height of the level band (the fill part's full-scale Z)."""
    _r, h, _z0 = _dims(entity)
    return h - 2 * BAND_MARGIN_M


def set_fill(fill: NodePath, band_h: float, fraction: float) -> None:
    """Scale the water bar to ``fraction`` (0..1) of the band; never to zero (singular)."""
    fill.set_sz(max(1e-3, min(1.0, fraction)) * band_h)


def port(entity: Entity, toward: np.ndarray) -> Port:
    """Shell nozzle facing ``toward``, or a roof nozzle when the pipe arrives above the roof."""
    r, h, z0 = _dims(entity)
    base = np.asarray(entity.position_m, dtype=np.float64)
    d = direction_to(entity, toward)
    top = base[2] + z0 + h
    if float(toward[2]) >= top - 0.2:
        rr = 0.6 * r
        z = top + ROOF_RISE * (r - rr) + 0.1
        return Port(base + d * rr + np.array([0, 0, z - base[2]]), np.array([0.0, 0.0, 1.0]))
    z = min(max(float(toward[2]), base[2] + z0 + 0.4), top - 0.4)
    return Port(np.array([base[0] + d[0] * r, base[1] + d[1] * r, z]), d)
