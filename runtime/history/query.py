"""Queries over a store: raw range (paged), aggregated range (bounded), value at a time.

The historian's bus service and ``twinstage history --store`` both answer through this, so a
viewer on another host and a script on the database host get the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.history.batch import MINUTE_NS, Rollup, Samples, regroup, rollup
from runtime.history.errors import QueryError
from runtime.history.store import Store

MAX_RAW_ROWS = 40_000
"""Raw rows in one reply over all its points (20 bytes each: under the bus's 1 MiB)."""
MAX_BUCKETS = 15_000
"""Buckets per point in one aggregated reply (a week of minutes fits)."""
MAX_AGG_CELLS = 15_000
"""Buckets over all points of one aggregated reply (56 bytes each: under the bus's 1 MiB)."""
DEFAULT_BUCKETS = 1_000
NICE_STEPS_NS = [s * 1_000_000_000 for s in (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 172800, 604800)]


@dataclass(slots=True)
class Aggregates:
    """Per bucket (start time): min, max, avg, last of the Good/Uncertain readings, how many,
    how many Bad; buckets with no reading at all are left out."""

    t_ns: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray
    avg: np.ndarray
    last: np.ndarray
    n: np.ndarray
    bad_n: np.ndarray

    @staticmethod
    def of(r: Rollup) -> Aggregates:
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(r.n > 0, r.vsum / np.maximum(r.n, 1), np.nan)
        none = r.n == 0
        return Aggregates(r.bucket_ns, np.where(none, np.nan, r.vmin),
                          np.where(none, np.nan, r.vmax), avg,
                          np.where(r.tlast >= 0, r.vlast, np.nan), r.n, r.bad_n)


def auto_every_ns(from_ns: int, to_ns: int, buckets: int = DEFAULT_BUCKETS) -> int:
    """The smallest nice bucket width giving at most ``buckets`` buckets."""
    span = max(1, to_ns - from_ns)
    for step in NICE_STEPS_NS:
        if span / step <= buckets:
            return step
    return int(np.ceil(span / buckets / NICE_STEPS_NS[-1])) * NICE_STEPS_NS[-1]


class HistoryQuery:
    """Name -> id lookups and the three queries over one store (one thread)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._points: dict[str, tuple[int, str]] = {}

    def points(self) -> dict[str, str]:
        self._points = self.store.points()
        return {name: unit for name, (_i, unit) in self._points.items()}

    def resolve(self, names: list[str]) -> list[tuple[str, int, str]]:
        if not names:
            raise QueryError("name at least one point, e.g. LT-102/level_m")
        if any(n not in self._points for n in names):
            self._points = self.store.points()
        unknown = [n for n in names if n not in self._points]
        if unknown:
            known = sorted(self._points)
            hint = (f"; the store has {len(known)} points, e.g. {', '.join(known[:4])}"
                    if known else "; the store has no points yet")
            raise QueryError(f"unknown point {', '.join(unknown)}{hint}")
        return [(n, *self._points[n]) for n in names]

    @staticmethod
    def check_range(from_ns: int, to_ns: int) -> None:
        if to_ns < from_ns:
            raise QueryError(f"the range is reversed: --from is after --to "
                             f"({from_ns} > {to_ns} ns)")

    def raw(self, names: list[str], from_ns: int, to_ns: int,
            limit: int = MAX_RAW_ROWS) -> dict[str, tuple[Samples, bool]]:
        """Per point: samples in [from_ns, to_ns] and whether more follow (page on from the
        last time + 1)."""
        self.check_range(from_ns, to_ns)
        pts = self.resolve(names)
        per = max(1, min(limit, MAX_RAW_ROWS) // len(pts))
        out = {}
        for name, pid, _unit in pts:
            s = self.store.read_raw(pid, from_ns, to_ns, per + 1)
            more = len(s) > per
            out[name] = (s.take(np.arange(per)) if more else s, more)
        return out

    def aggregate(self, names: list[str], from_ns: int, to_ns: int,
                  every_ns: int = 0) -> tuple[int, dict[str, Aggregates]]:
        """(bucket width, per point aggregates) over [from_ns, to_ns)."""
        self.check_range(from_ns, to_ns)
        if every_ns <= 0:
            every_ns = auto_every_ns(from_ns, to_ns)
        if (to_ns - from_ns) / every_ns > MAX_BUCKETS:
            raise QueryError(f"{(to_ns - from_ns) // every_ns} buckets asked, at most "
                             f"{MAX_BUCKETS}: choose a wider --every or a shorter range")
        buckets = (to_ns - from_ns) // every_ns + 1
        if buckets * len(names) > MAX_AGG_CELLS:
            raise QueryError(f"{buckets} buckets x {len(names)} points is more than one answer "
                             f"holds ({MAX_AGG_CELLS}): ask for fewer points at a time or "
                             "wider buckets")
        pts = self.resolve(names)
        start = (from_ns // every_ns) * every_ns
        out = {}
        for name, pid, _unit in pts:
            if every_ns % MINUTE_NS == 0:
                r = regroup(self.store.read_rollup(pid, start, to_ns, every_ns), every_ns)
            else:
                r = rollup(self.store.read_raw(pid, start, to_ns, 10 * MAX_BUCKETS * 60),
                           every_ns)
            out[name] = Aggregates.of(r)
        return every_ns, out

    def at(self, names: list[str], t_ns: int) -> dict[str, Samples]:
        """Per point: the last stored reading at or before ``t_ns`` (zero or one row)."""
        return {name: self.store.read_at(pid, t_ns) for name, pid, _u in self.resolve(names)}

    def unit(self, name: str) -> str:
        return self._points.get(name, (0, ""))[1]
