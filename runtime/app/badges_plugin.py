"""Value badges on every asset (HUD phase): its key values with units, states as words,
quality marked and aged; refreshed a few at a time so thousands of assets cost little a frame.
"""

from __future__ import annotations

import time

from direct.task.Task import Task

from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.quality import Quality
from runtime.ui.badge_text import badge_text, motor_of

BADGES_PER_FRAME = 16
"""Badges recomputed per frame at most, round robin over the assets on screen: the pump
station's 15 every frame; a large plant's visible ones (at most 400 cards) every ~25 frames."""


class BadgesPlugin:
    """Writes each labelled asset's badge values into the label layer."""

    def __init__(self) -> None:
        self.twin: Twin | None = None
        self._rows: list[tuple[str, int, list[int], list[int]]] = []
        self._next = 0

    def build(self, twin: Twin) -> None:
        self.twin = twin
        world, live = twin.session.world, twin.live
        labels = twin.viewer.labels.by_id
        for eid, r in world.entity_row.items():
            if eid in labels:
                cols = [int(c) for c in live.bindings.entity_points[r]]
                self._rows.append((eid, r, cols, motor_of(world, r)))
        twin.app.task_mgr.add(self._task, "badges", sort=Phase.HUD - 2)
        self.refresh(len(self._rows))

    def refresh(self, count: int) -> None:
        """Recompute the next ``count`` badges."""
        twin = self.twin
        assert twin is not None
        if not self._rows:
            return
        world, session = twin.session.world, twin.session
        layer = twin.viewer.labels
        estimate = twin.live.observer.display
        now = session.time.now_ns
        shown = layer.by_id
        budget = min(count, len(self._rows))
        tries = 0
        while budget and tries < len(self._rows):
            eid, r, cols, extra = self._rows[self._next]
            self._next = (self._next + 1) % len(self._rows)
            tries += 1
            if not shown[eid].shown and len(self._rows) > count:
                continue  # off screen or decluttered away: refreshed when it shows again
            budget -= 1
            text = badge_text(world, r, cols, now, estimate, extra, bus_lost=twin.bus_lost)
            if text is not None:
                layer.set_values(eid, text.near, text.far, grey=text.quality != Quality.GOOD)

    def _task(self, task: Task) -> int:
        t0 = time.perf_counter_ns()
        self.refresh(BADGES_PER_FRAME)
        assert self.twin is not None
        self.twin.live.timings.add("ui", time.perf_counter_ns() - t0)
        return Task.cont
