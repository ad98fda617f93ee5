"""Tours: the scene's ``tours:`` block with located errors, the player's timing and paths, and a
tour played to its end headless through ``twinstage kiosk --tour-once`` with a screenshot and
a narration card per stop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from runtime.render.tour import TourPlayer, blend, stop_pose
from runtime.scene import load_scene
from runtime.scene.errors import SceneError
from runtime.scene.tours import Tour, TourStop


def read_png(path: Path) -> np.ndarray:
    """A PNG as int (H, W, 3), row 0 at the top (Panda3D reads it; no imaging library)."""
    from panda3d.core import Filename, Texture, load_prc_file_data

    load_prc_file_data("read-png", "textures-power-2 none")  # keep the PNG's own size
    tex = Texture()
    assert tex.read(Filename.from_os_specific(str(path)))
    data = np.frombuffer(tex.get_ram_image_as("RGB"), dtype=np.uint8)
    return data.reshape(tex.get_y_size(), tex.get_x_size(), 3)[::-1].astype(int)


def _stop(title: str, target: tuple[float, float, float], heading: float = 0.0,
          dwell_s: float = 4.0, travel_s: float = 2.0) -> TourStop:
    return TourStop(title, "", (), target, 20.0, heading, -30.0, dwell_s, travel_s)


def test_the_pump_station_tour_loads() -> None:
    scene = load_scene("pump_station")
    tour = scene.tours[0]
    assert len(tour.stops) == 5
    skid = next(vp for vp in scene.viewpoints if vp.name == "Pump skid")
    pumps = tour.stops[2]
    assert pumps.assets == ("P-101", "P-102")
    assert pumps.target_m == skid.target_m and pumps.distance_m == skid.distance_m


@pytest.mark.parametrize(("old", "new", "key", "words", "on_line"), [
    ("assets: [T-101, LT-101]", "assets: [T-101, LT-999]", "tours[0].stops[1].assets[1]",
     "missing entity 'LT-999'", "LT-999"),
    ("viewpoint: Pump skid", "viewpoint: Pump room", "tours[0].stops[2].viewpoint",
     "no viewpoint named 'Pump room'", "Pump room"),
    ("heading_deg: 35, pitch_deg: -18", "heading_deg: 35, pitch_deg: 10",
     "tours[0].stops[1].camera.pitch_deg", "outside -88..-3", "pitch_deg: 10"),
    ("        dwell_s: 8\n      - title: The pumps", "        dwell_s: 0\n      - title: The pumps",
     "tours[0].stops[1].dwell_s", "greater than 0", "dwell_s: 0"),
    ("        viewpoint: Whole site\n", "        viewpoint: Whole site\n        camera: "
     "{target_m: [0, 0, 0], distance_m: 5}\n", "tours[0].stops[0]", "exactly one of",
     "Welcome"),
    ("        dwell_s: 8\n      - title: The pumps",
     "        dwell_s: 8\n        music: loud\n      - title: The pumps",
     "tours[0].stops[1].music", "unknown key 'music'", "music: loud"),
])
def test_bad_tours_are_located(scene_copy: Path, old: str, new: str, key: str,
                               words: str, on_line: str) -> None:
    path = scene_copy / "scene.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SceneError) as info:
        load_scene(scene_copy)
    err = info.value
    assert err.key == key and words in err.message
    assert err.line is not None
    assert on_line in path.read_text().splitlines()[err.line - 1]


def test_validate_reports_a_bad_tour_without_traceback(scene_copy: Path) -> None:
    path = scene_copy / "scene.yaml"
    path.write_text(path.read_text().replace("assets: [P-101, P-102]", "assets: [P-101, P-9]"))
    done = run_cli("validate", str(scene_copy))
    assert done.returncode == 2
    assert "tours[0].stops[2].assets[1]" in done.stderr and "Traceback" not in done.stderr


def test_player_dwells_travels_and_ends() -> None:
    tour = Tour("t", (_stop("a", (0, 0, 0)), _stop("b", (40, 0, 0), heading=350.0),
                      _stop("c", (40, 5, 0), heading=10.0)))
    player = TourPlayer(tour)
    player.start(stop_pose(_stop("home", (0, -10, 0))))
    events = []
    heights = []
    for _ in range(int(30 / 0.1)):
        events += player.advance(0.1)
        heights.append(player.pose().distance_m)
    kinds = [e for e in events]
    assert kinds == [("arrive", 0), ("leave", 0), ("arrive", 1), ("leave", 1), ("arrive", 2),
                     ("leave", 2), ("end", -1)]
    assert player.phase == "done" and not player.playing
    assert player.pose() == stop_pose(tour.stops[2])
    # The 40 m hop from a to b lifts the camera mid-flight; the 5 m hop from b to c does not.
    assert max(heights) > 20.0 * 1.3
    mid = blend(stop_pose(tour.stops[1]), stop_pose(tour.stops[2]), 0.5)
    assert mid.distance_m == pytest.approx(20.0)
    # 350 -> 10 degrees turns 20 degrees through north, not 340 the long way round.
    assert mid.heading_deg == pytest.approx(0.0, abs=1e-6) or mid.heading_deg == pytest.approx(
        360.0, abs=1e-6)


def test_player_steps_and_loops() -> None:
    tour = Tour("t", (_stop("a", (0, 0, 0)), _stop("b", (5, 0, 0))))
    player = TourPlayer(tour, loop=True)
    player.start(stop_pose(tour.stops[0]))
    assert player.next() == 1 and player.previous() == 0
    assert player.next() == 1 and player.next() == 0  # wraps when looping
    events = []
    for _ in range(100):
        events += player.advance(0.25)
    assert ("end", -1) not in events and player.playing


def test_tour_plays_to_its_end_headless(tmp_path: Path) -> None:
    done = run_cli("kiosk", "pump_station", "--headless", "--tour-once", "--size", "640x360",
                   "--screenshot-dir", str(tmp_path), timeout_s=240)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "tour.json").read_text())
    assert record["finished"]
    titles = [s["title"] for s in record["stops"]]
    scene = load_scene("pump_station")
    assert titles == [s.title for s in scene.tours[0].stops]
    frames = []
    for stop in record["stops"]:
        frames.append(read_png(tmp_path / stop["screenshot"]))
        cards = [e for e in stop["hud"] if e["kind"] == "narration"]
        assert len(cards) == 1 and cards[0]["text"].startswith(stop["title"])
        x, y, w, h = cards[0]["bbox"]
        # The card is drawn where the HUD says: dark panel pixels inside its box.
        inside = frames[-1][int(y + h * 0.5), int(x + 4): int(x + w - 4)]
        assert inside.mean() < 120, inside.mean()
    assert record["stops"][1]["values"][0].startswith("T-101 Raw water tank: ")
    for a, b in zip(frames, frames[1:], strict=False):
        assert np.abs(a - b).mean() > 3.0  # every stop is a different view
