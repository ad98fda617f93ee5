"""Which readings the historian keeps: swinging-door, deadband or every reading, per point.

One numba kernel walks a batch of readings (any points, arrival order) against per-point state
arrays and writes the readings to store into preallocated output columns. Rules, per point:

- the first reading, and every change of quality or reason, is kept (with the reading held
  before it, so a line ends where its data ended);
- a Bad reading with the same quality/reason as the one before is not kept again;
- mode ``all`` keeps every reading; ``deadband`` keeps a reading that moved more than ``dev``
  from the last kept one; ``swinging`` keeps the fewest points such that straight lines between
  kept points pass within ``dev`` of every reading received (the swinging-door test, with the
  held point's own slope required inside the door, which makes the bound strict);
- a kept point at least every ``max_gap_ns`` while readings arrive.

The reading held in the door is not stored until the door opens: the store's ``current`` row
(the latest reading per point, written with every batch) covers it, and a restarted historian
moves the current rows into the samples before anything else.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MODE_ALL = 0
MODE_DEADBAND = 1
MODE_SWINGING = 2
MODES = {"all": MODE_ALL, "deadband": MODE_DEADBAND, "swinging_door": MODE_SWINGING}
BAD = 2


@njit(cache=True)
def _keep(out_slot, out_t, out_v, out_q, out_r, n, slot, t, v, q, r):  # pragma: no cover
    out_slot[n] = slot
    out_t[n] = t
    out_v[n] = v
    out_q[n] = q
    out_r[n] = r
    return n + 1


@njit(cache=True)
def compress_kernel(slots, t_ns, value, quality, reason,  # pragma: no cover - numba
                    mode, dev, max_gap_ns,
                    seen, a_t, a_v, h_has, h_t, h_v, h_q, h_r, s_max, s_min, last_q, last_r,
                    out_slot, out_t, out_v, out_q, out_r):
    """Returns how many rows were written to the out_* columns (at most 2 * len(slots))."""
    n = 0
    for i in range(slots.shape[0]):
        k = slots[i]
        t = t_ns[i]
        x = value[i]
        qi = quality[i]
        ri = reason[i]
        if not seen[k]:
            seen[k] = True
            n = _keep(out_slot, out_t, out_v, out_q, out_r, n, k, t, x, qi, ri)
            a_t[k] = t
            a_v[k] = x
            h_has[k] = False
            last_q[k] = qi
            last_r[k] = ri
            continue
        if qi != last_q[k] or ri != last_r[k]:
            if h_has[k]:
                n = _keep(out_slot, out_t, out_v, out_q, out_r, n, k, h_t[k], h_v[k], h_q[k],
                          h_r[k])
            if h_has[k] and t <= h_t[k]:
                t = h_t[k] + 1  # a quality change stamped with the same time: keep both
            n = _keep(out_slot, out_t, out_v, out_q, out_r, n, k, t, x, qi, ri)
            a_t[k] = t
            a_v[k] = x
            h_has[k] = False
            last_q[k] = qi
            last_r[k] = ri
            continue
        if qi == BAD:
            continue
        last_t = h_t[k] if h_has[k] else a_t[k]
        if t <= last_t:
            continue  # a repeat of a reading already seen (same source time)
        m = mode[k]
        if m == MODE_ALL:
            n = _keep(out_slot, out_t, out_v, out_q, out_r, n, k, t, x, qi, ri)
            a_t[k] = t
            a_v[k] = x
            continue
        if m == MODE_DEADBAND:
            if abs(x - a_v[k]) > dev[k] or t - a_t[k] >= max_gap_ns[k]:
                n = _keep(out_slot, out_t, out_v, out_q, out_r, n, k, t, x, qi, ri)
                a_t[k] = t
                a_v[k] = x
            continue
        # swinging door
        d = dev[k]
        dt = float(t - a_t[k])
        slope = (x - a_v[k]) / dt
        if not h_has[k]:
            s_max[k] = (x + d - a_v[k]) / dt
            s_min[k] = (x - d - a_v[k]) / dt
        elif (slope > s_max[k] or slope < s_min[k]
              or t - a_t[k] >= max_gap_ns[k]):
            n = _keep(out_slot, out_t, out_v, out_q, out_r, n, k, h_t[k], h_v[k], h_q[k],
                      h_r[k])
            a_t[k] = h_t[k]
            a_v[k] = h_v[k]
            dt = float(t - a_t[k])
            s_max[k] = (x + d - a_v[k]) / dt
            s_min[k] = (x - d - a_v[k]) / dt
        else:
            up = (x + d - a_v[k]) / dt
            lo = (x - d - a_v[k]) / dt
            if up < s_max[k]:
                s_max[k] = up
            if lo > s_min[k]:
                s_min[k] = lo
        h_has[k] = True
        h_t[k] = t
        h_v[k] = x
        h_q[k] = qi
        h_r[k] = ri
    return n


class Compressor:
    """Per-point compression state for up to ``capacity`` points (slots given by the caller)."""

    def __init__(self, capacity: int = 256) -> None:
        self._n = 0
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        def grow(old: np.ndarray | None, dtype: type, fill: object) -> np.ndarray:
            new = np.full(capacity, fill, dtype=dtype)
            if old is not None:
                new[: len(old)] = old
            return new

        g = getattr
        self.mode = grow(g(self, "mode", None), np.int8, MODE_ALL)
        self.dev = grow(g(self, "dev", None), np.float64, 0.0)
        self.max_gap_ns = grow(g(self, "max_gap_ns", None), np.int64, 600_000_000_000)
        self.seen = grow(g(self, "seen", None), np.bool_, False)
        self.a_t = grow(g(self, "a_t", None), np.int64, 0)
        self.a_v = grow(g(self, "a_v", None), np.float64, 0.0)
        self.h_has = grow(g(self, "h_has", None), np.bool_, False)
        self.h_t = grow(g(self, "h_t", None), np.int64, 0)
        self.h_v = grow(g(self, "h_v", None), np.float64, 0.0)
        self.h_q = grow(g(self, "h_q", None), np.int64, 0)
        self.h_r = grow(g(self, "h_r", None), np.int64, 0)
        self.s_max = grow(g(self, "s_max", None), np.float64, 0.0)
        self.s_min = grow(g(self, "s_min", None), np.float64, 0.0)
        self.last_q = grow(g(self, "last_q", None), np.int64, 0)
        self.last_r = grow(g(self, "last_r", None), np.int64, 0)
        self.capacity = capacity

    def configure(self, slot: int, mode: int, dev: float, max_gap_ns: int) -> None:
        """Set a slot's policy (grows the state when needed)."""
        if slot >= self.capacity:
            self._alloc(max(slot + 1, self.capacity * 2))
        self.mode[slot] = mode
        self.dev[slot] = max(0.0, float(dev))
        self.max_gap_ns[slot] = max(1, int(max_gap_ns))

    def feed(self, slots: np.ndarray, t_ns: np.ndarray, value: np.ndarray,
             quality: np.ndarray, reason: np.ndarray) -> tuple[np.ndarray, ...]:
        """Readings in -> (slot, t_ns, value, quality, reason) columns to store."""
        m = len(slots)
        out = (np.empty(2 * m, np.int64), np.empty(2 * m, np.int64), np.empty(2 * m),
               np.empty(2 * m, np.int64), np.empty(2 * m, np.int64))
        n = compress_kernel(
            np.ascontiguousarray(slots, np.int64), np.ascontiguousarray(t_ns, np.int64),
            np.ascontiguousarray(value, np.float64), np.ascontiguousarray(quality, np.int64),
            np.ascontiguousarray(reason, np.int64),
            self.mode, self.dev, self.max_gap_ns, self.seen, self.a_t, self.a_v, self.h_has,
            self.h_t, self.h_v, self.h_q, self.h_r, self.s_max, self.s_min, self.last_q,
            self.last_r, *out)
        return tuple(col[:n] for col in out)

    def held(self) -> tuple[np.ndarray, ...]:
        """The readings held in open doors (slot, t, v, q, r): what ``current`` covers."""
        idx = np.flatnonzero(self.h_has)
        return (idx.astype(np.int64), self.h_t[idx], self.h_v[idx], self.h_q[idx],
                self.h_r[idx])
