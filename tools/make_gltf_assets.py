"""Generate the bundled glTF assets from our own procedural geometry.

    python -m tools.make_gltf_assets            # writes scenes/pump_station/assets/pump.glb

``pump.glb`` is the procedural end-suction pump (runtime/render/procedural/pump.py) exported
part by part with its materials, in metres, Z up in the viewer (Y up in the file, as glTF
wants). Its nodes are named for bindings and anchors:

- ``impeller``: the shaft and coupling that turn (spin about the model's X axis);
- ``run_lamp``: the lamp on the skid post; ``trip_beacon``: the red beacon above it;
- ``suction``, ``discharge``: empty nodes at the nozzle faces (pipe anchors).

The file is ours (generated from this repository's code), under the project's licence; see
scenes/pump_station/assets/LICENSE.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tools.gltf_writer import GltfMesh, GltfNode, write_glb

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS = REPO_ROOT / "scenes" / "pump_station" / "assets"
RENAME = {"rotor": "impeller"}


def _meshes_of(node) -> list[GltfMesh]:  # noqa: ANN001 - a Panda3D NodePath
    from panda3d.core import GeomNode, MaterialAttrib

    out = []
    gn = node.node()
    if not isinstance(gn, GeomNode):
        return out
    mat_attrib = node.get_state().get_attrib(MaterialAttrib)
    material = mat_attrib.get_material() if mat_attrib is not None else None
    for i in range(gn.get_num_geoms()):
        geom = gn.get_geom(i)
        vdata = geom.get_vertex_data()
        rows = vdata.get_num_rows()
        v3n3 = np.frombuffer(memoryview(vdata.get_array(0)).cast("B"), np.float32)
        v3n3 = v3n3.reshape(rows, 6)
        prim = geom.get_primitive(0).decompose()
        index_dtype = np.uint32 if prim.get_index_type() == prim.NT_uint32 else np.uint16
        idx = np.frombuffer(memoryview(prim.get_vertices()).cast("B"), index_dtype)
        rgba, rough, metal, emit = (0.8, 0.8, 0.8, 1.0), 0.6, 0.0, (0.0, 0.0, 0.0)
        if material is not None:
            c = material.get_base_color()
            rgba, rough, metal = (c.x, c.y, c.z, c.w), material.get_roughness(), \
                material.get_metallic()
            if material.has_emission():
                e = material.get_emission()
                emit = (min(e.x, 1.0), min(e.y, 1.0), min(e.z, 1.0))
        out.append(GltfMesh(v3n3[:, :3].copy(), v3n3[:, 3:].copy(), idx.astype(np.uint32),
                            base_rgba=rgba, roughness=rough, metallic=metal, emissive=emit))
    return out


def _export(node) -> GltfNode:  # noqa: ANN001 - a Panda3D NodePath
    name = RENAME.get(node.get_name(), node.get_name())
    p = node.get_pos()
    out = GltfNode(name, (p.x, p.y, p.z), meshes=_meshes_of(node))
    out.children = [_export(child) for child in node.get_children()]
    return out


def pump_glb(path: Path) -> Path:
    """Export the procedural pump (its parts, lamp and beacon, and nozzle nodes) to ``path``."""
    from runtime.render.materials import Materials
    from runtime.render.procedural import pump
    from runtime.scene.model import Entity

    entity = Entity(id="pump", type="pump", name="pump", position_m=(0.0, 0.0, 0.0),
                    heading_deg=0.0, model_procedural="pump", model_file=None, params={},
                    points=())
    vis = pump.build(entity, Materials(pipeline="pbr"))
    root = _export(vis.root)
    root.name = "pump"
    root.children += [GltfNode("suction", (pump.SUCTION_X_M, 0.0, pump.SHAFT_Z_M)),
                      GltfNode("discharge", (0.0, 0.0, pump.DISCHARGE_Z_M))]
    return write_glb(path, [root])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ASSETS, help="folder to write into")
    args = p.parse_args()
    out = pump_glb(args.out / "pump.glb")
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
