"""The ingest phase: drain the bus within a time budget into the world's point columns.

Runs once per frame. Readings for points the scene does not declare are counted and dropped
(another site's adapter may share the bus). Staleness is then judged from our own monotonic
clock (R2), and entity quality is refreshed for render sync.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from runtime.staleness import apply_staleness
from runtime.world import World

DEFAULT_INGEST_BUDGET_NS = 2_000_000
"""At most 2 ms of a frame goes to draining the bus; the rest waits for the next frame."""


class UpdateSource(Protocol):
    """What ingest needs of a subscriber (``runtime.bus.subscriber.Subscriber`` fits)."""

    def poll(self, budget_ns: int) -> list: ...


@dataclass
class Ingest:
    """Moves bus updates into ``world`` columns; keeps counters for the HUD and bench."""

    world: World
    source: UpdateSource
    budget_ns: int = DEFAULT_INGEST_BUDGET_NS
    applied: int = 0
    """Readings written into the world since start."""
    unknown: int = 0
    """Readings dropped because the scene has no such point."""
    last_batch_ns: int = -1
    """Monotonic time of the last frame that received anything."""
    _unknown_points: set[str] = field(default_factory=set)

    def run(self, now_ns: int | None = None) -> int:
        """Drain, write, judge staleness. Returns how many readings were applied."""
        updates = self.source.poll(self.budget_ns)
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        count = self._write(updates, now_ns) if updates else 0
        apply_staleness(self.world, now_ns)
        self.world.refresh_entity_quality()
        return count

    def _write(self, updates: list, now_ns: int) -> int:
        index = self.world.point_column
        cols: list[int] = []
        keep: list = []
        for u in updates:
            col = index.get(u.point)
            if col is None:
                self.unknown += 1
                self._unknown_points.add(u.point)
                continue
            cols.append(col)
            keep.append(u)
        if not cols:
            return 0
        self.world.write(
            np.fromiter(cols, dtype=np.int64, count=len(cols)),
            np.fromiter((u.value for u in keep), dtype=np.float64, count=len(keep)),
            np.fromiter((u.quality for u in keep), dtype=np.uint8, count=len(keep)),
            np.fromiter((u.reason for u in keep), dtype=np.uint8, count=len(keep)),
            np.fromiter((u.t_source_ns for u in keep), dtype=np.int64, count=len(keep)),
            now_ns,
            np.fromiter((u.seq for u in keep), dtype=np.int64, count=len(keep)),
        )
        self.applied += len(cols)
        self.last_batch_ns = now_ns
        return len(cols)

    @property
    def unknown_points(self) -> set[str]:
        """Points seen on the bus that the scene does not declare (for a warning line)."""
        return self._unknown_points
