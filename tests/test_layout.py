"""Control-room layouts: the wall layout opens its regions offscreen from one world (the
twin's own view, a detail camera that follows the selection, the alarm list and trend panels
from the registry); bad layout files give located errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import PUMP_STATION, run_cli
from test_walk import run_child

from runtime.app.layout import load_layout
from runtime.scene.errors import SceneError


def _inside(box: list[float], rect_px: tuple[float, float, float, float]) -> bool:
    x, y, w, h = box
    x0, y0, x1, y1 = rect_px
    return x >= x0 - 1 and y >= y0 - 1 and x + w <= x1 + 1 and y + h <= y1 + 1


def test_wall_layout_opens_its_regions(tmp_path: Path) -> None:
    out = run_child("layout", tmp_path)
    cams = {name: dims for dims, name in out["regions"] if name}
    assert cams["cam"] == [0.0, 0.64, 0.34, 1.0] and cams["cam2d"] == cams["cam"]
    assert cams["detail-camera"] == [0.64, 1.0, 0.34, 1.0]
    assert "alarms-2-cam2d" in cams and "trend-3-cam2d" in cams
    w, h = 1280, 720
    overview_px = (0, 0, 0.64 * w, 0.66 * h)
    detail_px = (0.64 * w, 0, w, 0.66 * h)
    alarms_px = (0, 0.66 * h, 0.64 * w, h)
    for eid, name in (("P-101", "Duty pump"), ("T-102", "Clearwell")):
        hud = out[eid]
        kinds = {e["kind"] for e in hud}
        assert {"badge", "faceplate", "status", "detail", "alarm-list", "trend"} <= kinds
        for e in hud:  # the twin's own 2D stays inside its region
            if "region" not in e:
                assert _inside(e["bbox"], overview_px), e
        detail = next(e for e in hud if e["kind"] == "detail")
        assert detail["text"] == f"Detail: {eid}  {name}" and _inside(detail["bbox"], detail_px)
        # The alarms region hosts the alarm list (its provider); this view has no data
        # source, so the list says there are no alarms here.
        alarms = next(e for e in hud if e["kind"] == "alarm-list")
        assert alarms["region"] == "alarms" and alarms["text"].startswith("Alarms: none")
        assert _inside(alarms["bbox"], alarms_px)
        assert next(e for e in hud if e["kind"] == "trend")["region"] == "trend"
    a = np.load(tmp_path / "layout-P-101.npy").astype(int)
    b = np.load(tmp_path / "layout-T-102.npy").astype(int)
    rows_3d = slice(10, int(0.66 * h) - 10)
    detail_a, detail_b = a[rows_3d, int(0.64 * w) + 10:], b[rows_3d, int(0.64 * w) + 10:]
    assert np.abs(detail_a - detail_b).mean() > 10  # the detail camera followed the selection
    # Panel regions are a quiet dark grey, not the sky or the scene behind.
    corner = a[int(0.66 * h) + 4: int(0.66 * h) + 20, 4:40]
    assert corner.max() < 70 and corner.std() < 3
    assert (tmp_path / "layout-T-102.png").stat().st_size > 1000


def test_layout_is_legible_on_a_4k_wall(tmp_path: Path) -> None:
    out = run_child("layout", tmp_path, "3840x2160", "T-102")
    detail = next(e for e in out["T-102"] if e["kind"] == "detail")
    status = next(e for e in out["T-102"] if e["kind"] == "status")
    # Text follows the region's height: at 2160 lines the caption is ~80 px tall, the status
    # line ~40 px (at 720 lines: a third of that).
    assert detail["bbox"][3] > 60 and status["bbox"][3] > 35


def _bad(tmp_path: Path, text: str) -> SceneError:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SceneError) as info:
        load_layout(path)
    return info.value


HEAD = "format: twinstage.layout/1\nname: t\nregions:\n"


def test_bad_layouts_are_located(tmp_path: Path) -> None:
    err = _bad(tmp_path, HEAD + "  - {kind: overview, rect: [0, 1, 0, 1]}\n"
                                "  - {kind: detail, rect: [0.5, 1.2, 0, 1]}\n")
    assert err.line == 5 and err.key == "regions[1].rect" and "fractions" in err.message
    err = _bad(tmp_path, HEAD + "  - {kind: overview, rect: [0, 0.6, 0, 1]}\n"
                                "  - {kind: alarms, rect: [0.5, 1, 0, 1]}\n")
    assert err.line == 5 and "overlaps region 1" in err.message
    err = _bad(tmp_path, HEAD + "  - {kind: detail, rect: [0, 1, 0, 1]}\n")
    assert "exactly one overview" in err.message
    err = _bad(tmp_path, HEAD + "  - {kind: overview, rect: [0, 1, 0, 1], zoom: 3}\n")
    assert err.key == "regions[0].zoom" and err.line == 4


def test_replay_layout_shows_the_recordings_alarm_list(tmp_path: Path) -> None:
    from replay_fixtures import write_recording

    write_recording(tmp_path / "rec", 30.0)
    hud_file = tmp_path / "hud.json"
    done = run_cli("view", "pump_station", "--replay", str(tmp_path / "rec"), "--layout", "wall",
                   "--headless", "--size", "960x540", "--screenshot-dir", str(tmp_path / "shots"),
                   "--screenshot-at", "+22s", "--hud-json", str(hud_file), timeout_s=300)
    assert done.returncode == 0, done.stderr
    import json

    hud = json.loads(hud_file.read_text())["elements"]
    alarms = [e for e in hud if e.get("region") == "alarms"]
    assert [e["kind"] for e in alarms] == ["alarm-list"]
    assert alarms[0]["text"].startswith("Alarms: ") and "none in this view" not in alarms[0]["text"]
    trend = [e for e in hud if e.get("region") == "trend"]
    assert [e["kind"] for e in trend] == ["trend"]  # the trend panel fills its region


def test_view_names_the_layouts_it_knows(tmp_path: Path) -> None:
    done = run_cli("view", "pump_station", "--headless", "--layout", "nope")
    assert done.returncode == 2 and "wall" in done.stderr and "Traceback" not in done.stderr
    assert (PUMP_STATION / "layouts" / "wall.yaml").is_file()
