"""Pipe routing: a connection becomes a polyline from the source's nozzle through the scene's
``via_m`` waypoints to the target's nozzle, squared off into horizontal and vertical legs."""

from __future__ import annotations

import numpy as np

from runtime.render.geom import MeshBuilder
from runtime.render.procedural.base import Port

STUB_M = 0.35
"""Straight run out of a nozzle before the first bend."""
FLANGE_RADIUS_FACTOR = 1.45
FLANGE_THICKNESS_M = 0.05


def _square_off(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """Corner points between ``a`` and ``b`` so every leg is vertical or along X or Y.

    Runs stay at the higher of the two heights (pipes cross over equipment, then drop), and a
    horizontal diagonal is split into an X leg then a Y leg.
    """
    out: list[np.ndarray] = []
    dz = abs(b[2] - a[2]) > 1e-6
    dxy = np.hypot(*(b[:2] - a[:2])) > 1e-6
    if dz and dxy:
        if b[2] > a[2]:
            corner = np.array([a[0], a[1], b[2]])
            out.append(corner)
            a = corner
        else:
            corner = np.array([b[0], b[1], a[2]])
            out.extend(_square_off(a, corner))
            out.append(corner)
            return out
    if abs(b[0] - a[0]) > 1e-6 and abs(b[1] - a[1]) > 1e-6:
        out.append(np.array([b[0], a[1], a[2]]))
    return out


def route(source: Port, target: Port,
          via_m: tuple[tuple[float, float, float], ...]) -> list[np.ndarray]:
    """The pipe's polyline in world metres, nozzle to nozzle."""
    start = np.asarray(source.point, dtype=np.float64)
    end = np.asarray(target.point, dtype=np.float64)
    keys = [start, start + source.outward * STUB_M]
    keys += [np.asarray(v, dtype=np.float64) for v in via_m]
    keys += [end + target.outward * STUB_M, end]
    path = [keys[0]]
    for b in keys[1:]:
        a = path[-1]
        if np.linalg.norm(b - a) < 1e-6:
            continue
        path.extend(_square_off(a, b))
        path.append(b)
    # drop collinear interior points so bends get joint balls only where the pipe turns
    clean = [path[0]]
    for i in range(1, len(path) - 1):
        d0 = path[i] - clean[-1]
        d1 = path[i + 1] - path[i]
        n0, n1 = np.linalg.norm(d0), np.linalg.norm(d1)
        if n0 < 1e-6:
            continue
        if n1 > 1e-6 and np.linalg.norm(np.cross(d0 / n0, d1 / n1)) < 1e-6 and d0 @ d1 > 0:
            continue
        clean.append(path[i])
    clean.append(path[-1])
    return clean


def pipe_meshes(points: list[np.ndarray], diameter_m: float) -> tuple[MeshBuilder, MeshBuilder]:
    """(pipe body, flanges): a tube along the route and a flange at each nozzle."""
    r = 0.5 * diameter_m
    body = MeshBuilder()
    body.tube(points, r, segments=16)
    flanges = MeshBuilder()
    for p, q in ((points[0], points[1]), (points[-1], points[-2])):
        d = q - p
        flanges.cylinder(r * FLANGE_RADIUS_FACTOR, FLANGE_THICKNESS_M, origin=p, axis=d,
                         segments=20)
    return body, flanges
