"""The replay clock's source: a recording, played on the session's virtual clock.

Virtual time is the recording's log time (when the recorder received each message, Unix ns),
so receive times, staleness and everything else that judges time replay exactly as they were.
:meth:`drain` writes every message logged up to the asked time, in log order; :meth:`reset`
(a seek) clears the world and rebuilds it from the recording's last snapshot before the target
plus the messages after it, read through the file's index, so the world after a seek equals the
world after playing up to the same time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from runtime.bus.point_cache import PointCache
from runtime.bus.wire import ReadingColumns
from runtime.quality import Quality, Reason
from runtime.recording.reader import Recording
from runtime.recording.records import (
    RecordedAck,
    RecordedEvent,
    RecordedReadings,
    RecordedSnapshot,
    RecordedSourceState,
)
from runtime.sources.base import PublisherState
from runtime.sources.world_writer import WorldWriter
from runtime.world import World
from runtime.world.tables import PointState

_BAD_Q, _BAD_R = int(Quality.BAD), int(Reason.NO_COMMUNICATION)


class _SourceTrack:
    """What replay knows of one recorded publisher: epoch, alive, last values."""

    __slots__ = ("epoch", "alive", "cache", "silent_since_ns")

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.alive = True
        self.cache = PointCache()
        self.silent_since_ns = 0


class RecordingSource:
    """Plays a :class:`~runtime.recording.reader.Recording` into a world."""

    kind = "replay"
    seekable = True

    def __init__(self, recording: Recording, world: World) -> None:
        self.recording = recording
        self.start_ns: int | None = recording.start_ns
        self.end_ns: int | None = recording.end_ns
        self.writer = WorldWriter(world)
        self._tracks: dict[str, _SourceTrack] = {}
        self._iter: Iterator[object] = iter(())
        self._next: object | None = None
        self.messages = 0
        self.seeks = 0
        self.reset(world, recording.start_ns)

    # -- ReadingSource ----------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        return {"messages": self.messages, "seeks": self.seeks}

    synced = True
    backlogged = False

    def bus_down_s(self, now_ns: int) -> float | None:
        return None  # a recording has no bus connection to lose

    def publishers(self, now_ns: int) -> list[PublisherState]:
        """The recorded publishers as they were at the replayed instant."""
        return [PublisherState(name, track.alive, 0.0 if track.alive
                               else max(0.0, (now_ns - track.silent_since_ns) / 1e9))
                for name, track in self._tracks.items()]

    def drain(self, world: World, until_ns: int, budget_ns: int) -> int:
        """Apply every message logged at or before ``until_ns``. The budget is not applied:
        a replay tick must be complete for replay to be deterministic (ticks are short)."""
        count = 0
        nxt = self._next
        while nxt is not None and nxt.log_time_ns <= until_ns:  # type: ignore[attr-defined]
            count += self._apply(nxt)
            nxt = next(self._iter, None)
        self._next = nxt
        return count

    def reset(self, world: World, t_ns: int) -> None:
        """Seek: the world becomes what the recording held at ``t_ns``."""
        _clear(world.state)
        self._tracks.clear()
        for message in self.recording.seek_messages(t_ns):
            self._apply(message)
        self._iter = self.recording.iter_messages(start_ns=t_ns + 1)
        self._next = next(self._iter, None)
        self.seeks += 1

    def close(self) -> None:
        self.recording.close()

    # -- messages ---------------------------------------------------------------------------

    def _apply(self, message: object) -> int:
        self.messages += 1
        if isinstance(message, RecordedReadings):
            track = self._track(message.source, message.epoch)
            track.cache.apply(message.columns, message.seq)
            track.alive = True
            return len(self.writer.write(message.columns, message.log_time_ns, message.seq))
        if isinstance(message, RecordedSnapshot):
            return self._apply_snapshot(message)
        if isinstance(message, RecordedSourceState):
            return self._apply_state(message)
        if not isinstance(message, RecordedAck | RecordedEvent):
            raise TypeError(f"unknown recorded message {type(message).__name__}")
        return 0

    def _apply_snapshot(self, snap: RecordedSnapshot) -> int:
        count = 0
        for entry in snap.sources:
            track = self._tracks[entry.source] = _SourceTrack(entry.epoch)
            cols = entry.readings
            track.cache.apply(cols, entry.seq)
            track.alive = entry.alive
            shown = cols if entry.alive else _bad(cols)
            count += len(self.writer.write(shown, snap.log_time_ns, entry.seq))
        return count

    def _apply_state(self, state: RecordedSourceState) -> int:
        """A publisher fell silent (its points go Bad) or came back (they show their own
        quality again), stamped with the state message's time, as the live subscriber does."""
        track = self._tracks.get(state.source)
        if track is None:
            return 0
        changed = track.alive != state.alive
        track.alive = state.alive
        if changed and not state.alive:
            track.silent_since_ns = state.log_time_ns - state.silent_ms * 1_000_000
        if not changed or not len(track.cache):
            return 0
        cols = track.cache.columns()
        shown = cols if state.alive else _bad(cols)
        return len(self.writer.write(shown, state.log_time_ns, track.cache.seqs()))

    def _track(self, source: str, epoch: int) -> _SourceTrack:
        track = self._tracks.get(source)
        if track is None or track.epoch != epoch:
            track = self._tracks[source] = _SourceTrack(epoch)
        return track


def _bad(cols: ReadingColumns) -> ReadingColumns:
    """The same readings marked Bad (no communication): their source went silent."""
    n = len(cols)
    return ReadingColumns(cols.layout, cols.values, np.full(n, _BAD_Q, np.uint8),
                          np.full(n, _BAD_R, np.uint8), cols.t_source_ns)


def _clear(state: PointState) -> None:
    """Every point back to 'no reading yet', in place (the arrays are shared)."""
    fresh = PointState.empty(len(state.value))
    for name in PointState.__dataclass_fields__:
        getattr(state, name)[:] = getattr(fresh, name)
