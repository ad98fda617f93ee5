"""Events with sequence numbers: how state-holding services tell the bus what changed.

A service that owns state others depend on (the alarm service's alarm states, analytics
findings, a training run's score) publishes each change as an event on the bus's PUB side,
topic ``e.<source>``, numbered like readings: a random epoch per process start and seq 1, 2, ...
A subscriber that sees a seq jump or a new epoch it did not start from marks the batch ``gap``
and asks the service for a snapshot (a service request): the snapshot is the truth, events are
the fast path. Services journal before they publish, so nothing that must not be lost travels
only over PUB (R9, R17).

Message: ``[e.<source>, [2, "events", source, epoch, seq, t_ns, [event map, ...]]]``. The bus
checks the header, the size (1 MiB) and that the key may publish for ``source``, and forwards.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, NamedTuple

import msgpack
import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.ratelog import RateLimitedLog
from runtime.bus.security import ClientSecurity
from runtime.bus.services import unpack_with_maps
from runtime.bus.sockets import make_socket
from runtime.bus.wire import (
    MAX_MESSAGE_BYTES,
    MAX_SOURCE_LEN,
    PROTOCOL_VERSION,
    WireError,
    _name,
    _uint63,
)

log = logging.getLogger("twinstage.bus.events")

KIND_EVENTS = "events"
TOPIC_EVENTS = b"e."
MAX_EVENTS = 10_000
"""Events in one message; a publisher splits larger lists."""


class EventBatch(NamedTuple):
    """One events message as a subscriber sees it; ``gap`` when messages before it were lost
    (or the source restarted mid-stream): the subscriber should re-snapshot from the service."""

    source: str
    epoch: int
    seq: int
    t_ns: int
    events: list[dict[str, Any]]
    gap: bool = False


def encode_events(source: str, epoch: int, seq: int, t_ns: int,
                  events: list[dict[str, Any]]) -> list[bytes]:
    """Frames for one events message; WireError when a field is invalid or it is over 1 MiB."""
    _name(source, "source", MAX_SOURCE_LEN)
    _uint63(epoch, "epoch", 1)
    _uint63(seq, "seq", 1)
    _uint63(t_ns, "t_ns")
    if type(events) is not list or len(events) > MAX_EVENTS or \
            not all(type(e) is dict for e in events):
        raise WireError(f"events must be a list of at most {MAX_EVENTS} maps")
    try:
        payload = msgpack.packb([PROTOCOL_VERSION, KIND_EVENTS, source, epoch, seq, t_ns, events],
                                use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise WireError(f"cannot encode events: {exc}") from None
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError(f"events message is {len(payload)} bytes, limit {MAX_MESSAGE_BYTES}")
    return [TOPIC_EVENTS + source.encode("ascii"), payload]


def decode_events(frames: list[bytes]) -> EventBatch:
    """Parse an events message; raises WireError for anything invalid."""
    if not isinstance(frames, list | tuple) or len(frames) != 2:
        raise WireError("expected 2 frames (topic, payload)")
    topic, payload = frames
    msg = unpack_with_maps(payload, MAX_MESSAGE_BYTES)
    if type(msg) is not list or len(msg) != 7 or msg[0] != PROTOCOL_VERSION or \
            msg[1] != KIND_EVENTS:
        raise WireError("not an events message of this protocol version")
    _, _, source, epoch, seq, t_ns, events = msg
    _name(source, "source", MAX_SOURCE_LEN)
    if bytes(topic) != TOPIC_EVENTS + source.encode("ascii"):
        raise WireError("events topic does not match its source")
    if type(events) is not list or len(events) > MAX_EVENTS or \
            not all(type(e) is dict for e in events):
        raise WireError(f"events must be a list of at most {MAX_EVENTS} maps")
    return EventBatch(source, _uint63(epoch, "epoch", 1), _uint63(seq, "seq", 1),
                      _uint63(t_ns, "t_ns"), events)


class EventPublisher:
    """Publishes events for one source onto the bus's ``pub_in``. One thread only."""

    def __init__(self, endpoints: BusEndpoints, source: str, *,
                 context: zmq.Context | None = None,
                 security: ClientSecurity | None = None) -> None:
        _name(source, "source", MAX_SOURCE_LEN)
        self.source = source
        self.epoch = random.SystemRandom().randrange(1, 1 << 63)
        self.seq = 0
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._socket = make_socket(self._context, zmq.PUB, security=security)
        self._socket.connect(endpoints.pub_in)

    def publish(self, events: list[dict[str, Any]], t_ns: int | None = None) -> int:
        """Send ``events`` (split into messages of at most MAX_EVENTS and 1 MiB); the last seq.

        PUB never blocks: at the high-water mark ZeroMQ drops, subscribers see the gap and ask
        the service for a snapshot.
        """
        stamp = time.time_ns() if t_ns is None else t_ns
        for start in range(0, len(events), MAX_EVENTS):
            self._send(events[start:start + MAX_EVENTS], stamp)
        return self.seq

    def _send(self, events: list[dict[str, Any]], stamp: int) -> None:
        """One message, or halves of the list until each fits the size limit."""
        try:
            frames = encode_events(self.source, self.epoch, self.seq + 1, stamp, events)
        except WireError:
            if len(events) <= 1:
                raise  # one event over 1 MiB: the caller's bug, not the bus's
            half = len(events) // 2
            self._send(events[:half], stamp)
            self._send(events[half:], stamp)
            return
        self.seq += 1
        try:
            self._socket.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            pass

    def close(self) -> None:
        self._socket.close(linger=0)
        if self._own_context:
            self._context.term()


class _Stream:
    __slots__ = ("epoch", "seq")

    def __init__(self, epoch: int, seq: int) -> None:
        self.epoch = epoch
        self.seq = seq


class EventSubscriber:
    """Events of ``sources`` from the bus's ``sub_out``, each batch marked when a gap precedes it.

    The first batch heard from a source is always marked ``gap`` (the subscriber does not know
    what came before it): a client snapshots the service once when it joins and again on every
    gap, and applies events after. One thread only.
    """

    def __init__(self, endpoints: BusEndpoints, sources: list[str], *,
                 context: zmq.Context | None = None,
                 security: ClientSecurity | None = None) -> None:
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._rlog = RateLimitedLog(log)
        self.socket = make_socket(self._context, zmq.SUB, security=security)
        self.socket.connect(endpoints.sub_out)
        for source in sources:
            _name(source, "source", MAX_SOURCE_LEN)
            self.socket.setsockopt(zmq.SUBSCRIBE, TOPIC_EVENTS + source.encode("ascii"))
        self._sources = set(sources)
        self._streams: dict[str, _Stream] = {}
        self.stats = {"batches": 0, "gaps": 0, "rejected": 0}

    def poll(self, max_count: int = 100, timeout_ms: int = 0) -> list[EventBatch]:
        """Batches waiting now (waiting up to ``timeout_ms`` for the first one)."""
        out: list[EventBatch] = []
        if timeout_ms and not self.socket.poll(timeout_ms, zmq.POLLIN):
            return out
        for _ in range(max_count):
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            try:
                batch = decode_events(frames)
            except WireError as exc:
                self.stats["rejected"] += 1
                self._rlog(logging.WARNING, "events", "dropped a bad events message: %s",
                           exc.reason)
                continue
            if batch.source not in self._sources:
                continue  # a longer source name sharing the subscribed prefix
            stream = self._streams.get(batch.source)
            gap = stream is None or stream.epoch != batch.epoch or batch.seq != stream.seq + 1
            if stream is not None and stream.epoch == batch.epoch and batch.seq <= stream.seq:
                continue  # a repeat
            self._streams[batch.source] = _Stream(batch.epoch, batch.seq)
            self.stats["batches"] += 1
            self.stats["gaps"] += int(gap)
            out.append(batch._replace(gap=gap))
        return out

    def close(self) -> None:
        self.socket.close(linger=0)
        if self._own_context:
            self._context.term()


__all__ = ["KIND_EVENTS", "TOPIC_EVENTS", "EventBatch", "EventPublisher", "EventSubscriber",
           "decode_events", "encode_events"]
