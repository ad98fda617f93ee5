"""Quality cues offscreen: a Bad asset gets a "!" marker (shape, not only colour), greying and
the quality, reason and age in words on its label; a tripped pump says TRIP."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_fixtures import LiveRender, render_live  # noqa: E402

from runtime.quality import Quality, Reason  # noqa: E402
from runtime.render.sync import format_age, status_words  # noqa: E402


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> LiveRender:
    return render_live(tmp_path_factory.mktemp("live_render"))


def _patch(frame: np.ndarray, xy: list[float], r: int) -> np.ndarray:
    x, y = int(round(xy[0])), int(round(xy[1]))
    return frame[y - r:y + r + 1, x - r:x + r + 1].reshape(-1, 3).astype(int)


def test_bad_tank_gets_a_marker_where_there_was_none(shot: LiveRender) -> None:
    bad = shot.info["bad"]
    assert bad["icons"] == {"T-102": "!", "LT-102": "!"}
    icon = bad["screen"]["entities"]["T-102"]["icon"]
    now, before = _patch(shot.bad, icon, 8), _patch(shot.good, icon, 8)
    assert (now.max(axis=1) < 40).mean() > 0.3, "black sign card"
    assert (now.min(axis=1) > 200).any(), "white glyph and frame"
    assert np.abs(now - before).max(axis=1).mean() > 40
    good_icon = bad["screen"]["entities"]["T-101"]["icon"]
    assert np.abs(_patch(shot.bad, good_icon, 8) - _patch(shot.good, good_icon, 8)).max() < 30


def test_label_words_and_trip(shot: LiveRender) -> None:
    status = shot.info["bad"]["status"]
    assert status["T-102"].startswith("BAD no communication - ")
    assert status["T-102"].endswith(" s")
    assert status["P-101"] == "TRIP"
    assert status["T-101"] == ""
    label = shot.info["bad"]["screen"]["entities"]["T-102"]["label"]
    grown = shot.info["good"]["screen"]["entities"]["T-102"]["label"]
    assert (label[3] - label[2]) > (grown[3] - grown[2]) * 1.5, "a second line on the card"


def test_status_words() -> None:
    assert status_words(Quality.GOOD, Reason.NONE, 0.0) == ""
    assert status_words(Quality.BAD, Reason.NO_COMMUNICATION, 12.4) == \
        "BAD no communication - 12 s"
    assert status_words(Quality.UNCERTAIN, Reason.LAST_USABLE, 3.0, tripped=True) == \
        "TRIP - UNCERTAIN last usable - 3 s"
    assert format_age(-1) == "no good value yet" and format_age(600) == "10 min"
