"""What a recording holds, as typed records in log-time order.

One record type per channel. Each carries ``log_time_ns``: the recorder's wall clock when the
message arrived, which is the time a replay plays it at. The payloads reuse the bus's own types
(:class:`~runtime.bus.wire.ReadingColumns`, :class:`~runtime.bus.wire.Ack`,
:class:`~runtime.bus.wire.SnapshotSource`) so a reading is one type from adapter to replay.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from runtime.bus.wire import ReadingColumns, SnapshotSource
from runtime.control.ack import Ack


class RecordedReadings(NamedTuple):
    """One bus batch of readings from one source."""

    log_time_ns: int
    source: str
    epoch: int
    seq: int
    t_ns: int
    """When the source published the batch (its wall clock)."""
    columns: ReadingColumns


class RecordedSnapshot(NamedTuple):
    """The full last-value state of every source: ``why`` is start, keyframe or resync.

    A snapshot replaces the whole state (sources absent from it are forgotten), so applying
    one to an empty world gives the world as it was at ``log_time_ns``.
    """

    log_time_ns: int
    why: str
    sources: list[SnapshotSource]
    """``period_ms`` is 0 for a source whose heartbeat the recorder had not heard."""


class RecordedSourceState(NamedTuple):
    """A publisher fell silent (``alive`` False) or came back."""

    log_time_ns: int
    source: str
    epoch: int
    alive: bool
    silent_ms: int


class RecordedAck(NamedTuple):
    """A command's answer, as the bus carried it."""

    log_time_ns: int
    ack: Ack


class RecordedEvent(NamedTuple):
    """An alarm, scenario or other event, for timeline markers."""

    log_time_ns: int
    kind: str
    id: str
    text: str
    severity: str = ""
    data: dict[str, Any] | None = None


Record = RecordedReadings | RecordedSnapshot | RecordedSourceState | RecordedAck | RecordedEvent
"""Any record :meth:`Recording.iter_messages` yields."""

EventRecord = RecordedSourceState | RecordedAck | RecordedEvent
"""Records :meth:`Recording.events` lists (timeline markers)."""

__all__ = [
    "EventRecord",
    "Record",
    "RecordedAck",
    "RecordedEvent",
    "RecordedReadings",
    "RecordedSnapshot",
    "RecordedSourceState",
]
