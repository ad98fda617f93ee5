"""The live clock's source with the bus read off the frame: an ingest thread owns the subscriber.

The viewer's frame used to decode the bus itself (``Subscriber.poll_blocks`` in the frame's
ingest phase, 20-80 ms a frame for a 10,000-asset plant). Here one thread, ``bus-ingest``, does
every ZeroMQ call of the subscriber (its SUB and snapshot DEALER sockets and the connection
monitor; ZeroMQ sockets are not thread-safe), decodes, keeps the subscriber's snapshot, gap and
silence logic, maps each message to world columns and writes it into a
:class:`~runtime.sources.handover.PointHandOver` (latest reading per point, fixed memory). Panda3D
releases the GIL while it renders, so decoding overlaps rendering.

Each frame, :meth:`ThreadedLiveBusSource.drain` only applies the readings decoded since the
previous frame, stamped with the frame's virtual now as :class:`LiveBusSource` stamps them, so
staleness (R2), silence (R10) and gap re-snapshots (R8) are judged as before: a source goes
silent by the subscriber's own monotonic clock in the thread, whatever the frame rate, and its
points arrive in the hand-over as Bad readings. When the thread cannot keep up, messages wait in
the SUB socket up to its high-water mark and ZeroMQ drops the rest; the next message reveals the
gap and the subscriber asks for a new snapshot, as it always did.

Replay (``RecordingSource``) and what-if forks do not use this; one-shot readers of the bus
(``whatif.snapshot``, the analytics service) keep the synchronous :class:`LiveBusSource`.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import zmq

from runtime.bus.link import BusLink
from runtime.bus.subscriber import BLOCK_UPDATE, Subscriber
from runtime.sources.base import PublisherState
from runtime.sources.handover import PointHandOver
from runtime.sources.world_writer import WorldWriter
from runtime.world import World

log = logging.getLogger("twinstage.sources.live_thread")

WAIT_MS = 20
"""The thread sleeps in ``zmq.poll`` at most this long when nothing arrives: the cadence of its
silence checks, snapshot time-outs and connection events when the bus is quiet."""
THREAD_BUDGET_NS = 10_000_000
"""One ``poll_blocks`` call's budget; the thread loops at once while the socket holds more."""
LAG_RING = 4096
"""Send-to-decode lags kept for the stats (the newest update messages)."""
JOIN_TIMEOUT_S = 5.0
""":meth:`ThreadedLiveBusSource.close` waits this long for the thread (it never blocks for
longer than WAIT_MS plus one budget)."""


class IngestThreadError(RuntimeError):
    """The ingest thread stopped on an exception (raised by the next ``drain``)."""


class ThreadedLiveBusSource:
    """A :class:`~runtime.sources.base.ReadingSource` for the live clock whose subscriber is read
    and decoded in its own thread; the frame applies what was decoded (see the module text).

    The subscriber passed in belongs to the thread from then on: call nothing on it, read this
    source's :attr:`stats`, :attr:`synced` and :meth:`publishers` instead (copies the thread
    publishes after each pass). :meth:`close` stops the thread, which closes the sockets.
    """

    kind = "live"
    seekable = False
    start_ns = None
    end_ns = None
    backlogged = False
    """The thread drains the socket as it fills: the frame never needs a bigger budget."""

    def __init__(self, subscriber: Subscriber, world: World, *, wait_ms: int = WAIT_MS,
                 budget_ns: int = THREAD_BUDGET_NS) -> None:
        self.subscriber = subscriber
        self.handover = PointHandOver(world)
        self.writer = WorldWriter(self.handover)  # type: ignore[arg-type]
        """Maps and writes in the thread; its counters are read by the frame (plain ints)."""
        self._wait_ms = wait_ms
        self._budget_ns = budget_ns
        self._view_lock = threading.Lock()
        self._stats: dict[str, int] = dict(subscriber.stats)
        self._synced = subscriber.synced
        self._liveness: list[tuple[str, bool, int]] = []
        self._link_up = False
        self._link_down_since_ns: int | None = time.monotonic_ns()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._lag_us = np.zeros(LAG_RING, dtype=np.int64)
        self._lags = 0
        self.passes = 0
        """Loop passes the thread has finished (tests wait on it)."""
        self._thread = threading.Thread(target=self._run, name="bus-ingest", daemon=True)
        self._thread.start()

    # -- what the frame reads -------------------------------------------------------------

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def stats(self) -> dict[str, int]:
        """The subscriber's counters as of the thread's last pass, plus ``coalesced``
        (readings a later one replaced before a frame showed them) and the p50 and max
        ``lag_ms`` from a message's send (the publisher's wall clock) to its decoding here,
        over the newest LAG_RING messages (same host, or hosts with synchronised clocks)."""
        with self._view_lock:
            out = dict(self._stats)
            lags = self._lag_us[:min(self._lags, LAG_RING)].copy()
        out["coalesced"] = self.handover.coalesced
        if len(lags):
            out["lag_ms_p50"] = int(np.median(lags)) // 1000
            out["lag_ms_max"] = int(lags.max()) // 1000
        return out

    @property
    def synced(self) -> bool:
        return self._synced

    def bus_down_s(self, now_ns: int) -> float | None:
        with self._view_lock:
            up, since = self._link_up, self._link_down_since_ns
        return None if up or since is None else max(0.0, (now_ns - since) / 1e9)

    def publishers(self, now_ns: int) -> list[PublisherState]:
        """Each source the subscriber has heard of, as of the thread's last pass."""
        with self._view_lock:
            seen = list(self._liveness)
        return [PublisherState(name, alive, 0.0 if alive else max(0.0, (now_ns - heard) / 1e9))
                for name, alive, heard in seen]

    def drain(self, world: World, until_ns: int, budget_ns: int) -> int:
        """Apply what the thread decoded since the last call, stamped ``until_ns``; returns how
        many readings that was. ``budget_ns`` is not needed: applying costs a few numpy calls
        over the changed points, however many messages brought them."""
        if self._error is not None:
            raise IngestThreadError(f"the bus ingest thread failed: {self._error!r}") \
                from self._error
        return self.handover.apply(world, until_ns)

    def reset(self, world: World, t_ns: int) -> None:
        raise ValueError("the live bus cannot seek; replay a recording to travel in time")

    def close(self) -> None:
        """Stop the thread and wait for it; it closes the subscriber's sockets on its way out."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("the bus ingest thread did not stop within %.0f s", JOIN_TIMEOUT_S)

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        sub = self.subscriber
        link: BusLink | None = None
        try:
            link = BusLink(sub.readings_socket)
            any_in = zmq.Poller()  # synced: updates or a snapshot answer
            any_in.register(sub.readings_socket, zmq.POLLIN)
            any_in.register(sub.snapshot_socket, zmq.POLLIN)
            snap_in = zmq.Poller()  # a snapshot pending: updates wait queued in the SUB socket
            snap_in.register(sub.snapshot_socket, zmq.POLLIN)
            write = self.writer.write
            while not self._stop.is_set():
                now = time.monotonic_ns()
                link.poll(now)
                for block in sub.poll_blocks(self._budget_ns):
                    write(block.columns, now, block.seq)
                    if block.kind == BLOCK_UPDATE and block.t_ns > 0:
                        self._note_lag(time.time_ns() - block.t_ns)
                if sub.synced:
                    link.heard()
                self._publish(sub, link)
                self.passes += 1
                if not sub.synced:
                    snap_in.poll(self._wait_ms)
                elif not sub.backlogged:
                    any_in.poll(self._wait_ms)
        except BaseException as exc:  # noqa: BLE001 - handed to the frame by drain()
            log.exception("the bus ingest thread stopped")
            self._error = exc
        finally:
            with self._view_lock:
                self._link_up = False
                if self._link_down_since_ns is None:
                    self._link_down_since_ns = time.monotonic_ns()
            if link is not None:
                link.close()
            sub.close()

    def _note_lag(self, lag_ns: int) -> None:
        with self._view_lock:
            self._lag_us[self._lags % LAG_RING] = lag_ns // 1000
            self._lags += 1

    def _publish(self, sub: Subscriber, link: BusLink) -> None:
        liveness = [(st.source, st.alive, st.last_heard_ns) for st in sub.liveness().values()]
        with self._view_lock:
            self._stats = dict(sub.stats)
            self._synced = sub.synced
            self._liveness = liveness
            self._link_up = link.up
            self._link_down_since_ns = link.down_since_ns
