"""The sending end of the readings bus: one message per poll batch, plus heartbeats.

Each publisher process picks a random epoch at start and numbers its messages 1, 2, 3, ... so
that subscribers can tell a restart (new epoch) from lost messages (a gap in seq) (R8).

Heartbeats: call :meth:`Publisher.tick` often (every loop iteration, or run
:meth:`Publisher.run_heartbeats` as an asyncio task); it sends a heartbeat whenever one period
has passed since the last. :meth:`Publisher.publish` calls ``tick`` too, so a publisher that
publishes often needs nothing else. Heartbeats go out on the owner's own thread: if that thread
or event loop stalls, heartbeats stop and the bus marks the points Bad, which is the point (R10).

A Publisher owns one ZeroMQ socket: use it from one thread only.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.security import ClientSecurity
from runtime.bus.sockets import make_socket
from runtime.bus.wire import (
    KIND_HEARTBEAT,
    MAX_READINGS,
    Batch,
    NonFiniteError,
    PointLayout,
    Reading,
    ReadingColumns,
    columns,
    encode_batch,
    encode_readings,
    layout_of,
    readings_body,
    split_names,
)
from runtime.quality import Quality, Reason

ZERO_COPY_BYTES = 64 << 10
"""Payloads at least this big are handed to ZeroMQ without a copy."""
DEFAULT_HEARTBEAT_PERIOD_MS = 500
"""Heartbeat period: with 3 misses allowed a silent source is Bad after 1.5 s (R10: < 3 s)."""


class Publisher:
    """Publishes poll batches and heartbeats for one source onto the bus's ``pub_in``."""

    def __init__(
        self,
        endpoints: BusEndpoints,
        source: str,
        *,
        context: zmq.Context | None = None,
        points: Iterable[str] = (),
        heartbeat_period_ms: int = DEFAULT_HEARTBEAT_PERIOD_MS,
        hwm: int = 10_000,
        security: ClientSecurity | None = None,
    ) -> None:
        self.source = source
        self.epoch = random.SystemRandom().randrange(1, 1 << 63)
        """Random per process start; subscribers reset their expectations when it changes."""
        self.seq = 0
        """Sequence number of the last message sent (of either kind)."""
        self.points = list(points)
        """Points this source owns, announced in every heartbeat when they fit one (at most
        MAX_POINTS names in REGISTER_CHUNK_BYTES); a larger source's heartbeats announce none
        (its adapter registration, sent in chunks, is what claims them)."""
        self._announced: tuple[int, int, list[str]] = (0, -1, [])
        self.heartbeat_period_ms = heartbeat_period_ms
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._socket = make_socket(self._context, zmq.PUB, hwm=hwm, security=security)
        self._socket.connect(endpoints.pub_in)
        self._next_heartbeat_ns = 0
        # Fail now, not at the first publish, if the source id is not valid on the wire.
        encode_batch(Batch(source, self.epoch, 1, 0, KIND_HEARTBEAT, [], heartbeat_period_ms,
                           self._heartbeat_points()))

    def publish(self, readings: list[Reading]) -> None:
        """Send one poll batch as one message (never one message per reading).

        Non-finite values are sent as 0.0 with quality Bad (not finite), since the wire carries
        finite numbers only. Batches over MAX_READINGS are split. PUB never blocks: at the
        high-water mark ZeroMQ drops, and subscribers see the gap and re-snapshot.
        """
        if not all(map(math.isfinite, map(itemgetter(1), readings))):
            readings = [_sanitize(r) for r in readings]
        for start in range(0, max(len(readings), 1), MAX_READINGS):
            self._send_body(ReadingColumns.from_readings(readings[start:start + MAX_READINGS]))
        self.tick()

    @staticmethod
    def layout(points: Sequence[str]) -> PointLayout:
        """The validated layout of a fixed list of points, for :meth:`publish_columns`."""
        return layout_of(list(points))

    def publish_columns(self, layout: PointLayout, values: Any, quality: Any, reason: Any,
                        t_source_ns: Any) -> None:
        """Send one poll batch given as columns (lists or arrays) in ``layout``'s point order.

        The cheap path for a publisher that keeps its state as columns (the Modbus poller):
        no tuple per reading, one C-level check per column. Same rules as :meth:`publish`.
        """
        try:
            if type(values) is list and type(quality) is list and type(reason) is list \
                    and type(t_source_ns) is list:
                body: ReadingColumns | list = readings_body(layout, values, quality, reason,
                                                            t_source_ns)
            else:
                body = columns(layout, values, quality, reason, t_source_ns)
        except NonFiniteError:
            body = _sanitize_columns(layout, values, quality, reason, t_source_ns)
        self._send_body(body)
        self.tick()

    def heartbeat(self, points: list[str] | None = None, period_ms: int | None = None) -> None:
        """Send a heartbeat now; ``points``/``period_ms`` replace the announced ones if given."""
        if points is not None:
            self.points = list(points)
        if period_ms is not None:
            self.heartbeat_period_ms = period_ms
        self._send(KIND_HEARTBEAT, [])
        self._next_heartbeat_ns = time.monotonic_ns() + self.heartbeat_period_ms * 1_000_000

    def publish_checkpoint(self, log_seq: int, head: str) -> None:
        """Publish the head of this source's audit chain (topic ``c.<source>``; no seq: it is
        not part of the readings stream). Raises WireError for a malformed head."""
        from runtime.bus.wire import Checkpoint, encode_checkpoint

        frames = encode_checkpoint(Checkpoint(self.source, time.time_ns(), log_seq, head))
        self._socket.send_multipart(frames)

    def tick(self, now_ns: int | None = None) -> bool:
        """Send a heartbeat if one is due (monotonic clock); True when one was sent."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        if now < self._next_heartbeat_ns:
            return False
        self.heartbeat()
        return True

    async def run_heartbeats(self) -> None:
        """Asyncio task: heartbeat every period until cancelled (polls 4x per period)."""
        while True:
            self.tick()
            await asyncio.sleep(self.heartbeat_period_ms / 4000)

    def close(self) -> None:
        """Close the socket (LINGER 0: unsent messages are dropped, nothing hangs)."""
        self._socket.close(linger=0)
        if self._own_context:
            self._context.term()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send_body(self, body: ReadingColumns | list) -> None:
        """One readings message (a layout holds at most MAX_READINGS points)."""
        self.seq += 1
        frames = encode_readings(self.source, self.epoch, self.seq, time.time_ns(), body)
        # Copying a poll batch (a few KiB) is cheaper than a zero-copy frame object.
        self._socket.send_multipart(frames, copy=len(frames[1]) < ZERO_COPY_BYTES)

    def _heartbeat_points(self) -> list[str]:
        points = self.points
        key_id, key_len, announced = self._announced
        if key_id != id(points) or key_len != len(points):
            announced = points if len(split_names(points)) == 1 else []
            self._announced = (id(points), len(points), announced)
        return announced

    def _send(self, kind: str, readings: list[Reading]) -> None:
        self.seq += 1
        batch = Batch(self.source, self.epoch, self.seq, time.time_ns(), kind, readings,
                      self.heartbeat_period_ms,
                      self._heartbeat_points() if kind == KIND_HEARTBEAT else [])
        self._socket.send_multipart(encode_batch(batch), copy=False)


def _sanitize(reading: Reading) -> Reading:
    point, value, quality, reason, t_source_ns = reading
    if isinstance(value, int | float) and math.isfinite(value):
        return Reading(point, value, quality, reason, t_source_ns)
    return Reading(point, 0.0, int(Quality.BAD), int(Reason.NOT_FINITE), t_source_ns)


def _sanitize_columns(layout: PointLayout, values: Any, quality: Any, reason: Any,
                      t_source_ns: Any) -> ReadingColumns:
    """Columns whose only fault is NaN/Inf values (``columns`` has checked every type and
    length already), with those values sent as 0.0, Bad (not finite)."""
    v = np.array(values, dtype=np.float64)
    q = np.array(quality, dtype=np.int64)
    r = np.array(reason, dtype=np.int64)
    bad = ~np.isfinite(v)
    v[bad] = 0.0
    q[bad] = int(Quality.BAD)
    r[bad] = int(Reason.NOT_FINITE)
    return columns(layout, v, q, r, t_source_ns)
