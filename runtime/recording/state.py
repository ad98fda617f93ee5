"""The last-value state of every source, rebuilt from what is recorded.

The writer keeps one to write snapshots (every file starts with the full state, and keyframes
repeat it), and a replay keeps one to rebuild the world from a snapshot plus what follows. Both
apply the same rules here, so a seek lands in the state that playing from the start reaches:

- readings replace their points' cached values (:class:`~runtime.bus.point_cache.PointCache`);
- a new epoch for a source means its publisher restarted: its cache starts empty;
- a snapshot replaces the whole state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from runtime.bus.point_cache import PointCache
from runtime.bus.wire import ReadingColumns, SnapshotSource
from runtime.recording.records import (
    Record,
    RecordedReadings,
    RecordedSnapshot,
    RecordedSourceState,
)


@dataclass(slots=True)
class SourceState:
    """Where one source's stream stands and its points' last values."""

    epoch: int
    seq: int = 0
    """Last sequence number applied (readings, heartbeats or snapshot)."""
    alive: bool = True
    period_ms: int = 0
    """Heartbeat period; 0 until a heartbeat or bus snapshot told it."""
    cache: PointCache = field(default_factory=PointCache)


class SourcesState:
    """Every source's :class:`SourceState`, by source id."""

    __slots__ = ("sources",)

    def __init__(self) -> None:
        self.sources: dict[str, SourceState] = {}

    def _at_epoch(self, source: str, epoch: int) -> SourceState:
        state = self.sources.get(source)
        if state is None or state.epoch != epoch:
            state = self.sources[source] = SourceState(epoch)
        return state

    def apply_readings(self, source: str, epoch: int, seq: int, cols: ReadingColumns) -> None:
        """A batch of readings arrived from ``source``."""
        state = self._at_epoch(source, epoch)
        state.cache.apply(cols, seq)
        state.seq = seq
        state.alive = True

    def note_heartbeat(self, source: str, epoch: int, seq: int, period_ms: int) -> None:
        """A heartbeat: the source is alive and promises a message every ``period_ms``."""
        state = self._at_epoch(source, epoch)
        state.seq = seq
        state.period_ms = period_ms
        state.alive = True

    def set_alive(self, source: str, epoch: int, alive: bool) -> None:
        """The source fell silent (False) or came back (True)."""
        self._at_epoch(source, epoch).alive = alive

    def merge(self, sources: Iterable[SnapshotSource]) -> None:
        """Take these sources' state from a snapshot; other sources keep theirs."""
        for snap in sources:
            state = self.sources[snap.source] = SourceState(
                snap.epoch, snap.seq, snap.alive, snap.period_ms)
            state.cache.apply(snap.readings, snap.seq)

    def replace(self, sources: Iterable[SnapshotSource]) -> None:
        """Take the whole state from a full snapshot."""
        self.sources.clear()
        self.merge(sources)

    def snapshot(self) -> list[SnapshotSource]:
        """Every source's state, its readings copied (safe to keep after more updates)."""
        return [SnapshotSource(source, s.epoch, s.seq, s.alive, s.period_ms, s.cache.columns())
                for source, s in self.sources.items()]

    def apply(self, record: Record) -> None:
        """Apply a recorded message; acks and events change no state."""
        if type(record) is RecordedReadings:
            self.apply_readings(record.source, record.epoch, record.seq, record.columns)
        elif type(record) is RecordedSnapshot:
            self.replace(record.sources)
        elif type(record) is RecordedSourceState:
            self.set_alive(record.source, record.epoch, record.alive)


__all__ = ["SourceState", "SourcesState"]
