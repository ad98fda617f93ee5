"""Validated reading columns -> the world's point columns, a few numpy calls per message.

A source sends the same point layouts over and over (one per device), so each layout is mapped
to world columns once and remembered; readings for points the scene does not declare are
counted and dropped (another site's adapter may share the bus). Used by every ReadingSource, so
live and replay write the world the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice, repeat

import numpy as np

from runtime.bus.wire import PointLayout, ReadingColumns
from runtime.world import World

MAX_UNKNOWN_NAMES = 1000
"""Distinct unknown point names remembered for the warning (the count has no limit)."""
MAX_LAYOUT_ENTRIES = 1 << 17
"""Points over all remembered layouts (their world columns); past it the memo starts again."""


class WorldWriter:
    """Writes ReadingColumns into one world; keeps the counters the HUD and bench show."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.applied = 0
        """Readings written into the world since start."""
        self.unknown = 0
        """Readings dropped because the scene has no such point."""
        self._unknown_points: set[str] = set()
        self._layouts: dict[PointLayout, tuple[np.ndarray, np.ndarray | None, int]] = {}
        self._layout_entries = 0

    def write(self, cols: ReadingColumns, t_receive_ns: int,
              seq: int | np.ndarray = -1) -> np.ndarray:
        """Store one batch received at virtual ``t_receive_ns``; returns the world columns
        written (empty when the scene knows none of its points)."""
        layout = cols.layout
        mapped = self._layouts.get(layout)
        if mapped is None:
            mapped = self._map_layout(layout) if not layout.parts else self._map_joined(layout)
        world_cols, keep, unknown = mapped
        if unknown:
            self.unknown += unknown
        if not len(world_cols):
            return world_cols
        if keep is None:
            self.world.write(world_cols, cols.values, cols.quality, cols.reason,
                             cols.t_source_ns, t_receive_ns, seq)
        else:
            if isinstance(seq, np.ndarray):
                seq = seq[keep]
            self.world.write(world_cols, cols.values[keep], cols.quality[keep],
                             cols.reason[keep], cols.t_source_ns[keep], t_receive_ns, seq)
        self.applied += len(world_cols)
        return world_cols

    def columns_of(self, layout: PointLayout) -> np.ndarray:
        """The world columns of the points of ``layout`` the scene declares."""
        mapped = self._layouts.get(layout)
        if mapped is None:
            mapped = self._map_layout(layout) if not layout.parts else self._map_joined(layout)
        return mapped[0]

    @property
    def unknown_points(self) -> set[str]:
        """Points seen that the scene does not declare (for a warning line), at most
        MAX_UNKNOWN_NAMES of them."""
        return self._unknown_points

    def _map_layout(self, layout: PointLayout) -> tuple[np.ndarray, np.ndarray | None, int]:
        index = self.world.point_column
        names = layout.names
        # C-level map: a coalesced message is a new layout of thousands of names, many a second.
        found = np.fromiter(map(index.get, names, repeat(-1)), dtype=np.int64, count=len(names))
        known = found >= 0
        unknown = len(names) - int(known.sum())
        if unknown:
            self._note_unknown(names[i] for i in np.flatnonzero(~known).tolist())
            keep = np.flatnonzero(known).astype(np.intp)
            mapped = (found[keep], keep, unknown)
        else:
            mapped = (found, None, 0)
        if self._layout_entries + len(names) > MAX_LAYOUT_ENTRIES:
            self._layouts.clear()
            self._layout_entries = 0
        self._layouts[layout] = mapped
        self._layout_entries += len(names)
        return mapped

    def _map_joined(self, layout: PointLayout) -> tuple[np.ndarray, np.ndarray | None, int]:
        """A coalesced message's layout: its parts' mappings (each remembered), joined; the
        combination itself is not remembered (it rarely repeats)."""
        get = self._layouts.get
        maps = [get(p) or self._map_layout(p) for p in layout.parts]
        world_cols = np.concatenate([m[0] for m in maps])
        unknown = sum(m[2] for m in maps)
        if not unknown:
            return world_cols, None, 0
        offsets = layout.offsets  # type: ignore[attr-defined]
        keep = np.concatenate([
            np.arange(offsets[i], offsets[i + 1]) if m[1] is None else m[1] + offsets[i]
            for i, m in enumerate(maps)])
        return world_cols, keep, unknown

    def _note_unknown(self, points: Iterable[str]) -> None:
        """The bus is untrusted: a flood of made-up names must not grow memory."""
        room = MAX_UNKNOWN_NAMES - len(self._unknown_points)
        if room > 0:
            self._unknown_points.update(islice(points, room))
