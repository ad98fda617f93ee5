"""Every 2D element on screen as data: ``{kind, text, bbox: [x, y, w, h]}`` in pixels with the
origin top-left (hmi.md, testability). ``--hud-json FILE`` writes the last frame's list, so
tests check presence, text and overlaps without reading pixels."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Rect = tuple[float, float, float, float]
HudElement = dict[str, Any]
HudProvider = Callable[[], list[HudElement]]


def pixel_box(rect: Rect, aspect: float, size: tuple[int, int]) -> list[float]:
    """An aspect2d (left, right, bottom, top) rectangle as [x, y, w, h] pixels, top-left."""
    left, right, bottom, top = rect
    w, h = size
    x0 = (left / aspect + 1) / 2 * w
    x1 = (right / aspect + 1) / 2 * w
    y0 = (1 - top) / 2 * h
    y1 = (1 - bottom) / 2 * h
    return [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)]


def element(kind: str, text: str, rect: Rect, aspect: float, size: tuple[int, int]
            ) -> HudElement:
    return {"kind": kind, "text": text, "bbox": pixel_box(rect, aspect, size)}


def overlaps(a: list[float], b: list[float]) -> bool:
    """Whether two [x, y, w, h] boxes overlap (touching edges do not)."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def write_hud(path: Path, elements: list[HudElement], size: tuple[int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": "twinstage.hud/1", "size": list(size),
                                "elements": elements}, indent=1))
    return path
