"""Side-by-side stereo on the real renderer: both halves show the scene, they differ by
parallax (one half matches the other shifted sideways), the 2D layer is in both; VR without
its extra says what to install."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import run_cli
from test_walk import run_child


def _best_shift(left: np.ndarray, right: np.ndarray, max_px: int = 40) -> tuple[int, float, float]:
    """(shift, error at that shift, error unshifted): right(x) ~ left(x + shift)."""
    def err(s: int) -> float:
        if s > 0:
            return float(np.abs(left[:, s:] - right[:, :-s]).mean())
        if s < 0:
            return float(np.abs(left[:, :s] - right[:, -s:]).mean())
        return float(np.abs(left - right).mean())

    scores = {s: err(s) for s in range(-max_px, max_px + 1)}
    best = min(scores, key=scores.get)
    return best, scores[best], scores[0]


def test_side_by_side_frame_has_parallax(tmp_path: Path) -> None:
    out = run_child("stereo", tmp_path)
    assert out["regions"]["3d"] == [[0.0, 0.5, 0.0, 1.0], [0.5, 1.0, 0.0, 1.0]]
    assert out["regions"]["2d"] == out["regions"]["3d"]
    frame = np.load(tmp_path / "sbs.npy").astype(int)
    h, w, _ = frame.shape
    left, right = frame[:, : w // 2], frame[:, w // 2:]
    # Both halves are drawn (sky, ground, plant): not blank, not one colour.
    for half in (left, right):
        assert half.std() > 20
    assert np.abs(left - right).mean() > 2.0  # two different eyes, not one image twice
    # Parallax depends on depth: strips of the far ground (top rows) line up with the other
    # eye shifted one way, strips of the near ground (bottom rows) the other way; the eyes
    # converge in between.
    def band_shifts(y0: int) -> list[int]:
        shifts = []
        for x in range(40, w // 2 - 80, 80):
            shift, best, unshifted = _best_shift(left[y0: y0 + 40, x - 30: x + 70],
                                                 right[y0: y0 + 40, x - 30: x + 70])
            if best < 0.7 * unshifted:
                shifts.append(shift)
        return shifts

    far, near = band_shifts(int(h * 0.1)), band_shifts(int(h * 0.78))
    assert len(far) >= 3 and len(near) >= 3, (far, near)
    assert np.median(far) * np.median(near) < 0, (far, near)


def test_view_renders_side_by_side_and_vr_says_what_is_missing(tmp_path: Path) -> None:
    shot = tmp_path / "sbs.png"
    done = run_cli("view", "pump_station", "--headless", "--stereo", "sbs", "--size", "640x240",
                   "--screenshot", str(shot))
    assert done.returncode == 0, done.stderr
    assert shot.stat().st_size > 1000
    done = run_cli("view", "pump_station", "--headless", "--stereo", "vr", "--size", "320x180")
    try:
        import p3dopenxr  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        assert done.returncode == 2, done.stderr
        assert "twinstage[vr]" in done.stderr and "Traceback" not in done.stderr
