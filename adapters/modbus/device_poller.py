"""One Modbus device: its own connection, poll loop, liveness, back-off, quality and writes.

Each device runs as one asyncio task, so a hung or dead device only ever waits on its own
timeouts and never stalls the others (R5). The connection is our own small Modbus TCP client
(``adapters.modbus.tcp_client``: MBAP framing and every R6 check, at a fraction of pymodbus's
per-request cost). Liveness is ours too (pymodbus's defaults take about 96 s to notice a silent
device). While connected, the task parks and the ticks run from callbacks (``_fast``): a shared
timer sends a tick's requests, and the client hands each reply to the poller from the
protocol's ``buffer_updated``, where it is checked, stored and published, with no Future, task
step or extra loop pass per request (about 15 % of the adapter's CPU per request); connecting,
reconnecting and stopping stay the task's. Here:

- every exchange has its own timeout (the device's ``timeout_ms``), one timer inside the client;
  we never wrap a request in an outer ``wait_for``, which would orphan its transaction id;
- a timeout, a lost connection or a reply the stream cannot explain (wrong transaction or unit
  id, bad MBAP header) throws the client away; the next connection is a fresh client with our
  own capped exponential back-off and jitter;
- liveness is judged by missed replies, not by wall time alone: a watchdog turns every Good
  point Bad (no communication) once a request (or a connection attempt) has waited one poll
  period without an answer and no reply has come for ``stale_periods`` periods, even while the
  request still waits for its timeout, so a silent device is Bad within two poll periods of its
  last reply (R5); a peer close marks the points Bad at once. Time in which nothing was asked
  (a scheduler stall that delayed the next poll) counts for nothing, and a reply that arrived
  during a stall is read before the watchdog runs, so a stalled adapter does not publish a
  device that answered as Bad;
- one exchange is in flight per connection (an asyncio lock around each; a write also waits
  for a callback tick's group in flight, and the tick's next group waits for the write), and
  writes take their turn between block reads. An exchange is one request, or, for a device
  whose file sets ``pipeline_depth`` above 1, up to that many block reads written in one send
  and answered by transaction id (pipelining, opt-in: many devices answer one request at a
  time). Its replies that arrived count as contact for the watchdog, and its timeout covers
  the whole group.

Every poll tick publishes exactly one batch with every point of the device: fresh values, or the
point's current Bad state with its reason. A Bad point carries its last good value (0.0 before
the first, 0.0 for a NaN/Inf read) so the number on the bus is always finite; its quality says
not to use it (R1).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from struct import error as struct_error
from typing import Any

from adapters.modbus.backoff import Backoff
from adapters.modbus.blocks import Block, plan_blocks
from adapters.modbus.decode import BlockDecoder, DecodeError
from adapters.modbus.quality_map import UNIT, policy_for
from adapters.modbus.shared_timers import SharedTimer, SharedTimers, shared_timers
from adapters.modbus.tcp_client import (
    READ_FUNCTIONS,
    ModbusTcpClient,
    ReadRequest,
    ReplyTimeoutError,
)
from adapters.modbus.validate import (
    BadReplyError,
    DeviceExceptionError,
    NoCommunicationError,
    RequestError,
)
from runtime.quality import Quality, Reason
from runtime.registers import decode_value
from runtime.scene.model import DevicePoint, DeviceSpec

log = logging.getLogger(__name__)

GOOD = int(Quality.GOOD)
BAD = int(Quality.BAD)
_NONE = int(Reason.NONE)
_NOT_FINITE = int(Reason.NOT_FINITE)
_INITIAL = int(Reason.INITIAL)
_NOT_EXCHANGED = (NoCommunicationError, ValueError, struct_error, OSError, RuntimeError)
"""What an exchange (or sending one) raises when no reply came back to check: see
DevicePoller._failed."""
_IDLE, _IN_FLIGHT, _DEFERRED = 0, 1, 2
"""Callback polling (DevicePoller._fast): between exchanges, a group's exchange in flight, a
group waiting for a write to finish."""

TICK_GRID_S = 0.020
TICK_GRID_FRACTION = 5
"""Poll ticks are aligned to a grid of TICK_GRID_S, or 1/TICK_GRID_FRACTION of the poll period
if that is shorter. Only the phase of a device's first tick (and of the tick after an overrun)
moves to the grid; the period itself is kept. The coarser the grid, the more devices share a
tick and so one bus message (adapters.modbus.coalesce): at 100 devices x 10 Hz, a 20 ms grid
gives 5 ticks a period of about 20 devices each, where a 10 ms grid gave 10 of about 10, and
each message costs the adapter and the bus about as much as ten device batches."""
MIN_MISS_S = 0.005
"""A reply is not counted missed sooner than this after its request: below a few ms a loaded
machine's scheduler, not the device, decides when a reply is read (1 ms polls)."""

ColumnSink = Callable[[list[float], list[int], list[int], list[int]], None]
"""Receives one poll batch as columns ``(values, quality, reason, t_source_ns)`` in
``DevicePoller.point_ids`` order; must not block and must not keep the lists (they change).
``t_source_ns`` is the wall-clock time the reply carrying the value arrived (Modbus has no
source time), or the time a Bad state was decided."""
SinkFor = Callable[[list[str]], ColumnSink]
"""Given a poller's point order, the sink its batches go to (the adapter's coalescer)."""


@dataclass(frozen=True, slots=True)
class PollerOptions:
    """Tuning that is the adapter's, not the device file's."""

    port_offset: int = 0
    """Added to the device port, so tests can run against a plant on other ports."""
    reconnect_initial_s: float = 0.05
    reconnect_max_s: float = 0.5
    """Capped so a returning server is polled again well within 1 s (R5)."""
    jitter: float = 0.2
    stale_periods: float = 2.0
    """A silent device's Good points turn Bad within this many poll periods of its last reply
    (R5), once a request has gone unanswered ``stale_periods - 1`` periods (at least
    :data:`MIN_MISS_S`) after it was sent: a missed reply."""
    rng: random.Random | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of a write that was allowed to reach the device."""

    outcome: str
    """``accepted`` (written, echo checked, read back) or ``error``."""
    reason: str
    readback: float | None


@dataclass(slots=True)
class PollerStats:
    """Counters for tests, logs and the bench."""

    requests: int = 0
    replies: int = 0
    timeouts: int = 0
    exceptions: int = 0
    bad_replies: int = 0
    connects: int = 0
    connect_failures: int = 0
    batches: int = 0
    exception_codes: dict[int, int] = field(default_factory=dict)


class _BlockState:
    """A planned block with its reusable request, decoder, point indexes and back-off."""

    __slots__ = ("block", "request", "decoder", "indexes", "retry_at", "backoff", "reason",
                 "span", "good", "none", "may_be_non_finite", "clean")

    def __init__(self, block: Block, word_order: str, indexes: list[int]) -> None:
        self.block = block
        self.request = ReadRequest(READ_FUNCTIONS[block.table], block.start, block.count)
        """Encoded once; only the transaction id changes from tick to tick."""
        self.decoder = BlockDecoder(block, word_order)
        self.may_be_non_finite = self.decoder.may_be_non_finite
        self.clean = False
        """Every point of the block is Good with no reason in the state columns: a good reply
        then only writes values and times."""
        self.indexes = indexes
        self.span = (indexes[0], indexes[-1] + 1)
        assert indexes == list(range(*self.span)), "block points must be contiguous in state"
        self.good = [GOOD] * len(indexes)
        self.none = [_NONE] * len(indexes)
        self.retry_at = 0.0
        self.backoff: Backoff | None = None
        self.reason = Reason.NONE

    def back_off(self, now: float, reason: Reason, initial_s: float, max_s: float,
                 rng: random.Random) -> None:
        """Skip this block until a capped, jittered delay passes; its points stay ``reason``."""
        if self.backoff is None or self.reason != reason:
            self.backoff = Backoff(initial_s, max_s, rng=rng)
        self.reason = reason
        self.retry_at = now + self.backoff.next_delay()


class DevicePoller:
    """Polls one device forever (until :meth:`stop`) and publishes one batch per tick."""

    def __init__(
        self,
        device: DeviceSpec,
        sink_for: SinkFor,
        *,
        options: PollerOptions | None = None,
    ) -> None:
        self.device = device
        self.options = options or PollerOptions()
        self._rng = self.options.rng or random.Random()
        self.period_s = device.poll_period_ms / 1000.0
        self.timeout_s = device.timeout_ms / 1000.0
        self.stale_s = self.options.stale_periods * self.period_s
        self.miss_s = max(self.stale_s - self.period_s, MIN_MISS_S)
        """A request unanswered this long is a missed reply."""
        self.port = device.port + self.options.port_offset
        self.pipeline_depth = device.pipeline_depth
        """Block reads written at once on the connection (1: one at a time)."""
        planned = plan_blocks(device.points)
        # Points are kept in block order, so each block owns one contiguous slice of the state
        # columns and a good reply is stored with four slice assignments (the order of readings
        # inside a batch carries no meaning).
        ordered = [p for b in planned for p in b.points]
        self.point_ids = [p.point for p in ordered]
        self._index = {p.point: i for i, p in enumerate(ordered)}
        n = len(device.points)
        self.values = [0.0] * n
        self.quality = [BAD] * n
        self.reason = [int(Reason.INITIAL)] * n
        self.t_source_ns = [time.time_ns()] * n
        self.blocks = [
            _BlockState(b, device.word_order, [self._index[p.point] for p in b.points])
            for b in planned
        ]
        self._all_pdus = [bs.request.pdu for bs in self.blocks]
        """The requests of every block, for a tick that reads them all in one exchange."""
        self.stats = PollerStats()
        self._client: ModbusTcpClient | None = None
        self._sink = sink_for(self.point_ids)
        self._generation = 0
        self._link_up = False
        self._io_lock = asyncio.Lock()
        self._connect_backoff = Backoff(
            self.options.reconnect_initial_s, self.options.reconnect_max_s,
            jitter=self.options.jitter, rng=self._rng,
        )
        self._next_connect_at = 0.0
        self._unit_retry_at = 0.0
        self._unit_backoff: Backoff | None = None
        self._unit_reason = Reason.NONE
        self._last_contact = -math.inf
        self._connecting_since: float | None = None
        self._watchdog: SharedTimer | None = None
        self._sleeper: asyncio.Future[None] | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: SharedTimers | None = None
        self._begin: Callable[[float], None] | None = getattr(self._sink, "begin", None)
        """A coalescer's ``begin``: it waits for this tick's batch."""
        self._quantum = self.period_s
        # Steady polling without a task step per request (see _fast): the task parks on
        # _fast_end while timer and reply callbacks run the ticks.
        self._fast_end: asyncio.Future[tuple[float, bool]] | None = None
        self._fast_state = _IDLE
        self._fast_at = 0.0
        """Scheduled loop time of the tick in progress (or the next one, while idle)."""
        self._fast_timer: SharedTimer | None = None
        self._fast_due: list[_BlockState] = []
        self._fast_k = 0
        """Index in _fast_due of the next group to send."""
        self._fast_group: list[_BlockState] = []
        self._fast_client: ModbusTcpClient | None = None
        self._fast_sent_after = 0.0
        self._poll_idle: asyncio.Future[None] | None = None
        """A write waiting for the poll exchange in flight to finish."""

    # ------------------------------------------------------------------ public

    @property
    def connected(self) -> bool:
        return self._client is not None and self._link_up

    def point_quality(self, point: str) -> tuple[int, int]:
        """``(quality, reason)`` of one of this device's points, as last published."""
        i = self._index[point]
        return self.quality[i], self.reason[i]

    def stop(self) -> None:
        """Ask :meth:`run` to return after the request in flight (bounded by the timeout)."""
        self._stopping = True
        self._wake_up()

    async def run(self) -> None:
        """Poll until stopped: connect, read due blocks, publish, sleep to the next tick."""
        self._loop = asyncio.get_running_loop()
        self._timers = shared_timers(self._loop)
        # Ticks sit on a grid shared by every poller, so devices that are due at about the same
        # time are polled in the same event-loop pass and their replies are read in one wakeup
        # (100 devices: a few hundred loop passes a second instead of thousands).
        self._quantum = quantum = min(TICK_GRID_S, self.period_s / TICK_GRID_FRACTION)
        next_tick = math.ceil(self._loop.time() / quantum) * quantum
        begin = self._begin
        try:
            while not self._stopping:
                if begin is not None:
                    begin(self.period_s)
                await self._tick(next_tick)
                self.publish()
                next_tick = self._after(next_tick)
                if self._fast_ok():
                    # Connected: the next ticks run from callbacks until something needs
                    # this task (a reconnect, a stop); woken: tick now, as a woken sleep does.
                    next_tick, woken = await self._fast(next_tick)
                    if woken:
                        continue
                now = self._loop.time()
                wake_at = next_tick
                if self._client is None:
                    wake_at = min(wake_at, max(now, self._next_connect_at))
                await self._sleep_until(wake_at)
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            self._drop_client(schedule_reconnect=False)

    def _after(self, tick_at: float) -> float:
        """The tick after the one scheduled for ``tick_at``."""
        next_tick = tick_at + self.period_s
        now = self._loop.time()  # type: ignore[union-attr]
        if next_tick < now:  # overran (slow device): poll again at the next grid point,
            next_tick = math.ceil(now / self._quantum) * self._quantum  # do not burst
        return next_tick

    def publish(self) -> None:
        """Send the current state of every point as one batch of columns."""
        self.stats.batches += 1
        try:
            self._sink(self.values, self.quality, self.reason, self.t_source_ns)
        except Exception:  # a sink failure must not kill polling; it is logged once per batch
            log.exception("%s: publishing a batch failed", self.device.id)

    async def write(self, dp: DevicePoint, registers: list[int]) -> WriteResult:
        """Write already-encoded words (or ``[0|1]`` for a coil), then read the point back.

        The write policy has decided that this write may happen; here we only carry it out and
        report honestly what the device did.
        """
        unit = self.device.unit_id
        try:
            if dp.table == "coil":
                await self._call(ModbusTcpClient.write_coil, unit, dp.address,
                                 bool(registers[0]))
            elif len(registers) == 1:
                await self._call(ModbusTcpClient.write_register, unit, dp.address, registers[0])
            else:
                await self._call(ModbusTcpClient.write_registers, unit, dp.address,
                                 list(registers))
        except NoCommunicationError as exc:
            return WriteResult("error", f"no communication with {self.device.id}: {exc}", None)
        except DeviceExceptionError as exc:
            label = policy_for(exc.code).label
            return WriteResult("error", f"device refused the write: exception {exc.code} "
                                        f"({label})", None)
        except BadReplyError as exc:
            return WriteResult("error", f"bad reply to the write: {exc}", None)
        try:
            readback = await self._read_point(dp)
        except (RequestError, DecodeError, ValueError) as exc:
            return WriteResult("error", f"written, but the read-back failed: {exc}", None)
        return WriteResult("accepted", "", readback)

    # ------------------------------------------------------------------ polling

    async def _tick(self, tick_at: float) -> None:
        """Read the due blocks of the tick scheduled for loop time ``tick_at``."""
        loop = self._loop
        assert loop is not None
        now = loop.time()
        if self._client is not None and not self._link_up:
            self._drop_client()
        if self._client is None:
            if now < self._next_connect_at or not await self._connect():
                return
            now = loop.time()
        if now < self._unit_retry_at:
            return
        due = self._due(now)
        depth = self.pipeline_depth
        for k in range(0, len(due), depth):
            group = due if depth >= len(due) else due[k:k + depth]
            try:
                # One exchange (pipelined when the group holds more than one block): the
                # reply PDU of each block, checked in _absorb.
                pdus = await self._exchange(
                    len(group), ModbusTcpClient.exchange, self.device.unit_id,
                    self._all_pdus if group is self.blocks else [bs.request.pdu
                                                                   for bs in group],
                    sent_after=min(tick_at, now))  # a reconnect may run early
            except NoCommunicationError:
                self._mark_all(Reason.NO_COMMUNICATION)
                return
            if not self._absorb_group(group, pdus):
                return

    def _due(self, now: float) -> list[_BlockState]:
        """The blocks to read at ``now``; a block still backing off is marked with its reason."""
        if not any(now < bs.retry_at for bs in self.blocks):
            return self.blocks
        due = []
        for bs in self.blocks:
            if now < bs.retry_at:
                self._mark_block(bs, bs.reason)  # e.g. after a reconnect, keep its reason
            else:
                due.append(bs)
        return due

    def _absorb_group(self, group: list[_BlockState], pdus: list[bytes]) -> bool:
        """Check and store a group's reply PDUs; False when the unit refused (tick over)."""
        t_ns = time.time_ns()
        for bs, pdu in zip(group, pdus, strict=True):
            if not self._absorb(bs, pdu, t_ns):
                return False
        return True

    # ------------------------------------------------------------------ callback polling

    def _fast_ok(self) -> bool:
        return not self._stopping and self._client is not None and self._link_up

    async def _fast(self, next_tick: float) -> tuple[float, bool]:
        """Run the ticks from ``next_tick`` on from callbacks, with no task step, Future or
        coroutine per request: a shared timer starts each tick (:meth:`_fast_tick`), the
        client calls :meth:`_fast_replied` from the protocol's ``buffer_updated`` with the
        group's replies, which are checked, stored and published there, and the next tick's
        timer is set. The steps, checks, counters and policies are the task's (:meth:`_tick`,
        :meth:`_exchange`), in the same order.

        Returns ``(next tick, woken)`` once the connection is gone (reconnecting is the
        task's), or on :meth:`stop` / a peer close between ticks (woken: tick at once, as a
        woken sleep does). Writes take their turn between exchanges (:meth:`_exchange`)."""
        loop = self._loop
        assert loop is not None and self._timers is not None
        fut: asyncio.Future[tuple[float, bool]] = loop.create_future()
        self._fast_end = fut
        self._fast_state = _IDLE
        self._fast_at = next_tick
        self._fast_timer = self._timers.call_at(next_tick, self._fast_tick)
        try:
            return await fut
        finally:
            self._fast_end = None
            if self._fast_timer is not None:
                self._fast_timer.cancel()
                self._fast_timer = None
            self._fast_state = _IDLE
            self._release_poll_idle()

    def _fast_stop(self, woken: bool, exc: BaseException | None = None) -> None:
        fut, self._fast_end = self._fast_end, None
        if self._fast_timer is not None:
            self._fast_timer.cancel()
            self._fast_timer = None
        if fut is not None and not fut.done():
            if exc is None:
                fut.set_result((self._fast_at, woken))
            else:
                fut.set_exception(exc)

    def _fast_tick(self) -> None:
        """The tick scheduled for ``_fast_at`` is due (a shared timer)."""
        self._fast_timer = None
        if self._fast_end is None:
            return
        if not self._fast_ok():  # e.g. the link went down unseen: the task's tick handles it
            self._fast_stop(woken=True)
            return
        try:
            if self._begin is not None:
                self._begin(self.period_s)
            now = self._loop.time()  # type: ignore[union-attr]
            if now < self._unit_retry_at:
                self._fast_tick_done()
                return
            self._fast_due = self._due(now)
            self._fast_k = 0
            self._fast_sent_after = min(self._fast_at, now)
            self._fast_send()
        except Exception as exc:  # as in the task: the poller stops with it
            self._fast_stop(False, exc)

    def _fast_send(self) -> None:
        """Send the tick's next group (as :meth:`_exchange` does for the task), or end the
        tick."""
        self._fast_state = _IDLE
        due, k = self._fast_due, self._fast_k
        if k >= len(due):
            self._fast_tick_done()
            return
        if self._io_lock.locked():  # a write is having its turn: it sends this group after
            self._fast_state = _DEFERRED
            return
        client = self._client
        if client is None or not self._link_up:
            self._mark_all(Reason.NO_COMMUNICATION)
            self._fast_tick_done()
            return
        depth = self.pipeline_depth
        group = due if depth >= len(due) else due[k:k + depth]
        self._fast_group = group
        self._fast_client = client
        self._started(len(group), self._fast_sent_after)
        pdus = self._all_pdus if group is self.blocks else [bs.request.pdu for bs in group]
        try:
            client.start(self.device.unit_id, pdus, self._fast_replied)
        except _NOT_EXCHANGED as exc:
            self._failed(client, exc)
            self._mark_all(Reason.NO_COMMUNICATION)
            self._fast_tick_done()
            return
        self._fast_state = _IN_FLIGHT

    def _fast_replied(self, result: list[bytes] | NoCommunicationError) -> None:
        """The client's callback for the group in flight: its reply PDUs or its failure."""
        self._fast_state = _IDLE
        self._release_poll_idle()
        if self._fast_end is None:  # the task was cancelled meanwhile
            return
        try:
            group = self._fast_group
            if isinstance(result, list):
                self.stats.replies += len(group)
                self._contact()
                if self._absorb_group(group, result):
                    self._fast_k += self.pipeline_depth
                    self._fast_send()
                    return
            else:
                client = self._fast_client
                assert client is not None
                self._failed(client, result)
                self._mark_all(Reason.NO_COMMUNICATION)
            self._fast_tick_done()
        except Exception as exc:  # as in the task: the poller stops with it
            self._fast_stop(False, exc)

    def _fast_tick_done(self) -> None:
        """Publish the tick's batch and set the next tick's timer (or hand back to the task)."""
        self._fast_client = None
        self.publish()
        self._fast_at = next_tick = self._after(self._fast_at)
        if self._fast_ok():
            self._fast_timer = self._timers.call_at(  # type: ignore[union-attr]
                next_tick, self._fast_tick)
        else:
            self._fast_stop(woken=False)

    def _release_poll_idle(self) -> None:
        fut, self._poll_idle = self._poll_idle, None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _absorb(self, bs: _BlockState, pdu: bytes, t_ns: int) -> bool:
        """Check and store one block's reply PDU (read at ``t_ns``); False when the unit itself
        refused and the rest of the tick is to be skipped."""
        try:
            values = bs.decoder.decode_bytes(bs.request.data(pdu))
        except DecodeError as exc:
            result: RequestError = BadReplyError(str(exc))
        except (DeviceExceptionError, BadReplyError) as exc:
            result = exc
        else:
            self._store(bs, values, t_ns)
            if bs.backoff is not None:
                bs.backoff = None
                bs.reason = Reason.NONE
            if self._unit_backoff is not None:
                self._unit_backoff = None
                self._unit_reason = Reason.NONE
            return True
        if isinstance(result, DeviceExceptionError):
            self.stats.exceptions += 1
            codes = self.stats.exception_codes
            codes[result.code] = codes.get(result.code, 0) + 1
            policy = policy_for(result.code)
            t = self._loop.time()  # type: ignore[union-attr]
            if policy.scope == UNIT:
                if self._unit_backoff is None or self._unit_reason != policy.reason:
                    self._unit_backoff = Backoff(policy.backoff_initial_s,
                                                 policy.backoff_max_s, rng=self._rng)
                self._unit_reason = policy.reason
                self._unit_retry_at = t + self._unit_backoff.next_delay()
                self._mark_all(policy.reason)
                return False
            bs.back_off(t, policy.reason, policy.backoff_initial_s, policy.backoff_max_s,
                        self._rng)
            self._mark_block(bs, policy.reason)
            return True
        self.stats.bad_replies += 1
        log.debug("%s: bad reply for %s@%d: %s", self.device.id, bs.block.table,
                  bs.block.start, result)
        self._mark_block(bs, Reason.BAD_REPLY)
        return True

    def _store(self, bs: _BlockState, values: list[float], t: int) -> None:
        vals, qual, reas, ts = self.values, self.quality, self.reason, self.t_source_ns
        a, b = bs.span
        bad = BlockDecoder.non_finite(values) if bs.may_be_non_finite else ()
        if not bad:  # the common case: one slice assignment per column
            vals[a:b] = values
            ts[a:b] = [t] * (b - a)
            if not bs.clean:
                qual[a:b] = bs.good
                reas[a:b] = bs.none
                bs.clean = True
            return
        bs.clean = False
        for k, (i, v) in enumerate(zip(bs.indexes, values, strict=True)):
            ts[i] = t
            if k in bad:  # the wire carries finite numbers only: 0.0, flagged Bad
                vals[i] = 0.0
                qual[i] = BAD
                reas[i] = _NOT_FINITE
                continue
            vals[i] = v
            qual[i] = GOOD
            reas[i] = _NONE

    def _mark_block(self, bs: _BlockState, reason: Reason) -> None:
        t = time.time_ns()
        bs.clean = False
        for i in bs.indexes:
            self.quality[i] = BAD
            self.reason[i] = int(reason)
            self.t_source_ns[i] = t

    def _mark_all(self, reason: Reason, only_live: bool = False) -> bool:
        """Turn points Bad; returns True when any point changed.

        ``only_live`` leaves points that are already Bad for a device-given reason alone (a
        configuration error stays one); Good points and never-read ones become ``reason``.
        """
        t = time.time_ns()
        changed = False
        for bs in self.blocks:
            bs.clean = False
        for i in range(len(self.quality)):
            if only_live and self.quality[i] != GOOD and self.reason[i] != _INITIAL:
                continue
            if self.quality[i] != BAD or self.reason[i] != reason:
                changed = True
            self.quality[i] = BAD
            self.reason[i] = int(reason)
            self.t_source_ns[i] = t
        return changed

    async def _read_point(self, dp: DevicePoint) -> float:
        function, unit = READ_FUNCTIONS[dp.table], self.device.unit_id
        if dp.table in ("coil", "discrete"):
            bits = await self._call(ModbusTcpClient.read_bits, function, unit, dp.address, 1)
            return decode_value("bool", self.device.word_order, dp.scale, dp.offset,
                                [1 if bits[0] else 0])
        words = await self._call(ModbusTcpClient.read_registers, function, unit, dp.address,
                                 dp.register_count)
        return decode_value(dp.type, self.device.word_order, dp.scale, dp.offset, list(words))

    # ------------------------------------------------------------------ I/O

    async def _call(self, op: Callable[..., Any], *args: Any) -> Any:
        """One validated exchange (``op`` a ModbusTcpClient method) on the current connection:
        a write or a single read (see :meth:`_exchange`)."""
        return await self._exchange(1, op, *args)

    async def _exchange(self, requests: int, op: Callable[..., Any], *args: Any,
                        sent_after: float | None = None) -> Any:
        """``op(client, *args)`` (a ModbusTcpClient method sending ``requests`` requests) on
        the current connection, one exchange at a time: the counters, the watchdog and the
        failure policy every request shares.

        A timeout or a broken stream drops the client (NoCommunicationError); a device
        exception or a bad reply is raised as such, and the connection stays up. The poll tick
        calls it with :meth:`ModbusTcpClient.exchange` for a group of block reads, whose reply
        PDUs come back unchecked (see :meth:`_absorb`).

        ``sent_after``: a loop time known to be no later than the send (the tick's scheduled
        time), from which the watchdog is armed: the devices of one tick then share its timer
        (:meth:`_check_stale` re-arms for the exact bound if it fires before it).
        """
        try:
            async with self._io_lock:
                while self._fast_state == _IN_FLIGHT:  # a callback poll's group: wait for it
                    self._poll_idle = idle = self._loop.create_future()  # type: ignore[union-attr]
                    await idle
                return await self._exchange_locked(requests, op, args, sent_after)
        finally:
            if (self._fast_state == _DEFERRED and self._fast_end is not None
                    and not self._io_lock.locked()):
                self._fast_send()  # the callback poll's group that waited for this one

    async def _exchange_locked(self, requests: int, op: Callable[..., Any],
                               args: tuple[Any, ...], sent_after: float | None) -> Any:
        client = self._client
        if client is None or not self._link_up:
            raise NoCommunicationError("not connected")
        if sent_after is None:
            sent_after = self._loop.time()  # type: ignore[union-attr]
        self._started(requests, sent_after)
        stats = self.stats
        try:
            result = await op(client, *args)
        except _NOT_EXCHANGED as exc:
            raise self._failed(client, exc) from None
        except DeviceExceptionError as exc:
            stats.replies += requests
            self._contact()
            stats.exceptions += 1
            stats.exception_codes[exc.code] = stats.exception_codes.get(exc.code, 0) + 1
            raise
        except BadReplyError:
            stats.replies += requests
            self._contact()
            raise
        stats.replies += requests
        self._contact()
        return result

    def _started(self, requests: int, sent_after: float) -> None:
        """Count an exchange's requests; arm the watchdog from ``sent_after`` (the tick's
        scheduled time, never later than the send) unless it is armed."""
        self.stats.requests += requests
        if self._watchdog is None:
            self._arm_watchdog(sent_after + self.miss_s)

    def _failed(self, client: ModbusTcpClient, exc: BaseException) -> NoCommunicationError:
        """Account for an exchange that ended without a usable reply (one of
        ``_NOT_EXCHANGED``; the task and the callback ticks alike) and return the
        NoCommunicationError it stands for. The connection is dropped unless the request was
        never sent (a value that does not encode)."""
        if isinstance(exc, ReplyTimeoutError):
            # A timeout leaves the stream in an unknown state (a late reply may follow), so
            # we start over on a fresh connection.
            self.stats.timeouts += 1
            self._lost(client, "no reply within the timeout")
            return NoCommunicationError(f"no reply within {self.timeout_s:g} s")
        if isinstance(exc, NoCommunicationError):
            self._lost(client, str(exc))
            return exc
        if isinstance(exc, (ValueError, struct_error)):  # e.g. a word outside 0..65535
            return NoCommunicationError(f"request not sent: {exc}")
        self._lost(client, f"{type(exc).__name__}: {exc}")  # OSError, RuntimeError
        return NoCommunicationError(f"{type(exc).__name__}: {exc}")

    def _contact(self) -> None:
        """A reply arrived: the device is alive, reset the reconnect back-off."""
        assert self._loop is not None
        self._last_contact = self._loop.time()
        self._connect_backoff.reset()

    def _awaiting_since(self) -> float | None:
        """When the request (or connection attempt) now waiting for the device was started;
        None when nothing waits for it (between polls, or a stall delayed the next one)."""
        if self._connecting_since is not None:
            return self._connecting_since
        client = self._client
        if client is None or not self._link_up:
            return None
        return client.awaiting_reply_since

    def _arm_watchdog(self, when: float) -> None:
        assert self._loop is not None
        timers = self._timers or shared_timers(self._loop)
        self._watchdog = timers.call_at(when, self._check_stale)

    def _check_stale(self) -> None:
        """Judge the device by missed replies. Disarms itself when nothing is waiting; the next
        request arms it again (one timer per poll period at most, none per request)."""
        assert self._loop is not None
        self._watchdog = None
        since = self._awaiting_since()
        if since is None:
            return
        now = self._loop.time()
        # Missed: the request has waited a poll period unanswered, and the device has been
        # silent for the whole bound. A slow device that answers every request late but within
        # the bound stays Good, as it did when only the silence was judged.
        # A pipelined group's partial replies count as contact (the device is answering).
        client = self._client
        last = self._last_contact
        if client is not None and client.last_reply_at > last:
            last = client.last_reply_at
        due = max(since + self.miss_s, last + self.stale_s)
        if now < due:
            self._arm_watchdog(due)
            return
        if self._mark_all(Reason.NO_COMMUNICATION, only_live=True):
            log.info("%s: no reply for %.0f ms (last one %.0f ms ago), points Bad",
                     self.device.id, (now - since) * 1000, (now - last) * 1000)
            self.publish()

    async def _connect(self) -> bool:
        """A fresh client per connection: no state from a broken stream survives."""
        assert self._loop is not None
        self._generation += 1
        generation = self._generation
        client = ModbusTcpClient(
            self.device.host, self.port, timeout_s=self.timeout_s,
            on_lost=lambda: self._on_link(generation, False),
        )
        self.stats.connects += 1
        self._connecting_since = self._loop.time()
        if self._watchdog is None:
            self._arm_watchdog(self._connecting_since + self.miss_s)
        try:
            await client.connect()
            ok = True
        except NoCommunicationError as exc:
            log.debug("%s: connect failed: %s", self.device.id, exc)
            ok = False
        finally:
            self._connecting_since = None
        if not ok or not client.connected:
            client.close()
            self.stats.connect_failures += 1
            self._next_connect_at = self._loop.time() + self._connect_backoff.next_delay()
            self._mark_all(Reason.NO_COMMUNICATION)
            return False
        self._client = client
        self._link_up = True
        return True

    def _on_link(self, generation: int, up: bool) -> None:
        """The client reports the peer closing; mark Bad now rather than after the timeout."""
        if generation != self._generation or up:
            return
        self._link_up = False
        if self._mark_all(Reason.NO_COMMUNICATION, only_live=True):
            self.publish()
        self._wake_up()

    def _lost(self, client: ModbusTcpClient, why: str) -> None:
        log.debug("%s: connection dropped: %s", self.device.id, why)
        if client is self._client:
            self._drop_client()

    def _drop_client(self, schedule_reconnect: bool = True) -> None:
        client, self._client = self._client, None
        self._link_up = False
        self._generation += 1
        if client is not None:
            client.close()
        if schedule_reconnect and self._loop is not None:
            self._next_connect_at = self._loop.time() + self._connect_backoff.next_delay()

    async def _sleep_until(self, when: float) -> None:
        """Sleep to ``when`` unless woken (stop, or the link dropped); no task, and one loop
        timer for every poller sleeping to the same time (``shared_timers``)."""
        loop = self._loop
        assert loop is not None
        if when <= loop.time() or self._stopping:
            return
        fut: asyncio.Future[None] = loop.create_future()
        self._sleeper = fut
        # The devices of one tick sleep to the same time: one loop timer wakes them all.
        handle = self._timers.call_at(when, self._wake_up)  # type: ignore[union-attr]
        try:
            await fut
        finally:
            handle.cancel()
            self._sleeper = None

    def _wake_up(self) -> None:
        fut = self._sleeper
        if fut is not None and not fut.done():
            fut.set_result(None)
        if self._fast_end is not None and self._fast_state == _IDLE:  # between callback ticks
            self._fast_stop(woken=True)

__all__ = [
    "ColumnSink",
    "DevicePoller",
    "PollerOptions",
    "PollerStats",
    "SinkFor",
    "WriteResult",
]
