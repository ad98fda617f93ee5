"""One bus message per event-loop pass for every device batch published in that pass.

Pollers share a tick grid (``device_poller.TICK_GRID_S``), so devices due at the same time are
asked together and their replies are read in the same loop pass. Publishing each device's batch
on its own costs a message (encoding, sequence number, a ZeroMQ send, and as much again at the
bus and at every subscriber) per device per poll; at a 1 ms poll that fixed cost is most of the
adapter's CPU. The coalescer copies each batch into one set of columns as it is published and
sends them as one message at the end of the loop pass (``call_soon``): the same readings, in
fewer, larger messages.

The message's ``points`` is the list form (docs/bus-protocol.md §3): one string per device batch,
each the device's own layout, so that the bus and every subscriber validate and map each device
once, however the devices combine from one pass to the next (at 100 devices nearly every
message is a combination not seen before).

Rules kept: a message holds at most ``MAX_READINGS`` points and ``MAX_LAYOUT_PARTS`` device
batches (a pass with more is split at device boundaries), a point appears once per message (a
device that publishes twice in one pass, e.g. its watchdog then its tick, flushes the first
batch before the second), and nothing is held longer than the rest of the current loop pass.
"""

from __future__ import annotations

import asyncio
from typing import Any

from adapters.modbus.device_poller import ColumnSink
from runtime.bus.publisher import Publisher
from runtime.bus.wire import MAX_LAYOUT_PARTS, MAX_READINGS, PointLayout, composite_layout

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

    def sink_for(self, point_ids: list[str]) -> ColumnSink:
        """A poller's ``column_sink``: its batches go into the current pass's message."""
        names = list(point_ids)
        if len(names) > self.max_points:
            raise ValueError(f"a device of {len(names)} points does not fit in one message "
                             f"({self.max_points} at most)")
        index = len(self._parts)
        self._parts.append(self.publisher.layout(names))
        add = self._add

        def sink(values: list[float], quality: list[int], reason: list[int],
                 t_source_ns: list[int]) -> None:
            add(index, values, quality, reason, t_source_ns)

        return sink

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
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_scheduled)

    def _flush_scheduled(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Send what has been collected (nothing if empty)."""
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


__all__ = ["LAYOUT_CACHE", "TickCoalescer"]
