"""What one store transaction writes: kept samples, each point's latest reading, and the
one-minute aggregate deltas of every reading received (numpy columns)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MINUTE_NS = 60_000_000_000


@dataclass(slots=True)
class Samples:
    """Readings as columns: point_id, t_ns (int64), value (float64), quality, reason (int64)."""

    point_id: np.ndarray
    t_ns: np.ndarray
    value: np.ndarray
    quality: np.ndarray
    reason: np.ndarray

    @staticmethod
    def empty() -> Samples:
        i = np.empty(0, np.int64)
        return Samples(i, i, np.empty(0), i, i)

    def __len__(self) -> int:
        return len(self.t_ns)

    @staticmethod
    def concat(parts: list[Samples]) -> Samples:
        if not parts:
            return Samples.empty()
        if len(parts) == 1:
            return parts[0]
        return Samples(*(np.concatenate([getattr(p, f) for p in parts])
                         for f in ("point_id", "t_ns", "value", "quality", "reason")))

    def take(self, idx: np.ndarray) -> Samples:
        return Samples(self.point_id[idx], self.t_ns[idx], self.value[idx], self.quality[idx],
                       self.reason[idx])

    def latest_per_point(self) -> Samples:
        """The reading with the largest time per point (ties: the later one)."""
        if not len(self):
            return self
        order = np.lexsort((np.arange(len(self)), self.t_ns, self.point_id))
        pid = self.point_id[order]
        last = np.flatnonzero(np.append(pid[1:] != pid[:-1], True))
        return self.take(order[last])


@dataclass(slots=True)
class Rollup:
    """One-minute aggregates: per (point_id, bucket_ns) min, max, sum, n (Good and Uncertain
    readings), last value and its time (-1: none), bad_n (Bad readings)."""

    point_id: np.ndarray
    bucket_ns: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray
    vsum: np.ndarray
    n: np.ndarray
    vlast: np.ndarray
    tlast: np.ndarray
    bad_n: np.ndarray

    def __len__(self) -> int:
        return len(self.bucket_ns)


def rollup(s: Samples, bucket_ns: int = MINUTE_NS) -> Rollup:
    """Aggregate readings into buckets of ``bucket_ns`` aligned to the epoch."""
    if not len(s):
        i = np.empty(0, np.int64)
        f = np.empty(0)
        return Rollup(i, i, f, f, f, i, f, i, i)
    bucket = (s.t_ns // bucket_ns) * bucket_ns
    order = np.lexsort((s.t_ns, bucket, s.point_id))
    pid, b, v, t = s.point_id[order], bucket[order], s.value[order], s.t_ns[order]
    good = s.quality[order] < 2
    change = np.empty(len(pid), bool)
    change[0] = True
    change[1:] = (pid[1:] != pid[:-1]) | (b[1:] != b[:-1])
    starts = np.flatnonzero(change)
    vmin = np.minimum.reduceat(np.where(good, v, np.inf), starts)
    vmax = np.maximum.reduceat(np.where(good, v, -np.inf), starts)
    vsum = np.add.reduceat(np.where(good, v, 0.0), starts)
    n = np.add.reduceat(good.astype(np.int64), starts)
    idx = np.maximum.reduceat(np.where(good, np.arange(len(v)), -1), starts)
    has = idx >= 0
    vlast = np.where(has, v[np.maximum(idx, 0)], np.nan)
    tlast = np.where(has, t[np.maximum(idx, 0)], -1)
    bad_n = np.add.reduceat((~good).astype(np.int64), starts)
    return Rollup(pid[starts], b[starts], vmin, vmax, vsum, n, vlast, tlast, bad_n)


def regroup(r: Rollup, bucket_ns: int) -> Rollup:
    """Merge aggregate rows (sorted by point, bucket) into wider buckets of ``bucket_ns``."""
    if not len(r):
        return r
    b = (r.bucket_ns // bucket_ns) * bucket_ns
    order = np.lexsort((r.bucket_ns, b, r.point_id))
    pid, b = r.point_id[order], b[order]
    change = np.empty(len(pid), bool)
    change[0] = True
    change[1:] = (pid[1:] != pid[:-1]) | (b[1:] != b[:-1])
    starts = np.flatnonzero(change)
    tl = r.tlast[order]
    idx = np.maximum.reduceat(np.where(tl >= 0, np.arange(len(tl)), -1), starts)
    has = idx >= 0
    return Rollup(pid[starts], b[starts], np.minimum.reduceat(r.vmin[order], starts),
                  np.maximum.reduceat(r.vmax[order], starts),
                  np.add.reduceat(r.vsum[order], starts), np.add.reduceat(r.n[order], starts),
                  np.where(has, r.vlast[order][np.maximum(idx, 0)], np.nan),
                  np.where(has, tl[np.maximum(idx, 0)], -1),
                  np.add.reduceat(r.bad_n[order], starts))
