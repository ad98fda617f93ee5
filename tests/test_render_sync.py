"""Render sync and pipe routing without a window: scene graph nodes follow the arrays."""

from __future__ import annotations

import numpy as np
import pytest
from panda3d.core import NodePath

from runtime.quality import Quality
from runtime.render.procedural.base import Port
from runtime.render.procedural.pipe import route
from runtime.render.scene_graph import build_scene_graph
from runtime.scene import load_scene


@pytest.fixture(scope="module")
def view():  # noqa: ANN201
    return build_scene_graph(load_scene("pump_station"), NodePath("render"))


def test_every_entity_built_and_initial_state_from_scene(view) -> None:  # noqa: ANN001
    sync = view.sync
    assert set(view.visuals) == set(sync.entity_ids)
    t101 = sync.row["T-101"]
    assert sync.fill_fraction[t101] == pytest.approx(3.5 / 6.0, abs=1e-3)
    assert sync.stem_fraction[sync.row["FV-101"]] == pytest.approx(0.4, abs=1e-3)
    assert np.isnan(sync.fill_fraction[sync.row["P-101"]])


def test_sync_arrays_move_parts(view) -> None:  # noqa: ANN001
    sync = view.sync
    n = len(sync.entity_ids)
    fill = np.full(n, np.nan, np.float32)
    fill[sync.row["T-102"]] = 0.25
    stem = np.full(n, np.nan, np.float32)
    stem[sync.row["FV-101"]] = 1.0
    speed = np.zeros(n, np.float32)
    speed[sync.row["P-101"]] = 1500.0
    quality = np.zeros(n, np.uint8)
    quality[sync.row["P-102"]] = Quality.BAD
    sync.sync(fill_fraction=fill, stem_fraction=stem, rotor_speed_rpm=speed, quality=quality)
    sync.advance(0.1)
    sync.apply()
    tank_fill = view.visuals["T-102"].parts["fill"]
    from runtime.render.procedural import tank

    scene = load_scene("pump_station")
    assert tank_fill.get_sz() == pytest.approx(0.25 * tank.band_height_m(scene.entity("T-102")))
    assert view.visuals["FV-101"].parts["stem"].get_z() > 0.1
    assert view.visuals["P-101"].parts["rotor"].get_p() != 0.0
    assert view.visuals["P-102"].root.get_color_scale()[0] < 0.9


def test_pipe_routes_are_squared_off() -> None:
    src = Port(np.array([0.0, 0.0, 1.3]), np.array([0.0, 0.0, 1.0]))
    dst = Port(np.array([6.0, -3.0, 0.6]), np.array([0.0, 1.0, 0.0]))
    pts = route(src, dst, ((6.0, 2.0, 0.6),))
    assert np.allclose(pts[0], src.point) and np.allclose(pts[-1], dst.point)
    for a, b in zip(pts, pts[1:], strict=False):
        moved = np.abs(b - a) > 1e-6
        assert moved.sum() == 1, f"leg {a} -> {b} is diagonal"
