"""``twinstage view --bus`` headless, fed by a real bus with scripted readings (no plant).

One viewer run walks through: readings arrive (the clearwell's level bar rises when LT-102 says
4.5 m), the level RTU goes silent (its points go Bad: "!" marker and words on the label), the
RTU comes back (Good again), then SIGTERM (exit 0, final screenshot and stats written).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bus_fixtures import free_base_port, wait_until
from conftest import REPO_ROOT
from live_fixtures import live_bus
from panda3d.core import Filename, PNMImage


def _png(path: Path) -> np.ndarray:
    img = PNMImage(Filename.from_os_specific(str(path)))
    w, h = img.get_x_size(), img.get_y_size()
    return np.array([[[int(255 * c) for c in img.get_xel(x, y)] for x in range(w)]
                     for y in range(h)], dtype=np.int64)


def _view(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runtime.cli", "view", "pump_station", *args],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def _blue(px: np.ndarray) -> bool:
    return bool(px[2] > px[0] + 50 and px[2] > px[1] + 30)


def test_live_view_follows_readings_quality_and_recovers(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    stats = tmp_path / "stats.json"
    with live_bus() as (address, plant):
        proc = _view("--bus", address, "--headless", "--seconds", "120", "--size", "480x270",
                     "--screenshot-dir", str(shots), "--screenshot-every", "1",
                     "--select", "T-102", "--stats-json", str(stats), "--max-fps", "30")
        try:
            wait_until(lambda: (shots / "live-001.png").exists(), timeout_s=60)
            plant.values["RTU-101"]["LT-102/level_m"] = 4.5
            wait_until(lambda: (shots / "live-003.png").exists(), timeout_s=30)
            plant.silent.add("RTU-101")
            wait_until(lambda: (shots / "live-007.png").exists(), timeout_s=30)
            plant.silent.discard("RTU-101")
            wait_until(lambda: (shots / "live-009.png").exists(), timeout_s=30)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err
    assert (shots / "final.png").exists() and stats.exists(), out
    data = json.loads(stats.read_text())
    assert data["format"] == "twinstage.viewer-stats/1" and data["selected"] == "T-102"
    lt = data["points"]["LT-102/level_m"]
    assert lt["value"] == 4.5 and lt["quality"] == "GOOD"
    assert abs(lt["estimate"] - 4.5) < 0.05 and abs(lt["residual"]) < 0.05
    assert data["entities"]["T-102"]["visual_quality"] == "GOOD"
    assert data["points"]["T-102/level_m"]["served"] is False
    timings = data["timings_ms"]
    assert timings["frames"] > 20 and timings["ingest+sim+sync"]["p50"] > 0
    assert data["latency"]["records"], "latency records for the applied readings"
    rec = dict(zip(data["latency"]["fields"], data["latency"]["records"][-1], strict=True))
    assert rec["t_frame_done_monotonic_ns"] >= rec["t_applied_monotonic_ns"]

    # Bad while the RTU was silent: words on the label, "!" marker, then Good again.
    timeline = data["timeline"]
    bad = [t for t in timeline if t["entities"].get("T-102", {}).get("quality") == 2]
    assert bad, "T-102 should have shown Bad while its level transmitter's RTU was silent"
    assert bad[-1]["entities"]["T-102"]["status"].startswith("BAD no communication - ")
    assert "T-102" not in timeline[-1]["entities"]

    screen = data["screen"]["entities"]["T-102"]
    first, during = _png(shots / "live-000.png"), _png(shots / bad[-1]["screenshot"])
    final = _png(shots / "final.png")
    x, y = (int(round(v)) for v in screen["band"]["0.7"])
    assert not _blue(first[y, x]) and _blue(final[y, x]), "the level bar rose to 4.5 m"
    ix, iy = (int(round(v)) for v in screen["icon"])
    icon_now = during[iy - 3:iy + 4, ix - 3:ix + 4]
    icon_after = final[iy - 3:iy + 4, ix - 3:ix + 4]
    assert np.abs(icon_now - icon_after).max() > 60, "the marker shows only while Bad"


def test_no_bus_means_no_reading_yet_and_a_clean_exit(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    dead = f"tcp://127.0.0.1:{free_base_port()}"
    proc = _view("--bus", dead, "--headless", "--seconds", "1.5", "--size", "320x180",
                 "--stats-json", str(stats))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    data = json.loads(stats.read_text())
    assert data["entities"]["P-101"]["visual_quality"] == "BAD"
    assert data["entities"]["P-101"]["status"] == "BAD initial - no good value yet"


@pytest.mark.parametrize("args, word", [
    (["--seconds", "3"], "--bus"),
    (["--bus", "tcp://nowhere:99999"], "--bus"),
    (["--bus", "tcp://127.0.0.1:5555", "--select", "X-1"], "--select"),
])
def test_live_flag_errors_are_usage_errors(args: list[str], word: str) -> None:
    proc = _view("--headless", *args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and word in err and "Traceback" not in err
