"""Open a recording (one file, or a directory of them as one timeline) and read it back.

Reading goes through each file's chunk index (:mod:`runtime.recording.file_layout`): a time
range or a seek reads only the chunks that overlap it. A seek starts from the last snapshot at
or before the target (every file starts with one, and a keyframe follows every few seconds),
found through the snapshot channel's message index, so it reads a few chunks whatever the
length of the recording.

Every message is validated (:mod:`runtime.recording.decode`); a file is untrusted input. Bad
input raises :class:`~runtime.recording.errors.BadRecordingError` naming the file and what is
wrong; a torn file opens with a warning in :attr:`Recording.warnings`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, NamedTuple

from runtime.recording.decode import InvalidMessageError, decode_message
from runtime.recording.errors import BadRecordingError, EmptyRecordingError
from runtime.recording.file_index import load_file_index
from runtime.recording.file_layout import (
    ChunkRef,
    FileIndex,
    read_chunk_messages,
    snapshot_times,
)
from runtime.recording.records import EventRecord, Record
from runtime.recording.recovery import torn_warning
from runtime.recording.schemas import (
    CHANNEL_BY_TOPIC,
    TOPIC_ACK,
    TOPIC_EVENT,
    TOPIC_SNAPSHOT,
    TOPIC_SOURCE,
)
from runtime.recording.timefmt import utc_iso

EVENT_TOPICS = frozenset({TOPIC_SOURCE, TOPIC_ACK, TOPIC_EVENT})
_KNOWN_TOPICS = frozenset(CHANNEL_BY_TOPIC)
_COUNTER = re.compile(r"^(.*?)(?:-(\d+))?$")


class RawMessage(NamedTuple):
    """A message before decoding: cheap to sort and skip."""

    log_time_ns: int
    order: int
    """Position among equal log times (file order)."""
    topic: str
    data: bytes
    file: int
    """Index into :attr:`Recording.files`."""


def recording_files(path: Path) -> list[Path]:
    """The ``*.mcap`` files of a directory in timeline order: by name, with a ``-N`` counter
    (two files started in the same second) compared as a number."""
    def key(p: Path) -> tuple[str, int]:
        m = _COUNTER.match(p.stem)
        assert m is not None
        return (m.group(1), int(m.group(2) or 0))

    return sorted((p for p in path.glob("*.mcap") if p.is_file()), key=key)


def open_recording(path: Path) -> Recording:
    """Open a recording file, or a directory of them read as one timeline.

    Raises BadRecordingError (the file and what is wrong) for a missing, unreadable, empty,
    non-MCAP or foreign file, or a directory without ``.mcap`` files.
    """
    path = Path(path)
    if path.is_dir():
        files = recording_files(path)
        if not files:
            raise BadRecordingError(path, "the directory holds no .mcap recording files")
    elif path.exists():
        files = [path]
    else:
        raise BadRecordingError(path, "no such file or directory")
    recording = Recording()
    try:
        for file in files:
            try:
                recording._add_file(file)
            except EmptyRecordingError as exc:
                if len(files) == 1:
                    raise
                recording.warnings.append(f"{exc} (skipped)")
    except BaseException:
        recording.close()
        raise
    if recording.message_count == 0:
        recording.close()
        raise EmptyRecordingError(path, "the recording holds no messages (the recorder stopped "
                                "before its first flush)")
    return recording


class Recording:
    """An opened recording: its files, time span, channels, events and messages.

    Not thread-safe (its files are shared by every iterator); several iterators may be
    interleaved in one thread, since each chunk read seeks first.
    """

    def __init__(self) -> None:
        self.files: list[Path] = []
        """Its files, in timeline order (files without messages are left out)."""
        self.warnings: list[str] = []
        """One line per problem a person should know (torn files, unknown channels)."""
        self._indexes: list[FileIndex] = []
        self._streams: list[IO[bytes]] = []

    # -- opening ----------------------------------------------------------------------------

    def _add_file(self, path: Path) -> None:
        try:
            stream = open(path, "rb")  # noqa: SIM115 - kept open until close()
        except PermissionError:
            raise BadRecordingError(path, "cannot read the file (permission denied)") from None
        except FileNotFoundError:
            raise BadRecordingError(path, "no such file") from None
        except OSError as exc:
            raise BadRecordingError(path, f"cannot open the file: {exc.strerror}") from None
        try:
            index = load_file_index(path, stream)
        except OSError as exc:  # an I/O error from the disk, not bad content
            stream.close()
            raise BadRecordingError(path, f"cannot read the file: {exc.strerror or exc}") from None
        except BaseException:
            stream.close()
            raise
        if index.torn is not None:
            self.warnings.append(torn_warning(index))
        unknown = sorted(set(index.counts) - _KNOWN_TOPICS)
        if unknown:
            self.warnings.append(f"{path}: channels this version of twinstage does not know "
                                 f"were skipped: {', '.join(unknown)}")
        if index.message_count == 0:
            stream.close()
            if index.torn is None:
                self.warnings.append(f"{path}: holds no messages (skipped)")
            return
        self.files.append(path)
        self._indexes.append(index)
        self._streams.append(stream)

    def close(self) -> None:
        """Release the open files."""
        for stream in self._streams:
            stream.close()
        self._streams = []

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- what it holds ------------------------------------------------------------------------

    @property
    def start_ns(self) -> int:
        """Log time of the first message."""
        return min(i.start_ns for i in self._indexes)

    @property
    def end_ns(self) -> int:
        """Log time of the last message."""
        return max(i.end_ns for i in self._indexes)

    @property
    def message_count(self) -> int:
        return sum(i.message_count for i in self._indexes)

    @property
    def metadata(self) -> dict[str, str]:
        """The first file's ``twinstage`` metadata (format, version, scene, host, start)."""
        return dict(self._indexes[0].metadata) if self._indexes else {}

    def channels(self) -> dict[str, int]:
        """Topic -> number of messages, over all files."""
        counts: dict[str, int] = {}
        for index in self._indexes:
            for topic, n in index.counts.items():
                counts[topic] = counts.get(topic, 0) + n
        return counts

    def events(self) -> list[EventRecord]:
        """Source silences and returns, acks and events, in log-time order: the timeline's
        markers. Reads only the chunks that hold them."""
        return list(self._decoded(self._raw(None, None, EVENT_TOPICS)))  # type: ignore[arg-type]

    def iter_messages(self, start_ns: int | None = None,
                      end_ns: int | None = None) -> Iterator[Record]:
        """Every message with ``start_ns <= log time <= end_ns`` (both inclusive, None for
        open), typed and validated, in log-time order across files (file order among equal
        times). Raises BadRecordingError for a message that fails validation."""
        return self._decoded(self._raw(start_ns, end_ns, _KNOWN_TOPICS))

    def seek_messages(self, t_ns: int) -> list[Record]:
        """What rebuilds the state at ``t_ns``: the last snapshot at or before it, then every
        message after that snapshot up to and including ``t_ns``. Empty before the start.

        Applying these to an empty :class:`~runtime.recording.state.SourcesState` gives the
        state that applying everything from the start up to ``t_ns`` gives.
        """
        found = self._last_snapshot(t_ns)
        if found is None:
            return []
        file_no, snap_ns = found
        raw = list(self._raw(snap_ns, t_ns, _KNOWN_TOPICS, first_file=file_no))
        # Start at the last snapshot logged at snap_ns; what precedes it is covered by it.
        begin = max(i for i, m in enumerate(raw)
                    if m.topic == TOPIC_SNAPSHOT and m.log_time_ns == snap_ns)
        return list(self._decoded(iter(raw[begin:])))

    # -- internals --------------------------------------------------------------------------

    def _last_snapshot(self, t_ns: int) -> tuple[int, int] | None:
        """(file number, log time) of the last snapshot at or before ``t_ns``."""
        for file_no in range(len(self._indexes) - 1, -1, -1):
            index = self._indexes[file_no]
            if index.start_ns > t_ns:
                continue
            stream = self._streams[file_no]
            for chunk in reversed(index.chunks):
                if chunk.start_ns > t_ns or TOPIC_SNAPSHOT not in chunk.topics:
                    continue
                times = [t for t in self._snapshot_times(file_no, stream, chunk) if t <= t_ns]
                if times:
                    return file_no, max(times)
        return None

    def _snapshot_times(self, file_no: int, stream: IO[bytes], chunk: ChunkRef) -> list[int]:
        try:
            return snapshot_times(stream, chunk, self._indexes[file_no].topics)
        except Exception as exc:  # noqa: BLE001 - corrupt index bytes: say where
            raise BadRecordingError(self.files[file_no], f"the message index at byte "
                                    f"{chunk.snapshot_index_offset} is corrupt "
                                    f"({type(exc).__name__}); run `twinstage record repair "
                                    f"{self.files[file_no]}`") from None

    def _raw(self, start_ns: int | None, end_ns: int | None, topics: frozenset[str],
             first_file: int = 0) -> Iterator[RawMessage]:
        per_file = [self._raw_file(n, start_ns, end_ns, topics)
                    for n in range(first_file, len(self._indexes))
                    if (end_ns is None or self._indexes[n].start_ns <= end_ns)
                    and (start_ns is None or self._indexes[n].end_ns >= start_ns)]
        if len(per_file) == 1:
            return per_file[0]
        return heapq.merge(*per_file, key=lambda m: m.log_time_ns)

    def _raw_file(self, file_no: int, start_ns: int | None, end_ns: int | None,
                  topics: frozenset[str]) -> Iterator[RawMessage]:
        """One file's messages in log-time order: chunks are read when the next message
        could come from them (a chunk is loaded once the heap holds nothing older than its
        first message), so a time range reads only its own chunks."""
        index, stream = self._indexes[file_no], self._streams[file_no]
        lo = -1 if start_ns is None else start_ns
        hi = (1 << 64) if end_ns is None else end_ns
        chunks = [c for c in index.chunks
                  if c.end_ns >= lo and c.start_ns <= hi and not c.topics.isdisjoint(topics)]
        heap: list[RawMessage] = []
        order = 0
        next_chunk = 0
        while next_chunk < len(chunks) or heap:
            while next_chunk < len(chunks) and (
                    not heap or chunks[next_chunk].start_ns <= heap[0].log_time_ns):
                for msg in self._chunk_messages(file_no, stream, chunks[next_chunk]):
                    topic = index.topics.get(msg.channel_id, "")
                    if lo <= msg.log_time <= hi and topic in topics:
                        heapq.heappush(heap, RawMessage(msg.log_time, order, topic, msg.data,
                                                        file_no))
                        order += 1
                next_chunk += 1
            if heap:
                yield heapq.heappop(heap)

    def _chunk_messages(self, file_no: int, stream: IO[bytes], chunk: ChunkRef) -> list:
        try:
            return read_chunk_messages(stream, chunk)
        except Exception as exc:  # noqa: BLE001 - corrupt chunk bytes: say where
            path = self.files[file_no]
            raise BadRecordingError(path, f"the chunk at byte {chunk.offset} is corrupt "
                                    f"({type(exc).__name__}: {exc}); run `twinstage record "
                                    f"repair {path}` to keep what is readable") from None

    def _decoded(self, raw: Iterator[RawMessage]) -> Iterator[Record]:
        for msg in raw:
            try:
                yield decode_message(msg.topic, msg.log_time_ns, msg.data)
            except InvalidMessageError as exc:
                raise BadRecordingError(
                    self.files[msg.file], f"message on {msg.topic} at "
                    f"{utc_iso(msg.log_time_ns)} (log time {msg.log_time_ns} ns) is not "
                    f"valid: {exc}") from None


__all__ = ["EVENT_TOPICS", "RawMessage", "Recording", "open_recording", "recording_files"]
