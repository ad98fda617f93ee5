"""Navigation through the methods keys and clicks call: tag search selects and flies there,
a click on the mini-map moves the view without dropping the selection, a number key flies to
the scene's viewpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT
from replay_fixtures import write_recording


def test_search_flies_and_the_minimap_moves_the_view(tmp_path: Path) -> None:
    write_recording(tmp_path / "rec", 10.0)
    done = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "navigation_child.py"),
                           str(tmp_path / "rec")], capture_output=True, text=True, timeout=300,
                          cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["typing"] and out["match"] == "FT-101" and out["found"] == "FT-101"
    assert out["message"] and out["message"][0].startswith("find: ft_")
    assert out["selected"] == "FT-101"
    assert out["fly_target"] != out["start_target"]
    assert abs(out["fly_target"][0] - 9.0) < 1  # FT-101 stands at x = 9 m
    assert out["minimap_click"] is None and out["still_selected"] == "FT-101"
    assert out["after_map_target"] != out["fly_target"]
    assert out["viewpoint"] == "Pump skid" and out["no_viewpoint"] is None
    assert [round(v, 1) for v in out["viewpoint_target"]] == [-8.0, 0.0, 0.8]
    assert {"faceplate", "minimap", "message"} <= set(out["kinds"])


def test_a_drag_is_not_a_click() -> None:
    from runtime.app.navigation_plugin import is_click

    assert is_click((100.0, 100.0), (100.0, 100.0))
    assert is_click((100.0, 100.0), (102.0, 103.0))  # a hand's tremor still selects
    assert not is_click((100.0, 100.0), (130.0, 104.0))  # an orbit drag keeps the selection
