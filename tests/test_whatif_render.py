"""The what-if plugin in a real offscreen live view (child process, llvmpipe): ghosts of the
forecast of "stop P-101", the forecast panel and the status bar's look-ahead; frames keep
coming while a long forecast runs on the worker thread (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("whatif-render")
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "whatif_render_child.py"),
                           str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "info.json").read_text())


def test_frames_keep_coming_while_a_forecast_runs_off_thread(rendered) -> None:  # noqa: ANN001
    _, info = rendered
    assert info["worker_thread"] != info["main_thread"]
    assert info["frames_while_forecasting"] > 0
    assert info["long_forecast_s"] > 0


def test_ghosts_show_what_stopping_p101_changes(rendered) -> None:  # noqa: ANN001
    out, info = rendered
    assert {"T-101", "T-102", "P-101"} <= set(info["ghosts"])
    assert info["ghosts_hidden"] == []
    panel = "\n".join(info["panel"])
    assert "What if: stopping P-101 (UC-101 to Manual)" in panel
    assert "Ghosts at +1 h 00 min" in panel and "P-101 running -> stopped" in panel
    assert info["status_lookahead"].startswith(("no alarms forecast", "forecast:"))
    kinds = [e["kind"] for e in info["hud"]]
    assert "status" in kinds
    ghost = np.load(out / "ghost.npy").astype(np.int16)
    plain = np.load(out / "no_ghost.npy").astype(np.int16)
    changed = np.abs(ghost - plain).sum(axis=2) > 30
    h, w = changed.shape
    # The ghosts change pixels around both tanks (left and right thirds of the picture).
    assert changed[: int(h * 0.75), : w // 3].mean() > 0.005
    assert changed[: int(h * 0.75), 2 * w // 3:].mean() > 0.005
