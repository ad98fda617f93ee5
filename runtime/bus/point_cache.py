"""The last value of every point of one source, as columns (the bus's and a subscriber's cache).

A source sends the same few layouts (point lists) over and over, typically one per device. The
cache maps each layout it has seen to the positions of its points in the cache's columns once,
so storing a batch is five numpy fancy assignments whatever its size: no Python object per
reading. Positions never move while a point is cached; new points are appended (columns grow by
doubling). Only validated columns (``runtime.bus.wire``) are stored.

A coalesced message (a :class:`~runtime.bus.wire.CompositeLayout`, one part per device) is
mostly a combination never seen before: its positions are the concatenation of its parts'
remembered positions, made per message in a few numpy calls, and only the parts are remembered.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from runtime.bus.wire import PointLayout, Reading, ReadingColumns, trusted_layout

_START = attrgetter("start")
_STOP = attrgetter("stop")

MAX_LAYOUT_ENTRIES = 1 << 17
"""Positions kept over all remembered layouts of one source (1 MiB); past it the memo starts
again. 100 devices of 125 points is 12,500. A layout stored as a slice counts 1."""


class PointCache:
    """Per point: value, quality, reason, t_source_ns and the seq of the message that set it."""

    __slots__ = ("names", "index", "values", "quality", "reason", "t_source_ns", "seq",
                 "_layouts", "_ranges", "_layout_entries")

    def __init__(self, capacity: int = 64) -> None:
        self.names: list[str] = []
        """Cached points in position order (oldest first)."""
        self.index: dict[str, int] = {}
        """Point -> position in the columns."""
        self.values = np.zeros(capacity, np.float64)
        self.quality = np.zeros(capacity, np.uint8)
        self.reason = np.zeros(capacity, np.uint8)
        self.t_source_ns = np.zeros(capacity, np.int64)
        self.seq = np.zeros(capacity, np.int64)
        self._layouts: dict[PointLayout, np.ndarray | slice] = {}
        self._ranges: dict[PointLayout, np.ndarray] = {}
        """A slice-stored layout's positions as an array, made when it is a part of a joined
        message (counted in the same budget)."""
        self._layout_entries = 0

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, point: object) -> bool:
        return point in self.index

    def apply(self, cols: ReadingColumns, seq: int | np.ndarray = 0) -> None:
        """Store a validated batch (points in it replace their cached values)."""
        layout = cols.layout
        pos = self._layouts.get(layout)
        if pos is None:
            pos = self._positions(layout) if not layout.parts else self._joined(layout.parts)
        self.values[pos] = cols.values
        self.quality[pos] = cols.quality
        self.reason[pos] = cols.reason
        self.t_source_ns[pos] = cols.t_source_ns
        self.seq[pos] = seq

    def knows(self, layout: PointLayout) -> bool:
        """Whether ``layout`` (or each of its parts) was applied before (so applying it adds
        no point)."""
        if layout.parts:
            return all(map(self._layouts.__contains__, layout.parts))
        return layout in self._layouts

    def new_points(self, layout: PointLayout) -> int:
        """How many of ``layout``'s points are not cached yet."""
        if layout.parts:
            known = self._layouts
            return sum(self.new_points(p) for p in layout.parts if p not in known)
        return len(layout.names) - sum(map(self.index.__contains__, layout.names))

    def columns(self, positions: np.ndarray | None = None) -> ReadingColumns:
        """The cached points (all, or those at ``positions``) as a batch of columns (copies)."""
        n = len(self.names)
        if positions is None:
            names = self.names
            sl: slice | np.ndarray = slice(0, n)
        else:
            names = [self.names[i] for i in positions.tolist()]
            sl = positions
        return ReadingColumns(trusted_layout(names), self.values[sl].copy(),
                              self.quality[sl].copy(), self.reason[sl].copy(),
                              self.t_source_ns[sl].copy())

    def seqs(self, positions: np.ndarray | None = None) -> np.ndarray:
        """Seq of the message that last set each point (all, or those at ``positions``)."""
        return self.seq[: len(self.names)].copy() if positions is None else self.seq[positions]

    def get(self, point: str) -> Reading | None:
        """One cached point as a Reading (None if not cached)."""
        i = self.index.get(point)
        if i is None:
            return None
        return Reading(point, float(self.values[i]), int(self.quality[i]), int(self.reason[i]),
                       int(self.t_source_ns[i]))

    def drop_oldest(self, count: int) -> None:
        """Forget the ``count`` points cached first (a source that publishes too many)."""
        keep = np.arange(count, len(self.names))
        cols, seq = self.columns(keep), self.seq[keep]
        fresh = PointCache(max(64, len(keep)))
        fresh.apply(cols, seq)
        for name in fresh.__slots__:
            setattr(self, name, getattr(fresh, name))

    def _positions(self, layout: PointLayout) -> np.ndarray | slice:
        index, names = self.index, self.names
        n = len(layout.names)
        try:  # every point cached already (a new combination of known points): C-level only
            pos: np.ndarray | slice = np.fromiter(map(index.__getitem__, layout.names),
                                                  np.intp, n)
        except KeyError:
            new = [p for p in layout.names if p not in index]
            start = len(names)
            names.extend(new)
            index.update(zip(new, range(start, start + len(new)), strict=True))
            if len(names) > len(self.values):
                self._grow(len(names))
            pos = np.fromiter(map(index.__getitem__, layout.names), np.intp, n)
        if n and pos[-1] - pos[0] == n - 1 and (n == 1 or bool((np.diff(pos) == 1).all())):
            # Consecutive positions (a layout's points first seen together): a slice stores a
            # batch several times faster than the index array, with the same effect.
            pos = slice(int(pos[0]), int(pos[0]) + n)
        cost = 1 if type(pos) is slice else n  # a slice keeps no positions
        if self._layout_entries + cost > MAX_LAYOUT_ENTRIES:
            self._layouts.clear()
            self._ranges.clear()
            self._layout_entries = 0
        self._layouts[layout] = pos
        self._layout_entries += cost
        return pos

    def _joined(self, parts: tuple[PointLayout, ...]) -> np.ndarray | slice:
        """Positions of the concatenation of ``parts`` (not remembered: a coalesced message's
        combination of devices rarely repeats; its parts do)."""
        # The common case: every part seen before, each with its positions as an array: one
        # C call. (A slice-stored part's array is made once and kept.)
        try:
            return np.concatenate(list(map(self._ranges.__getitem__, parts)))
        except KeyError:
            pass
        get = self._layouts.get
        pos = [get(p) for p in parts]
        if None in pos:
            pos = [q if q is not None else self._positions(p) for p, q in zip(parts, pos,
                                                                              strict=True)]
        if set(map(type, pos)) == {slice}:
            starts = list(map(_START, pos))
            stops = list(map(_STOP, pos))
            if starts[1:] == stops[:-1]:  # parts stored side by side, in this order
                return slice(starts[0], stops[-1])
        ranges = self._ranges
        return np.concatenate([ranges[p] if p in ranges else self._range(p, q)
                               for p, q in zip(parts, pos, strict=True)])

    def _range(self, layout: PointLayout, pos: np.ndarray | slice) -> np.ndarray:
        arr = np.arange(pos.start, pos.stop) if type(pos) is slice else pos
        if self._layout_entries + len(arr) > MAX_LAYOUT_ENTRIES:
            self._layouts.clear()
            self._ranges.clear()
            self._layout_entries = 0
        self._ranges[layout] = arr
        self._layout_entries += len(arr)
        return arr

    def _grow(self, need: int) -> None:
        size = max(need, 2 * len(self.values))
        for name in ("values", "quality", "reason", "t_source_ns", "seq"):
            old = getattr(self, name)
            arr = np.zeros(size, old.dtype)
            arr[: len(old)] = old
            setattr(self, name, arr)


__all__ = ["PointCache"]
