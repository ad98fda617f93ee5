"""The recorder's loop: a late-joining bus client whose every observation goes to a writer.

The subscriber does the zguide clone work (subscribe, snapshot, updates; re-snapshot on a gap);
this loop hands the writer each batch of readings with the source's epoch and seq, each
snapshot (join or resync), each publisher falling silent or coming back, heartbeat periods,
and every command ack the bus republishes. The time stamped on each message (its log time) is
this process's wall clock when it was received: the time a replay plays it at.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.bus.subscriber import BLOCK_SNAPSHOT, BLOCK_UPDATE, Subscriber, UpdateBlock
from runtime.bus.wire import SnapshotSource
from runtime.recording.writer import RecordingWriter

AUDIT_CHECKPOINT = "audit_checkpoint"
"""Event kind of an adapter's audit-chain head kept in the recording (``data``: log_seq,
head, t_ns): a rewritten audit log no longer matches the heads recorded here."""


@dataclass(slots=True)
class RecorderCounts:
    """What the recorder has written so far (for its progress line and tests)."""

    batches: int = 0
    readings: int = 0
    snapshots: int = 0
    source_changes: int = 0
    acks: int = 0
    checkpoints: int = 0
    events: int = 0


class Recorder:
    """Moves what a :class:`Subscriber` (``acks=True``) sees into a :class:`RecordingWriter`."""

    def __init__(self, subscriber: Subscriber, writer: RecordingWriter, *,
                 clock: Callable[[], int] = time.time_ns, events: Any = None) -> None:
        self.subscriber = subscriber
        self.events = events
        """An :class:`~runtime.bus.events.EventSubscriber` whose events (a training run's,
        with ``record --events scenario``) are kept as recording events: the replay's timeline
        shows them as markers."""
        self.writer = writer
        self.clock = clock
        self.counts = RecorderCounts()
        self._alive: dict[str, tuple[int, bool]] = {}
        self._period: dict[str, tuple[int, int]] = {}

    def run_once(self, budget_ns: int = 20_000_000) -> int:
        """Drain what arrived (within ``budget_ns``), write it; returns messages written."""
        blocks = self.subscriber.poll_blocks(budget_ns)
        now = self.clock()
        written = 0
        snapshot: list[SnapshotSource] = []
        for block in blocks:
            if block.kind == BLOCK_UPDATE:
                if snapshot:
                    written += self._snapshot(now, snapshot)
                    snapshot = []
                self.writer.write_readings(now, block.source, block.epoch, int(block.seq[0]),
                                           block.t_ns, block.columns)
                self.counts.batches += 1
                self.counts.readings += len(block.columns)
                written += 1
            elif block.kind == BLOCK_SNAPSHOT:
                snapshot.append(self._snapshot_source(block))
            # BLOCK_SILENT / BLOCK_BACK are this subscriber's re-emissions of cached values:
            # the liveness change itself is recorded below, once, as a source state.
        if snapshot:
            written += self._snapshot(now, snapshot)
        written += self._liveness(now)
        for ack in self.subscriber.poll_acks():
            self.writer.write_ack(now, ack)
            self.counts.acks += 1
            written += 1
        for cp in self.subscriber.poll_checkpoints():
            self.writer.write_event(
                now, AUDIT_CHECKPOINT, cp.source,
                f"audit chain of {cp.source}: {cp.log_seq} records, head {cp.head[:12]}",
                data={"log_seq": cp.log_seq, "head": cp.head, "t_ns": cp.t_ns})
            self.counts.checkpoints += 1
            written += 1
        if self.events is not None:
            written += self._events(now)
        self.writer.tick(now)
        return written

    def _events(self, now: int) -> int:
        written = 0
        for batch in self.events.poll(max_count=50):
            for ev in batch.events:
                kind = str(ev.get("scenario_event") or ev.get("kind") or "event")
                text = str(ev.get("text") or ev.get("message") or kind)
                self.writer.write_event(now, kind, batch.source, text,
                                        data={k: v for k, v in ev.items()
                                              if isinstance(v, str | int | float | bool)
                                              or v is None})
                self.counts.events += 1
                written += 1
        return written

    def close(self) -> None:
        self.writer.close()

    # -- parts ------------------------------------------------------------------------------

    def _snapshot_source(self, block: UpdateBlock) -> SnapshotSource:
        status = self.subscriber.liveness()[block.source]
        return SnapshotSource(block.source, block.epoch, int(block.seq[0]) if len(block.seq)
                              else status.seq, status.alive, status.period_ms, block.columns)

    def _snapshot(self, now: int, sources: list[SnapshotSource]) -> int:
        self.writer.write_snapshot(now, "resync", sources)
        self.counts.snapshots += 1
        for s in sources:
            self._alive[s.source] = (s.epoch, s.alive)
        return 1

    def _liveness(self, now: int) -> int:
        written = 0
        for source, status in self.subscriber.liveness().items():
            if self._period.get(source) != (status.epoch, status.period_ms):
                self._period[source] = (status.epoch, status.period_ms)
                self.writer.note_heartbeat(now, source, status.epoch, status.seq,
                                           status.period_ms)
            known = self._alive.get(source)
            if known is None:
                self._alive[source] = (status.epoch, status.alive)
                continue
            if known[1] != status.alive:
                silent_ms = max(0, status.silent_for_ns() // 1_000_000) if not status.alive else 0
                self.writer.write_source_state(now, source, status.epoch, status.alive,
                                               int(silent_ms))
                self.counts.source_changes += 1
                written += 1
            self._alive[source] = (status.epoch, status.alive)
        return written
