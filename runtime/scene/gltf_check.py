"""Open a glTF 2.0 file (``.gltf`` + its ``.bin``/images, or ``.glb``) far enough to know that
the viewer can load it, without Panda3D: validate and the loader call it for every model file.

What is checked: the GLB header and chunks, the JSON, that every buffer's data is there (the
GLB's binary chunk, an embedded ``data:`` URI, or a file next to the ``.gltf``) and as long as
it says, that buffer views, accessors, meshes and nodes refer to things that exist, that image
files exist. What comes back is the set of node names (bindings and anchors name nodes).
A problem is a :class:`GltfError` whose message says what is wrong in words.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
MAX_MODEL_BYTES = 512 * 1024 * 1024
"""A model file larger than this is refused (a plant asset is megabytes)."""


READABLE_EXTENSIONS = frozenset({
    "KHR_lights_punctual", "KHR_lights", "KHR_texture_transform", "KHR_materials_ior",
    "KHR_materials_emissive_strength", "BP_zup", "BLENDER_physics",
    "PANDA3D_physics_collision_shapes",
})
"""Extensions a file may *require* (``extensionsRequired``) and still be drawn right by
panda3d-gltf; it ignores the list, so a Draco- or meshopt-compressed file would otherwise
load as garbage geometry."""


class GltfError(Exception):
    """Why a glTF file cannot be used, in words (the caller adds file, line and key)."""


@dataclass(frozen=True, slots=True)
class GltfInfo:
    node_names: frozenset[str]
    nodes: int
    meshes: int


def check_gltf(path: Path) -> GltfInfo:
    """Check ``path`` (a .gltf or .glb); raises GltfError. Cached per file and mtime."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise GltfError(f"cannot read {path}: {exc.strerror}") from None
    return _check_cached(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _check_cached(path: Path, _mtime_ns: int, size: int) -> GltfInfo:
    if size > MAX_MODEL_BYTES:
        raise GltfError(f"{path.name} is {size} bytes; at most {MAX_MODEL_BYTES}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GltfError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".glb" or raw[:4] == GLB_MAGIC:
        doc, bin_chunk = _parse_glb(path, raw)
    else:
        doc, bin_chunk = _parse_json(path.name, raw), None
    return _check_document(path, doc, bin_chunk)


def _parse_glb(path: Path, raw: bytes) -> tuple[dict[str, Any], bytes | None]:
    name = path.name
    if len(raw) < 12 or raw[:4] != GLB_MAGIC:
        raise GltfError(f"{name} is not a binary glTF file (it does not start with 'glTF')")
    version, length = struct.unpack_from("<II", raw, 4)
    if version != 2:
        raise GltfError(f"{name} is binary glTF version {version}; only version 2 is supported")
    if length != len(raw):
        raise GltfError(f"{name} is truncated or padded: its header says {length} bytes, the "
                          f"file has {len(raw)}")
    chunks: list[tuple[int, bytes]] = []
    at = 12
    while at < len(raw):
        if at + 8 > len(raw):
            raise GltfError(f"{name}: a chunk header is cut off at byte {at}")
        size, kind = struct.unpack_from("<II", raw, at)
        if at + 8 + size > len(raw):
            raise GltfError(f"{name}: chunk at byte {at} says {size} bytes but the file ends "
                              f"{len(raw) - at - 8} bytes later")
        chunks.append((kind, raw[at + 8:at + 8 + size]))
        at += 8 + size
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise GltfError(f"{name}: the first chunk is not the JSON chunk")
    doc = _parse_json(name, chunks[0][1])
    bin_chunk = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == CHUNK_BIN else None
    return doc, bin_chunk


def _parse_json(name: str, text: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise GltfError(f"{name}: the glTF JSON is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise GltfError(f"{name}: the glTF JSON is broken at line {exc.lineno} column "
                          f"{exc.colno}: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise GltfError(f"{name}: the glTF JSON is not an object")
    version = str((doc.get("asset") or {}).get("version", ""))
    if not version.startswith("2"):
        raise GltfError(f"{name}: asset.version is {version or 'missing'}; glTF 2.0 expected")
    return doc


def _items(doc: dict[str, Any], key: str, name: str) -> list[dict[str, Any]]:
    items = doc.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise GltfError(f"{name}: '{key}' must be a list of objects")
    return items


def _index(value: Any, count: int, what: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise GltfError(f"{name}: {what} refers to {value!r}, but there are only {count}")
    return value


def _check_document(path: Path, doc: dict[str, Any], bin_chunk: bytes | None) -> GltfInfo:
    name = path.name
    required = doc.get("extensionsRequired") or []
    missing = sorted(str(e) for e in required if e not in READABLE_EXTENSIONS)
    if missing:
        raise GltfError(f"{name} requires the glTF extension(s) {', '.join(missing)}, which "
                        "the viewer cannot read (export it without compression)")
    buffers = _items(doc, "buffers", name)
    sizes = []
    for i, buf in enumerate(buffers):
        length = buf.get("byteLength")
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise GltfError(f"{name}: buffer {i} has no valid byteLength")
        sizes.append(length)
        have = _buffer_bytes(path, i, buf, bin_chunk)
        if have < length:
            raise GltfError(f"{name}: buffer {i} should hold {length} bytes but has {have}")
    views = _items(doc, "bufferViews", name)
    for i, view in enumerate(views):
        b = _index(view.get("buffer"), len(buffers), f"bufferView {i}'s buffer", name)
        end = int(view.get("byteOffset", 0)) + int(view.get("byteLength", 0))
        if end > sizes[b]:
            raise GltfError(f"{name}: bufferView {i} ends at byte {end}, past the end of "
                              f"buffer {b} ({sizes[b]} bytes)")
    accessors = _items(doc, "accessors", name)
    for i, acc in enumerate(accessors):
        _check_accessor(name, i, acc, views)
    meshes = _items(doc, "meshes", name)
    materials = _items(doc, "materials", name)
    for i, mesh in enumerate(meshes):
        for j, prim in enumerate(mesh.get("primitives") or []):
            where = f"mesh {i} primitive {j}"
            attrs = prim.get("attributes")
            if not isinstance(attrs, dict) or "POSITION" not in attrs:
                raise GltfError(f"{name}: {where} has no POSITION attribute")
            for attr, acc in attrs.items():
                _index(acc, len(accessors), f"{where}'s {attr}", name)
            if "indices" in prim:
                _index(prim["indices"], len(accessors), f"{where}'s indices", name)
            if "material" in prim:
                _index(prim["material"], len(materials), f"{where}'s material", name)
    images = _items(doc, "images", name)
    for i, image in enumerate(images):
        uri = image.get("uri")
        if isinstance(uri, str) and not uri.startswith("data:"):
            file = path.parent / unquote(uri)
            if not file.is_file():
                raise GltfError(f"{name}: image {i} file {uri!r} not found (looked for {file})")
        elif "bufferView" in image:
            _index(image["bufferView"], len(views), f"image {i}'s bufferView", name)
    nodes = _items(doc, "nodes", name)
    names: set[str] = set()
    for i, node in enumerate(nodes):
        if "mesh" in node:
            _index(node["mesh"], len(meshes), f"node {i}'s mesh", name)
        for child in node.get("children") or []:
            _index(child, len(nodes), f"node {i}'s child", name)
        if isinstance(node.get("name"), str):
            names.add(node["name"])
    if not meshes:
        raise GltfError(f"{name} holds no meshes: nothing to draw")
    return GltfInfo(frozenset(names), len(nodes), len(meshes))


_COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_TYPE_COUNT = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


def _check_accessor(name: str, i: int, acc: dict[str, Any], views: list[dict[str, Any]]) -> None:
    """Component type, element type, count, and that its elements lie inside its view."""
    size = _COMPONENT_BYTES.get(acc.get("componentType"))  # type: ignore[arg-type]
    if size is None:
        raise GltfError(f"{name}: accessor {i} has an unknown componentType "
                        f"{acc.get('componentType')!r}")
    count = _TYPE_COUNT.get(acc.get("type"))  # type: ignore[arg-type]
    if count is None:
        raise GltfError(f"{name}: accessor {i} has an unknown type {acc.get('type')!r}")
    n = acc.get("count")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise GltfError(f"{name}: accessor {i} has no valid count")
    if "bufferView" not in acc:
        return
    view = views[_index(acc["bufferView"], len(views), f"accessor {i}'s bufferView", name)]
    element = size * count
    stride = int(view.get("byteStride") or element)
    end = int(acc.get("byteOffset", 0)) + stride * (n - 1) + element
    if end > int(view.get("byteLength", 0)):
        raise GltfError(f"{name}: accessor {i} needs {end} bytes of bufferView "
                        f"{acc['bufferView']}, which has {view.get('byteLength', 0)}")


def _buffer_bytes(path: Path, i: int, buf: dict[str, Any], bin_chunk: bytes | None) -> int:
    """How many bytes buffer ``i`` has where it says its data is."""
    name = path.name
    uri = buf.get("uri")
    if uri is None:
        if i != 0 or bin_chunk is None:
            raise GltfError(f"{name}: buffer {i} has no uri and there is no binary chunk")
        return len(bin_chunk)
    if not isinstance(uri, str):
        raise GltfError(f"{name}: buffer {i}'s uri is not text")
    if uri.startswith("data:"):
        try:
            return len(base64.b64decode(uri.split(",", 1)[1], validate=True))
        except (IndexError, binascii.Error):
            raise GltfError(f"{name}: buffer {i}'s embedded data is not valid base64") from None
    file = path.parent / unquote(uri)
    if not uri.endswith(".bin"):  # as panda3d-gltf tests it
        raise GltfError(f"{name}: buffer {i} is {uri!r}; the viewer reads buffers from .bin "
                        "files or data: URIs")
    if not file.is_file():
        raise GltfError(f"{name}: buffer {i} file {uri!r} not found (looked for {file})")
    return file.stat().st_size
