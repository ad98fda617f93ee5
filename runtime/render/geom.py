"""Procedural mesh primitives built with numpy and turned into one Panda3D Geom.

Asset builders compose parts from these primitives. Vertices are written into
``GeomVertexData`` in one buffer copy (no per-vertex Python calls), so a whole plant builds in
milliseconds and cold start stays short. All dimensions are metres; Z is up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from panda3d.core import (
    Geom,
    GeomEnums,
    GeomNode,
    GeomTriangles,
    GeomVertexData,
    GeomVertexFormat,
)

Vec3 = Sequence[float]


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n == 0.0, 1.0, n)


def frame_for_axis(axis: Vec3) -> np.ndarray:
    """A 3x3 rotation whose third column is ``axis``: maps local Z onto it (rows = x, y, z)."""
    z = _unit(np.asarray(axis, dtype=np.float64))
    # Helper +Y gives the identity for a +Z axis, so arc angles on vertical cylinders are
    # measured from +X toward +Y like headings.
    helper = np.array([0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.array([0.0, 0.0, 1.0])
    x = _unit(np.cross(helper, z))
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


class MeshBuilder:
    """Accumulates triangles (position + normal) and emits one Geom.

    Each ``add_*`` takes an optional placement: ``origin`` and a 3x3 ``basis`` whose columns are
    the local axes, so primitives can be laid along any direction (pump shafts along X, pipes
    along their run).
    """

    def __init__(self) -> None:
        self._pos: list[np.ndarray] = []
        self._nrm: list[np.ndarray] = []
        self._tri: list[np.ndarray] = []
        self._count = 0

    @property
    def empty(self) -> bool:
        return self._count == 0

    def add(
        self,
        positions: np.ndarray,
        normals: np.ndarray,
        triangles: np.ndarray,
        origin: Vec3 = (0.0, 0.0, 0.0),
        basis: np.ndarray | None = None,
    ) -> None:
        """Add raw triangles in local coordinates, placed by ``origin`` and ``basis``."""
        p = np.asarray(positions, dtype=np.float64)
        n = np.asarray(normals, dtype=np.float64)
        if basis is not None:
            p = p @ basis.T
            n = n @ basis.T
        p = p + np.asarray(origin, dtype=np.float64)
        self._pos.append(p.astype(np.float32))
        self._nrm.append(_unit(n).astype(np.float32))
        self._tri.append(np.asarray(triangles, dtype=np.int32) + self._count)
        self._count += len(p)

    # -- primitives ---------------------------------------------------------------------------

    def cylinder(
        self,
        radius: float,
        length: float,
        *,
        segments: int = 24,
        origin: Vec3 = (0.0, 0.0, 0.0),
        axis: Vec3 = (0.0, 0.0, 1.0),
        caps: bool = True,
        radius_top: float | None = None,
        arc_deg: tuple[float, float] = (0.0, 360.0),
    ) -> None:
        """A (possibly tapered, possibly partial) cylinder from ``origin`` along ``axis``.

        ``radius_top`` makes a frustum or cone; ``arc_deg`` makes a sector (level bands).
        """
        r0, r1 = radius, radius if radius_top is None else radius_top
        a0, a1 = (math.radians(a) for a in arc_deg)
        full = abs((a1 - a0) - 2 * math.pi) < 1e-9
        ang = np.linspace(a0, a1, segments + 1)
        c, s = np.cos(ang), np.sin(ang)
        slope = (r0 - r1) / length if length else 0.0
        ring_n = np.stack([c, s, np.full_like(c, slope)], axis=1)
        bottom = np.stack([r0 * c, r0 * s, np.zeros_like(c)], axis=1)
        top = np.stack([r1 * c, r1 * s, np.full_like(c, length)], axis=1)
        pos = np.concatenate([bottom, top])
        nrm = np.concatenate([ring_n, ring_n])
        k = np.arange(segments)
        m = segments + 1
        tris = np.concatenate(
            [np.stack([k, k + 1, k + 1 + m], 1), np.stack([k, k + 1 + m, k + m], 1)]
        )
        basis = frame_for_axis(axis)
        self.add(pos, nrm, tris, origin, basis)
        if caps and full:
            self.disc(r0, segments=segments, origin=origin, axis=axis, facing=-1.0)
            if r1 > 0:
                end = np.asarray(origin, dtype=np.float64) + basis[:, 2] * length
                self.disc(r1, segments=segments, origin=end, axis=axis, facing=1.0)

    def disc(
        self,
        radius: float,
        *,
        segments: int = 24,
        origin: Vec3 = (0.0, 0.0, 0.0),
        axis: Vec3 = (0.0, 0.0, 1.0),
        facing: float = 1.0,
        inner_radius: float = 0.0,
    ) -> None:
        """A flat disc (or ring with ``inner_radius``) facing ``facing * axis``."""
        ang = np.linspace(0.0, 2 * math.pi, segments + 1)
        c, s = np.cos(ang), np.sin(ang)
        outer = np.stack([radius * c, radius * s, np.zeros_like(c)], 1)
        inner = np.stack([inner_radius * c, inner_radius * s, np.zeros_like(c)], 1)
        pos = np.concatenate([outer, inner])
        nrm = np.tile([0.0, 0.0, facing], (len(pos), 1))
        k = np.arange(segments)
        m = segments + 1
        tris = np.concatenate(
            [np.stack([k, k + 1, k + 1 + m], 1), np.stack([k, k + 1 + m, k + m], 1)]
        )
        if facing < 0:
            tris = tris[:, ::-1]
        self.add(pos, nrm, tris, origin, frame_for_axis(axis))

    def box(
        self,
        size: Vec3,
        *,
        center: Vec3 = (0.0, 0.0, 0.0),
        basis: np.ndarray | None = None,
    ) -> None:
        """An axis-aligned box (in ``basis``) of ``size`` (x, y, z) centred on ``center``."""
        hx, hy, hz = (0.5 * float(v) for v in size)
        faces = (
            ((1, 0, 0), (0, 1, 0), (0, 0, 1), hx, hy, hz),
            ((-1, 0, 0), (0, -1, 0), (0, 0, 1), hx, hy, hz),
            ((0, 1, 0), (-1, 0, 0), (0, 0, 1), hy, hx, hz),
            ((0, -1, 0), (1, 0, 0), (0, 0, 1), hy, hx, hz),
            ((0, 0, 1), (1, 0, 0), (0, 1, 0), hz, hx, hy),
            ((0, 0, -1), (-1, 0, 0), (0, 1, 0), hz, hx, hy),
        )
        pos, nrm, tris = [], [], []
        for i, (n, u, v, dn, du, dv) in enumerate(faces):
            n_, u_, v_ = (np.asarray(a, dtype=np.float64) for a in (n, u, v))
            c = n_ * dn
            quad = [c - u_ * du - v_ * dv, c + u_ * du - v_ * dv, c + u_ * du + v_ * dv,
                    c - u_ * du + v_ * dv]
            pos.extend(quad)
            nrm.extend([n_] * 4)
            b = 4 * i
            tris.extend([(b, b + 1, b + 2), (b, b + 2, b + 3)])
        self.add(np.array(pos), np.array(nrm), np.array(tris), center, basis)

    def sphere(
        self, radius: float, *, center: Vec3 = (0.0, 0.0, 0.0), segments: int = 16,
        rings: int = 8, z_scale: float = 1.0,
    ) -> None:
        """A UV sphere; ``z_scale`` < 1 flattens it into a dome-like ellipsoid."""
        th = np.linspace(0.0, math.pi, rings + 1)
        ph = np.linspace(0.0, 2 * math.pi, segments + 1)
        t, p = np.meshgrid(th, ph, indexing="ij")
        unit = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1)
        unit = unit.reshape(-1, 3)
        pos = unit * np.array([radius, radius, radius * z_scale])
        nrm = unit / np.array([1.0, 1.0, z_scale])
        m = segments + 1
        i, j = np.meshgrid(np.arange(rings), np.arange(segments), indexing="ij")
        a = (i * m + j).ravel()
        tris = np.concatenate(
            [np.stack([a, a + m, a + m + 1], 1), np.stack([a, a + m + 1, a + 1], 1)]
        )
        self.add(pos, nrm, tris, center)

    def torus(
        self, radius: float, tube_radius: float, *, center: Vec3 = (0.0, 0.0, 0.0),
        axis: Vec3 = (0.0, 0.0, 1.0), segments: int = 24, sides: int = 10,
    ) -> None:
        """A torus around ``axis`` (flanges, handrails, volute casings)."""
        u = np.linspace(0.0, 2 * math.pi, segments + 1)
        v = np.linspace(0.0, 2 * math.pi, sides + 1)
        uu, vv = np.meshgrid(u, v, indexing="ij")
        ring = np.stack([np.cos(uu), np.sin(uu), np.zeros_like(uu)], -1)
        nrm = ring * np.cos(vv)[..., None] + np.array([0.0, 0.0, 1.0]) * np.sin(vv)[..., None]
        pos = ring * radius + nrm * tube_radius
        m = sides + 1
        i, j = np.meshgrid(np.arange(segments), np.arange(sides), indexing="ij")
        a = (i * m + j).ravel()
        tris = np.concatenate(
            [np.stack([a, a + m, a + m + 1], 1), np.stack([a, a + m + 1, a + 1], 1)]
        )
        self.add(pos.reshape(-1, 3), nrm.reshape(-1, 3), tris, center, frame_for_axis(axis))

    def tube(
        self, points: Sequence[Vec3], radius: float, *, segments: int = 16, joints: bool = True,
    ) -> None:
        """A pipe run along a polyline: one cylinder per leg and a ball at each bend."""
        pts = [np.asarray(p, dtype=np.float64) for p in points]
        for a, b in zip(pts, pts[1:], strict=False):
            d = b - a
            length = float(np.linalg.norm(d))
            if length < 1e-6:
                continue
            self.cylinder(radius, length, segments=segments, origin=a, axis=d, caps=False)
        if joints:
            for p in pts[1:-1]:
                self.sphere(radius, center=p, segments=segments, rings=8)
        for p, q in ((pts[0], pts[1]), (pts[-1], pts[-2])):
            d = p - q
            if np.linalg.norm(d) > 1e-6:
                self.disc(radius, segments=segments, origin=p, axis=d)

    # -- output ------------------------------------------------------------------------------

    def geom(self) -> Geom:
        """One indexed triangle Geom with a v3n3 vertex table, static usage."""
        pos = np.concatenate(self._pos) if self._pos else np.zeros((0, 3), np.float32)
        nrm = np.concatenate(self._nrm) if self._nrm else np.zeros((0, 3), np.float32)
        tri = np.concatenate(self._tri) if self._tri else np.zeros((0, 3), np.int32)
        vdata = GeomVertexData("mesh", GeomVertexFormat.get_v3n3(), GeomEnums.UH_static)
        vdata.unclean_set_num_rows(len(pos))
        interleaved = np.ascontiguousarray(np.concatenate([pos, nrm], axis=1), dtype=np.float32)
        memoryview(vdata.modify_array(0)).cast("B")[:] = interleaved.tobytes()
        prim = GeomTriangles(GeomEnums.UH_static)
        prim.set_index_type(GeomEnums.NT_uint32)
        handle = prim.modify_vertices()
        handle.unclean_set_num_rows(tri.size)
        memoryview(handle).cast("B")[:] = tri.astype(np.uint32).tobytes()
        geom = Geom(vdata)
        geom.add_primitive(prim)
        return geom

    def node(self, name: str) -> GeomNode:
        """A GeomNode holding :meth:`geom`."""
        node = GeomNode(name)
        if not self.empty:
            node.add_geom(self.geom())
        return node
