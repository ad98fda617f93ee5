"""The historian's loop: bus readings -> policy -> store, one transaction per batch.

A late-joining bus client (the :class:`~runtime.bus.subscriber.Subscriber` does the zguide
clone work: subscribe, snapshot, gaps -> re-snapshot). Every reading received goes into the
one-minute aggregates; the compressor decides which become samples; each point's latest
reading is the store's current row. Every ``commit_every_s`` the pending batch is written in
one transaction: a batch counts as stored when that commit returns (``stored_through_ns``).

When the store cannot be written (database down, disk full) the historian says so once, keeps
the batch in memory up to ``max_buffer_samples`` samples (the oldest go first beyond that,
counted in ``dropped``), keeps reading the bus (so the bus never waits for it) and retries
with a capped back-off; it resumes when the store is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from runtime.bus.subscriber import BLOCK_BACK, BLOCK_SILENT, Subscriber, UpdateBlock
from runtime.history.batch import MINUTE_NS, Rollup, Samples, regroup, rollup
from runtime.history.compress import Compressor
from runtime.history.errors import StoreUnavailableError
from runtime.history.policy import DAY_NS, HistoryConfig
from runtime.history.store import Store

log = logging.getLogger("twinstage.history")

COMMIT_EVERY_S = 0.5
MAX_BUFFER_SAMPLES = 1_000_000
"""Samples held while the store is unavailable (~40 MB); past it the oldest are dropped."""
COMPACT_RAW_READINGS = 200_000
"""Readings kept raw for the aggregates before they are folded into minute rows."""
RETRY_MAX_S = 5.0
RETENTION_EVERY_S = 3600.0


@dataclass(slots=True)
class HistorianCounts:
    received: int = 0
    """Readings received from the bus."""
    kept: int = 0
    """Readings the policy kept as samples."""
    stored: int = 0
    """Samples committed to the store."""
    commits: int = 0
    dropped: int = 0
    """Samples dropped because the buffer was full while the store was unavailable."""
    snapshots: int = 0


class Historian:
    """Moves what a Subscriber sees into a Store; call :meth:`run_once` in a loop."""

    def __init__(self, subscriber: Subscriber, store: Store, config: HistoryConfig, *,
                 commit_every_s: float = COMMIT_EVERY_S,
                 max_buffer_samples: int = MAX_BUFFER_SAMPLES,
                 clock: Callable[[], int] = time.time_ns,
                 on_state: Callable[[str], None] | None = None) -> None:
        self.subscriber = subscriber
        self.store = store
        self.config = config
        self.clock = clock
        self.commit_every_ns = int(commit_every_s * 1e9)
        self.max_buffer = max_buffer_samples
        self.on_state = on_state or (lambda text: log.warning("%s", text))
        self.counts = HistorianCounts()
        self.compressor = Compressor()
        self._slots: dict[str, int] = {}
        self._names: list[str] = []
        self._ids: dict[int, int] = {}
        self._samples: list[Samples] = []
        self._n_samples = 0
        self._latest: list[Samples] = []
        self._raw: list[Samples] = []
        self._n_raw = 0
        self._agg: list[Rollup] = []
        self._next_commit_ns = 0
        self._next_retry_ns = 0
        self._retry_s = 0.5
        self._promoted = False
        self._dropping = False
        self._next_retention_ns = 0
        self.error: str = ""
        """Why the store cannot be written now ("" when it can)."""
        self.stored_through_ns = 0
        """Wall time of the last commit: everything received before it is stored."""

    # -- loop -----------------------------------------------------------------------------

    def run_once(self, budget_ns: int = 20_000_000) -> int:
        """Read what arrived, keep it, commit when due; returns readings received."""
        received = 0
        for block in self.subscriber.poll_blocks(budget_ns):
            received += self._take(block)
        now = time.monotonic_ns()
        if now >= self._next_commit_ns or self._n_samples > 100_000:
            self._next_commit_ns = now + self.commit_every_ns
            self.flush()
        return received

    def _slot(self, name: str) -> int:
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = len(self._names)
            self._names.append(name)
            p = self.config.policy(name)
            self.compressor.configure(slot, p.mode, p.dev, p.max_gap_ns)
        return slot

    def _take(self, block: UpdateBlock) -> int:
        c = block.columns
        n = len(c)
        if not n:
            return 0
        slots = np.fromiter((self._slot(p) for p in c.layout.names), np.int64, n)
        t = np.asarray(c.t_source_ns, np.int64)
        if block.kind in (BLOCK_SILENT, BLOCK_BACK) or (t <= 0).any():
            # a liveness change made here happens now, not at the cached readings' times
            now = self.clock()
            t = np.full(n, now, np.int64) if block.kind in (BLOCK_SILENT, BLOCK_BACK) \
                else np.where(t <= 0, now, t)
        q = np.asarray(c.quality, np.int64)
        r = np.asarray(c.reason, np.int64)
        v = np.asarray(c.values, np.float64)
        self.counts.received += n
        raw = Samples(slots, t, v, q, r)
        kept = Samples(*self.compressor.feed(slots, t, v, q, r))
        if len(kept):
            self._samples.append(kept)
            self._n_samples += len(kept)
            self.counts.kept += len(kept)
        self._latest.append(raw)
        self._raw.append(raw)
        self._n_raw += n
        if self._n_raw >= COMPACT_RAW_READINGS:
            self._compact()
        if self._n_samples > self.max_buffer:
            self._drop_oldest()
        return n

    def _compact(self) -> None:
        raws = Samples.concat(self._raw)
        self._raw, self._n_raw = [], 0
        self._agg.append(rollup(raws))
        if len(self._agg) > 8:
            self._agg = [regroup(_concat_rollups(self._agg), MINUTE_NS)]
        latest = Samples.concat(self._latest).latest_per_point()
        self._latest = [latest]

    def _drop_oldest(self) -> None:
        allk = Samples.concat(self._samples)
        extra = len(allk) - self.max_buffer
        first = not self._dropping
        self.counts.dropped += extra
        self._dropping = True
        keep = allk.take(np.arange(extra, len(allk)))
        self._samples, self._n_samples = [keep], len(keep)
        if first:  # said once per outage; the progress line counts the rest
            self.on_state(f"history buffer full ({self.max_buffer} samples) while the store is "
                          "unavailable: dropping the oldest samples from now on")

    # -- store ----------------------------------------------------------------------------

    def flush(self, *, final: bool = False) -> bool:
        """Write what is pending in one transaction; False if the store is unavailable."""
        now = time.monotonic_ns()
        if self.error and now < self._next_retry_ns and not final:
            return False
        try:
            if not self._promoted:
                moved = self.store.promote_current()
                self._promoted = True
                if moved:
                    log.info("moved %d current rows of the previous run into the samples", moved)
            self._retention()
            if final:
                held = Samples(*self.compressor.held())
                if len(held):
                    self._samples.append(held)
                    self._n_samples += len(held)
            if not (self._samples or self._raw or self._agg or self._latest):
                self._recovered()
                return True
            self._map_ids()
            samples = self._to_ids(Samples.concat(self._samples))
            latest = self._to_ids(Samples.concat(self._latest).latest_per_point())
            aggs = self._agg + ([rollup(Samples.concat(self._raw))] if self._raw else [])
            agg = self._rollup_ids(regroup(_concat_rollups(aggs), MINUTE_NS)) if aggs else \
                rollup(Samples.empty())
            self.store.write(samples, latest, agg)
        except StoreUnavailableError as exc:
            if self._raw:
                self._compact()
            if not self.error:
                self.on_state(f"history store unavailable: {exc}; buffering up to "
                              f"{self.max_buffer} samples in memory and retrying")
            self.error = str(exc)
            self._next_retry_ns = now + int(self._retry_s * 1e9)
            self._retry_s = min(RETRY_MAX_S, self._retry_s * 2)
            return False
        self.counts.stored += self._n_samples
        self.counts.commits += 1
        self._samples, self._n_samples, self._latest = [], 0, []
        self._raw, self._n_raw, self._agg = [], 0, []
        self.stored_through_ns = self.clock()
        self._recovered()
        return True

    def _recovered(self) -> None:
        self._dropping = False
        if self.error:
            self.on_state("history store available again: resumed writing")
        self.error = ""
        self._retry_s = 0.5

    def _retention(self) -> None:
        now = time.monotonic_ns()
        if now < self._next_retention_ns:
            return
        self._next_retention_ns = now + int(RETENTION_EVERY_S * 1e9)
        wall = self.clock()
        self.store.retain(wall - int(self.config.raw_days * DAY_NS),
                          wall - int(self.config.aggregate_days * DAY_NS))

    def _map_ids(self) -> None:
        missing = [i for i in range(len(self._names)) if i not in self._ids]
        if missing:
            names = [self._names[i] for i in missing]
            ids = self.store.point_ids(names, {n: self.config.units.get(n, "") for n in names})
            for i in missing:
                self._ids[i] = ids[self._names[i]]

    def _lookup(self) -> np.ndarray:
        return np.array([self._ids[i] for i in range(len(self._names))], np.int64)

    def _to_ids(self, s: Samples) -> Samples:
        if not len(s):
            return s
        return Samples(self._lookup()[s.point_id], s.t_ns, s.value, s.quality, s.reason)

    def _rollup_ids(self, r: Rollup) -> Rollup:
        if len(r):
            r.point_id = self._lookup()[r.point_id]
        return r

    def close(self) -> None:
        """Store what is held in open doors and pending, then close the store."""
        try:
            self.flush(final=True)
        finally:
            self.store.close()


def _concat_rollups(parts: list[Rollup]) -> Rollup:
    if len(parts) == 1:
        return parts[0]
    return Rollup(*(np.concatenate([getattr(p, f) for p in parts]) for f in (
        "point_id", "bucket_ns", "vmin", "vmax", "vsum", "n", "vlast", "tlast", "bad_n")))
