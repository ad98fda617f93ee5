"""A bounded hand-over of decoded readings from an ingest thread to the frame: latest per point.

The ingest thread writes each decoded message into the *front* buffer, one slot per world point
column, exactly as :meth:`World.write` would write it into the world (a later reading of a
point replaces an earlier one; the last Good value is kept apart). Once a frame, the frame
thread swaps the front buffer for the back one under a lock (a few assignments) and applies the
swapped buffer's changed columns to the world in a few numpy calls, stamped with the frame's
virtual now, as the synchronous live source stamps a drain.

Memory is fixed at construction (two buffers of the world's point count), however far the
frame falls behind the bus: readings the frame had no time to show are coalesced, never queued.
Applying the coalesced buffer leaves the world exactly as applying every reading in order at
the same receive time would have (tests/test_ingest_thread.py checks it), so quality, the
held last-good value and staleness are judged as before.
"""

from __future__ import annotations

import threading

import numpy as np

from runtime.quality import Quality
from runtime.world import World
from runtime.world.world import checked_readings


class _Slots:
    """One buffer: each point column's latest reading and whether it changed."""

    __slots__ = ("value", "quality", "reason", "t_source_ns", "seq", "good_value", "changed",
                 "good_changed", "readings")

    def __init__(self, count: int) -> None:
        self.value = np.full(count, np.nan)
        self.quality = np.zeros(count, dtype=np.uint8)
        self.reason = np.zeros(count, dtype=np.uint8)
        self.t_source_ns = np.full(count, -1, dtype=np.int64)
        self.seq = np.full(count, -1, dtype=np.int64)
        self.good_value = np.full(count, np.nan)
        self.changed = np.zeros(count, dtype=bool)
        """bool (P,): a reading arrived for the column since the buffer was last applied."""
        self.good_changed = np.zeros(count, dtype=bool)
        """bool (P,): one of them was Good (``good_value`` holds the last Good one)."""
        self.readings = 0
        """Readings written into the buffer since it was last applied (before coalescing)."""


class PointHandOver:
    """Two fixed buffers between one writing thread and one applying thread.

    It has the two things :class:`~runtime.sources.world_writer.WorldWriter` needs of a world
    (``point_column`` and :meth:`write`), so the ingest thread maps layouts to columns with the
    same code as the frame did.
    """

    def __init__(self, world: World) -> None:
        self.point_column = world.point_column
        count = len(world.points)
        self._front = _Slots(count)
        self._back = _Slots(count)
        self._lock = threading.Lock()
        self.coalesced = 0
        """Readings replaced by a later reading of the same point before a frame applied them."""

    def write(self, columns: np.ndarray, values: np.ndarray, quality: np.ndarray,
              reason: np.ndarray, t_source_ns: np.ndarray, t_receive_ns: int,
              seq: int | np.ndarray = -1) -> None:
        """Like :meth:`World.write`, into the front buffer (ingest thread). ``t_receive_ns`` is
        not kept: the frame that applies the buffer stamps it with its own now."""
        values, quality, reason = checked_readings(values, quality, reason)
        good = quality == Quality.GOOD
        good_cols = columns[good]
        with self._lock:
            b = self._front
            b.value[columns] = values
            b.quality[columns] = quality
            b.reason[columns] = reason
            b.t_source_ns[columns] = t_source_ns
            b.seq[columns] = seq
            b.changed[columns] = True
            b.good_value[good_cols] = values[good]
            b.good_changed[good_cols] = True
            b.readings += len(columns)

    def apply(self, world: World, t_receive_ns: int) -> int:
        """Write every column changed since the last call into ``world`` at virtual
        ``t_receive_ns`` (frame thread); returns how many readings arrived for them."""
        with self._lock:
            b, self._front, self._back = self._front, self._back, self._front
        if not b.readings:
            return 0
        cols = np.flatnonzero(b.changed)
        s = world.state
        s.value[cols] = b.value[cols]
        s.quality[cols] = b.quality[cols]
        s.reason[cols] = b.reason[cols]
        s.t_source_ns[cols] = b.t_source_ns[cols]
        s.t_receive_ns[cols] = t_receive_ns
        s.seq[cols] = b.seq[cols]
        good = np.flatnonzero(b.good_changed)
        s.good_value[good] = b.good_value[good]
        s.good_t_receive_ns[good] = t_receive_ns
        b.changed[cols] = False
        b.good_changed[good] = False
        readings, b.readings = b.readings, 0
        self.coalesced += readings - len(cols)
        return readings

    def pending(self) -> int:
        """Points waiting in the front buffer (for tests and the stats)."""
        with self._lock:
            return int(np.count_nonzero(self._front.changed))
