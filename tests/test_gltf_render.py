"""glTF models rendered offscreen: size and place from the scene's unit/origin keys, the bound
impeller turning with the measured speed, lamp and beacon, and colours like our own."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gltf_fixtures import SWATCH_RGB, mm_box_scene, run_child  # noqa: E402
from render_fixtures import Rendered  # noqa: E402


@pytest.fixture(scope="module")
def mm_shot(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    folder = mm_box_scene(tmp_path_factory.mktemp("mm_scene"))
    return run_child("scene", tmp_path_factory.mktemp("mm_shot"), str(folder))


@pytest.fixture(scope="module")
def pump_shot(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return run_child("pump", tmp_path_factory.mktemp("gltf_pump"))


def test_millimetre_model_loads_at_metre_size_and_place(mm_shot: Rendered) -> None:
    # 2000 x 1000 x 500 mm box centred at (5, 3, 1) m in its file: bottom-centred at (4, 2, 0)
    lo, hi = (np.array(v) for v in mm_shot.info["bounds"]["B-1"])
    np.testing.assert_allclose(lo, [3.0, 1.5, 0.0], atol=1e-3)
    np.testing.assert_allclose(hi, [5.0, 2.5, 0.5], atol=1e-3)
    # ... and by its own origin at (-4, -2, 0), sitting on the floor, lifted 0.25 m
    lo, hi = (np.array(v) for v in mm_shot.info["bounds"]["B-2"])
    np.testing.assert_allclose(lo, [0.0, 0.5, 0.25], atol=1e-3)
    np.testing.assert_allclose(hi, [2.0, 1.5, 0.75], atol=1e-3)


@pytest.mark.parametrize("box", ["B-1", "B-2"])
def test_millimetre_model_appears_where_placed(mm_shot: Rendered, box: str) -> None:
    top = mm_shot.patch(f"{box}/top", radius=2)
    red = (top[:, 0] > 180) & (top[:, 0] > top[:, 1] + 100) & (top[:, 0] > top[:, 2] + 100)
    assert red.mean() > 0.8, f"{box}'s red top should be on screen where it was placed"


def test_bound_impeller_turns_with_measured_speed(pump_shot: Rendered) -> None:
    fast, half, stopped = pump_shot.info["turns"]
    step_fast = fast["after_deg"] - fast["before_deg"]
    step_half = half["after_deg"] - half["before_deg"]
    assert step_fast > 1.0, "the impeller node turns while the pump runs"
    assert step_half == pytest.approx(step_fast / 2, rel=1e-3), "turn rate follows the speed"
    assert stopped["after_deg"] == pytest.approx(stopped["before_deg"], abs=1e-6)
    assert half["after_deg"] == pytest.approx(half["sync_deg"], abs=1e-3)
    assert pump_shot.info["parts"] == {"rotor": "impeller-spin", "run_lamp": "run_lamp",
                                       "trip_beacon": "trip_beacon"}


@pytest.mark.parametrize("pump_id", ["P-101", "P-102"])
def test_run_lamp_and_trip_beacon_light_on_gltf_like_procedural(pump_shot: Rendered,
                                                                  pump_id: str) -> None:
    lamp = pump_shot.patch(f"{pump_id}/lamp", radius=1)
    assert ((lamp[:, 1] > 150) & (lamp[:, 1] > lamp[:, 0] + 80)).any(), f"{pump_id} lamp green"
    beacon = pump_shot.patch(f"{pump_id}/beacon", radius=1)
    assert ((beacon[:, 0] > 150) & (beacon[:, 0] > beacon[:, 1] + 100)).any(), \
        f"{pump_id} beacon red"


@pytest.mark.parametrize("pipeline", ["forward", "pbr"])
def test_gltf_colours_match_our_own(tmp_path: Path, pipeline: str) -> None:
    shot = run_child("colour", tmp_path, pipeline)
    assert shot.info["pipeline"] == pipeline
    textured = shot.patch("textured", 2).mean(axis=0)
    factor = shot.patch("factor", 2).mean(axis=0)
    procedural = shot.patch("procedural", 2).mean(axis=0)
    assert np.abs(textured - procedural).max() <= 6, (textured, procedural)
    assert np.abs(factor - procedural).max() <= 6, (factor, procedural)
    if pipeline == "forward":  # no tonemapping: flat light shows the swatch as authored
        assert np.abs(textured - np.array(SWATCH_RGB)).max() <= 6, textured
