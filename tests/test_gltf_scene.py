"""glTF model keys in the scene: pipes end at the model's anchors, bindings drive the live
visuals, and mistakes in the model block are located errors (no window needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gltf_fixtures import GLTF_PUMP_SCENE, PUMP_GLB  # noqa: E402

from runtime.live.bindings import build_bindings  # noqa: E402
from runtime.scene import SceneError, load_scene  # noqa: E402
from runtime.world import build_world  # noqa: E402

SUCTION_LOCAL = (-0.58, 0.0, 0.6)
DISCHARGE_LOCAL = (0.0, 0.0, 1.3)
"""Where tools/make_gltf_assets.py put the pump's nozzle nodes (the procedural pump's)."""


def test_pipes_end_at_the_models_anchors() -> None:
    from panda3d.core import NodePath

    from runtime.render.scene_graph import build_scene_graph

    scene = load_scene(GLTF_PUMP_SCENE)
    view = build_scene_graph(scene, NodePath("test-root"))
    x, y, z = scene.entity("P-101").position_m
    suction = np.add((x, y, z), SUCTION_LOCAL)
    discharge = np.add((x, y, z), DISCHARGE_LOCAL)
    np.testing.assert_allclose(view.pipe_routes["L-102"][-1], suction, atol=1e-4)
    np.testing.assert_allclose(view.pipe_routes["L-104"][0], discharge, atol=1e-4)
    # the pipe leaves the discharge upward, as the anchor's outward says
    assert view.pipe_routes["L-104"][1][2] > discharge[2]


def test_bindings_name_the_points_that_drive_the_model() -> None:
    text = (GLTF_PUMP_SCENE / "scene.yaml").read_text().replace(
        "{node: impeller, point: speed_rpm, action: spin, axis: x}",
        "{node: impeller, point: P-102/speed_rpm, action: spin, axis: x}")
    folder = _scene_copy(text)
    world = build_world(load_scene(folder))
    b = build_bindings(world)
    rotor = {world.entities.ids[r]: world.points.ids[c]
             for r, c in zip(b.rotor_rows, b.rotor_cols, strict=True)}
    assert rotor["P-101"] == "P-102/speed_rpm"
    run = {world.entities.ids[r]: world.points.ids[c]
           for r, c in zip(b.run_rows, b.run_cols, strict=True)}
    assert run["P-101"] == "P-101/running"


_TMP: list[Path] = []


def _scene_copy(text: str) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gltf-scene-"))
    _TMP.append(folder)
    (folder / "scene.yaml").write_text(text.replace("../../../scenes/pump_station/assets/",
                                                    f"{PUMP_GLB.parent}/"))
    return folder


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("unit: m\n", "unit: furlong\n", "model.unit", "must be one of mm, cm, m, in, ft"),
    ("to_anchor: suction", "to_anchor: inlet", "connections[1].to_anchor",
     "P-101 has no anchor 'inlet' (its anchors: suction, discharge)"),
    ("suction: {node: suction,", "suction: {node: nozzle_s,", "model.anchors.suction.node",
     "has no node named 'nozzle_s'"),
    ("{node: run_lamp, point: running, action: light}",
     "{node: run_lamp, point: speed_rpm, action: light}", "model.bindings[1].point",
     "a light binding needs a point in bool"),
    ("{node: run_lamp, point: running, action: light}",
     "{node: run_lamp, point: running, action: light, axis: z}", "model.bindings[1].axis",
     "only a spin binding takes an axis"),
    ("{node: trip_beacon, point: tripped, action: beacon}",
     "{node: trip_beacon, point: tripped, action: spin}", "model.bindings[2].action",
     "a second 'spin' binding"),
    ("place: floor\n", "place: floor\n      procedural: pump\n", "model",
     "give exactly one of"),
])
def test_model_block_mistakes_are_located(old: str, new: str, key: str, words: str) -> None:
    text = (GLTF_PUMP_SCENE / "scene.yaml").read_text()
    assert old in text
    folder = _scene_copy(text.replace(old, new, 1))
    with pytest.raises(SceneError) as err:
        load_scene(folder)
    assert err.value.key.endswith(key), err.value.format()
    assert words in err.value.message
    lines = (folder / "scene.yaml").read_text().splitlines()
    assert err.value.line is not None
    wanted = key.split(".")[-1].split("[")[0]
    if wanted == "model":  # a block's own line is that of its first key
        wanted = "gltf:"
    assert wanted in lines[err.value.line - 1], (err.value.line, lines[err.value.line - 1])


@pytest.mark.parametrize(("keys", "lo", "hi"), [
    ("unit: mm, origin: center, rotate_deg: [90, 0, 0]", [-0.5, -1.0, -0.25], [0.5, 1.0, 0.25]),
    ("unit: cm, scale: 0.1, origin: bottom_center", [-1.0, -0.5, 0.0], [1.0, 0.5, 0.5]),
    ("unit: mm, origin: center, offset_m: [1, 2, 3]", [0.0, 1.5, 2.75], [2.0, 2.5, 3.25]),
])
def test_unit_scale_rotation_and_origin_place_the_model(tmp_path: Path, keys: str,
                                                       lo: list[float], hi: list[float]) -> None:
    from gltf_fixtures import write_mm_box
    from panda3d.core import NodePath

    from runtime.render.scene_graph import build_scene_graph

    write_mm_box(tmp_path / "assets" / "box.glb")
    (tmp_path / "scene.yaml").write_text(
        "format: twinstage.scene/1\nname: t\nentities:\n"
        f"  - {{id: B-1, type: junction, model: {{gltf: assets/box.glb, {keys}}}}}\n")
    root = NodePath("test-root")
    view = build_scene_graph(load_scene(tmp_path), root)
    b_lo, b_hi = view.visuals["B-1"].root.get_tight_bounds(root)
    np.testing.assert_allclose([b_lo.x, b_lo.y, b_lo.z], lo, atol=1e-4)
    np.testing.assert_allclose([b_hi.x, b_hi.y, b_hi.z], hi, atol=1e-4)


def test_copies_of_one_file_spin_on_their_own() -> None:
    from panda3d.core import NodePath

    from runtime.render.scene_graph import build_scene_graph

    text = (GLTF_PUMP_SCENE / "scene.yaml").read_text()
    standby = "    name: Standby pump (procedural)\n"
    block = text[text.index("    model:\n      gltf:"):text.index("    pump: {motor: M-101")]
    folder = _scene_copy(text.replace(standby, standby + block))
    scene = load_scene(folder)
    view = build_scene_graph(scene, NodePath("test-root"))
    a, b = (view.visuals[p].parts["rotor"] for p in ("P-101", "P-102"))
    assert a != b and a.get_name() == b.get_name() == "impeller-spin"
    view.sync.set_speed("P-102", 1480.0)
    view.sync.advance(0.1)
    view.sync.apply()
    assert a.get_p() == 0.0 and b.get_p() > 1.0
    np.testing.assert_allclose(view.pipe_routes["L-103"][-1], np.add(
        scene.entity("P-102").position_m, SUCTION_LOCAL), atol=1e-4)
