"""Headless render of the pump station: the frame shows the plant, tanks, pumps and labels."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_fixtures import Rendered, render_scene  # noqa: E402


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_scene(tmp_path_factory.mktemp("pump_station"))


def _far_from(pixels: np.ndarray, rgb: np.ndarray, tol: int = 24) -> np.ndarray:
    return np.abs(pixels.astype(int) - rgb.astype(int)).max(axis=-1) > tol


def test_png_written_with_requested_size(shot: Rendered) -> None:
    head = shot.png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (960, 540) == (shot.frame.shape[1], shot.frame.shape[0])


def test_frame_is_not_empty(shot: Rendered) -> None:
    sky = shot.frame[0, 0]
    assert _far_from(shot.frame, sky).mean() > 0.4, "most of the frame should be plant and ground"
    assert len(np.unique(shot.frame.reshape(-1, 3), axis=0)) > 500, "a shaded scene, not flat fill"


@pytest.mark.parametrize("tank_id", ["T-101", "T-102"])
def test_tank_shell_and_level_band_visible(shot: Rendered, tank_id: str) -> None:
    shell = shot.patch(f"{tank_id}/shell")
    assert _far_from(shell, shot.frame[0, 0]).all(), "tank shell should cover its projection"
    spread = shell.max(axis=1) - shell.min(axis=1)
    assert (spread < 40).mean() > 0.8, "tank shell is steel grey"
    fill = shot.patch(f"{tank_id}/fill", radius=1)
    assert ((fill[:, 2] > fill[:, 0] + 60) & (fill[:, 2] > fill[:, 1] + 30)).any(), \
        "the water bar of the level band is blue at half the initial level"


@pytest.mark.parametrize("pump_id", ["P-101", "P-102"])
def test_pump_casing_blue(shot: Rendered, pump_id: str) -> None:
    casing = shot.patch(f"{pump_id}/casing", radius=2)
    blue = (casing[:, 2] > casing[:, 0] + 60) & (casing[:, 2] > casing[:, 1] + 25)
    assert blue.any(), f"{pump_id}'s blue volute should be on screen where it is placed"


def test_every_asset_has_a_label_with_text(shot: Rendered) -> None:
    expected = {"T-101", "T-102", "P-101", "P-102", "M-101", "M-102", "FV-101", "J-101",
                "J-102", "PT-101", "FT-101", "LT-101", "LT-102", "LIC-102", "UC-101"}
    assert expected <= set(shot.info["labels"])
    h, w = shot.frame.shape[:2]
    for eid, (left, right, top, bottom) in shot.info["labels"].items():
        x0, x1 = max(0, int(left) + 1), min(w, int(right) - 1)
        y0, y1 = max(0, int(top) + 1), min(h, int(bottom) - 1)
        card = shot.frame[y0:y1, x0:x1].reshape(-1, 3).astype(int)
        assert card.size, eid
        dark = (card.max(axis=1) < 70).mean()
        white = (card.min(axis=1) > 200).mean()
        assert dark > 0.4 and white > 0.03, f"{eid}: label card with white text expected"
