"""Hardware-instanced drawing of many identical assets (thousands of moving entities).

One Panda3D node per entity, moved from Python, caps out near 3,000 entities a frame: the cost
is the per-node Python call and cull traversal. Here a single GeomNode holds one mesh drawn
``count`` times (``NodePath.set_instance_count``); each instance's pose and colour come from a
float32 numpy array that is copied in one block into a buffer texture each frame and read by
``shaders/instanced.vert.glsl``. The CPU cost per frame is one array copy, whatever N is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from panda3d.core import (
    Geom,
    GeomEnums,
    GeomNode,
    GeomTriangles,
    GeomVertexData,
    GeomVertexFormat,
    NodePath,
    OmniBoundingVolume,
    Shader,
    Texture,
    Vec3,
)

SHADER_DIR = Path(__file__).resolve().parents[2] / "shaders"
TEXELS_PER_INSTANCE = 2


class InstancedRenderer:
    """Draw ``geom`` up to ``capacity`` times with per-instance pose and colour.

    Write the views, then call :meth:`upload` once per frame (phase SYNC):

    - ``position_m`` float32 (capacity, 3): instance origin in the parent's space, metres.
    - ``heading_rad`` float32 (capacity,): rotation about Z.
    - ``rgba`` float32 (capacity, 4): linear colour; quality cues scale or grey it.

    All three are views into one packed (capacity, 2, 4) array, so an upload is one memcpy.
    """

    def __init__(self, parent: NodePath, geom: Geom, capacity: int, *,
                 name: str = "instances", shader_dir: Path = SHADER_DIR) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._packed = np.zeros((capacity, TEXELS_PER_INSTANCE, 4), dtype=np.float32)
        self._packed[:, 1, :] = 1.0
        self.position_m = self._packed[:, 0, :3]
        self.heading_rad = self._packed[:, 0, 3]
        self.rgba = self._packed[:, 1, :]
        self.count = 0

        self.texture = Texture(f"{name}-data")
        self.texture.setup_buffer_texture(capacity * TEXELS_PER_INSTANCE, Texture.T_float,
                                          Texture.F_rgba32, GeomEnums.UH_dynamic)
        node = GeomNode(name)
        node.add_geom(geom)
        # Instances spread anywhere: never cull the node by the single mesh's bounds.
        node.set_bounds(OmniBoundingVolume())
        node.set_final(True)
        self.node = parent.attach_new_node(node)
        shader = Shader.load(Shader.SL_GLSL, vertex=str(shader_dir / "instanced.vert.glsl"),
                             fragment=str(shader_dir / "instanced.frag.glsl"))
        if shader is None:
            raise RuntimeError(f"cannot load the instancing shaders from {shader_dir}")
        self.node.set_shader(shader, 10)
        self.node.set_shader_input("instance_data", self.texture)
        self.set_lighting()
        self.node.set_instance_count(0)

    def set_lighting(self, *, sun_dir: tuple[float, float, float] = (-0.45, 0.55, -0.70),
                     sun_rgb: tuple[float, float, float] = (2.2, 2.1, 1.9),
                     sky_rgb: tuple[float, float, float] = (0.45, 0.5, 0.6),
                     ground_rgb: tuple[float, float, float] = (0.2, 0.19, 0.18)) -> None:
        """Light the instances like the scene's sun and sky (they bypass simplepbr)."""
        d = Vec3(*sun_dir)
        d.normalize()
        self.node.set_shader_input("sun_dir", d)
        self.node.set_shader_input("sun_rgb", Vec3(*sun_rgb))
        self.node.set_shader_input("sky_rgb", Vec3(*sky_rgb))
        self.node.set_shader_input("ground_rgb", Vec3(*ground_rgb))

    def upload(self, count: int | None = None) -> None:
        """Copy the first ``count`` instances to the GPU and draw that many next frame."""
        n = self.capacity if count is None else count
        if not 0 <= n <= self.capacity:
            raise ValueError(f"count {n} outside 0..{self.capacity}")
        image = memoryview(self.texture.modify_ram_image())
        image[: n * TEXELS_PER_INSTANCE * 16] = self._packed[:n].reshape(-1).view(np.uint8)
        if n != self.count:
            self.node.set_instance_count(n)
            self.count = n


def box_geom(size: tuple[float, float, float], *, z0: float = 0.0) -> Geom:
    """A box of ``size`` metres standing on ``z0``: 8 shared corners, 12 triangles.

    Position-only and indexed so each instance costs 8 vertex-shader runs; the instancing
    fragment shader derives flat face normals.
    """
    sx, sy, sz = (0.5 * size[0], 0.5 * size[1], float(size[2]))
    corners = np.array([[x, y, z] for z in (z0, z0 + sz) for y in (-sy, sy) for x in (-sx, sx)],
                       dtype=np.float32)
    tris = np.array([
        [0, 2, 1], [1, 2, 3],  # bottom (-Z)
        [4, 5, 6], [5, 7, 6],  # top (+Z)
        [0, 1, 4], [1, 5, 4],  # -Y
        [2, 6, 3], [3, 6, 7],  # +Y
        [0, 4, 2], [2, 4, 6],  # -X
        [1, 3, 5], [3, 7, 5],  # +X
    ], dtype=np.uint16)
    vdata = GeomVertexData("instanced-box", GeomVertexFormat.get_v3(), GeomEnums.UH_static)
    vdata.unclean_set_num_rows(len(corners))
    memoryview(vdata.modify_array(0)).cast("B")[:] = corners.tobytes()
    prim = GeomTriangles(GeomEnums.UH_static)
    handle = prim.modify_vertices()
    handle.unclean_set_num_rows(tris.size)
    memoryview(handle).cast("B")[:] = tris.tobytes()
    geom = Geom(vdata)
    geom.add_primitive(prim)
    return geom
