"""Trend series as drawable geometry, without Panda3D: what a line may join and where data
was Bad (hmi.md: never a line drawn through Bad data).

A :class:`TrendSeries` comes either from raw samples (each stored reading; a Bad reading
starts a Bad span that lasts until the next reading) or from aggregates (per bucket min, max,
avg; a bucket with any Bad reading is a Bad span and breaks the line). :func:`polyline` maps a
series into a panel's rectangle as line segments (x0, z0, x1, z1), steps for discrete units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DISCRETE_UNITS = ("bool", "enum")
EMPTY = np.empty(0)


@dataclass(slots=True)
class TrendSeries:
    """One point's data for a window: times, the line's value, its envelope, what may join."""

    point: str
    unit: str
    t_ns: np.ndarray
    value: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray
    join: np.ndarray
    """bool (n,): draw the segment from i to i+1 (False at the last one)."""
    bad_spans: list[tuple[int, int]] = field(default_factory=list)
    """Times [t0, t1) where the data was Bad: drawn hatched, never joined across."""
    quality: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    reason: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    step: bool = False

    def value_at(self, t_ns: int) -> tuple[float, int, int] | None:
        """(value, quality, reason) in effect at ``t_ns`` (the last sample at or before it)."""
        i = int(np.searchsorted(self.t_ns, t_ns, side="right")) - 1
        if i < 0:
            return None
        q = int(self.quality[i]) if len(self.quality) else 0
        r = int(self.reason[i]) if len(self.reason) else 0
        return float(self.value[i]), q, r


def from_samples(point: str, unit: str, t_ns: np.ndarray, value: np.ndarray,
                 quality: np.ndarray, reason: np.ndarray, end_ns: int) -> TrendSeries:
    """Raw samples -> a series; a Bad sample's span runs to the next sample (or ``end_ns``)."""
    t = np.asarray(t_ns, np.int64)
    v = np.asarray(value, np.float64)
    q = np.asarray(quality, np.int64)
    ok = (q < 2) & np.isfinite(v)
    join = np.zeros(len(t), bool)
    if len(t) > 1:
        join[:-1] = ok[:-1] & ok[1:]
    spans: list[tuple[int, int]] = []
    bad = np.flatnonzero(q >= 2)
    for i in bad.tolist():
        t1 = int(t[i + 1]) if i + 1 < len(t) else max(end_ns, int(t[i]))
        if spans and spans[-1][1] == int(t[i]):
            spans[-1] = (spans[-1][0], t1)
        else:
            spans.append((int(t[i]), t1))
    return TrendSeries(point, unit, t, v, v, v, join, spans, q, np.asarray(reason, np.int64),
                       step=unit in DISCRETE_UNITS)


def from_aggregates(point: str, unit: str, bucket_ns: np.ndarray, every_ns: int,
                    vmin: np.ndarray, vmax: np.ndarray, avg: np.ndarray, n: np.ndarray,
                    bad_n: np.ndarray) -> TrendSeries:
    """Buckets -> a series at bucket centres; missing or Bad buckets break the line."""
    b = np.asarray(bucket_ns, np.int64)
    ok = (np.asarray(n) > 0) & (np.asarray(bad_n) == 0)
    join = np.zeros(len(b), bool)
    if len(b) > 1:
        join[:-1] = ok[:-1] & ok[1:] & (np.diff(b) <= every_ns)
    spans: list[tuple[int, int]] = []
    for i in np.flatnonzero(np.asarray(bad_n) > 0).tolist():
        t0, t1 = int(b[i]), int(b[i]) + every_ns
        if spans and spans[-1][1] == t0:
            spans[-1] = (spans[-1][0], t1)
        else:
            spans.append((t0, t1))
    q = np.where(ok, 0, 2).astype(np.int64)
    return TrendSeries(point, unit, b + every_ns // 2, np.asarray(avg, np.float64),
                       np.asarray(vmin, np.float64), np.asarray(vmax, np.float64), join, spans,
                       q, np.zeros(len(b), np.int64), step=False)


def value_range(series: list[TrendSeries], t0_ns: int, t1_ns: int,
                limits: list[float] = ()) -> tuple[float, float]:
    """(low, high) covering the visible data and the alarm limits, padded 5 %."""
    lo, hi = np.inf, -np.inf
    for s in series:
        m = (s.t_ns >= t0_ns) & (s.t_ns <= t1_ns) & (s.quality < 2)
        if m.any():
            lo = min(lo, float(np.nanmin(s.vmin[m])))
            hi = max(hi, float(np.nanmax(s.vmax[m])))
    for x in limits:
        lo, hi = min(lo, x), max(hi, x)
    if not np.isfinite(lo):
        return 0.0, 1.0
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


@dataclass(frozen=True, slots=True)
class PanelRect:
    """Where a plot is drawn (aspect2d units) and what it shows."""

    left: float
    right: float
    bottom: float
    top: float
    t0_ns: int
    t1_ns: int
    v0: float
    v1: float

    def x(self, t_ns: np.ndarray) -> np.ndarray:
        span = max(1, self.t1_ns - self.t0_ns)
        return self.left + (np.asarray(t_ns, np.float64) - self.t0_ns) / span * (
            self.right - self.left)

    def z(self, v: np.ndarray) -> np.ndarray:
        span = (self.v1 - self.v0) or 1.0
        return self.bottom + (np.asarray(v, np.float64) - self.v0) / span * (
            self.top - self.bottom)

    def t_at(self, x: float) -> int:
        f = (x - self.left) / ((self.right - self.left) or 1.0)
        return int(self.t0_ns + f * (self.t1_ns - self.t0_ns))


def polyline(s: TrendSeries, r: PanelRect, *, end_ns: int | None = None) -> np.ndarray:
    """Segments (m, 4) of x0, z0, x1, z1 inside ``r``; joins only where ``s.join`` allows.

    The last Good sample of raw data is held flat up to ``end_ns`` (the store's current row is
    the latest reading; nothing newer was received)."""
    if len(s.t_ns) == 0:
        return np.empty((0, 4))
    x = r.x(s.t_ns)
    z = r.z(np.clip(s.value, r.v0, r.v1))
    i = np.flatnonzero(s.join[:-1]) if len(s.t_ns) > 1 else np.empty(0, np.int64)
    if s.step:
        seg = np.concatenate([np.stack([x[i], z[i], x[i + 1], z[i]], 1),
                              np.stack([x[i + 1], z[i], x[i + 1], z[i + 1]], 1)])
    else:
        seg = np.stack([x[i], z[i], x[i + 1], z[i + 1]], 1)
    if end_ns is not None and s.quality[-1] < 2 and np.isfinite(s.value[-1]) \
            and end_ns > s.t_ns[-1]:
        xe = float(r.x(np.array([min(end_ns, r.t1_ns)]))[0])
        seg = np.concatenate([seg, [[x[-1], z[-1], xe, z[-1]]]])
    keep = (np.maximum(seg[:, 0], seg[:, 2]) >= r.left) & (np.minimum(seg[:, 0], seg[:, 2])
                                                           <= r.right)
    seg = seg[keep]
    seg[:, 0] = np.clip(seg[:, 0], r.left, r.right)
    seg[:, 2] = np.clip(seg[:, 2], r.left, r.right)
    return seg


def hatch(spans: list[tuple[int, int]], r: PanelRect, spacing: float = 0.02) -> np.ndarray:
    """Diagonal hatch segments (m, 4) over each Bad span, clipped to the panel."""
    out = []
    h = r.top - r.bottom
    for t0, t1 in spans:
        x0 = float(np.clip(r.x(np.array([t0]))[0], r.left, r.right))
        x1 = float(np.clip(r.x(np.array([t1]))[0], r.left, r.right))
        if x1 - x0 <= 1e-6:
            continue
        out.append([x0, r.bottom, x0, r.top])
        out.append([x1, r.bottom, x1, r.top])
        starts = np.arange(x0 - h, x1, spacing)
        for xs in starts.tolist():
            # the line from (xs, bottom) to (xs + h, top), clipped to [x0, x1]
            a, b = max(xs, x0), min(xs + h, x1)
            if b > a:
                out.append([a, r.bottom + (a - xs), b, r.bottom + (b - xs)])
    return np.array(out, np.float64).reshape(-1, 4)


def decimate(s: TrendSeries, t0_ns: int, t1_ns: int, columns: int = 300) -> TrendSeries:
    """At most 4 samples per column of the window (first, min, max, last), so drawing costs
    the same for a minute or a week of raw data; Bad samples and the joins between kept ones
    stay exact (a kept pair joins only if every pair between them did)."""
    n = len(s.t_ns)
    if n <= 4 * columns:
        return s
    col = np.clip((s.t_ns - t0_ns) * columns // max(1, t1_ns - t0_ns), -1, columns)
    start = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    end = np.r_[start[1:], n] - 1
    masked = np.where(s.quality < 2, s.value, np.nan)
    keep = np.zeros(n, bool)
    keep[start] = True
    keep[end] = True
    keep[s.quality >= 2] = True
    keep[np.r_[False, s.quality[1:] != s.quality[:-1]]] = True
    keep[np.r_[s.quality[1:] != s.quality[:-1], False]] = True
    gid = np.cumsum(np.r_[True, col[1:] != col[:-1]]) - 1
    finite = np.isfinite(masked)
    lo = np.lexsort((np.where(finite, masked, np.inf), gid))
    hi = np.lexsort((np.where(finite, masked, -np.inf), gid))
    first_of = np.r_[0, np.flatnonzero(np.diff(gid[lo])) + 1]
    last_of = np.r_[np.flatnonzero(np.diff(gid[hi])), n - 1]
    keep[lo[first_of][finite[lo[first_of]]]] = True
    keep[hi[last_of][finite[hi[last_of]]]] = True
    idx = np.flatnonzero(keep)
    broken = np.r_[0, np.cumsum(~s.join[:-1])]  # joins broken before each sample
    join = np.zeros(len(idx), bool)
    join[:-1] = broken[idx[1:]] == broken[idx[:-1]]
    return TrendSeries(s.point, s.unit, s.t_ns[idx], s.value[idx], s.vmin[idx], s.vmax[idx],
                       join, s.bad_spans, s.quality[idx], s.reason[idx], s.step)
