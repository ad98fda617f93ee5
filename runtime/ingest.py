"""The ingest phase: drain the bus within a time budget into the world's point columns.

Runs once per frame. Readings for points the scene does not declare are counted and dropped
(another site's adapter may share the bus). Staleness is then judged from our own monotonic
clock (R2), and entity quality is refreshed for render sync.

A source with ``poll_blocks`` (the bus ``Subscriber``) hands over one block of numpy columns per
message; each block's point layout is mapped to world columns once and remembered, so a frame's
readings are written with a few numpy calls per message and no Python object per reading.
Sources with only ``poll`` (replay, tests) give rows with ``point``, ``value``, ``quality``,
``reason``, ``t_source_ns`` and ``seq`` attributes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol

import numpy as np

from runtime.staleness import apply_staleness
from runtime.world import World

DEFAULT_INGEST_BUDGET_NS = 2_000_000
"""At most 2 ms of a frame goes to draining the bus; the rest waits for the next frame."""


class UpdateSource(Protocol):
    """What ingest needs of a subscriber (``runtime.bus.subscriber.Subscriber`` fits)."""

    def poll(self, budget_ns: int) -> list: ...


MAX_UNKNOWN_NAMES = 1000
"""Distinct unknown point names remembered for the warning (the count has no limit)."""
MAX_LAYOUT_ENTRIES = 1 << 17
"""Points over all remembered layouts (their world columns); past it the memo starts again."""


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
    _layouts: dict = field(default_factory=dict)
    _layout_entries: int = 0

    def run(self, now_ns: int | None = None) -> int:
        """Drain, write, judge staleness. Returns how many readings were applied."""
        poll_blocks = getattr(self.source, "poll_blocks", None)
        if poll_blocks is not None:
            blocks = poll_blocks(self.budget_ns)
            now_ns = time.monotonic_ns() if now_ns is None else now_ns
            count = self._write_blocks(blocks, now_ns) if blocks else 0
        else:
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
                self._note_unknown((u.point,))
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

    def _write_blocks(self, blocks: list, now_ns: int) -> int:
        count = 0
        for block in blocks:
            cols = block.columns
            mapped = self._layouts.get(cols.layout)
            if mapped is None:
                mapped = self._map_layout(cols.layout)
            world_cols, keep, unknown = mapped
            if unknown:
                self.unknown += unknown
            if not len(world_cols):
                continue
            if keep is None:
                self.world.write(world_cols, cols.values, cols.quality, cols.reason,
                                 cols.t_source_ns, now_ns, block.seq)
            else:
                self.world.write(world_cols, cols.values[keep], cols.quality[keep],
                                 cols.reason[keep], cols.t_source_ns[keep], now_ns,
                                 block.seq[keep])
            count += len(world_cols)
        if count:
            self.applied += count
            self.last_batch_ns = now_ns
        return count

    def _map_layout(self, layout: object) -> tuple[np.ndarray, np.ndarray | None, int]:
        """(world columns of the known points, their positions or None for all, unknowns)."""
        index = self.world.point_column
        names = layout.names  # type: ignore[attr-defined]
        found = [index.get(p, -1) for p in names]
        keep = [i for i, c in enumerate(found) if c >= 0]
        unknown = len(names) - len(keep)
        if unknown:
            self._note_unknown(p for p, c in zip(names, found, strict=True) if c < 0)
        world_cols = np.array([found[i] for i in keep], dtype=np.int64)
        mapped = (world_cols, None if not unknown else np.array(keep, dtype=np.intp), unknown)
        if self._layout_entries + len(names) > MAX_LAYOUT_ENTRIES:
            self._layouts.clear()
            self._layout_entries = 0
        self._layouts[layout] = mapped
        self._layout_entries += len(names)
        return mapped

    def _note_unknown(self, points: Iterable[str]) -> None:
        """Remember unknown point names for the warning line, at most MAX_UNKNOWN_NAMES: the
        bus is untrusted and a flood of made-up names must not grow memory."""
        room = MAX_UNKNOWN_NAMES - len(self._unknown_points)
        if room > 0:
            self._unknown_points.update(islice(points, room))

    @property
    def unknown_points(self) -> set[str]:
        """Points seen on the bus that the scene does not declare (for a warning line)."""
        return self._unknown_points
