"""Play a recording back onto a bus in (scaled) real time, one publisher per recorded source.

Each recorded source gets a publisher under its own id (with a new epoch: to subscribers the
replay is a restart of that source), so any viewer, ``tap`` or a client in another language
watches a replay exactly as it watches a plant. A source recorded as silent stops its
heartbeats until it comes back, so subscribers see the same outage. Acks are not republished:
they answered commands that are not being sent again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.security import ClientSecurity
from runtime.bus.wire import ReadingColumns
from runtime.recording.reader import Recording
from runtime.recording.records import RecordedReadings, RecordedSnapshot, RecordedSourceState

PERIOD_FALLBACK_MS = 1000


class Republisher:
    """Publishes a recording's readings from ``from_ns`` to ``to_ns`` at ``speed``."""

    def __init__(self, recording: Recording, endpoints: BusEndpoints, *, from_ns: int,
                 to_ns: int, speed: Fraction = Fraction(1),
                 clock: Callable[[], int] = time.monotonic_ns,
                 security: ClientSecurity | None = None) -> None:
        self.recording = recording
        self.endpoints = endpoints
        self.from_ns = from_ns
        self.to_ns = to_ns
        self.speed = speed
        self.clock = clock
        self.security = security
        """A key allowed to publish the recorded sources (the bus checks each source id)."""
        self.context = zmq.Context()
        self.publishers: dict[str, Publisher] = {}
        self.silent: set[str] = set()
        self.batches = 0
        self.readings = 0

    def start(self) -> None:
        """Publish the state at ``from_ns`` (the last snapshot plus what follows it)."""
        for message in self.recording.seek_messages(self.from_ns):
            self._apply(message)

    def play(self, should_stop: Callable[[], bool]) -> int:
        """Publish the rest in scaled real time; returns the batches published."""
        wall0 = self.clock()
        for message in self.recording.iter_messages(start_ns=self.from_ns + 1, end_ns=self.to_ns):
            due = wall0 + int((message.log_time_ns - self.from_ns) / self.speed)
            while True:
                if should_stop():
                    return self.batches
                self._heartbeats()
                wait = due - self.clock()
                if wait <= 0:
                    break
                time.sleep(min(wait / 1e9, 0.05))
            self._apply(message)
        return self.batches

    def close(self) -> None:
        for pub in self.publishers.values():
            pub.close()
        self.context.term()

    # -- messages ---------------------------------------------------------------------------

    def _apply(self, message: object) -> None:
        if isinstance(message, RecordedReadings):
            self.silent.discard(message.source)
            self._publish(message.source, message.columns)
        elif isinstance(message, RecordedSnapshot):
            for entry in message.sources:
                if entry.alive:
                    self.silent.discard(entry.source)
                else:
                    self.silent.add(entry.source)
                if len(entry.readings):
                    self._publish(entry.source, entry.readings, entry.period_ms)
        elif isinstance(message, RecordedSourceState):
            if message.alive:
                self.silent.discard(message.source)
            else:
                self.silent.add(message.source)

    def _publish(self, source: str, cols: ReadingColumns, period_ms: int = 0) -> None:
        pub = self.publishers.get(source)
        if pub is None:
            pub = self.publishers[source] = Publisher(
                self.endpoints, source, context=self.context,
                heartbeat_period_ms=period_ms or PERIOD_FALLBACK_MS, security=self.security)
        if source in self.silent:
            return  # a silent source's cached values stay as they were: nothing is sent
        pub.publish_columns(cols.layout, cols.values, cols.quality, cols.reason,
                            cols.t_source_ns)
        self.batches += 1
        self.readings += len(cols)

    def _heartbeats(self) -> None:
        now = self.clock()
        for source, pub in self.publishers.items():
            if source not in self.silent:
                pub.tick(now)
