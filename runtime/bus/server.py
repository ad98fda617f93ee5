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

Security (R12, R19, docs/security.md): with a :class:`ServerSecurity` every socket is a CURVE
server and the ZAP handler admits allow-listed keys only; every message carries its key's name.
A batch for a source the key may not publish for is dropped and counted (``forged``); so is a
registration as an adapter id it may not publish for, or one for an id another live adapter
holds (``impostors``). Commands take actor and role from the key: a viewer key, or a command
whose role field differs from the key's, is refused here, before any policy, and audited in the
bus's own audit log; the rest go to the adapter with actor and role set from the key. The
allow-list file is re-read when it changes; sockets where a revoked key was seen are re-bound,
which cuts every connection on them, and ZAP refuses the revoked key when it reconnects.
Plaintext (no security) is allowed on loopback only.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.events import TOPIC_EVENTS, decode_events
from runtime.bus.guard import BusGuard
from runtime.bus.ingress import Incoming, recv_limited
from runtime.bus.liveness import DEFAULT_PERIOD_MS, SILENCE_MISSES, fell_silent
from runtime.bus.point_cache import PointCache
from runtime.bus.ratelog import RateLimitedLog
from runtime.bus.security import ServerSecurity, check_plaintext
from runtime.bus.services import (
    KIND_OFFER,
    KIND_REPLY,
    KIND_REQUEST,
    ServiceReply,
    command_for,
    decode_offer,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
    peek_kind,
)
from runtime.bus.sockets import DEFAULT_HWM, make_socket
from runtime.bus.wire import (
    KIND_ACK,
    KIND_REGISTER,
    MAX_CONTROL_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_POINTS_PER_ADAPTER,
    MAX_READINGS,
    TOPIC_ACK,
    TOPIC_CHECKPOINT,
    Checkpoint,
    Reading,
    SnapshotChunk,
    SnapshotSource,
    WireError,
    decode_ack,
    decode_batch_columns,
    decode_checkpoint,
    decode_command,
    decode_register,
    decode_snapshot_request,
    encode_ack,
    encode_snapshot_chunk,
)
from runtime.control.ack import Ack
from runtime.errors import UsageError
from runtime.quality import Quality, Reason

if TYPE_CHECKING:
    from runtime.control.audit import AuditLog

log = logging.getLogger("twinstage.bus")

SNAPSHOT_CHUNK_READINGS = 2000
"""Readings per snapshot message: well under the message size limit even with long names."""
MAX_SOURCES = 1000
MAX_POINTS_PER_SOURCE = 100_000
MAX_CACHED_POINTS = 500_000
"""Points in the last-value cache over all sources: a batch that would add points past either
bound is dropped (after evicting silent sources), so a flood of made-up points cannot grow the
cache or the snapshot without limit (R19)."""
SILENT_EVICT_S = 300.0
"""A source silent this long is forgotten with its cached points."""
SEQ_JUMP_WINDOW = 10_000
"""Largest forward jump of seq within an epoch, and largest first seq of a new epoch for a known
source: beyond it the message is dropped (a forged huge seq cannot shut a source out)."""
REGISTRATION_LIVE_S = 2.5
"""A registration renewed this recently is live: another connection may not take its adapter id
(with keys, the same key may: a restarted adapter)."""
MAX_SUBSCRIPTION_BYTES = 4096
"""Largest message part a subscriber may send the XPUB (a subscription is 1 + topic bytes;
the CURVE handshake commands, checked against the same limit, are a few hundred bytes)."""
MAX_PARTS = 2
"""Parts in a readings message (topic, payload); other sockets take 1 (after the identity)."""
MAX_ADAPTERS = 1000
MAX_OWNED_POINTS = 1_000_000
"""Points claimed over all registrations: a chunk that would pass it is refused (R19)."""
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
_NOBLOCK = int(zmq.NOBLOCK)
_EVENTS = zmq.EVENTS
_POLLIN = int(zmq.POLLIN)
_SNDMORE_NOBLOCK = int(zmq.SNDMORE | zmq.NOBLOCK)
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
    user: str = ""
    """Key name that started the current epoch (``""`` in plaintext)."""
    resumed_seq: int = 0
    """Seq of the message that ended the source's last silence: points set before it are
    served Uncertain (last usable) until their next reading."""


@dataclass(slots=True)
class _Adapter:
    identity: bytes
    last_register_ns: int
    points: dict[str, int]
    """Owned point -> the registration chunk that claims it (0 for a whole registration)."""
    user: str = ""
    chunks: int = 1
    """Chunks in the adapter's current registration (all expire together)."""


@dataclass(slots=True)
class _Pending:
    client: bytes
    adapter_id: str
    point: str
    deadline_ns: int


@dataclass(slots=True)
class _Service:
    identity: bytes
    last_offer_ns: int
    user: str = ""


@dataclass(slots=True)
class _PendingRequest:
    client: bytes
    service: str
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
        security: ServerSecurity | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        if security is None:
            check_plaintext([a for _n, a in endpoints.items()], "bus")
        self._security = security
        self._guard: BusGuard | None = None
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._silence_misses = silence_misses
        self._stop = threading.Event()
        self._closed = False
        self._rlog = RateLimitedLog(log)
        self.stats: dict[str, int] = {
            "messages": 0, "readings": 0, "rejected": 0, "snapshots": 0, "commands": 0,
            "acks": 0, "gaps": 0, "forged": 0, "impostors": 0, "seq_jumps": 0, "oversized": 0,
            "cache_full": 0, "evicted": 0, "refused_at_router": 0, "unauthorized": 0,
            "revocations": 0, "requests": 0, "replies": 0, "events": 0,
        }
        self._sources: dict[str, _Source] = {}
        self._checkpoints: dict[str, Checkpoint] = {}
        self._cached_points = 0
        self._adapters: dict[str, _Adapter] = {}
        self._owners: dict[str, str] = {}
        self._owned_points = 0
        """Points claimed over all adapters' registrations (bounded by MAX_OWNED_POINTS)."""
        self._pending: dict[str, _Pending] = {}
        self._services: dict[str, _Service] = {}
        self._pending_requests: dict[str, _PendingRequest] = {}
        ctx = self._context
        if security is not None:
            self._guard = BusGuard(ctx, security, audit=audit, stats=self.stats)
        sec = security
        self._xsub = make_socket(ctx, zmq.XSUB, hwm=100_000, security=sec)
        self._xpub = make_socket(ctx, zmq.XPUB, hwm=sub_hwm, security=sec)
        # Subscribers send only (un)subscribe messages of a topic prefix: a byte and a few
        # characters. Anything larger from a subscriber (any viewer key) disconnects it.
        self._xpub.setsockopt(zmq.MAXMSGSIZE, MAX_SUBSCRIPTION_BYTES)
        self._snap = make_socket(ctx, zmq.ROUTER, control=True, security=sec)
        self._snap.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._cmds = make_socket(ctx, zmq.ROUTER, control=True, security=sec)
        self._cmds.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._adapt = make_socket(ctx, zmq.ROUTER, security=sec)
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
        if self._guard is not None:
            self._guard.close()
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
                if not src.alive:
                    return reading._replace(quality=_BAD_SILENT[0], reason=_BAD_SILENT[1])
                stale = src.values.seq[src.values.index[point]] < src.resumed_seq
                if stale and reading.quality == Quality.GOOD:
                    return reading._replace(quality=int(Quality.UNCERTAIN),
                                            reason=int(Reason.LAST_USABLE))
                return reading
        return None

    # -- readings ---------------------------------------------------------------------------

    def _reject(self, where: str, reason: str) -> None:
        self.stats["rejected"] += 1
        self._rlog(logging.WARNING, where, "dropped a bad %s message: %s", where, reason)

    def _recv(self, sock: zmq.Socket, name: str, max_parts: int, max_bytes: int, *,
              check_user: bool = True, peer: bool = True) -> Incoming | None:
        """One message within limits from an allow-listed key; None when dropped.

        Raises zmq.Again when nothing is waiting. ``check_user`` False for the XPUB, where
        libzmq itself makes unsubscribe messages (no sender) when a subscriber leaves.
        """
        guard = self._guard
        msg = recv_limited(sock, max_parts=max_parts, max_bytes=max_bytes,
                           identify=guard is not None, peer=peer)
        if guard is not None and msg.user:
            guard.heard(name, msg.user)
        if msg.problem:
            self.stats["oversized"] += 1
            self._reject(name, f"message with {msg.problem} from {msg.user or 'a client'}")
            if guard is not None and guard.quarantine(msg.user, msg.problem):
                self._cut({msg.user})
            return None
        if guard is not None and (check_user or msg.user) and not guard.admits(msg.user):
            # Connected before its key was revoked, and not yet cut: nothing it sends counts.
            self.stats["unauthorized"] += 1
            self._reject(name, f"key {msg.user!r} is no longer allowed")
            return None
        return msg

    def _drain_readings(self) -> None:
        xsub = self._xsub
        for i in range(DRAIN_PER_ROUND):
            if i == 1 and not xsub.get(_EVENTS) & _POLLIN:
                # One message per wakeup is the common case at a steady poll rate: asking
                # whether another is waiting costs a fraction of the zmq.Again that finding
                # out by trying would raise. A burst still drains until Again.
                return
            try:
                msg = self._recv(xsub, "pub_in", MAX_PARTS, MAX_MESSAGE_BYTES + 1024,
                                 peer=False)
            except zmq.Again:
                return
            if msg is None:
                continue
            prefix = msg.frames[0][:2]
            if prefix == TOPIC_CHECKPOINT:
                self._on_checkpoint(msg.frames, msg.user)
            elif prefix == TOPIC_EVENTS:
                self._on_events(msg.frames, msg.user)
            else:
                self._on_batch(msg.frames, msg.user)

    def _on_checkpoint(self, frames: list[bytes], user: str) -> None:
        """An adapter's audit head: kept (the last per source) and forwarded to subscribers."""
        try:
            cp = decode_checkpoint(frames)
        except WireError as exc:
            self._reject("checkpoint", exc.reason)
            return
        if self._guard is not None and not self._guard.may_publish(user, cp.source):
            self.stats["forged"] += 1
            self._rlog(logging.WARNING, "forged:" + user, "dropped a checkpoint for source %s "
                       "from key %s, which may not publish for it", cp.source, user)
            return
        if cp.source not in self._checkpoints and len(self._checkpoints) >= MAX_SOURCES:
            self._checkpoints.pop(next(iter(self._checkpoints)))
        self._checkpoints[cp.source] = cp
        try:
            self._xpub.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            pass

    def _on_events(self, frames: list[bytes], user: str) -> None:
        """A service's events: checked (header, size, publisher's key) and forwarded; not
        cached (the service answers snapshots itself)."""
        try:
            batch = decode_events(frames)
        except WireError as exc:
            self._reject("events", exc.reason)
            return
        if self._guard is not None and not self._guard.may_publish(user, batch.source):
            self.stats["forged"] += 1
            self._rlog(logging.WARNING, "forged:" + user, "dropped events for source %s from "
                       "key %s, which may not publish for it", batch.source, user)
            return
        self.stats["events"] += 1
        try:
            self._xpub.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            pass

    def checkpoint(self, source: str) -> Checkpoint | None:
        """The last audit checkpoint ``source`` published (tests, the bus's own log)."""
        return self._checkpoints.get(source)

    def _on_batch(self, frames: list[bytes], user: str = "") -> None:
        try:
            batch, cols = decode_batch_columns(frames)
        except WireError as exc:
            self._reject("readings", exc.reason)
            return
        if self._guard is not None and not self._guard.may_publish(user, batch.source):
            self.stats["forged"] += 1
            self._rlog(logging.WARNING, "forged:" + user, "dropped a %s message for source %s "
                       "from key %s, which may not publish for it", batch.kind, batch.source, user)
            return
        now = time.monotonic_ns()
        src = self._sources.get(batch.source)
        if src is None:
            if len(self._sources) >= MAX_SOURCES and not self._evict_a_silent_source():
                self._reject("readings", f"too many sources; ignoring new source {batch.source}")
                return
            src = self._sources[batch.source] = _Source(batch.epoch, user=user)
            log.info("source %s appeared (epoch %d, seq %d)", batch.source, batch.epoch, batch.seq)
        elif src.epoch != batch.epoch:
            if batch.seq > SEQ_JUMP_WINDOW:
                self.stats["seq_jumps"] += 1
                self._reject("readings", f"{batch.source}: a new epoch must start at seq 1 "
                                         f"(got {batch.seq}, window {SEQ_JUMP_WINDOW})")
                return
            if src.alive and user != src.user:
                self.stats["impostors"] += 1
                self._reject("readings", f"{batch.source} is live under key {src.user!r}; "
                                         f"key {user!r} may not start a new epoch for it")
                return
            log.info("source %s restarted (epoch %d -> %d)", batch.source, src.epoch, batch.epoch)
            src.epoch = batch.epoch
            src.user = user
        elif batch.seq <= src.seq:
            self._reject("readings", f"{batch.source} seq {batch.seq} repeats or goes back "
                                     f"(last {src.seq})")
            return
        elif batch.seq > src.seq + SEQ_JUMP_WINDOW:
            self.stats["seq_jumps"] += 1
            self._reject("readings", f"{batch.source} seq jumps from {src.seq} to {batch.seq}, "
                                     f"beyond the window of {SEQ_JUMP_WINDOW}: dropped (a "
                                     "publisher that lost that much starts a new epoch)")
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
            src.resumed_seq = batch.seq
            log.info("source %s heard again: its %d points are Uncertain until read again",
                     batch.source, len(src.values))
        if cols is not None:
            values = src.values
            if not values.knows(cols.layout) and not self._room_for(batch.source, src, cols):
                return
            # Validated columns: a few numpy assignments into the source's columns.
            before = len(values)
            values.apply(cols, batch.seq)
            self._cached_points += len(values) - before
            self.stats["readings"] += len(cols)
        else:
            src.period_ms = batch.period_ms
            src.owned = batch.points
        self.stats["messages"] += 1
        # The frames as received (already validated), in two plain sends: send_multipart's
        # per-part checks and its enum arithmetic on the flags cost more than the sends.
        xpub = self._xpub
        try:
            xpub.send(frames[0], _SNDMORE_NOBLOCK)
            xpub.send(frames[1], _NOBLOCK)
        except zmq.Again:  # XPUB drops at HWM rather than raise; be safe either way
            pass

    def _room_for(self, name: str, src: _Source, cols: object) -> bool:
        """Whether a batch with a layout new to ``src`` fits the cache bounds (evicting silent
        sources if that makes room); counts and logs a refusal."""
        new = src.values.new_points(cols.layout)  # type: ignore[attr-defined]
        if not new:
            return True
        if len(src.values) + new <= MAX_POINTS_PER_SOURCE:
            while self._cached_points + new > MAX_CACHED_POINTS:
                if not self._evict_a_silent_source():
                    break
            if self._cached_points + new <= MAX_CACHED_POINTS:
                return True
        self.stats["cache_full"] += 1
        self._rlog(logging.WARNING, "cache:" + name, "source %s: %d new point(s) dropped: the "
                   "cache holds %d points (at most %d per source, %d in all)", name, new,
                   self._cached_points, MAX_POINTS_PER_SOURCE, MAX_CACHED_POINTS)
        return False

    def _evict_a_silent_source(self) -> bool:
        for name, src in self._sources.items():
            if not src.alive:
                self._forget_source(name)
                return True
        return False

    def _forget_source(self, name: str) -> None:
        src = self._sources.pop(name)
        self._cached_points -= len(src.values)
        self.stats["evicted"] += 1
        log.warning("source %s forgotten with its %d cached points (silent)", name,
                    len(src.values))

    def _drain_subscriptions(self) -> None:
        # Subscribers' (un)subscribe messages: the bus takes everything anyway, so just read them
        # (through the limits, and noting which keys are connected here).
        for _ in range(DRAIN_PER_ROUND):
            try:
                self._recv(self._xpub, "sub_out", 1, MAX_CONTROL_BYTES, check_user=False)
            except zmq.Again:
                return

    # -- snapshots --------------------------------------------------------------------------

    def _drain_snapshot_requests(self) -> None:
        for _ in range(100):
            try:
                msg = self._recv(self._snap, "snapshot", 2, MAX_CONTROL_BYTES + 256)
            except zmq.Again:
                return
            if msg is None:
                continue
            frames = msg.frames
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
                elif src.resumed_seq:
                    stale = (cache.seqs(positions[start:start + room]) < src.resumed_seq) & \
                        (part.quality == int(Quality.GOOD))
                    part.quality[stale] = int(Quality.UNCERTAIN)
                    part.reason[stale] = int(Reason.LAST_USABLE)
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
                msg = self._recv(self._cmds, "commands", 2, MAX_CONTROL_BYTES + 256)
            except zmq.Again:
                return
            if msg is None:
                continue
            frames = msg.frames
            if len(frames) != 2:
                self._reject("command", f"expected identity and 1 frame, got {len(frames) - 1}")
                continue
            client, payload = frames
            if peek_kind(payload) == KIND_REQUEST:
                self._on_request(client, payload, msg.user, msg.peer)
                continue
            try:
                command = decode_command(payload)
            except WireError as exc:
                self._reject("command", exc.reason)
                continue
            self.stats["commands"] += 1
            if self._guard is not None:
                vouched, refusal = self._guard.vouch(command, msg.user, msg.peer)
                if vouched is None:
                    assert refusal is not None
                    self._answer(client, refusal)
                    continue
                payload = vouched
            self._route_command(client, command.id, command.point, payload)

    def _route_command(self, client: bytes, cid: str, point: str, payload: bytes) -> None:
        adapter_id = self._owners.get(point)
        if adapter_id is None and "/" in point:
            # A registration of "<prefix>/*" owns every "<prefix>/<name>" no one owns exactly
            # (the alarm service takes "alarm/*": one claim for any number of alarms).
            adapter_id = self._owners.get(point.rsplit("/", 1)[0] + "/*")
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

    def _on_request(self, client: bytes, payload: bytes, user: str, peer: str) -> None:
        """A service request: stamped with the key's role and name, routed to the service."""
        try:
            request = decode_request(payload)
        except WireError as exc:
            self._reject("request", exc.reason)
            return
        self.stats["requests"] += 1
        if self._guard is not None:
            request, refusal = self._guard.vouch_request(request, user)
            if refusal:
                self._reply(client, ServiceReply(request.id, "refused", refusal, {}))
                return
            payload = encode_request(request)
        service = self._services.get(request.service)
        if service is None:
            self._reply(client, ServiceReply(
                request.id, "unavailable", f"no service {request.service!r} is offered on this "
                f"bus: start `twinstage {command_for(request.service)}`", {}))
            return
        if len(self._pending_requests) >= MAX_PENDING_COMMANDS:
            self._reply(client, ServiceReply(request.id, "unavailable",
                                             "bus busy: too many requests pending", {}))
            return
        try:
            self._adapt.send_multipart([service.identity, payload], zmq.NOBLOCK)
        except zmq.ZMQError:
            self._reply(client, ServiceReply(request.id, "unavailable",
                                             f"service {request.service!r} is not reachable", {}))
            return
        deadline = time.monotonic_ns() + int(PENDING_COMMAND_TTL_S * 1e9)
        self._pending_requests[request.id] = _PendingRequest(client, request.service, deadline)

    def _reply(self, client: bytes, reply: ServiceReply) -> None:
        try:
            self._cmds.send_multipart([client, encode_reply(reply)], zmq.NOBLOCK)
        except (zmq.ZMQError, WireError) as exc:
            self._rlog(logging.INFO, "reply-send", "reply %s not delivered: %s", reply.id, exc)

    def _offer(self, identity: bytes, service: str, user: str) -> None:
        now = time.monotonic_ns()
        if self._guard is not None and not self._guard.may_publish(user, service):
            self.stats["impostors"] += 1
            self._rlog(logging.WARNING, "offer:" + user, "offer of service %s refused: key %s "
                       "may not publish for it", service, user)
            return
        known = self._services.get(service)
        if known is None:
            if len(self._services) >= MAX_ADAPTERS:
                raise WireError(f"too many services; ignoring {service}")
            log.info("service %s offered", service)
        elif known.identity != identity:
            live = now - known.last_offer_ns < REGISTRATION_LIVE_S * 1e9
            if live and (self._security is None or user != known.user):
                self.stats["impostors"] += 1
                self._rlog(logging.WARNING, "impostor:" + service, "offer of service %s "
                           "refused: another live connection (key %r) holds it", service,
                           known.user)
                return
            log.info("service %s reconnected", service)
        self._services[service] = _Service(identity, now, user)

    def _on_reply(self, identity: bytes, payload: bytes) -> None:
        reply = decode_reply(payload)
        pending = self._pending_requests.get(reply.id)
        if pending is None:
            self._reject("reply", f"reply {reply.id} matches no pending request")
            return
        service = self._services.get(pending.service)
        if service is None or service.identity != identity:
            self._reject("reply", f"reply {reply.id} does not come from service "
                                  f"{pending.service}")
            return
        if reply.status == "unavailable":
            raise WireError("a service may not answer 'unavailable'")
        del self._pending_requests[reply.id]
        self.stats["replies"] += 1
        try:
            self._cmds.send_multipart([pending.client, payload], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._rlog(logging.INFO, "reply-send", "reply %s not delivered: %s", reply.id, exc)

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
                msg = self._recv(self._adapt, "adapters", 2, MAX_MESSAGE_BYTES + 1024)
            except zmq.Again:
                return
            if msg is None:
                continue
            frames = msg.frames
            if len(frames) != 2:
                self._reject("adapter", f"expected identity and 1 frame, got {len(frames) - 1}")
                continue
            identity, payload = frames
            kind = peek_kind(payload)
            try:
                if kind == KIND_REPLY:
                    self._on_reply(identity, payload)
                elif kind == KIND_OFFER:
                    self._offer(identity, decode_offer(payload), msg.user)
                elif kind == KIND_REGISTER:
                    reg = decode_register(payload)
                    self._register(identity, reg.adapter_id, reg.points, msg.user, reg.chunk,
                                   reg.chunks)
                elif kind == KIND_ACK:
                    self._on_ack(identity, decode_ack(payload), payload)
                else:
                    raise WireError(f"expected register, ack, offer or reply, got {kind!r}")
            except WireError as exc:
                self._reject("adapter", exc.reason)

    def _register(self, identity: bytes, adapter_id: str, points: list[str],
                  user: str = "", chunk: int = 0, chunks: int = 1) -> None:
        """A registration, or chunk ``chunk`` of ``chunks`` of one: it replaces what that chunk
        claimed before; the adapter owns the union of its chunks (a registration with fewer
        chunks drops the ones past its count), renewed and expiring together."""
        now = time.monotonic_ns()
        if self._guard is not None and not self._guard.may_publish(user, adapter_id):
            self.stats["impostors"] += 1
            self._rlog(logging.WARNING, "register:" + user, "registration as adapter %s refused: "
                       "key %s may not publish for it", adapter_id, user)
            return
        adapter = self._adapters.get(adapter_id)
        if adapter is None:
            if len(self._adapters) >= MAX_ADAPTERS:
                raise WireError(f"too many adapters; ignoring {adapter_id}")
            adapter = self._adapters[adapter_id] = _Adapter(identity, now, {}, user, chunks)
            log.info("adapter %s registered %d points (chunk %d of %d)", adapter_id, len(points),
                     chunk + 1, chunks)
        elif adapter.identity != identity:
            live = now - adapter.last_register_ns < REGISTRATION_LIVE_S * 1e9
            if live and (self._security is None or user != adapter.user):
                self.stats["impostors"] += 1
                self._rlog(logging.WARNING, "impostor:" + adapter_id, "registration as adapter "
                           "%s refused: another live connection (key %r) holds it", adapter_id,
                           adapter.user)
                return
            log.info("adapter %s reconnected; %d points (chunk %d of %d)", adapter_id,
                     len(points), chunk + 1, chunks)
        owned = adapter.points
        new = set(points)
        if chunks != adapter.chunks:  # the registration changed shape: drop chunks past it
            self._release(adapter_id, [p for p, c in owned.items() if c >= chunks])
            adapter.chunks = chunks
        mine = [p for p, c in owned.items() if c == chunk]
        added = len(new) - sum(1 for p in mine if p in new)
        if (len(owned) + added > MAX_POINTS_PER_ADAPTER
                or self._owned_points + added > MAX_OWNED_POINTS):
            self.stats["cache_full"] += 1
            self._rlog(logging.WARNING, "owned:" + adapter_id, "registration chunk %d of "
                       "adapter %s refused: %d more points would pass %d for the adapter or %d "
                       "on the bus", chunk, adapter_id, added, MAX_POINTS_PER_ADAPTER,
                       MAX_OWNED_POINTS)
            return
        adapter.identity = identity
        adapter.user = user
        adapter.last_register_ns = now
        self._release(adapter_id, [p for p in mine if p not in new])
        conflicts = []
        owners = self._owners
        for point in new:
            owner = owners.get(point)
            if owner is None or owner == adapter_id or owner not in self._adapters:
                if owner != adapter_id:
                    if owner is not None:  # a lapsed adapter's claim: it is taken over
                        self._adapters_points_drop(owner, point)
                    owners[point] = adapter_id
                if point not in owned:
                    self._owned_points += 1
                owned[point] = chunk
            else:
                conflicts.append(point)
        if conflicts:
            self._rlog(logging.WARNING, "conflict:" + adapter_id, "adapter %s claims %d point(s) "
                       "owned by another adapter, e.g. %s; the first owner keeps them",
                       adapter_id, len(conflicts), conflicts[0])

    def _adapters_points_drop(self, adapter_id: str, point: str) -> None:
        adapter = self._adapters.get(adapter_id)
        if adapter is not None and adapter.points.pop(point, None) is not None:
            self._owned_points -= 1

    def _release(self, adapter_id: str, points: list[str]) -> None:
        """``adapter_id`` no longer claims ``points``."""
        adapter = self._adapters[adapter_id]
        for point in points:
            if adapter.points.pop(point, None) is not None:
                self._owned_points -= 1
            if self._owners.get(point) == adapter_id:
                del self._owners[point]

    def _drop_adapter(self, adapter_id: str) -> None:
        """Forget an adapter and every point it owned."""
        adapter = self._adapters.pop(adapter_id)
        self._owned_points -= len(adapter.points)
        for point in adapter.points:
            if self._owners.get(point) == adapter_id:
                del self._owners[point]

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
        ttl = ttl_ns = int(REGISTRATION_TTL_S * 1e9)
        evict = []
        for name, src in self._sources.items():
            if src.alive and fell_silent(src.last_heard_ns, src.period_ms, now,
                                          self._silence_misses):
                src.alive = False
                log.warning("source %s silent for %d ms: its %d points are Bad (no communication)",
                            name, (now - src.last_heard_ns) // 1_000_000, len(src.values))
            elif not src.alive and now - src.last_heard_ns > SILENT_EVICT_S * 1e9:
                evict.append(name)
        for name in evict:
            self._forget_source(name)
        if self._guard is not None:
            gone = self._guard.tick(now)
            if gone:
                self._cut(gone)
        expired = [cid for cid, p in self._pending.items() if now > p.deadline_ns]
        for cid in expired:
            del self._pending[cid]
        for rid in [r for r, p in self._pending_requests.items() if now > p.deadline_ns]:
            del self._pending_requests[rid]
        gone = [n for n, sv in self._services.items() if now - sv.last_offer_ns > ttl_ns]
        for name in gone:
            log.warning("service %s stopped offering itself; requests for it are refused", name)
            del self._services[name]
        stale = [a for a, ad in self._adapters.items() if now - ad.last_register_ns > ttl]
        for adapter_id in stale:
            log.warning("adapter %s stopped re-registering; it no longer owns its points",
                        adapter_id)
            self._drop_adapter(adapter_id)

    # -- keys -------------------------------------------------------------------------------

    def _cut(self, names: set[str]) -> None:
        """Re-bind every socket on which one of ``names`` was heard: libzmq closes all of that
        socket's connections; clients reconnect and ZAP judges them again."""
        self.stats["revocations"] += 1
        by_name = dict(zip(("pub_in", "sub_out", "snapshot", "commands", "adapters"),
                           (self._xsub, self._xpub, self._snap, self._cmds, self._adapt),
                           strict=True))
        addresses = dict(self.endpoints.items())
        assert self._guard is not None
        for sock_name in self._guard.sockets_with(names):
            sock, addr = by_name[sock_name], addresses[sock_name]
            sock.unbind(addr)
            deadline = time.monotonic() + 2.0
            while True:
                try:
                    sock.bind(addr)
                    break
                except zmq.ZMQError as exc:  # the old listener closes asynchronously
                    if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                        log.error("cannot re-bind %s after a revocation: %s", addr, exc)
                        break
                    time.sleep(0.005)
            log.warning("cut every connection on %s (%s): key(s) %s no longer allowed",
                        sock_name, addr, ", ".join(sorted(names)))
        for name in [n for n, sv in self._services.items() if sv.user in names]:
            del self._services[name]
        for adapter_id in [a for a, ad in self._adapters.items() if ad.user in names]:
            self._drop_adapter(adapter_id)

