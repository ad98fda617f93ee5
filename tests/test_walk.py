"""Walk mode on the real renderer: walking into a tank stops at its wall, open ground does not
stop, the feet stay on the floor at eye height, and switching orbit <-> walk keeps the
selection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

CHILD = REPO_ROOT / "tests" / "walkthrough_child.py"


def run_child(mode: str, out: Path, *args: str, timeout_s: float = 240.0) -> dict:
    done = subprocess.run([sys.executable, str(CHILD), mode, str(out), *args],
                          capture_output=True, text=True, timeout=timeout_s, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_walking_into_a_tank_stops_at_its_wall(tmp_path: Path) -> None:
    from runtime.render.walk import BODY_RADIUS_M, EYE_HEIGHT_M

    out = run_child("walk", tmp_path)
    assert out["mode"] == "walk" and out["mode_back"] == "orbit"
    x, y, z = out["at_wall"]
    # T-101's shell (radius 4 m about (-22, 0)) stops the body one body-radius short of it.
    wall_y = -4.0 - BODY_RADIUS_M
    assert abs(x + 22.0) < 0.05
    assert wall_y - 0.15 < y < wall_y + 0.05, y
    assert out["start"][1] == -12.0 and abs(z) < 1e-6
    assert abs(out["eye"][2] - EYE_HEIGHT_M) < 1e-6
    assert [round(v, 3) for v in out["camera"]] == [round(v, 3) for v in out["eye"]]
    # The same 2 s on open ground carries the body the full 3.2 m.
    ox, oy = out["open_ground"]
    assert abs(ox - (-30.0 + 3.2)) < 0.05 and abs(oy + 14.0) < 0.05
    assert out["teleport"] == "Pump skid"
    assert out["solids"] >= 10
    for png in ("walk-start.png", "walk-at-wall.png", "walk-back-to-orbit.png"):
        assert (tmp_path / png).stat().st_size > 1000
    # Switching orbit <-> walk keeps the selection and the place.
    assert out["selected_walking"] == "P-101" and out["selected_after"] == "P-101"
    # Back in orbit, the view looks just ahead of where the walker stood (the skid teleport).
    tx, ty, _tz = out["orbit_target_after"]
    px, py = out["teleport_pose"]
    assert ((tx - px) ** 2 + (ty - py) ** 2) ** 0.5 < 6.5
