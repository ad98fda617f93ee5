"""Trends: geometry never joins across Bad data; the viewer's trend panel and sparkline show
history (with alarm limits, clear of badges and panels) without the frame waiting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bus_fixtures import wait_until
from conftest import REPO_ROOT
from history_fixtures import write_all
from hypothesis import given, settings
from hypothesis import strategies as st
from live_fixtures import live_bus_server

from runtime.history.batch import Samples
from runtime.history.store import open_store
from runtime.ui.hud import overlaps
from runtime.ui.trend_geometry import (
    PanelRect,
    decimate,
    from_aggregates,
    from_samples,
    polyline,
)

LEVEL = "LT-102/level_m"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**9), st.floats(0, 5), st.sampled_from([0, 0, 1, 2])),
                min_size=1, max_size=60), st.booleans(), st.sampled_from([0, 1, 3]))
def test_no_line_is_drawn_through_bad_data(rows: list, discrete: bool, columns: int) -> None:
    t = np.cumsum([r[0] for r in rows]).astype(np.int64)
    v = np.array([r[1] for r in rows])
    q = np.array([r[2] for r in rows], np.int64)
    end = int(t[-1]) + 10**9
    s = from_samples("X/v", "bool" if discrete else "m", t, v, q, q, end)
    if columns:  # what the worker draws: at most 4 samples per column
        full = s
        s = decimate(s, int(t[0]), end, columns)
        assert set(np.flatnonzero(full.quality >= 2).tolist()) <= set(
            np.searchsorted(full.t_ns, s.t_ns[s.quality >= 2]).tolist())
    r = PanelRect(0.0, 1.0, 0.0, 1.0, int(t[0]), end, -1.0, 6.0)
    seg = polyline(s, r, end_ns=end)
    for t0, t1 in s.bad_spans:
        x0, x1 = (float(x) for x in r.x(np.array([t0, t1])))
        lo, hi = np.minimum(seg[:, 0], seg[:, 2]), np.maximum(seg[:, 0], seg[:, 2])
        inside = (lo < x1 - 1e-9) & (hi > x0 + 1e-9)
        assert not inside.any(), f"a segment crosses the Bad span {t0}..{t1}"
    assert all(q[i] >= 2 for i in range(len(q)) if any(a <= t[i] < b for a, b in s.bad_spans))


def test_aggregate_buckets_with_bad_data_break_the_line() -> None:
    b = np.arange(5, dtype=np.int64) * 60
    s = from_aggregates("X/v", "m", b, 60, np.zeros(5), np.ones(5), np.full(5, 0.5),
                        np.array([3, 3, 3, 0, 3]), np.array([0, 2, 0, 4, 0]))
    assert s.join.tolist() == [False, False, False, False, False]
    assert s.bad_spans == [(60, 120), (180, 240)]
    s2 = from_aggregates("X/v", "m", b, 60, np.zeros(5), np.ones(5), np.full(5, 0.5),
                         np.full(5, 3), np.zeros(5))
    assert s2.join.tolist() == [True, True, True, True, False]


def test_cursor_readout_is_the_value_in_effect() -> None:
    s = from_samples("X/v", "m", np.array([10, 20, 30]), np.array([1.0, 2.0, 3.0]),
                     np.array([0, 2, 0]), np.array([0, 2, 0]), 40)
    assert s.value_at(25) == (2.0, 2, 2) and s.value_at(35) == (3.0, 0, 0)
    assert s.value_at(5) is None


ALARMS = """format: twinstage.alarms/1
alarms:
  - {id: T-102-H, point: LT-102/level_m, type: high, limit: 4.2, priority: Medium}
  - {id: T-102-L, point: LT-102/level_m, type: low, limit: 1.5, priority: High}
  - {id: odd, point: LT-102/level_m, type: rate, limit: 1.0}
"""


def _history(folder: Path) -> None:
    store = open_store(folder)
    ids = store.point_ids([LEVEL, "FT-101/flow_m3_h"], {LEVEL: "m", "FT-101/flow_m3_h": "m3/h"})
    now = time.time_ns()
    n = 1200
    t = now - 600 * 10**9 + np.arange(n, dtype=np.int64) * 500_000_000
    v = 2.5 + 0.5 * np.sin(np.arange(n) / 100)
    q = np.zeros(n, np.int64)
    q[500:600] = 2  # a minute of Bad data
    write_all(store, Samples(np.full(n, ids[LEVEL], np.int64), t, v, q, q.copy()))
    write_all(store, Samples(np.full(n, ids["FT-101/flow_m3_h"], np.int64), t, 100 + 10 * v,
                             np.zeros(n, np.int64), np.zeros(n, np.int64)))
    store.close()


def test_viewer_trend_panel_and_sparkline(tmp_path: Path, scene_copy: Path) -> None:
    (scene_copy / "alarms.yaml").write_text(ALARMS)
    _history(tmp_path / "history")
    shots, hud_path = tmp_path / "shots", tmp_path / "hud.json"
    env = dict(os.environ, PYTHONUNBUFFERED="1", TWINSTAGE_HISTORY=str(tmp_path / "history"),
               TWINSTAGE_TREND=f"{LEVEL},FT-101/flow_m3_h")
    with live_bus_server() as (address, _plant, _server):
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "view", str(scene_copy), "--bus", address,
             "--headless", "--seconds", "120", "--screenshot-dir", str(shots),
             "--screenshot-every", "1", "--select", "T-102", "--hud-json", str(hud_path),
             "--max-fps", "20"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env)
        try:
            wait_until(lambda: (shots / "live-003.png").exists(), timeout_s=90)
            proc.terminate()
            _out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err
    elements = json.loads(hud_path.read_text())["elements"]
    trends = [e for e in elements if e["kind"] == "trend"]
    panel = next(e for e in trends if e["text"].startswith("Trend 10 min"))
    spark = next(e for e in trends if e["text"].startswith("sparkline"))
    assert f"{LEVEL} " in panel["text"] and " m  Good" in panel["text"]
    assert "m3/h" in panel["text"]
    assert "limits LT-102/level_m H 4.2, L 1.5" in panel["text"]
    assert "LT-102/level_m  last 10 min" in spark["text"]
    others = [e for e in elements if e["kind"] in ("badge", "faceplate", "status", "trend")]
    for i, a in enumerate(others):
        for b in others[i + 1:]:
            assert not overlaps(a["bbox"], b["bbox"]), (a, b)
    # the Bad minute is hatched in the panel's plot (orange), nothing orange elsewhere in it
    area = _pixels(shots / "final.png", panel["bbox"])
    orange = (area[..., 0] > 200) & (area[..., 1] > 100) & (area[..., 1] < 190) & \
        (area[..., 2] < 120)
    assert orange.sum() > 50


def _pixels(png: Path, bbox: list[float]) -> np.ndarray:
    """RGB 0-255 of the box [x, y, w, h] (pixels, top-left) of a PNG, read with Panda3D."""
    from panda3d.core import Filename, PNMImage

    img = PNMImage()
    assert img.read(Filename.from_os_specific(str(png)))
    x, y, w, h = (int(round(c)) for c in bbox)
    out = np.zeros((h, w, 3), int)
    for j in range(h):
        for i in range(w):
            out[j, i] = [round(c * 255) for c in img.get_xel(x + i, y + j)]
    return out


def test_replay_trend_follows_the_session_time(tmp_path: Path) -> None:
    from replay_fixtures import T0, write_recording

    start, _end = write_recording(tmp_path / "rec", 60.0)
    store = open_store(tmp_path / "history")
    pid = store.point_ids([LEVEL], {LEVEL: "m"})[LEVEL]
    n = 660
    t = start - 600 * 10**9 + np.arange(n, dtype=np.int64) * 10**9
    z = np.zeros(n, np.int64)
    # the value is the time in seconds since the recording's start: the readout tells the time
    write_all(store, Samples(np.full(n, pid, np.int64), t, (t - T0) / 1e9, z, z))
    store.close()
    hud_path = tmp_path / "hud.json"
    env = dict(os.environ, TWINSTAGE_HISTORY=str(tmp_path / "history"), TWINSTAGE_TREND=LEVEL)
    res = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "view", "pump_station", "--replay",
         str(tmp_path / "rec"), "--headless", "--screenshot-dir", str(tmp_path / "shots"),
         "--screenshot-at", "50%", "--paused", "--hud-json", str(hud_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=180)
    assert res.returncode == 0, res.stderr
    trends = [e for e in json.loads(hud_path.read_text())["elements"] if e["kind"] == "trend"]
    panel = next(e["text"] for e in trends if e["text"].startswith("Trend 10 min"))
    value = float(panel.split(f"{LEVEL} ")[1].split()[0])
    assert 28.0 <= value <= 33.0, panel  # the replay is at 30 s, not at the wall clock's now


def test_no_history_no_trend_elements(tmp_path: Path) -> None:
    """Without a history (here: a store that does not exist) the view shows no sparkline and
    reserves no room for one."""
    hud_path = tmp_path / "hud.json"
    env = dict(os.environ, TWINSTAGE_HISTORY=str(tmp_path / "nothing"))
    with live_bus_server() as (address, _plant, _server):
        res = subprocess.run(
            [sys.executable, "-m", "runtime.cli", "view", "pump_station", "--bus", address,
             "--headless", "--seconds", "4", "--select", "T-102", "--hud-json", str(hud_path)],
            cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=180)
    assert res.returncode == 0, res.stderr
    kinds = [e["kind"] for e in json.loads(hud_path.read_text())["elements"]]
    assert "faceplate" in kinds and "trend" not in kinds
