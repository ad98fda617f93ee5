"""Assets of the same kind share one procedural model's meshes (issue 17, item 6): a generated
plant of thousands of assets builds each kind once, and every copy keeps its own moving parts.

No ShowBase: the scene graph is built on a bare NodePath in the test process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from panda3d.core import NodePath

from runtime.render.materials import Materials
from runtime.render.procedural import BUILDERS
from runtime.render.scene_graph import build_scene_graph
from runtime.scene import load_scene
from runtime.scene.generated import write_generated_plant


def _geom_data(node: NodePath) -> list[int]:
    return [g.node().get_geom(0).get_vertex_data().this
            for g in node.find_all_matches("**/+GeomNode") if g.node().get_num_geoms()]


def test_same_kind_shares_meshes_and_keeps_its_own_parts(tmp_path: Path) -> None:
    write_generated_plant(tmp_path, 45, devices=1)  # 3 trains
    scene = load_scene(tmp_path)
    view = build_scene_graph(scene, NodePath("top"))
    for a, b in (("P-00000", "P-00002"), ("FV-00000", "FV-00001"), ("TP-00000", "TP-00002"),
                 ("LT-00000", "LT-00001")):
        va, vb = view.visuals[a], view.visuals[b]
        assert va.root.get_name() == a and vb.root.get_name() == b
        assert _geom_data(va.root) == _geom_data(vb.root), f"{a}/{b}: meshes not shared"
        assert va.parts.keys() == vb.parts.keys()
        for name in va.parts:  # each copy moves its own parts
            assert va.parts[name].node() != vb.parts[name].node()
            assert va.parts[name].get_name() == vb.parts[name].get_name()
            assert va.root.is_ancestor_of(va.parts[name])
    # Moving one pump's rotor leaves the other's alone.
    view.visuals["P-00000"].parts["rotor"].set_p(45.0)
    assert view.visuals["P-00002"].parts["rotor"].get_p() == 0.0
    # A copy is placed like a fresh build: same tight bounds relative to its own root.
    entity = next(e for e in scene.entities if e.id == "TP-00002")
    fresh = BUILDERS[entity.model_procedural](entity, Materials())
    lo, hi = view.visuals["TP-00002"].root.get_tight_bounds(view.visuals["TP-00002"].root)
    flo, fhi = fresh.root.get_tight_bounds()
    assert np.allclose([*lo, *hi], [*flo, *fhi])


def test_scene_bounds_cover_every_model(tmp_path: Path) -> None:
    write_generated_plant(tmp_path, 45, devices=1)
    view = build_scene_graph(load_scene(tmp_path), NodePath("top"))
    lo, hi = view.root.get_tight_bounds()
    assert np.allclose(view.bounds, (lo.x, lo.y, lo.z, hi.x, hi.y, hi.z), atol=1e-4)


def test_large_scene_gets_a_far_field_of_boxes(tmp_path: Path) -> None:
    from panda3d.core import LODNode

    from runtime.render.far_field import SPARSE_M, SWITCH_M

    write_generated_plant(tmp_path, 150, devices=1)  # 10 trains, 4 rows of the site layout
    scene = load_scene(tmp_path)
    view = build_scene_graph(scene, NodePath("top"), far_field_min=10)
    cells = view.root.find_all_matches("**/+LODNode")
    assert cells.get_num_paths() >= 2
    triangles = sparse_triangles = 0
    for cell in cells:
        lod = cell.node()
        assert isinstance(lod, LODNode) and lod.get_num_switches() == 3
        assert (lod.get_in(0), lod.get_out(0)) == (SWITCH_M, 0.0)  # models near
        assert (lod.get_in(1), lod.get_out(1)) == (SPARSE_M, SWITCH_M)  # boxes
        assert lod.get_out(2) == SPARSE_M  # sparse boxes beyond
        near, far, sparse = cell.get_child(0), cell.get_child(1), cell.get_child(2)
        assert (near.get_name(), far.get_name(), sparse.get_name()) == ("near", "far", "sparse")
        triangles += far.node().get_geom(0).get_primitive(0).get_num_primitives()
        sparse_triangles += sparse.node().get_geom(0).get_primitive(0).get_num_primitives()
    legs = sum(len(r) - 1 for r in view.pipe_routes.values())
    modelled = [e for e in scene.entities if e.type != "pipe"]
    assert triangles == 10 * len(modelled) + 2 * legs  # 5 faces a model, a pipe leg's top
    # Sparse: a tank keeps 5 faces, junctions and the (DN <= 250) pipes go, the rest keep
    # their top and south faces.
    assert all(c.diameter_m <= 0.25 for c in scene.connections)
    tanks = sum(e.type == "tank" for e in modelled)
    junctions = sum(e.type == "junction" for e in modelled)
    assert sparse_triangles == 10 * tanks + 4 * (len(modelled) - tanks - junctions)
    assert sparse_triangles < triangles / 2
    for e in scene.entities:  # every asset moved under its cell's models, nothing lost
        root = view.visuals[e.id].root
        assert root.get_parent().get_name() == "near"
    # Moving parts still belong to their own assets.
    assert view.root.is_ancestor_of(view.visuals["P-00003"].parts["rotor"])


def test_sparse_level_keeps_big_boxes_whole_and_leaves_out_thin_ones() -> None:
    from runtime.render.far_field import FarItem, sparse_boxes

    node = NodePath("a")
    tank = FarItem(node, (0, 0, 0), (6, 6, 8), (1, 1, 1))
    pump = FarItem(node, (0, 0, 0), (1.7, 0.8, 1.1), (0, 0, 1))
    junction = FarItem(node, (0, 0, 0), (0.3, 0.2, 0.3), (1, 1, 1))
    pipe = FarItem(node, [(0, 0, 0), (5, -0.1, -0.1)], [(5, 0.2, 0.2), (5.2, 0.1, 3)],
                   (1, 1, 1), top_only=True)  # a run and a riser, 0.2-0.3 m wide
    wide = FarItem(node, [(0, 0, 0), (0, 0, 0)], [(4, 1, 1), (4, 0.2, 1)], (1, 1, 1),
                   top_only=True)
    out = sparse_boxes([tank, pump, junction, pipe, wide])
    kept = [(len(m.lo), m.top_only, tuple(m.hi[0] - m.lo[0])) for m in out]
    assert kept == [(1, False, (6, 6, 8)), (1, True, (1.7, 0.8, 1.1)),
                    (1, True, (4, 1, 1))], kept


def test_small_scene_has_no_far_field(tmp_path: Path) -> None:
    write_generated_plant(tmp_path, 150, devices=1)
    view = build_scene_graph(load_scene(tmp_path), NodePath("top"))
    assert view.root.find_all_matches("**/+LODNode").get_num_paths() == 0


def test_quality_signs_live_in_their_far_field_cell(tmp_path: Path) -> None:
    from runtime.quality import Quality
    from runtime.render.cues import QualityIcons, icon_placement

    write_generated_plant(tmp_path, 150, devices=1)
    scene = load_scene(tmp_path)
    for far_field_min, in_cell in ((10, True), (10_000, False)):
        view = build_scene_graph(scene, NodePath("top"), far_field_min=far_field_min)
        rows = {i: e for i, e in enumerate(scene.entities) if e.type != "pipe"}
        heights = {i: view.visuals[e.id].height_m for i, e in rows.items()}
        positions, sizes = icon_placement(heights, {i: e.position_m for i, e in rows.items()})
        icons = QualityIcons(view.root, positions, sizes)
        for row in rows:
            icons.set_quality(row, int(Quality.BAD))
        assert len(icons.shown()) == len(rows)
        signs = view.root.find_all_matches("**/quality-icon-*")
        assert signs.get_num_paths() == len(rows)
        for sign in signs:
            holder = sign.get_parent()
            assert holder.get_name() == "quality-icons"
            assert (holder.get_parent().get_name() == "near") == in_cell


def test_sync_moves_only_models_near_the_camera(tmp_path: Path) -> None:
    from runtime.quality import Quality

    write_generated_plant(tmp_path, 150, devices=1)
    scene = load_scene(tmp_path)
    view = build_scene_graph(scene, NodePath("top"), far_field_min=10)
    sync = view.sync
    assert sync.near_cells is not None
    row = sync.row["FV-00000"]
    stem = view.visuals["FV-00000"].parts["stem"]
    root = view.visuals["FV-00000"].root
    z0 = stem.get_z()
    fraction = sync.stem_fraction.copy()
    fraction[row] = 0.0 if sync.stem_fraction[row] > 0.5 else 1.0
    quality = np.zeros(len(scene.entities), dtype=np.uint8)
    quality[row] = Quality.BAD
    sync.sync(stem_fraction=fraction, quality=quality)
    sync.eye_m = (1e5, 1e5, 1e4)  # every cell far: drawn as boxes
    sync.apply()
    assert not sync.drawn_rows().any()
    assert stem.get_z() == z0 and not root.has_color_scale(), "a far model is left as it was"
    x, y, _z = scene.entities[row].position_m
    sync.eye_m = (x, y - 30.0, 20.0)  # its cell comes near
    sync.apply()
    assert sync.drawn_rows()[row]
    assert stem.get_z() != z0 and root.has_color_scale(), "it catches up when near"
