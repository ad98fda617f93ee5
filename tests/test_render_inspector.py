"""Inspector offscreen: picking by ray, Tab/Escape selection, and the panel's text and pixels."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_fixtures import LiveRender, render_live  # noqa: E402


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> LiveRender:
    return render_live(tmp_path_factory.mktemp("live_render"))


def test_pick_finds_the_asset_under_the_pointer(shot: LiveRender) -> None:
    picks = shot.info["picks"]
    for eid in ("P-101", "T-102", "FV-101"):
        assert picks[eid] == eid
    assert picks["sky"] is None


def test_keyboard_cycles_and_escape_clears(shot: LiveRender) -> None:
    assert shot.info["tab"] == ["T-101", "J-101", "T-101"]  # scene order, Shift-Tab goes back
    assert shot.info["escape"] == [True, False]  # second Escape: nothing left to clear


def test_panel_lists_points_with_quality_age_and_residual(shot: LiveRender) -> None:
    lines = shot.info["bad"]["panel_lines"]
    assert lines[0].startswith("T-102  Clearwell")
    assert lines[1].startswith("BAD no communication")
    assert any(line.startswith("level_m") and "simulated" in line for line in lines)
    lt = next(line for line in lines if line.startswith("LT-102/level_m"))
    assert "2.400" in lt and "BAD no communication (held)" in lt and " s " in lt
    assert shot.info["bad"]["highlight"] == {"T-102": 2}


def test_panel_is_drawn(shot: LiveRender) -> None:
    assert shot.info["good"]["screen"]["panel"] is None
    left, right, top, bottom = (int(v) for v in shot.info["bad"]["screen"]["panel"])
    card = shot.bad[top + 2:bottom - 2, left + 2:right - 2].reshape(-1, 3).astype(int)
    before = shot.good[top + 2:bottom - 2, left + 2:right - 2].reshape(-1, 3).astype(int)
    assert (card.max(axis=1) < 60).mean() > 0.6, "a dark card"
    assert (card.min(axis=1) > 180).mean() > 0.02, "with white text"
    assert np.abs(card - before).max(axis=1).mean() > 20, "that was not there before"
