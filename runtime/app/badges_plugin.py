"""Value badges on every asset (HUD phase): its key values with units, states as words,
quality marked and aged; refreshed a few at a time so thousands of assets cost little a frame.
"""

from __future__ import annotations

from direct.task.Task import Task

from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.quality import Quality
from runtime.ui.badge_text import badge_text, motor_of

BADGES_PER_FRAME = 40
"""Badges recomputed per frame at most (round robin over the assets); the pump station
refreshes every badge every frame, a 5,000-asset plant each one about every 2 s at 60 fps."""


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
        for _ in range(min(count, len(self._rows))):
            eid, r, cols, extra = self._rows[self._next]
            self._next = (self._next + 1) % len(self._rows)
            text = badge_text(world, r, cols, now, estimate, extra, bus_lost=twin.bus_lost)
            if text is not None:
                layer.set_values(eid, text.near, text.far, grey=text.quality != Quality.GOOD)

    def _task(self, task: Task) -> int:
        self.refresh(BADGES_PER_FRAME)
        return Task.cont
