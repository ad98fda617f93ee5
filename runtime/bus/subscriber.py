"""The receiving end of the readings bus, for viewers, tap and tools (zguide clone pattern).

The order is the clone client's (clonecli3): subscribe first, then ask for a snapshot, and
while the snapshot is pending leave updates queued in the SUB socket; once it is applied, drop
each queued update the snapshot covers (same epoch, seq <= the snapshot's seq for that source).
A gap in a source's sequence numbers means messages were lost (PUB and XPUB drop silently at
their high-water marks), so the subscriber asks for a new snapshot rather than show stale
values as current (R8).

Liveness is judged from this process's own monotonic clock, not from timestamps a peer wrote:
a source not heard for ``silence_misses`` heartbeat periods is marked not alive and its points
are emitted again as Bad (no communication); when it is heard again they are emitted with their
own quality (R2, R10).

:meth:`Subscriber.poll_blocks` never blocks and stops when its time budget is spent, so a render
loop can call it every frame. It returns one :class:`UpdateBlock` (numpy columns) per message, so
nothing on the hot path builds a Python object per reading; :meth:`Subscriber.poll` gives the same
as one :class:`Update` tuple per reading for tools that want rows. The per-source cache is
columnar too (:class:`~runtime.bus.point_cache.PointCache`). A Subscriber owns two ZeroMQ
sockets: use it from one thread only.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import repeat
from typing import NamedTuple

import numpy as np
import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.liveness import DEFAULT_PERIOD_MS, SILENCE_MISSES, fell_silent
from runtime.bus.point_cache import PointCache
from runtime.bus.ratelog import RateLimitedLog
from runtime.bus.security import ClientSecurity
from runtime.bus.sockets import DEFAULT_HWM, make_socket
from runtime.bus.wire import (
    TOPIC_ACK,
    TOPIC_CHECKPOINT,
    TOPIC_HEARTBEAT,
    TOPIC_READINGS,
    Checkpoint,
    PointLayout,
    ReadingColumns,
    SnapshotChunk,
    WireError,
    decode_ack,
    decode_batch_columns,
    decode_checkpoint,
    decode_snapshot_chunk,
    encode_snapshot_request,
    peek_batch_header,
)
from runtime.control.ack import Ack
from runtime.quality import Quality, Reason

log = logging.getLogger("twinstage.bus.subscriber")

SNAPSHOT_TIMEOUT_S = 2.0
"""A snapshot request is sent again when its first chunk, or any next chunk, has not come this
long after the request or the previous chunk (per chunk, so a large cache still arrives)."""
DEFAULT_BUDGET_NS = 2_000_000
"""2 ms: a fraction of a 16.7 ms frame."""

MAX_QUEUED_ACKS = 1000
"""Acks kept between two ``poll_acks`` calls; older ones are dropped (observers only)."""
MAX_SELECTION_ENTRIES = 1 << 17
"""Positions kept over all remembered ``match`` selections; past it the memo starts again."""


class Update(NamedTuple):
    """A reading as received: the wire's Reading plus which source sent it, in which message."""

    point: str
    value: float
    quality: int
    reason: int
    t_source_ns: int
    source: str
    seq: int
    """Sequence number of the message (or of the snapshot position) that carried it."""


BLOCK_UPDATE = "update"
"""A fresh message from the source."""
BLOCK_SNAPSHOT = "snapshot"
"""The source's part of a snapshot (on join, or after a gap)."""
BLOCK_SILENT = "silent"
"""Made here: the source fell silent, so its cached points are emitted Bad (no communication)."""
BLOCK_BACK = "back"
"""Made here: the source was heard again, so its cached points are emitted with their own
quality (the message that revealed it follows as an ``update`` block)."""


class UpdateBlock(NamedTuple):
    """The readings of one message (or one source's part of a snapshot, or a liveness change),
    as validated columns; what :meth:`Subscriber.poll_blocks` returns."""

    source: str
    columns: ReadingColumns
    """Points and their value, quality, reason and t_source_ns (numpy arrays; read-only)."""
    seq: np.ndarray
    """int64 (n,): sequence number of the message that carried each reading."""
    kind: str = BLOCK_UPDATE
    """Where it came from: BLOCK_UPDATE, BLOCK_SNAPSHOT, BLOCK_SILENT or BLOCK_BACK."""
    epoch: int = 0
    """The source's epoch (publisher run) the readings belong to."""
    t_ns: int = 0
    """Update blocks: the publisher's wall clock when it sent the message; else 0."""

    def updates(self) -> list[Update]:
        """One Update per reading."""
        c = self.columns
        return list(map(_new_update, repeat(Update), zip(
            c.layout.names, c.values.tolist(), c.quality.tolist(), c.reason.tolist(),
            c.t_source_ns.tolist(), repeat(self.source), self.seq.tolist())))


@dataclass(slots=True)
class SourceStatus:
    """What this subscriber knows of one publisher, judged by its own clock."""

    source: str
    epoch: int
    seq: int
    """Last sequence number applied (from a message or a snapshot)."""
    alive: bool
    period_ms: int
    last_heard_ns: int
    """``time.monotonic_ns()`` when a message from it was last applied here."""
    cache: PointCache = field(default_factory=PointCache)
    """Last reading of each point (matching this subscriber's glob) seen from this source."""
    gaps: int = 0

    @property
    def points(self) -> set[str]:
        """Points (matching this subscriber's glob) seen from this source."""
        return set(self.cache.names)

    def silent_for_ns(self, now_ns: int | None = None) -> int:
        """How long since this source was last heard, by this process's monotonic clock."""
        return (time.monotonic_ns() if now_ns is None else now_ns) - self.last_heard_ns


_new_update = tuple.__new__


def _flatten(blocks: list[UpdateBlock]) -> list[Update]:
    out: list[Update] = []
    for block in blocks:
        out.extend(block.updates())
    return out


class Subscriber:
    """Latest readings from the bus, with snapshot on join, gap recovery and liveness."""

    def __init__(
        self,
        endpoints: BusEndpoints,
        *,
        match: str = "*",
        context: zmq.Context | None = None,
        rcvhwm: int = DEFAULT_HWM,
        silence_misses: int = SILENCE_MISSES,
        snapshot_timeout_s: float = SNAPSHOT_TIMEOUT_S,
        acks: bool = False,
        checkpoints: bool = False,
        security: ClientSecurity | None = None,
    ) -> None:
        self.match = match
        self._matcher = None if match == "*" else re.compile(fnmatch.translate(match)).match
        self._silence_misses = silence_misses
        self._snapshot_timeout_ns = int(snapshot_timeout_s * 1e9)
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._rlog = RateLimitedLog(log)
        self._sub = make_socket(self._context, zmq.SUB, hwm=rcvhwm, security=security)
        self._sub.connect(endpoints.sub_out)
        # Subscribe to every source's readings and heartbeats: gap detection needs every message
        # of a source, so point filtering (``match``) happens here, not in ZeroMQ.
        self._sub.setsockopt(zmq.SUBSCRIBE, TOPIC_READINGS)
        self._sub.setsockopt(zmq.SUBSCRIBE, TOPIC_HEARTBEAT)
        self._acks: deque[Ack] | None = None
        if acks:
            self._acks = deque(maxlen=MAX_QUEUED_ACKS)
            self._sub.setsockopt(zmq.SUBSCRIBE, TOPIC_ACK)
        self._checkpoints: deque[Checkpoint] | None = None
        if checkpoints:
            self._checkpoints = deque(maxlen=MAX_QUEUED_ACKS)
            self._sub.setsockopt(zmq.SUBSCRIBE, TOPIC_CHECKPOINT)
        self._snap = make_socket(self._context, zmq.DEALER, security=security)
        self._snap.connect(endpoints.snapshot)
        self._sources: dict[str, SourceStatus] = {}
        self._selections: dict[PointLayout, np.ndarray | None] = {}
        self._selection_entries = 0
        self._request_id = 0
        self._pending: int | None = None
        self._pending_deadline_ns = 0
        self._chunks: list[SnapshotChunk] = []
        self.stats: dict[str, int] = {
            "messages": 0, "readings": 0, "covered": 0, "gaps": 0, "snapshots": 0,
            "rejected": 0,
        }
        self._request_snapshot()

    # -- public -----------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """True once a snapshot has been applied and no re-snapshot is pending."""
        return self._pending is None

    def poll(self, budget_ns: int = DEFAULT_BUDGET_NS) -> list[Update]:
        """Like :meth:`poll_blocks`, as one :class:`Update` per reading, in arrival order."""
        return _flatten(self.poll_blocks(budget_ns))

    def poll_blocks(self, budget_ns: int = DEFAULT_BUDGET_NS) -> list[UpdateBlock]:
        """Drain what has arrived, within ``budget_ns``; never blocks.

        Returns blocks in arrival order: snapshot values, fresh readings, and synthetic ones
        when a source falls silent (Bad, no communication) or is heard again (own quality).
        Readings not matching ``match`` are left out.
        """
        now = time.monotonic_ns()
        deadline = now + budget_ns
        out: list[UpdateBlock] = []
        if self._pending is not None:
            self._read_snapshot(out, deadline)
        if self._pending is None:
            recv = self._sub.recv_multipart
            while True:
                try:
                    frames = recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._on_frames(frames, out)
                if self._pending is not None or time.monotonic_ns() >= deadline:
                    break
        self._check_silence(time.monotonic_ns(), out)
        return out

    def poll_acks(self) -> list[Ack]:
        """Command acks the bus republished since the last call (with ``acks=True``; the
        newest MAX_QUEUED_ACKS are kept between calls)."""
        if not self._acks:
            return []
        out = list(self._acks)
        self._acks.clear()
        return out

    def poll_checkpoints(self) -> list[Checkpoint]:
        """Audit-chain heads the adapters published since the last call (``checkpoints=True``):
        the recorder keeps them, so ``audit verify --recording`` can check a log against them."""
        if not self._checkpoints:
            return []
        out = list(self._checkpoints)
        self._checkpoints.clear()
        return out

    @property
    def backlogged(self) -> bool:
        """Messages are waiting in the readings socket (the last drain ran out of budget)."""
        return bool(self._sub.getsockopt(zmq.EVENTS) & zmq.POLLIN)

    @property
    def readings_socket(self) -> zmq.Socket:
        """The SUB socket, for a connection monitor (the viewer's bus-lost banner)."""
        return self._sub

    @property
    def snapshot_socket(self) -> zmq.Socket:
        """The snapshot DEALER, for a :class:`~runtime.bus.handshake.HandshakeWatch`."""
        return self._snap

    def liveness(self) -> dict[str, SourceStatus]:
        """Per-source status (the live objects: read them, do not change them)."""
        return self._sources

    def last_values(self) -> dict[str, Update]:
        """The latest update per point as received (with its own quality, not the silence
        marking); see :meth:`liveness` for whether its source is alive. Built on each call."""
        out: dict[str, Update] = {}
        for tr in self._sources.values():
            block = UpdateBlock(tr.source, tr.cache.columns(), tr.cache.seqs())
            out.update((u.point, u) for u in block.updates())
        return out

    def close(self) -> None:
        """Close both sockets (LINGER 0). An own context is destroyed, which also closes any
        socket monitor a watcher left open on it (one left open would hang ``term``)."""
        self._sub.close(linger=0)
        self._snap.close(linger=0)
        if self._own_context:
            self._context.destroy(linger=0)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- snapshot ---------------------------------------------------------------------------

    def _request_snapshot(self) -> None:
        self._request_id += 1
        self._pending = self._request_id
        self._pending_deadline_ns = time.monotonic_ns() + self._snapshot_timeout_ns
        self._chunks = []
        self.stats["snapshots"] += 1
        try:
            self._snap.send(encode_snapshot_request(self._request_id, self.match), zmq.NOBLOCK)
        except zmq.Again:
            pass  # not connected yet and the queue is full: the timeout asks again

    def _read_snapshot(self, out: list[UpdateBlock], deadline: int) -> None:
        while time.monotonic_ns() < deadline:
            try:
                frames = self._snap.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(frames) != 1:
                self._reject("snapshot", f"expected 1 frame, got {len(frames)}")
                continue
            try:
                chunk = decode_snapshot_chunk(frames[0])
            except WireError as exc:
                self._reject("snapshot", exc.reason)
                self._request_snapshot()
                return
            if chunk.request_id != self._pending:
                continue  # an answer to an earlier request we gave up on
            if chunk.index != len(self._chunks):
                self._rlog(logging.INFO, "snapshot", "snapshot chunk lost; asking again")
                self._request_snapshot()
                return
            self._chunks.append(chunk)
            self._pending_deadline_ns = time.monotonic_ns() + self._snapshot_timeout_ns
            if chunk.last:
                self._apply_snapshot(out)
                return
        if self._pending is not None and time.monotonic_ns() > self._pending_deadline_ns:
            self._rlog(logging.INFO, "snapshot-timeout", "no snapshot from the bus within "
                       "%.1f s; asking again", self._snapshot_timeout_ns / 1e9)
            self._request_snapshot()

    def _apply_snapshot(self, out: list[UpdateBlock]) -> None:
        now = time.monotonic_ns()
        for chunk in self._chunks:
            for entry in chunk.sources:
                tr = self._sources.get(entry.source)
                if tr is None or tr.epoch != entry.epoch:
                    tr = self._sources[entry.source] = SourceStatus(
                        entry.source, entry.epoch, entry.seq, entry.alive, entry.period_ms, now)
                tr.seq = entry.seq
                tr.period_ms = entry.period_ms
                tr.alive = entry.alive
                if entry.alive:
                    tr.last_heard_ns = now
                self._emit(tr, entry.readings, entry.seq, out, BLOCK_SNAPSHOT)
        self._pending = None
        self._chunks = []

    # -- updates ----------------------------------------------------------------------------

    def _on_frames(self, frames: list[bytes], out: list[UpdateBlock]) -> None:
        if self._acks is not None and frames and frames[0][:2] == TOPIC_ACK:
            self._on_ack(frames)
            return
        if self._checkpoints is not None and frames and frames[0][:2] == TOPIC_CHECKPOINT:
            try:
                self._checkpoints.append(decode_checkpoint(frames))
            except WireError as exc:
                self._reject("checkpoint", exc.reason)
            return
        head = peek_batch_header(frames)
        if head is not None:  # covered by the last snapshot: drop it before decoding its body
            known = self._sources.get(head[0])
            if known is not None and known.epoch == head[1] and head[2] <= known.seq:
                self.stats["covered"] += 1
                return
        try:
            batch, cols = decode_batch_columns(frames)
        except WireError as exc:
            self._reject("readings", exc.reason)
            return
        tr = self._sources.get(batch.source)
        if tr is None or tr.epoch != batch.epoch:
            if batch.seq != 1:
                self._gap(batch.source, "a source or epoch the last snapshot did not cover")
                return
            if tr is None:
                tr = self._sources[batch.source] = SourceStatus(
                    batch.source, batch.epoch, 0, True, DEFAULT_PERIOD_MS, 0)
            else:
                log.info("source %s restarted (new epoch)", batch.source)
                tr.epoch, tr.seq = batch.epoch, 0
        elif batch.seq <= tr.seq:
            self.stats["covered"] += 1
            return
        elif batch.seq != tr.seq + 1:
            tr.gaps += 1
            self._gap(batch.source, f"{batch.seq - tr.seq - 1} message(s) lost")
            return
        tr.seq = batch.seq
        tr.last_heard_ns = time.monotonic_ns()
        self.stats["messages"] += 1
        if not tr.alive:
            tr.alive = True
            log.info("source %s heard again", batch.source)
            if len(tr.cache):
                # Values from before the silence are not fresh (a SIGSTOPped adapter resumes
                # with what it read before): Uncertain, last usable, until each point's next
                # reading brings its own quality.
                cols = tr.cache.columns()
                good = cols.quality == int(Quality.GOOD)
                cols.quality[good] = int(Quality.UNCERTAIN)
                cols.reason[good] = int(Reason.LAST_USABLE)
                out.append(UpdateBlock(tr.source, cols, tr.cache.seqs(), BLOCK_BACK, tr.epoch))
        if cols is None:
            tr.period_ms = batch.period_ms
            return
        self.stats["readings"] += len(cols)
        self._emit(tr, cols, batch.seq, out, BLOCK_UPDATE, batch.t_ns)

    def _on_ack(self, frames: list[bytes]) -> None:
        assert self._acks is not None
        if len(frames) != 2:
            self._reject("ack", f"expected 2 frames, got {len(frames)}")
            return
        try:
            self._acks.append(decode_ack(frames[1]))
        except WireError as exc:
            self._reject("ack", exc.reason)

    def _emit(self, tr: SourceStatus, cols: ReadingColumns, seq: int,
              out: list[UpdateBlock], kind: str, t_ns: int = 0) -> None:
        """Validated columns -> the matching readings, cached and appended to out."""
        if self._matcher is not None:
            layout = cols.layout
            selection = self._selections.get(layout, False)
            if selection is False:
                selection = self._select(layout)
            if selection is not None:
                cols = cols.take(selection)
        if not len(cols):
            return
        tr.cache.apply(cols, seq)
        out.append(UpdateBlock(tr.source, cols, np.full(len(cols), seq, np.int64), kind,
                               tr.epoch, t_ns))

    def _select(self, layout: PointLayout) -> np.ndarray | None:
        """Positions of ``layout`` matching this subscriber's glob (None: all of them)."""
        if layout.parts:  # a coalesced message: per part, joined (the combination is not kept)
            sels = [self._selections.get(p, False) for p in layout.parts]
            sels = [self._select(p) if q is False else q
                    for p, q in zip(layout.parts, sels, strict=True)]
            if all(q is None for q in sels):
                return None
            offsets = layout.offsets  # type: ignore[attr-defined]
            return np.concatenate([
                np.arange(offsets[i], offsets[i + 1]) if q is None else q + offsets[i]
                for i, q in enumerate(sels)])
        matcher = self._matcher
        assert matcher is not None
        keep = [i for i, p in enumerate(layout.names) if matcher(p) is not None]
        selection = None if len(keep) == len(layout) else np.array(keep, dtype=np.intp)
        if self._selection_entries + len(layout) > MAX_SELECTION_ENTRIES:
            self._selections.clear()
            self._selection_entries = 0
        self._selections[layout] = selection
        self._selection_entries += len(layout)
        return selection

    def _gap(self, source: str, why: str) -> None:
        self.stats["gaps"] += 1
        self._rlog(logging.INFO, "gap", "source %s: %s; asking the bus for a new snapshot",
                   source, why)
        self._request_snapshot()

    def _reject(self, where: str, reason: str) -> None:
        self.stats["rejected"] += 1
        self._rlog(logging.WARNING, where, "dropped a bad %s message: %s", where, reason)

    def _check_silence(self, now: int, out: list[UpdateBlock]) -> None:
        bad_q, bad_r = int(Quality.BAD), int(Reason.NO_COMMUNICATION)
        for tr in self._sources.values():
            if tr.alive and fell_silent(tr.last_heard_ns, tr.period_ms, now, self._silence_misses):
                tr.alive = False
                log.warning("source %s silent for %d ms: its %d points are Bad",
                            tr.source, (now - tr.last_heard_ns) // 1_000_000, len(tr.cache))
                if len(tr.cache):
                    cols = tr.cache.columns()
                    cols.quality[:] = bad_q
                    cols.reason[:] = bad_r
                    out.append(UpdateBlock(tr.source, cols, tr.cache.seqs(), BLOCK_SILENT,
                                           tr.epoch))
