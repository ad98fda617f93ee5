"""Fetches trend data off the render thread: one worker thread with its own history asker
(a ServiceClient through the bus, or a store opened in the thread).

The render thread posts what it wants (:meth:`TrendWorker.want`, never blocks) and takes the
newest result when there is one (:meth:`TrendWorker.take`); the frame never waits. Windows up
to 2 hours ask for raw samples (every stored reading); longer ones for aggregates of at least
one minute, about 600 buckets (the minute roll-ups, so a 7-day trend is a few thousand rows).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from runtime.history.errors import QueryError, StoreUnavailableError
from runtime.history.query import auto_every_ns
from runtime.ui.trend_geometry import TrendSeries, decimate, from_aggregates, from_samples

log = logging.getLogger("twinstage.history.trend")

RAW_MAX_WINDOW_NS = 7_200_000_000_000
AGG_BUCKETS = 600
MINUTE_NS = 60_000_000_000
POINTS_RETRY_S = 5.0
"""How often the worker asks again which points the history has while it has no answer."""


@dataclass(frozen=True, slots=True)
class Want:
    points: tuple[str, ...]
    t0_ns: int
    t1_ns: int


def fetch(asker: object, want: Want) -> dict[str, TrendSeries]:
    """The series for ``want`` (raw or aggregated by its width); raises the asker's errors."""
    span = want.t1_ns - want.t0_ns
    pts = list(want.points)
    out: dict[str, TrendSeries] = {}
    if span <= RAW_MAX_WINDOW_NS:
        res = asker.raw(pts, want.t0_ns, want.t1_ns)  # type: ignore[attr-defined]
        for p, (s, unit) in res.items():
            full = from_samples(p, unit, s.t_ns, s.value, s.quality, s.reason, want.t1_ns)
            out[p] = decimate(full, want.t0_ns, want.t1_ns)
        return out
    every = max(MINUTE_NS, auto_every_ns(want.t0_ns, want.t1_ns, AGG_BUCKETS))
    every = (every + MINUTE_NS - 1) // MINUTE_NS * MINUTE_NS
    _every, res = asker.aggregate(pts, want.t0_ns, want.t1_ns, every)  # type: ignore[attr-defined]
    for p, (a, unit) in res.items():
        out[p] = from_aggregates(p, unit, a.t_ns, every, a.vmin, a.vmax, a.avg, a.n, a.bad_n)
    return out


class TrendWorker:
    """One thread answering the newest wish per key ("panel", "spark")."""

    def __init__(self, open_asker: Callable[[], object]) -> None:
        self._open = open_asker
        self._cond = threading.Condition()
        self._wants: dict[str, Want] = {}
        self._results: dict[str, tuple[int, Want, dict[str, TrendSeries]]] = {}
        self._version = 0
        self._stop = False
        self.known: dict[str, str] | None = None
        """Points the history knows, with units (None until the first answer)."""
        self.error = ""
        """Why the last query failed ("" when it did not)."""
        self.queries = 0
        self._thread = threading.Thread(target=self._run, name="trend-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def want(self, key: str, want: Want) -> None:
        """Ask for ``want`` under ``key`` (replaces an earlier wish not yet served)."""
        with self._cond:
            self._wants[key] = want
            self._cond.notify()

    def take(self, key: str) -> tuple[int, Want, dict[str, TrendSeries]] | None:
        """The newest result for ``key`` (version, what was asked, series), or None."""
        with self._cond:
            return self._results.get(key)

    def served(self, key: str, want: Want) -> bool:
        """Whether the newest result for ``key`` answers ``want`` (or the history cannot)."""
        with self._cond:
            got = self._results.get(key)
        return (got is not None and got[1] == want) or bool(self.error) or \
            not self._thread.is_alive()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        asker = None
        next_points = 0.0
        try:
            asker = self._open()
            while True:
                if self.known is None and time.monotonic() >= next_points:
                    self._points(asker)  # which points the history has (None: no answer yet)
                    next_points = time.monotonic() + POINTS_RETRY_S
                with self._cond:
                    if not self._wants and not self._stop:
                        self._cond.wait(1.0)
                    if self._stop:
                        return
                    wants, self._wants = self._wants, {}
                for key, want in wants.items():
                    self._serve(asker, key, want)
        except Exception as exc:  # the view carries on without trends; say why once
            self.error = f"trends unavailable: {exc}"
            log.warning("%s", self.error)
        finally:
            if asker is not None:
                asker.close()  # type: ignore[attr-defined]

    def _points(self, asker: object) -> None:
        try:
            self.known = asker.points()  # type: ignore[attr-defined]
            self.error = ""
        except (QueryError, StoreUnavailableError) as exc:
            self.error = str(exc)

    def _serve(self, asker: object, key: str, want: Want) -> None:
        pts = tuple(p for p in want.points if self.known is None or p in self.known)
        try:
            series = fetch(asker, Want(pts, want.t0_ns, want.t1_ns)) if pts else {}
            self.error = ""
        except (QueryError, StoreUnavailableError) as exc:
            self.error = str(exc)
            self.known = None  # ask again: the historian may have learnt new points
            return
        self.queries += 1
        with self._cond:
            self._version += 1
            self._results[key] = (self._version, want, series)
