"""``twinstage view`` as a real subprocess: headless screenshot, no-display fallback, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _view(*args: str, cwd: Path = REPO_ROOT,
          env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", "view", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env=env or dict(os.environ))


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_view_headless_writes_png_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "shots" / "pump.png"
    proc = _view("scenes/pump_station", "--headless", "--frames", "1", "--screenshot", str(out),
                 "--size", "320x180")
    assert proc.returncode == 0, proc.stderr
    assert _png_size(out) == (320, 180)
    assert str(out) in proc.stdout


def test_view_without_display_falls_back_to_headless(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = _view(str(REPO_ROOT / "scenes" / "pump_station"), "--size", "160x90", cwd=tmp_path,
                 env=env)
    assert proc.returncode == 0, proc.stderr
    shot = tmp_path / "twinstage-view.png"
    assert "no display" in proc.stderr and str(shot) in proc.stderr
    assert _png_size(shot) == (160, 90)


def test_bad_size_is_a_usage_error(tmp_path: Path) -> None:
    proc = _view("scenes/pump_station", "--headless", "--size", "big")
    assert proc.returncode == 2
    assert "--size" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_scene_is_a_usage_error(tmp_path: Path) -> None:
    proc = _view(str(tmp_path / "nope"), "--headless")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
