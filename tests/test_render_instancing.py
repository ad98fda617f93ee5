"""The instanced renderer draws one mesh N times where the numpy arrays place it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_fixtures import Rendered, render_instances  # noqa: E402

COUNT, SHOWN = 25, 13


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_instances(tmp_path_factory.mktemp("instances"), COUNT, SHOWN)


def _is_red(rgb) -> bool:  # noqa: ANN001
    r, g, b = (int(c) for c in rgb)
    return r > 150 and r > g + 80 and r > b + 80


def test_drawn_instances_appear_where_placed(shot: Rendered) -> None:
    for k in range(SHOWN):
        assert _is_red(shot.pixel(f"i{k}")), f"instance {k} missing"


def test_instances_beyond_count_are_not_drawn(shot: Rendered) -> None:
    for k in range(SHOWN, COUNT):
        assert not _is_red(shot.pixel(f"i{k}")), f"instance {k} drawn past the count"


def test_space_between_instances_is_background(shot: Rendered) -> None:
    assert not _is_red(shot.pixel("gap"))
    assert (shot.frame == shot.frame[0, 0]).all(axis=-1).mean() > 0.5
