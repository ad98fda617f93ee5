"""One bus message for the device batches of one poll tick.

Pollers share a tick grid (``device_poller.TICK_GRID_S``), so devices due at the same time are
asked together. Publishing each device's batch on its own costs a message (encoding, sequence
number, a ZeroMQ send, and as much again at the bus and at every subscriber) per device per
poll; at a 1 ms poll, or with 100 devices, that fixed cost is most of the CPU. The coalescer
copies each batch into one set of columns as it is published and sends them as one message:
the same readings, in fewer, larger messages.

When it is sent: a poller says when its tick begins (``begin``), and the message goes out at the
end of the loop pass in which no device that began a tick is still waiting for its replies —
the batches of one tick travel together even when their devices answer a few milliseconds
apart. A device that is slow or silent does not hold the others: a message is never held longer
than ``HOLD_MAX_S`` (or a fifth of the shortest poll period, if shorter) after its first batch.
A sink used without ``begin`` (watchdog batches, other callers) is sent at the end of the pass.

The message's ``points`` is the list form (docs/bus-protocol.md §3): one string per device batch,
each the device's own layout, so that the bus and every subscriber validate and map each device
once, however the devices combine from one pass to the next.

Rules kept: a message holds at most ``MAX_READINGS`` points and ``MAX_LAYOUT_PARTS`` device
batches (a tick with more is split at device boundaries), and a point appears once per message
(a device that publishes twice before a send, e.g. its watchdog then its tick, flushes the first
batch before the second).
"""

from __future__ import annotations

import asyncio
from typing import Any

from adapters.modbus.device_poller import ColumnSink
from runtime.bus.publisher import Publisher
from runtime.bus.wire import MAX_LAYOUT_PARTS, MAX_READINGS, PointLayout, composite_layout

HOLD_MAX_S = 0.010
"""The longest a batch waits for the rest of its tick (a fifth of the shortest period if less):
a tick of 20 devices on one busy server is answered over several milliseconds."""
HOLD_FRACTION = 5
LAYOUT_CACHE = 256
"""Combinations of devices whose joint layout is kept; which devices share a pass repeats with
their periods, so a few dozen combinations cover a steady adapter."""


class TickCoalescer:
    """Collects device batches published during one loop pass and sends them as one message."""

    def __init__(self, publisher: Publisher, *, max_points: int = MAX_READINGS) -> None:
        self.publisher = publisher
        self.max_points = max_points
        self.messages = 0
        """Messages sent (for the bench and tests)."""
        self.batches = 0
        """Device batches taken in."""
        self._parts: list[PointLayout] = []
        self._members: list[int] = []
        self._member_set: set[int] = set()
        self._values: list[float] = []
        self._quality: list[int] = []
        self._reason: list[int] = []
        self._t_source_ns: list[int] = []
        self._layouts: dict[tuple[int, ...], PointLayout] = {}
        self._scheduled = False
        self._awaited: set[int] = set()
        """Devices whose tick began and whose batch has not come yet."""
        self._hold_s = HOLD_MAX_S
        self._hold: asyncio.TimerHandle | None = None

    def sink_for(self, point_ids: list[str]) -> ColumnSink:
        """A poller's ``column_sink``: its batches go into the current tick's message. The sink
        has ``begin(period_s)``, which the poller calls as each tick starts."""
        names = list(point_ids)
        if len(names) > self.max_points:
            raise ValueError(f"a device of {len(names)} points does not fit in one message "
                             f"({self.max_points} at most)")
        index = len(self._parts)
        self._parts.append(self.publisher.layout(names))
        return _DeviceSink(self, index)

    def begin(self, index: int, period_s: float) -> None:
        """Device ``index`` starts a tick: its batch is worth waiting for."""
        self._hold_s = min(self._hold_s, period_s / HOLD_FRACTION)
        self._awaited.add(index)

    def _add(self, index: int, values: Any, quality: Any, reason: Any, t_source_ns: Any) -> None:
        if (index in self._member_set or len(self._values) + len(values) > self.max_points
                or len(self._members) >= MAX_LAYOUT_PARTS):
            self.flush()
        self._members.append(index)
        self._member_set.add(index)
        # Copied now: the poller's lists change with its next reply.
        self._values.extend(values)
        self._quality.extend(quality)
        self._reason.extend(reason)
        self._t_source_ns.extend(t_source_ns)
        self.batches += 1
        self._awaited.discard(index)
        if self._awaited:  # more of this tick to come: wait, but not past the hold
            if self._hold is None:
                self._hold = asyncio.get_running_loop().call_later(self._hold_s, self._hold_over)
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_scheduled)

    def _flush_scheduled(self) -> None:
        self._scheduled = False
        if not self._awaited:
            self.flush()
        elif self._members and self._hold is None:  # a tick that began in this pass may join
            self._hold = asyncio.get_running_loop().call_later(self._hold_s, self._hold_over)

    def _hold_over(self) -> None:
        self._hold = None
        self._awaited.clear()  # late devices: their batches go in the next message
        self.flush()

    def flush(self) -> None:
        """Send what has been collected (nothing if empty)."""
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        if not self._members:
            return
        key = tuple(self._members)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= LAYOUT_CACHE:
                self._layouts.clear()
            parts = self._parts
            chosen = [parts[i] for i in key if len(parts[i])]  # a device of no points adds none
            layout = self._layouts[key] = composite_layout(chosen) if chosen else parts[key[0]]
        values, quality, reason, ts = (self._values, self._quality, self._reason,
                                       self._t_source_ns)
        self._members = []
        self._member_set = set()
        self._values, self._quality, self._reason, self._t_source_ns = [], [], [], []
        self.messages += 1
        self.publisher.publish_columns(layout, values, quality, reason, ts)


class _DeviceSink:
    """One device's sink into the coalescer: called with a batch; ``begin`` at each tick."""

    __slots__ = ("_add", "_begin", "_index")

    def __init__(self, coalescer: TickCoalescer, index: int) -> None:
        self._add = coalescer._add
        self._begin = coalescer.begin
        self._index = index

    def __call__(self, values: list[float], quality: list[int], reason: list[int],
                 t_source_ns: list[int]) -> None:
        self._add(self._index, values, quality, reason, t_source_ns)

    def begin(self, period_s: float) -> None:
        self._begin(self._index, period_s)


__all__ = ["HOLD_MAX_S", "LAYOUT_CACHE", "TickCoalescer"]
