"""Sensor-to-pixel latency records: when a reading was applied and when a frame first showed it.

Ingest stamps every reading it writes with this process's monotonic clock (the world's
``t_receive_ns``). After Panda3D's igLoop has rendered and flipped the frame (phase CAPTURE),
every point applied since the previous capture is shown on screen for the first time, so one
record per such point is closed with the wall clock at that moment. With the source's own wall
clock stamp (``t_source_ns``, set by the adapter when it read the device) the lead's bench
computes device-to-pixel latency as ``t_frame_done_wall_ns - t_source_ns`` (same host, or hosts
with synchronised clocks) and viewer-internal latency from the two monotonic stamps.

The records are bounded (a ring: the newest ``capacity`` records are kept) so a long run
cannot grow memory; ``dropped`` counts what fell off the front.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from runtime.world import World

DEFAULT_CAPACITY = 20_000


class LatencyRecord(NamedTuple):
    point: str
    t_source_ns: int
    """Wall clock at the source (adapter/device) when the value was read."""
    t_applied_monotonic_ns: int
    """This process's monotonic clock when ingest wrote it into the world."""
    t_frame_done_monotonic_ns: int
    t_frame_done_wall_ns: int
    """Wall clock when the first frame showing it had finished rendering."""
    frame: int


FIELDS = LatencyRecord._fields


class LatencyProbe:
    """Collects :class:`LatencyRecord` s; call :meth:`applied` after ingest, :meth:`frame_done`
    after the render.

    Records are kept as columns in a ring (one numpy store per frame, whatever the number of
    points shown): a plant of 10,000 points closes thousands of records a frame.
    """

    def __init__(self, world: World, capacity: int = DEFAULT_CAPACITY) -> None:
        self.world = world
        self.capacity = capacity
        self.dropped = 0
        self._pending = np.zeros(len(world.points), dtype=bool)
        self._t_applied = np.full(len(world.points), -1, dtype=np.int64)
        self._t_source = np.full(len(world.points), -1, dtype=np.int64)
        self._ring = np.zeros((capacity, 5), dtype=np.int64)
        """Per record: point column, t_source, t_applied, t_done monotonic, t_done wall."""
        self._frame = np.zeros(capacity, dtype=np.int64)
        self._count = 0
        """Records closed since start (the ring holds the newest ``capacity``)."""

    def applied(self, t_applied_ns: int) -> int:
        """Mark the points ingest wrote at ``t_applied_ns`` (its ``now``); returns how many.

        A point written again before any frame showed the first value keeps the newest one:
        the older value never reached the screen.
        """
        written = self.world.state.t_receive_ns == t_applied_ns
        if not written.any():
            return 0
        self._pending |= written
        self._t_applied[written] = t_applied_ns
        self._t_source[written] = self.world.state.t_source_ns[written]
        return int(written.sum())

    def frame_done(self, frame: int, t_wall_ns: int | None = None,
                   t_monotonic_ns: int | None = None) -> int:
        """Close a record for each pending point; returns how many."""
        cols = np.flatnonzero(self._pending)
        n = len(cols)
        if n == 0:
            return 0
        wall = time.time_ns() if t_wall_ns is None else t_wall_ns
        mono = time.monotonic_ns() if t_monotonic_ns is None else t_monotonic_ns
        self.dropped += max(0, min(self._count, self.capacity) + n - self.capacity)
        keep = cols[-self.capacity:]
        slots = (self._count + n - len(keep) + np.arange(len(keep))) % self.capacity
        ring = self._ring
        ring[slots, 0] = keep
        ring[slots, 1] = self._t_source[keep]
        ring[slots, 2] = self._t_applied[keep]
        ring[slots, 3] = mono
        ring[slots, 4] = wall
        self._frame[slots] = frame
        self._count += n
        self._pending[cols] = False
        return n

    @property
    def records(self) -> list[LatencyRecord]:
        """The kept records, oldest first (built on each call)."""
        kept = min(self._count, self.capacity)
        order = (self._count - kept + np.arange(kept)) % self.capacity
        ids = self.world.points.ids
        rows = self._ring[order].tolist()
        return [LatencyRecord(ids[c], ts, ta, tm, tw, f) for (c, ts, ta, tm, tw), f
                in zip(rows, self._frame[order].tolist(), strict=True)]

    def to_json(self) -> dict:
        """``{"fields": [...], "records": [[...], ...], "dropped": n}`` for the stats file."""
        return {"fields": list(FIELDS), "records": [list(r) for r in self.records],
                "dropped": self.dropped}
