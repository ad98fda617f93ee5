"""A small glTF 2.0 binary (.glb) writer: named nodes, triangle meshes, PBR materials, an
optional embedded PNG base-colour texture. Enough for our own assets and test files; numpy,
json, struct and zlib only (no third-party writer: what we need is ~150 lines).

Input is in the viewer's frame (Z up, metres or whatever unit the caller says); the file is
written in glTF's (Y up, +Z toward the viewer): (x, y, z) -> (x, z, -y).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass
class GltfMesh:
    positions: np.ndarray
    """(n, 3) float, Z up."""
    normals: np.ndarray
    """(n, 3) float, Z up."""
    indices: np.ndarray
    """(m,) int, triangles."""
    base_rgba: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    """Linear-light base colour factor (glTF's convention)."""
    roughness: float = 0.6
    metallic: float = 0.0
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    texcoords: np.ndarray | None = None
    """(n, 2) float, or None."""
    texture_png: bytes | None = None
    """An sRGB PNG for the base colour (needs texcoords)."""


@dataclass
class GltfNode:
    name: str
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Z up, in the file's unit."""
    meshes: list[GltfMesh] = field(default_factory=list)
    children: list[GltfNode] = field(default_factory=list)


def png_rgb(pixels: np.ndarray) -> bytes:
    """Encode (h, w, 3) uint8 as a PNG (8-bit RGB, no filter)."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


class _Builder:
    def __init__(self) -> None:
        self.doc: dict = {"asset": {"version": "2.0", "generator": "twinstage gltf_writer"},
                          "scene": 0, "scenes": [{"nodes": []}], "nodes": [], "meshes": [],
                          "materials": [], "accessors": [], "bufferViews": [],
                          "buffers": []}
        self.blob = bytearray()

    def view(self, data: bytes, target: int | None = None) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        entry = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            entry["target"] = target
        self.blob.extend(data)
        self.doc["bufferViews"].append(entry)
        return len(self.doc["bufferViews"]) - 1

    def accessor(self, array: np.ndarray, kind: str, component: int, target: int,
                 bounds: bool = False) -> int:
        view = self.view(array.tobytes(), target)
        entry = {"bufferView": view, "componentType": component, "count": len(array),
                 "type": kind}
        if bounds:
            entry["min"] = array.min(axis=0).tolist()
            entry["max"] = array.max(axis=0).tolist()
        self.doc["accessors"].append(entry)
        return len(self.doc["accessors"]) - 1

    def material(self, mesh: GltfMesh) -> int:
        pbr: dict = {"baseColorFactor": list(mesh.base_rgba), "metallicFactor": mesh.metallic,
                     "roughnessFactor": mesh.roughness}
        if mesh.texture_png is not None:
            image_view = self.view(mesh.texture_png)
            self.doc.setdefault("images", []).append({"bufferView": image_view,
                                                      "mimeType": "image/png"})
            self.doc.setdefault("samplers", [{"magFilter": 9728, "minFilter": 9728}])
            self.doc.setdefault("textures", []).append(
                {"source": len(self.doc["images"]) - 1, "sampler": 0})
            pbr["baseColorTexture"] = {"index": len(self.doc["textures"]) - 1}
        entry: dict = {"pbrMetallicRoughness": pbr}
        if any(mesh.emissive):
            entry["emissiveFactor"] = list(mesh.emissive)
        self.doc["materials"].append(entry)
        return len(self.doc["materials"]) - 1

    def mesh(self, name: str, meshes: list[GltfMesh]) -> int:
        prims = []
        for m in meshes:
            pos = (np.asarray(m.positions, np.float64) @ _ZUP_TO_YUP.T).astype(np.float32)
            nrm = (np.asarray(m.normals, np.float64) @ _ZUP_TO_YUP.T).astype(np.float32)
            attrs = {"POSITION": self.accessor(pos, "VEC3", 5126, 34962, bounds=True),
                     "NORMAL": self.accessor(nrm, "VEC3", 5126, 34962)}
            if m.texcoords is not None:
                attrs["TEXCOORD_0"] = self.accessor(np.asarray(m.texcoords, np.float32),
                                                    "VEC2", 5126, 34962)
            idx = self.accessor(np.asarray(m.indices, np.uint32), "SCALAR", 5125, 34963)
            prims.append({"attributes": attrs, "indices": idx, "material": self.material(m)})
        self.doc["meshes"].append({"name": name, "primitives": prims})
        return len(self.doc["meshes"]) - 1

    def node(self, node: GltfNode) -> int:
        entry: dict = {"name": node.name}
        if any(node.translation):
            entry["translation"] = (np.asarray(node.translation) @ _ZUP_TO_YUP.T).tolist()
        if node.meshes:
            entry["mesh"] = self.mesh(node.name, node.meshes)
        index = len(self.doc["nodes"])
        self.doc["nodes"].append(entry)
        if node.children:
            entry["children"] = [self.node(c) for c in node.children]
        return index


def write_glb(path: Path, roots: list[GltfNode]) -> Path:
    """Write ``roots`` (and their children) as one scene in a .glb file."""
    b = _Builder()
    b.doc["scenes"][0]["nodes"] = [b.node(r) for r in roots]
    while len(b.blob) % 4:
        b.blob.append(0)
    b.doc["buffers"] = [{"byteLength": len(b.blob)}]
    for key in ("images", "samplers", "textures"):
        if key in b.doc and not b.doc[key]:
            del b.doc[key]
    text = json.dumps(b.doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    body = (struct.pack("<II", len(text), 0x4E4F534A) + text
            + struct.pack("<II", len(b.blob), 0x004E4942) + bytes(b.blob))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body)
    return path


def box_mesh(size: tuple[float, float, float], centre: tuple[float, float, float] = (0, 0, 0),
             **material: object) -> GltfMesh:
    """An axis-aligned box with flat normals and a 0..1 UV square on every face."""
    sx, sy, sz = (s / 2 for s in size)
    cx, cy, cz = centre
    faces = [((1, 0, 0), (0, 1, 0), (0, 0, 1)), ((-1, 0, 0), (0, -1, 0), (0, 0, 1)),
             ((0, 1, 0), (-1, 0, 0), (0, 0, 1)), ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
             ((0, 0, 1), (1, 0, 0), (0, 1, 0)), ((0, 0, -1), (-1, 0, 0), (0, 1, 0))]
    pos, nrm, uv, idx = [], [], [], []
    half = np.array([sx, sy, sz])
    for n, u, v in faces:
        n_, u_, v_ = (np.array(a, dtype=np.float64) for a in (n, u, v))
        base = len(pos)
        for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            pos.append((n_ + a * u_ + b * v_) * half + (cx, cy, cz))
            nrm.append(n_)
            uv.append(((a + 1) / 2, (b + 1) / 2))
        idx += [base, base + 1, base + 2, base, base + 2, base + 3]
    return GltfMesh(np.array(pos), np.array(nrm), np.array(idx), texcoords=np.array(uv),
                    **material)  # type: ignore[arg-type]
