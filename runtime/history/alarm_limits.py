"""Alarm limits a trend draws: read from the scene's ``alarms.yaml`` when there is one.

Only what a trend needs: per point, each alarm's ``type`` (high_high, high, low, low_low) and
``limit``. The alarm service owns and validates that file (docs/alarms.md); here anything
missing or unreadable just means no limits drawn.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

log = logging.getLogger("twinstage.history.limits")

LIMIT_TYPES = ("high_high", "high", "low", "low_low")


def load_alarm_limits(scene_dir: Path) -> dict[str, list[tuple[str, float]]]:
    """Point -> [(type, limit), ...]; empty when the scene has no usable alarms.yaml."""
    path = scene_dir / "alarms.yaml"
    if not path.is_file():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        log.warning("alarm limits not drawn: %s: %s", path, exc)
        return {}
    items = doc.get("alarms") if isinstance(doc, dict) else None
    out: dict[str, list[tuple[str, float]]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        point, kind, limit = item.get("point"), item.get("type"), item.get("limit")
        if (isinstance(point, str) and kind in LIMIT_TYPES and isinstance(limit, (int, float))
                and not isinstance(limit, bool)):
            out.setdefault(point, []).append((kind, float(limit)))
    return out
