"""Alarm limits a trend draws: read from the scene's ``alarms.yaml`` when there is one.

Only what a trend needs: per point, each alarm's ``type`` (high_high, high, low, low_low) and
``limit``, from the validated definitions (docs/alarms.md); a file that does not validate
just means no limits drawn (``twinstage validate`` says why).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("twinstage.history.limits")

LIMIT_TYPES = ("high_high", "high", "low", "low_low")


def load_alarm_limits(scene_dir: Path) -> dict[str, list[tuple[str, float]]]:
    """Point -> [(type, limit), ...]; empty when the scene has no usable alarms.yaml."""
    from runtime.alarms import load_alarms
    from runtime.scene.errors import SceneError

    path = scene_dir / "alarms.yaml"
    if not path.is_file():
        return {}
    try:
        defs = load_alarms(path)
    except SceneError as exc:
        log.warning("alarm limits not drawn: %s", exc)
        return {}
    out: dict[str, list[tuple[str, float]]] = {}
    for alarm in defs.alarms:
        if alarm.type in LIMIT_TYPES:
            out.setdefault(alarm.point, []).append((alarm.type, float(alarm.limit)))
    return out
