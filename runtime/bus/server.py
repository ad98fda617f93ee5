"""The bus process: readings proxy, last-value cache, snapshot server and command router.

One thread owns all five sockets (ZeroMQ sockets must not be shared between threads), so the
cache, the forwarding and the snapshots see messages in one order: a snapshot covers exactly the
messages forwarded before it, which is what makes the clone pattern's "drop what the snapshot
covers" exact (zguide: clonesrv, lvcache).

Every message is decoded and validated before it is cached or forwarded (R11): a publisher that
sends garbage gets its message dropped with a (rate-limited) log line, and the bus carries on.
The bus tracks each source's liveness from its own monotonic clock: a source that sends nothing
for ``silence_misses`` heartbeat periods is marked not alive and its cached points are served as
Bad (no communication) until it is heard again (R10).

Commands arrive on the ``commands`` ROUTER, go to the adapter that registered the point on the
``adapters`` ROUTER, and the adapter's ack comes back to the client by command id. The bus answers
``failed`` itself (code ``no_owner``, ``bus_busy`` or ``adapter_unreachable``) when no adapter owns
the point or the owner cannot be reached. Commands never touch PUB (R9).
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.liveness import DEFAULT_PERIOD_MS, SILENCE_MISSES, fell_silent
from runtime.bus.point_cache import PointCache
from runtime.bus.ratelog import RateLimitedLog
from runtime.bus.sockets import DEFAULT_HWM, make_socket
from runtime.bus.wire import (
    KIND_ACK,
    KIND_REGISTER,
    MAX_READINGS,
    TOPIC_ACK,
    Reading,
    SnapshotChunk,
    SnapshotSource,
    WireError,
    decode_ack,
    decode_batch_columns,
    decode_command,
    decode_register,
    decode_snapshot_request,
    encode_ack,
    encode_snapshot_chunk,
    message_kind,
)
from runtime.control.ack import Ack
from runtime.errors import UsageError
from runtime.quality import Quality, Reason

log = logging.getLogger("twinstage.bus")

SNAPSHOT_CHUNK_READINGS = 2000
"""Readings per snapshot message: well under the message size limit even with long names."""
MAX_SOURCES = 1000
MAX_POINTS_PER_SOURCE = 100_000
MAX_ADAPTERS = 1000
MAX_PENDING_COMMANDS = 10_000
PENDING_COMMAND_TTL_S = 60.0
"""An unanswered command's route back to its client is forgotten after this long."""
REGISTRATION_TTL_S = 10.0
"""An adapter that has not re-registered for this long no longer owns its points."""
POLL_MS = 50
"""Poll timeout: bounds how late a stop request or a silence check can be."""
DRAIN_PER_ROUND = 2000
"""Messages taken from one socket before the others get a turn (fairness under flood)."""

TOPIC_ACK_BUS = TOPIC_ACK + b"bus"
_BAD_SILENT = (int(Quality.BAD), int(Reason.NO_COMMUNICATION))


class BusAddressInUseError(UsageError):
    """Another process (probably another bus) holds one of the bus's ports."""


@dataclass(slots=True)
class _Source:
    epoch: int
    seq: int = 0
    period_ms: int = DEFAULT_PERIOD_MS
    last_heard_ns: int = 0
    alive: bool = True
    values: PointCache = field(default_factory=PointCache)
    """Last value per point, as columns."""
    owned: list[str] = field(default_factory=list)
    gaps: int = 0


@dataclass(slots=True)
class _Adapter:
    identity: bytes
    last_register_ns: int
    points: set[str]


@dataclass(slots=True)
class _Pending:
    client: bytes
    adapter_id: str
    point: str
    deadline_ns: int


class BusServer:
    """The bus. Construct (binds, raising BusAddressInUseError), then ``run()`` until ``stop()``.

    ``run`` may be called on another thread (tests, benches): the sockets are created here and
    used only by ``run``'s thread afterwards. ``stop`` is the only method safe to call from any
    thread or a signal handler. ``endpoints`` holds the real addresses (port 0 picks free ones).
    """

    def __init__(
        self,
        endpoints: BusEndpoints,
        *,
        context: zmq.Context | None = None,
        sub_hwm: int = DEFAULT_HWM,
        silence_misses: int = SILENCE_MISSES,
    ) -> None:
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._silence_misses = silence_misses
        self._stop = threading.Event()
        self._closed = False
        self._rlog = RateLimitedLog(log)
        self.stats: dict[str, int] = {
            "messages": 0, "readings": 0, "rejected": 0, "snapshots": 0, "commands": 0,
            "acks": 0, "gaps": 0,
        }
        self._sources: dict[str, _Source] = {}
        self._adapters: dict[str, _Adapter] = {}
        self._owners: dict[str, str] = {}
        self._pending: dict[str, _Pending] = {}
        ctx = self._context
        self._xsub = make_socket(ctx, zmq.XSUB, hwm=100_000)
        self._xpub = make_socket(ctx, zmq.XPUB, hwm=sub_hwm)
        self._snap = make_socket(ctx, zmq.ROUTER, control=True)
        self._snap.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._cmds = make_socket(ctx, zmq.ROUTER, control=True)
        self._cmds.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._adapt = make_socket(ctx, zmq.ROUTER)
        self._adapt.setsockopt(zmq.ROUTER_MANDATORY, 1)
        socks = [self._xsub, self._xpub, self._snap, self._cmds, self._adapt]
        bound = []
        try:
            for sock, (name, addr) in zip(socks, endpoints.items(), strict=True):
                try:
                    sock.bind(addr)
                except zmq.ZMQError as exc:
                    if exc.errno == zmq.EADDRINUSE:
                        raise BusAddressInUseError(
                            f"{addr} ({name}) is already in use; is another bus running? "
                            "stop it or choose another --bind base port"
                        ) from None
                    raise UsageError(f"cannot bind {addr} ({name}): {exc.strerror}") from None
                bound.append(sock.getsockopt_string(zmq.LAST_ENDPOINT))
        except BaseException:
            self.close()
            raise
        self.endpoints = BusEndpoints(*bound)
        """The addresses actually bound (differs from the argument when ports were 0)."""
        # Our cache needs every message, whatever the downstream subscribers ask for.
        self._xsub.send(b"\x01")

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until :meth:`stop`; closes the sockets on the way out."""
        poller = zmq.Poller()
        for sock in (self._xsub, self._xpub, self._snap, self._cmds, self._adapt):
            poller.register(sock, zmq.POLLIN)
        handlers = {
            self._xsub: self._drain_readings,
            self._xpub: self._drain_subscriptions,
            self._snap: self._drain_snapshot_requests,
            self._cmds: self._drain_commands,
            self._adapt: self._drain_adapters,
        }
        next_housekeeping = 0
        log.info("bus up: %s", ", ".join(f"{n} {a}" for n, a in self.endpoints.items()))
        try:
            while not self._stop.is_set():
                for sock, _ in poller.poll(POLL_MS):
                    handlers[sock]()
                now = time.monotonic_ns()
                if now >= next_housekeeping:
                    self._housekeeping(now)
                    next_housekeeping = now + POLL_MS * 1_000_000
        finally:
            self.close()
            log.info("bus stopped")

    def stop(self) -> None:
        """Ask :meth:`run` to return within POLL_MS; safe from any thread or signal handler."""
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread (tests, benches); stop with ``stop()`` then ``join()``."""
        thread = threading.Thread(target=self.run, name="twinstage-bus", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Close the sockets (LINGER 0). Called by ``run``; call it yourself if never run."""
        if self._closed:
            return
        self._closed = True
        for sock in (self._xsub, self._xpub, self._snap, self._cmds, self._adapt):
            sock.close(linger=0)
        if self._own_context:
            self._context.term()

    # -- queries (for tests and the bus's own log; call from the run thread or after stop) ---

    def source_alive(self, source: str) -> bool | None:
        """Whether the bus currently considers ``source`` alive (None if never heard)."""
        src = self._sources.get(source)
        return None if src is None else src.alive

    def owner(self, point: str) -> str | None:
        """The adapter id that commands for ``point`` are routed to, if any."""
        return self._owners.get(point)

    def cached(self, point: str) -> Reading | None:
        """The last value of ``point`` as a snapshot serves it (Bad if its source is silent)."""
        for src in self._sources.values():
            reading = src.values.get(point)
            if reading is not None:
                return reading if src.alive else reading._replace(
                    quality=_BAD_SILENT[0], reason=_BAD_SILENT[1])
        return None

    # -- readings ---------------------------------------------------------------------------

    def _reject(self, where: str, reason: str) -> None:
        self.stats["rejected"] += 1
        self._rlog(logging.WARNING, where, "dropped a bad %s message: %s", where, reason)

    def _drain_readings(self) -> None:
        recv = self._xsub.recv_multipart
        for _ in range(DRAIN_PER_ROUND):
            try:
                frames = recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._on_batch(frames)

    def _on_batch(self, frames: list[bytes]) -> None:
        try:
            batch, cols = decode_batch_columns(frames)
        except WireError as exc:
            self._reject("readings", exc.reason)
            return
        now = time.monotonic_ns()
        src = self._sources.get(batch.source)
        if src is None:
            if len(self._sources) >= MAX_SOURCES and not self._evict_a_silent_source():
                self._reject("readings", f"too many sources; ignoring new source {batch.source}")
                return
            src = self._sources[batch.source] = _Source(batch.epoch)
            log.info("source %s appeared (epoch %d, seq %d)", batch.source, batch.epoch, batch.seq)
        elif src.epoch != batch.epoch:
            log.info("source %s restarted (epoch %d -> %d)", batch.source, src.epoch, batch.epoch)
            src.epoch = batch.epoch
        elif batch.seq <= src.seq:
            self._reject("readings", f"{batch.source} seq {batch.seq} repeats or goes back "
                                     f"(last {src.seq})")
            return
        elif batch.seq != src.seq + 1:
            src.gaps += 1
            self.stats["gaps"] += 1
            self._rlog(logging.INFO, "gap:" + batch.source, "source %s: %d message(s) lost "
                       "before reaching the bus", batch.source, batch.seq - src.seq - 1)
        src.seq = batch.seq
        src.last_heard_ns = now
        if not src.alive:
            src.alive = True
            log.info("source %s heard again: its %d points are served with their own quality",
                     batch.source, len(src.values))
        if cols is not None:
            values = src.values
            # Validated columns: a few numpy assignments into the source's columns.
            values.apply(cols)
            if len(values) > MAX_POINTS_PER_SOURCE:
                values.drop_oldest(len(values) - MAX_POINTS_PER_SOURCE)
                self._rlog(logging.WARNING, "points:" + batch.source, "source %s publishes "
                           "over %d points; oldest dropped from the cache", batch.source,
                           MAX_POINTS_PER_SOURCE)
            self.stats["readings"] += len(cols)
        else:
            src.period_ms = batch.period_ms
            src.owned = batch.points
        self.stats["messages"] += 1
        try:
            self._xpub.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:  # XPUB drops at HWM rather than raise; be safe either way
            pass

    def _evict_a_silent_source(self) -> bool:
        for name, src in self._sources.items():
            if not src.alive:
                del self._sources[name]
                return True
        return False

    def _drain_subscriptions(self) -> None:
        # Subscribers' (un)subscribe messages: the bus takes everything anyway, so just read them.
        for _ in range(DRAIN_PER_ROUND):
            try:
                self._xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    # -- snapshots --------------------------------------------------------------------------

    def _drain_snapshot_requests(self) -> None:
        for _ in range(100):
            try:
                frames = self._snap.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                self._reject("snapshot", f"expected identity and 1 frame, got {len(frames) - 1}")
                continue
            identity, payload = frames
            try:
                request_id, match = decode_snapshot_request(payload)
            except WireError as exc:
                self._reject("snapshot", exc.reason)
                continue
            self._send_snapshot(identity, request_id, match)

    def snapshot_chunks(self, request_id: int, match: str = "*") -> list[SnapshotChunk]:
        """The cache as snapshot messages: every source (for its seq), matching points only."""
        matcher = None if match == "*" else re.compile(fnmatch.translate(match)).match
        chunks: list[SnapshotChunk] = []
        entries: list[SnapshotSource] = []
        count = 0
        for name, src in self._sources.items():
            cache = src.values
            if matcher is None:
                positions = np.arange(len(cache))
            else:
                positions = np.array([i for i, p in enumerate(cache.names) if matcher(p)],
                                     dtype=np.intp)
            start = 0
            while True:
                room = SNAPSHOT_CHUNK_READINGS - count
                part = cache.columns(positions[start:start + room])
                if not src.alive:
                    part.quality[:], part.reason[:] = _BAD_SILENT
                entries.append(SnapshotSource(name, src.epoch, src.seq, src.alive,
                                              src.period_ms, part))
                count += len(part)
                start += len(part)
                if count >= SNAPSHOT_CHUNK_READINGS:
                    chunks.append(SnapshotChunk(request_id, len(chunks), False, entries))
                    entries, count = [], 0
                if start >= len(positions):
                    break
        chunks.append(SnapshotChunk(request_id, len(chunks), True, entries))
        assert SNAPSHOT_CHUNK_READINGS <= MAX_READINGS
        return chunks

    def _send_snapshot(self, identity: bytes, request_id: int, match: str) -> None:
        self.stats["snapshots"] += 1
        for chunk in self.snapshot_chunks(request_id, match):
            try:
                payload = encode_snapshot_chunk(chunk)
                self._snap.send_multipart([identity, payload], zmq.NOBLOCK)
            except (zmq.Again, zmq.ZMQError, WireError) as exc:
                # The client is gone or not reading; it will time out and ask again.
                self._rlog(logging.INFO, "snapshot-send", "snapshot %d abandoned: %s",
                           request_id, exc)
                return

    # -- commands ---------------------------------------------------------------------------

    def _drain_commands(self) -> None:
        for _ in range(1000):
            try:
                frames = self._cmds.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                self._reject("command", f"expected identity and 1 frame, got {len(frames) - 1}")
                continue
            client, payload = frames
            try:
                command = decode_command(payload)
            except WireError as exc:
                self._reject("command", exc.reason)
                continue
            self.stats["commands"] += 1
            self._route_command(client, command.id, command.point, payload)

    def _route_command(self, client: bytes, cid: str, point: str, payload: bytes) -> None:
        adapter_id = self._owners.get(point)
        adapter = self._adapters.get(adapter_id) if adapter_id else None
        if adapter is None:
            self._answer(client, Ack(cid, point, "failed", f"no adapter owns {point}", None,
                                     "no_owner"))
            return
        if len(self._pending) >= MAX_PENDING_COMMANDS:
            self._answer(client, Ack(cid, point, "failed", "bus busy: too many commands pending",
                                     None, "bus_busy"))
            return
        try:
            self._adapt.send_multipart([adapter.identity, payload], zmq.NOBLOCK)
        except zmq.ZMQError:
            self._answer(client, Ack(cid, point, "failed",
                                     f"adapter {adapter_id} owning {point} is not reachable", None,
                                     "adapter_unreachable"))
            return
        deadline = time.monotonic_ns() + int(PENDING_COMMAND_TTL_S * 1e9)
        self._pending[cid] = _Pending(client, adapter_id, point, deadline)
        log.info("command %s for %s routed to adapter %s", cid, point, adapter_id)

    def _answer(self, client: bytes, ack: Ack) -> None:
        if ack.outcome == "failed":
            log.info("command %s for %s: failed: %s: %s", ack.id, ack.point, ack.code, ack.text)
        try:
            payload = encode_ack(ack)
            self._cmds.send_multipart([client, payload], zmq.NOBLOCK)
        except (zmq.ZMQError, WireError) as exc:
            self._rlog(logging.INFO, "ack-send", "ack %s not delivered: %s", ack.id, exc)
            return
        self._publish_ack(payload)

    def _publish_ack(self, payload: bytes) -> None:
        """Every ack also goes to observers (recorder, scenario runner) on the XPUB."""
        try:
            self._xpub.send_multipart([TOPIC_ACK_BUS, payload], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._rlog(logging.INFO, "ack-publish", "ack not published: %s", exc)

    def _drain_adapters(self) -> None:
        for _ in range(1000):
            try:
                frames = self._adapt.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                self._reject("adapter", f"expected identity and 1 frame, got {len(frames) - 1}")
                continue
            identity, payload = frames
            kind = message_kind(payload)
            try:
                if kind == KIND_REGISTER:
                    reg = decode_register(payload)
                    self._register(identity, reg.adapter_id, reg.points)
                elif kind == KIND_ACK:
                    self._on_ack(identity, decode_ack(payload), payload)
                else:
                    raise WireError(f"expected register or ack, got {kind!r}")
            except WireError as exc:
                self._reject("adapter", exc.reason)

    def _register(self, identity: bytes, adapter_id: str, points: list[str]) -> None:
        now = time.monotonic_ns()
        adapter = self._adapters.get(adapter_id)
        if adapter is None:
            if len(self._adapters) >= MAX_ADAPTERS:
                raise WireError(f"too many adapters; ignoring {adapter_id}")
            adapter = self._adapters[adapter_id] = _Adapter(identity, now, set())
            log.info("adapter %s registered %d points", adapter_id, len(points))
        elif adapter.identity != identity:
            log.info("adapter %s reconnected; %d points", adapter_id, len(points))
        adapter.identity = identity
        adapter.last_register_ns = now
        new = set(points)
        for gone in adapter.points - new:
            if self._owners.get(gone) == adapter_id:
                del self._owners[gone]
        conflicts = []
        for point in new:
            owner = self._owners.get(point)
            if owner is None or owner == adapter_id or owner not in self._adapters:
                self._owners[point] = adapter_id
            else:
                conflicts.append(point)
        if conflicts:
            self._rlog(logging.WARNING, "conflict:" + adapter_id, "adapter %s claims %d point(s) "
                       "owned by another adapter, e.g. %s; the first owner keeps them",
                       adapter_id, len(conflicts), conflicts[0])
        adapter.points = new - set(conflicts)

    def _on_ack(self, identity: bytes, ack: Ack, payload: bytes) -> None:
        pending = self._pending.get(ack.id)
        if pending is None:
            self._reject("ack", f"ack {ack.id} matches no pending command (late or unknown)")
            return
        adapter = self._adapters.get(pending.adapter_id)
        if adapter is None or adapter.identity != identity or ack.point != pending.point:
            self._reject("ack", f"ack {ack.id} does not come from the adapter that owns "
                                f"{pending.point}")
            return
        del self._pending[ack.id]
        self.stats["acks"] += 1
        log.info("command %s for %s: %s %s %s", ack.id, ack.point, ack.outcome, ack.code,
                 ack.text)
        try:
            self._cmds.send_multipart([pending.client, payload], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._rlog(logging.INFO, "ack-send", "ack %s not delivered: %s", ack.id, exc)
        self._publish_ack(payload)

    # -- timers -----------------------------------------------------------------------------

    def _housekeeping(self, now: int) -> None:
        for name, src in self._sources.items():
            if src.alive and fell_silent(src.last_heard_ns, src.period_ms, now,
                                          self._silence_misses):
                src.alive = False
                log.warning("source %s silent for %d ms: its %d points are Bad (no communication)",
                            name, (now - src.last_heard_ns) // 1_000_000, len(src.values))
        expired = [cid for cid, p in self._pending.items() if now > p.deadline_ns]
        for cid in expired:
            del self._pending[cid]
        ttl = int(REGISTRATION_TTL_S * 1e9)
        stale = [a for a, ad in self._adapters.items() if now - ad.last_register_ns > ttl]
        for adapter_id in stale:
            log.warning("adapter %s stopped re-registering; it no longer owns its points",
                        adapter_id)
            for point in self._adapters.pop(adapter_id).points:
                if self._owners.get(point) == adapter_id:
                    del self._owners[point]
