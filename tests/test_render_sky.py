"""Sky and field cost a software rasteriser next to nothing (issue 17, item 6): the field is the
clear colour and the sky dome starts at the horizon, so a view looking down draws no sky.

No ShowBase: the dome is built on bare NodePaths in the test process.
"""

from __future__ import annotations

import numpy as np
from panda3d.core import GeomVertexReader, NodePath

from runtime.render.horizon import FIELD_RGBA, SKY_HORIZON_RGB, build_sky, field_rgba


def _vertices_and_colours(sky: NodePath) -> tuple[np.ndarray, np.ndarray]:
    vdata = sky.node().get_geom(0).get_vertex_data()
    vertex, colour = GeomVertexReader(vdata, "vertex"), GeomVertexReader(vdata, "color")
    xyz, rgba = [], []
    while not vertex.is_at_end():
        xyz.append(tuple(vertex.get_data3()))
        rgba.append(tuple(colour.get_data4()))
    return np.array(xyz), np.array(rgba)


def test_sky_dome_starts_at_the_horizon_in_haze() -> None:
    render = NodePath("render")
    camera = render.attach_new_node("camera")
    sky = build_sky(camera, render, display_space=False)
    xyz, rgba = _vertices_and_colours(sky)
    assert xyz[:, 2].min() == 0.0, "nothing of the dome below the horizon: that is the field"
    assert xyz[:, 2].max() > 0.99 * np.linalg.norm(xyz, axis=1).max(), "it reaches the zenith"
    at_horizon = rgba[xyz[:, 2] == 0.0]
    assert np.allclose(at_horizon[:, :3], SKY_HORIZON_RGB, atol=1 / 255)  # 8-bit colours
    assert sky.get_bin_name() == "background" and not sky.get_depth_test()


def test_field_colour_is_the_same_on_both_pipelines() -> None:
    assert field_rgba(display_space=True) == FIELD_RGBA
    linear = field_rgba(display_space=False)
    assert np.allclose(np.array(linear[:3]) ** (1 / 2.2), FIELD_RGBA[:3])
    assert linear[3] == FIELD_RGBA[3]
