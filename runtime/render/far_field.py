"""The far field of a large scene: distant assets drawn as a few coloured boxes per site cell.

A generated plant of 10,000 assets is about 15 million triangles in ~35,000 GeomNodes: software
OpenGL (llvmpipe) draws that at under one frame a second, whatever the sharing of meshes. Seen
from afar an asset is a few pixels, so the scene is cut into square cells of ``CELL_M``; each
cell is a Panda3D ``LODNode`` with two children: the real models (within ``SWITCH_M`` of the
camera: moving parts, quality cues and picking work as before) and, beyond it, one GeomNode with
a box per asset and per pipe leg, coloured by asset type and shaded per face (unlit, so it looks
the same under every pipeline). The whole site in view then costs one draw per cell.

Only scenes with at least ``MIN_MODELS`` modelled assets get a far field; smaller ones (the
bundled scenes) are drawn exactly as before. Beyond ``SPARSE_M`` a cell draws a sparser set of
boxes (:func:`sparse_boxes`): the whole-site view of 10,000 assets is 29k triangles, not 85k.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict

import numpy as np
from panda3d.core import (
    Geom,
    GeomEnums,
    GeomNode,
    GeomTriangles,
    GeomVertexArrayFormat,
    GeomVertexData,
    GeomVertexFormat,
    InternalName,
    LODNode,
    NodePath,
)

MIN_MODELS = 300
"""Modelled assets (pipes excluded) from which a scene gets a far field. The generated plant of
1,000 assets (667 models) drew every model at 440 ms a frame on llvmpipe (whole site in view),
slower than 10,000 as boxes; with a far field it takes ~40 ms. The bundled scenes (tens of
assets) keep their plain scene graph."""
CELL_M = 60.0
"""Side of a far-field cell, metres."""
SWITCH_M = 150.0
"""Camera distance to a cell's centre beyond which the cell shows its boxes."""
SPARSE_M = 400.0
"""Beyond this distance a cell shows its sparse boxes (:func:`sparse_boxes`): the whole-site
view (cells 470-870 m away at 1280x720, ~0.5 m a pixel) costs software rendering less than
half the triangles, and an asset looks the same at one to four pixels."""
SPARSE_DROP_BELOW_M = 0.3
"""Sparse level: a box narrower than this in plan is left out: pipes up to DN 250, junctions
(at 0.5 m a pixel, under one)."""
SPARSE_FULL_FROM_M = 3.0
"""Sparse level: a box at least this wide both ways (a tank) keeps its five shaded faces; the
others in between show their top and south faces."""

TYPE_RGB: dict[str, tuple[float, float, float]] = {
    "tank": (0.78, 0.78, 0.74),
    "pump": (0.18, 0.36, 0.72),
    "motor": (0.36, 0.42, 0.48),
    "valve": (0.88, 0.70, 0.14),
    "junction": (0.55, 0.56, 0.58),
    "transmitter": (0.86, 0.86, 0.86),
    "controller": (0.62, 0.62, 0.60),
    "pipe": (0.52, 0.60, 0.68),
}
"""Far-field colour of each asset type (linear RGB)."""
_OTHER_RGB = (0.6, 0.6, 0.6)

# Five faces of a box (no bottom: the far field is seen from above), 4 corners each,
# counter-clockwise from outside; a corner is (x, y, z) picking low (0) or high (1). Then each
# face's shade: a fixed sun from the default camera's side.
_FACES = np.array([
    [(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)],  # +Z
    [(0, 0, 0), (1, 0, 0), (1, 0, 1), (0, 0, 1)],  # -Y
    [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 1)],  # +X
    [(0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0)],  # -X
    [(0, 1, 0), (0, 1, 1), (1, 1, 1), (1, 1, 0)],  # +Y
], dtype=np.float32).reshape(-1, 3)
_N_FACES = len(_FACES) // 4
_SHADE = np.repeat(np.array([1.0, 0.9, 0.8, 0.7, 0.6], dtype=np.float32), 4)
_QUADS = np.array([0, 1, 2, 0, 2, 3], dtype=np.uint32)


class FarItem:
    """One asset (or pipe) of the far field: its node and the boxes that stand for it."""

    __slots__ = ("node", "lo", "hi", "rgb", "top_only")

    def __init__(self, node: NodePath, lo: np.ndarray, hi: np.ndarray,
                 rgb: tuple[float, float, float], *, top_only: bool = False) -> None:
        self.node = node
        self.top_only = top_only
        """Draw only the top face (pipes: from afar a pipe is a line seen from above)."""
        self.lo = np.atleast_2d(np.asarray(lo, dtype=np.float32))
        """(k, 3) low corners of its k boxes, world metres."""
        self.hi = np.atleast_2d(np.asarray(hi, dtype=np.float32))
        self.rgb = rgb


def pipe_boxes(points: list[np.ndarray], diameter_m: float) -> tuple[np.ndarray, np.ndarray]:
    """One box per leg of a pipe route (legs are axis-aligned, so the boxes fit them)."""
    pts = np.asarray(points, dtype=np.float64)
    r = 0.5 * diameter_m
    return (np.minimum(pts[:-1], pts[1:]) - r, np.maximum(pts[:-1], pts[1:]) + r)


def cell_of(x: float, y: float) -> tuple[int, int]:
    """The far-field cell holding the point (x, y), metres."""
    return math.floor(x / CELL_M), math.floor(y / CELL_M)


def cell_name(cell: tuple[int, int]) -> str:
    return f"far-cell {cell[0]},{cell[1]}"


def near_nodes(root: NodePath) -> dict[tuple[int, int], NodePath]:
    """Cell -> the node holding that cell's real models, for a scene with a far field (empty
    otherwise): whatever else belongs to an asset and is only worth drawing near it (quality
    signs) goes there too."""
    out = {}
    for cell in root.find_all_matches("+LODNode"):
        name = cell.get_name()
        if name.startswith("far-cell "):
            cx, cy = name[len("far-cell "):].split(",")
            out[(int(cx), int(cy))] = cell.find("near")
    return out


NEAR_MARGIN_M = CELL_M
"""Render sync updates the models of cells within SWITCH_M + this of the camera: a camera that
moves less than this between the sync and the render never shows a model not yet updated."""


class NearCells:
    """Which entity rows stand in a cell near enough to be drawn with their real models.

    Render sync pushes values only to those rows' nodes; the others keep what they showed and
    are brought up to date when their cell comes near (their wanted values stay in the arrays).
    """

    def __init__(self, centres_m: np.ndarray, row_cell: np.ndarray) -> None:
        self.centres_m = np.asarray(centres_m, dtype=np.float64).reshape(-1, 3)
        """(C, 3) centre of each cell's LOD switch, in the scene root's frame."""
        self.row_cell = np.asarray(row_cell, dtype=np.int64)
        """(N,) cell index of each entity row; -1: not in a cell (always updated)."""
        self._radius_m = SWITCH_M + NEAR_MARGIN_M

    def rows_mask(self, eye_m: tuple[float, float, float]) -> np.ndarray:
        """bool (N,): rows whose nodes are (or may be by the render) drawn as models."""
        d = np.linalg.norm(self.centres_m - np.asarray(eye_m, dtype=np.float64), axis=1)
        near = np.append(d < self._radius_m, True)  # index -1: rows outside every cell
        return near[self.row_cell]

    @classmethod
    def of(cls, cells: list[NodePath], roots: list[NodePath | None]) -> NearCells:
        """From the cells :func:`add_far_field` made and each entity row's root node."""
        index = {}
        centres = []
        for k, cell in enumerate(cells):
            c = cell.node().get_center()
            centres.append((c.x, c.y, c.z))
            index[cell.find("near").node()] = k
        row_cell = [-1 if r is None or not r.has_parent()
                    else index.get(r.get_parent().node(), -1) for r in roots]
        return cls(np.array(centres), np.array(row_cell))


def add_far_field(root: NodePath, items: list[FarItem]) -> list[NodePath]:
    """Move ``items``' nodes under per-cell LOD nodes below ``root``; returns the cells."""
    cells: dict[tuple[int, int], list[FarItem]] = defaultdict(list)
    for item in items:
        centre = 0.5 * (item.lo.min(axis=0) + item.hi.max(axis=0))
        cells[cell_of(float(centre[0]), float(centre[1]))].append(item)
    out = []
    for key, members in sorted(cells.items()):
        lod = LODNode(cell_name(key))
        cell = root.attach_new_node(lod)
        near = cell.attach_new_node("near")
        far = cell.attach_new_node(_boxes_node("far", members))
        sparse = cell.attach_new_node(_boxes_node("sparse", sparse_boxes(members), 2))
        for boxes in (far, sparse):
            boxes.set_light_off(1)
            boxes.set_shader_off(1)
        lod.add_switch(SWITCH_M, 0.0)  # child 0, the models: from 0 to SWITCH_M
        lod.add_switch(SPARSE_M, SWITCH_M)  # child 1, the boxes: to SPARSE_M
        lod.add_switch(1.0e9, SPARSE_M)  # child 2, the sparse boxes: beyond
        lo = np.min([m.lo.min(axis=0) for m in members], axis=0)
        hi = np.max([m.hi.max(axis=0) for m in members], axis=0)
        lod.set_center(tuple(map(float, 0.5 * (lo + hi))))
        for m in members:
            m.node.reparent_to(near)
        out.append(cell)
    return out


def sparse_boxes(members: list[FarItem]) -> list[FarItem]:
    """The far field's second level, per box: left out when narrower than SPARSE_DROP_BELOW_M
    in plan either way (pipes, junctions: under half a pixel there); five faces when at least
    SPARSE_FULL_FROM_M both ways (tanks); else its top and south faces (``top_only`` then
    means those two: the default view looks from the south, where they read as solid)."""
    out = []
    for m in members:
        plan = (m.hi - m.lo)[:, :2]
        keep = plan.min(axis=1) >= SPARSE_DROP_BELOW_M
        full = keep & (plan.min(axis=1) >= SPARSE_FULL_FROM_M)
        for mask, top in ((full, False), (keep & ~full, True)):
            if mask.any():
                out.append(FarItem(m.node, m.lo[mask], m.hi[mask], m.rgb, top_only=top))
    return out


def _boxes_node(name: str, members: list[FarItem], top_faces: int = 1) -> GeomNode:
    """One GeomNode: five faces of each box, ``top_faces`` faces (top, then south) of the
    boxes of ``top_only`` items."""
    parts = [_box_mesh([m for m in members if m.top_only == top],
                       _N_FACES if not top else top_faces) for top in (False, True)]
    vertices = np.concatenate([v for v, _ in parts])
    offset = len(parts[0][0])
    tris = np.concatenate([parts[0][1], parts[1][1] + np.uint32(offset)])
    vdata = GeomVertexData(name, _format(), GeomEnums.UH_static)
    vdata.unclean_set_num_rows(len(vertices))
    memoryview(vdata.modify_array(0)).cast("B")[:] = np.ascontiguousarray(
        vertices, dtype=np.float32).tobytes()
    prim = GeomTriangles(GeomEnums.UH_static)
    prim.set_index_type(GeomEnums.NT_uint32)
    handle = prim.modify_vertices()
    handle.unclean_set_num_rows(len(tris))
    memoryview(handle).cast("B")[:] = tris.tobytes()
    geom = Geom(vdata)
    geom.add_primitive(prim)
    node = GeomNode(name)
    node.add_geom(geom)
    return node


def _box_mesh(members: list[FarItem], faces: int) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (k, 7) xyz + rgba, triangle indices) of the first ``faces`` faces of every
    member's boxes (1: the top face only; 2: top and south)."""
    if not members:
        return np.zeros((0, 7), np.float32), np.zeros(0, np.uint32)
    lo = np.concatenate([m.lo for m in members])
    hi = np.concatenate([m.hi for m in members])
    rgb = np.concatenate([np.repeat([m.rgb], len(m.lo), axis=0) for m in members]).astype(
        np.float32)
    n, corners_per_box = len(lo), 4 * faces
    pattern = _FACES[:corners_per_box]
    corners = lo[:, None, :] + pattern[None, :, :] * (hi - lo)[:, None, :]
    colour = np.empty((n, corners_per_box, 4), dtype=np.float32)
    colour[:, :, :3] = rgb[:, None, :] * _SHADE[None, :corners_per_box, None]
    colour[:, :, 3] = 1.0
    vertices = np.concatenate([corners, colour], axis=2).reshape(-1, 7)
    tris = (_QUADS[None, None, :] + (np.arange(faces, dtype=np.uint32) * 4)[None, :, None]
            + (np.arange(n, dtype=np.uint32) * corners_per_box)[:, None, None]).reshape(-1)
    return vertices, tris


@functools.cache
def _format() -> GeomVertexFormat:
    """Position and float RGBA colour, interleaved (registered with Panda3D once)."""
    array = GeomVertexArrayFormat()
    array.add_column(InternalName.get_vertex(), 3, GeomEnums.NT_float32, GeomEnums.C_point)
    array.add_column(InternalName.get_color(), 4, GeomEnums.NT_float32, GeomEnums.C_color)
    return GeomVertexFormat.register_format(GeomVertexFormat(array))
