"""Where things are in one recording file: its chunks, their times and channels, keyframes.

A complete file has an index (the MCAP summary: chunk indexes with per-channel message index
offsets, statistics), read in one go from the end of the file. A torn file (the recorder was
killed, so no summary or footer) is scanned record by record from the start instead: every
complete chunk is recovered and the first incomplete or corrupt record ends the scan. Either
way the result is the same :class:`FileIndex`, so reading and seeking need not care which.

Bad input raises :class:`~runtime.recording.errors.BadRecordingError` naming the file.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mcap.opcode import Opcode
from mcap.reader import make_reader
from mcap.records import (
    Channel,
    Chunk,
    DataEnd,
    Footer,
    Header,
    Message,
    MessageIndex,
    Metadata,
)
from mcap.stream_reader import StreamReader, breakup_chunk
from mcap.summary import Summary
from mcap.writer import MCAP0_MAGIC

from runtime.recording.errors import BadRecordingError, EmptyRecordingError
from runtime.recording.mcap_file import being_written
from runtime.recording.schemas import (
    CHANNEL_BY_TOPIC,
    FORMAT_VERSION,
    MESSAGE_ENCODING,
    METADATA_NAME,
    PROFILE,
    TOPIC_SNAPSHOT,
)
from runtime.recording.timefmt import utc_clock_text

_RECORD_HEAD = struct.Struct("<BQ")
"""Every MCAP record starts with its opcode (1 byte) and body length (8 bytes)."""
LIVE = "still being recorded"
_KNOWN_OPCODES = frozenset(int(op) for op in Opcode)
MAX_RECORD_BYTES = 1 << 30
"""A record longer than this is corruption, not data (a chunk is about 1 MiB)."""


@dataclass(slots=True)
class ChunkRef:
    """One chunk of messages: where it is and what it holds."""

    offset: int
    """File offset of the chunk record (its opcode byte)."""
    start_ns: int
    end_ns: int
    """Log times of its first and last messages (inclusive)."""
    topics: frozenset[str]
    snapshot_index_offset: int | None = None
    """Offset of its snapshot channel's message index record (complete files)."""
    snapshot_times_ns: list[int] | None = None
    """Log times of its snapshot messages; loaded from the message index on first use."""
    length: int = 0
    """Bytes of the chunk record (head included)."""
    indexed: bool = True
    """False when the file has no message index for it (then ``topics`` is every topic of
    the file and finding its snapshots means reading it)."""


@dataclass(slots=True)
class TornTail:
    """What recovery of an interrupted file found."""

    messages: int
    """Messages recovered."""
    valid_bytes: int
    """Length of the readable prefix (everything after it is dropped)."""
    file_bytes: int
    reason: str
    """Why the scan stopped: ``interrupted``, :data:`LIVE` (a recorder is still writing the
    file) or what was corrupt."""


@dataclass(slots=True)
class FileIndex:
    """One file's layout, from its MCAP summary or from a recovery scan."""

    path: Path
    profile: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    topics: dict[int, str] = field(default_factory=dict)
    """Channel id -> topic."""
    chunks: list[ChunkRef] = field(default_factory=list)
    """In log-time order of their first messages (file order among equals)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Topic -> messages."""
    start_ns: int = 0
    end_ns: int = 0
    torn: TornTail | None = None
    """Set when the file had no index and was recovered by scanning."""

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())


def load_file_index(path: Path, stream: IO[bytes]) -> FileIndex:
    """The index of an open recording file; raises BadRecordingError for bad input."""
    size = stream.seek(0, io.SEEK_END)
    if size == 0:
        raise EmptyRecordingError(path, "the file is empty (0 bytes): the recorder stopped "
                                "before it wrote anything")
    stream.seek(0)
    head = stream.read(len(MCAP0_MAGIC))
    if head != MCAP0_MAGIC[: len(head)] or len(head) < len(MCAP0_MAGIC):
        if head == MCAP0_MAGIC[: len(head)]:
            raise EmptyRecordingError(path, f"only {size} bytes of an MCAP header: the recorder "
                                    "stopped before it wrote anything")
        raise BadRecordingError(path, "not an MCAP file (it does not start with the MCAP "
                                "magic bytes); a twinstage recording is an .mcap file")
    stream.seek(size - len(MCAP0_MAGIC))
    ends_with_magic = size >= 2 * len(MCAP0_MAGIC) and stream.read() == MCAP0_MAGIC
    summary, header, metadata = _read_summary(stream) if ends_with_magic else (None, None, [])
    if summary is not None and summary.statistics is not None:
        index = _from_summary(path, summary, header, metadata)
    else:
        index = _scan(path, stream, size)
    _check_ours(index, summary)
    return index


# -- complete files: the summary ------------------------------------------------------------


def _read_summary(stream: IO[bytes]) -> tuple[Summary | None, Header | None, list[Metadata]]:
    """The file's summary, header and metadata; (None, None, []) when it has no usable
    footer (a torn file), which the caller then scans."""
    try:
        stream.seek(0)
        reader = make_reader(stream)
        summary = reader.get_summary()
        if summary is None:
            return None, None, []
        return summary, reader.get_header(), list(reader.iter_metadata())
    except Exception:  # noqa: BLE001 - whatever is wrong with the index, the scan recovers
        return None, None, []


def _from_summary(path: Path, summary: Summary, header: Header | None,
                  metadata: list[Metadata]) -> FileIndex:
    stats = summary.statistics
    assert stats is not None
    topics = {cid: ch.topic for cid, ch in summary.channels.items()}
    snapshot_ids = {cid for cid, t in topics.items() if t == TOPIC_SNAPSHOT}
    every_topic = frozenset(topics.values())
    chunks = []
    for ci in summary.chunk_indexes:
        if not ci.message_index_offsets:  # written without message indexes: could hold any
            chunks.append(ChunkRef(ci.chunk_start_offset, ci.message_start_time,
                                   ci.message_end_time, every_topic, length=ci.chunk_length,
                                   indexed=False))
            continue
        chunk_topics = frozenset(topics.get(cid, "") for cid in ci.message_index_offsets)
        snap = next((off for cid, off in ci.message_index_offsets.items()
                     if cid in snapshot_ids), None)
        chunks.append(ChunkRef(ci.chunk_start_offset, ci.message_start_time,
                               ci.message_end_time, chunk_topics, snap,
                               length=ci.chunk_length))
    chunks.sort(key=lambda c: (c.start_ns, c.offset))
    counts: dict[str, int] = {}
    for cid, n in stats.channel_message_counts.items():
        topic = topics.get(cid, f"channel {cid}")
        counts[topic] = counts.get(topic, 0) + n
    return FileIndex(path, header.profile if header else "", _ours(metadata), topics, chunks,
                     counts, stats.message_start_time, stats.message_end_time)


def _ours(metadata: list[Metadata]) -> dict[str, str]:
    return next((dict(m.metadata) for m in metadata if m.name == METADATA_NAME), {})


# -- torn files: a sequential scan ------------------------------------------------------------


def _scan(path: Path, stream: IO[bytes], size: int) -> FileIndex:
    """Recover every complete chunk, in file order; stop at the first incomplete record."""
    index = FileIndex(path)
    pos = len(MCAP0_MAGIC)
    stream.seek(pos)
    reason = "interrupted"
    complete = False
    data_end = 0
    metadata: list[Metadata] = []
    while True:
        head = stream.read(_RECORD_HEAD.size)
        if len(head) < _RECORD_HEAD.size:
            break
        opcode, length = _RECORD_HEAD.unpack(head)
        if length > MAX_RECORD_BYTES:
            reason = f"a record at byte {pos} claims {length} bytes (corrupt)"
            break
        if pos + _RECORD_HEAD.size + length > size:
            break  # the torn tail: this record was being written
        body = stream.read(length)
        if opcode not in _KNOWN_OPCODES:  # a record type from a newer MCAP: skip it
            pos += _RECORD_HEAD.size + length
            continue
        try:
            record = _parse_record(head + body)
            if isinstance(record, Chunk):
                _add_chunk(index, pos, _RECORD_HEAD.size + length,
                           breakup_chunk(record, validate_crc=True))
        except Exception as exc:  # noqa: BLE001 - any parse failure means corrupt bytes here
            reason = f"the record at byte {pos} is corrupt ({type(exc).__name__})"
            break
        pos += _RECORD_HEAD.size + length
        if isinstance(record, Header):
            index.profile = record.profile
        elif isinstance(record, Metadata):
            metadata.append(record)
        elif isinstance(record, Channel):
            index.topics[record.id] = record.topic
        elif isinstance(record, DataEnd):
            data_end = pos  # all messages are in; what follows is the summary (index)
        elif isinstance(record, Footer):
            # A file written without a summary is complete if its closing magic is there.
            complete = stream.read(len(MCAP0_MAGIC)) == MCAP0_MAGIC
            break
    index.metadata = _ours(metadata)
    index.chunks.sort(key=lambda c: (c.start_ns, c.offset))
    if not complete:
        if reason == "interrupted" and being_written(stream):
            reason = LIVE
        index.torn = TornTail(index.message_count, data_end or pos, size, reason)
    return index


def _parse_record(data: bytes) -> Any:
    """One complete record (head and body) parsed by the mcap library's stream reader."""
    return next(StreamReader(io.BytesIO(data), skip_magic=True, emit_chunks=True).records)


def _add_chunk(index: FileIndex, offset: int, length: int, records: list[Any]) -> None:
    """Add a recovered chunk (all or nothing: a chunk that does not make sense raises)."""
    topics = index.topics
    counts: dict[str, int] = {}
    snapshot_times: list[int] = []
    start_ns = end_ns = -1
    for record in records:
        if isinstance(record, Channel):
            topics[record.id] = record.topic
        elif isinstance(record, Message):
            topic = topics.get(record.channel_id)
            if topic is None:
                raise ValueError(f"message on unknown channel {record.channel_id}")
            counts[topic] = counts.get(topic, 0) + 1
            t = record.log_time
            start_ns = t if start_ns < 0 else min(start_ns, t)
            end_ns = max(end_ns, t)
            if topic == TOPIC_SNAPSHOT:
                snapshot_times.append(t)
    if start_ns < 0:
        return
    for topic, n in counts.items():
        index.counts[topic] = index.counts.get(topic, 0) + n
    if not index.chunks or start_ns < index.start_ns:
        index.start_ns = start_ns
    index.end_ns = max(index.end_ns, end_ns)
    index.chunks.append(ChunkRef(offset, start_ns, end_ns, frozenset(counts),
                                 snapshot_times_ns=snapshot_times, length=length))


# -- checks -----------------------------------------------------------------------------------


def _check_ours(index: FileIndex, summary: Summary | None) -> None:
    """Refuse a foreign MCAP (say which channels it has) or a newer format version."""
    path = index.path
    if index.torn is not None and not index.topics and not index.profile:
        raise EmptyRecordingError(path, "the recording was interrupted before its first "
                                "flush: it holds no complete records")
    ours = [t for t in index.topics.values() if t in CHANNEL_BY_TOPIC]
    if not ours and index.profile != PROFILE:
        if summary is not None:
            listed = [f"{ch.topic} ({ch.message_encoding}"
                      + (f", schema {summary.schemas[ch.schema_id].name}"
                         if ch.schema_id in summary.schemas else "") + ")"
                      for ch in summary.channels.values()]
        else:
            listed = sorted(set(index.topics.values()))
        have = ", ".join(listed[:12]) + (" ..." if len(listed) > 12 else "") or "no channels"
        raise BadRecordingError(path, f"an MCAP file but not a twinstage recording: it has "
                                f"no twinstage channels (it has {have})")
    version = index.metadata.get("version", str(FORMAT_VERSION))
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise BadRecordingError(path, f"written in recording format version {version!r:.20}; "
                                f"this twinstage reads version {FORMAT_VERSION}: upgrade it")
    if summary is not None:
        for ch in summary.channels.values():
            spec = CHANNEL_BY_TOPIC.get(ch.topic)
            schema = summary.schemas.get(ch.schema_id)
            if spec and (ch.message_encoding != MESSAGE_ENCODING or schema is None
                         or schema.name != spec.schema_name):
                raise BadRecordingError(path, f"channel {ch.topic} is not {MESSAGE_ENCODING} "
                                        f"with schema {spec.schema_name}")


def torn_warning(index: FileIndex) -> str:
    """The warning a person reads when a file was recovered rather than read by its index."""
    torn = index.torn
    assert torn is not None
    path = index.path
    upto = f" up to {utc_clock_text(index.end_ns)} UTC" if torn.messages else ""
    if torn.reason == LIVE:
        return f"{path}: still being recorded; {torn.messages} messages{upto} so far"
    what = ("recording was interrupted" if torn.reason == "interrupted"
            else f"recording is damaged: {torn.reason}")
    return (f"{path}: {what}; {torn.messages} messages{upto} recovered, the torn tail "
            f"({torn.file_bytes - torn.valid_bytes} bytes) dropped; run `twinstage record "
            f"repair {path}` to rewrite it with an index")


# -- reading chunks ---------------------------------------------------------------------------


def read_chunk_messages(stream: IO[bytes], chunk: ChunkRef) -> list[Message]:
    """The messages of one chunk, CRC-checked (raises on corrupt data)."""
    stream.seek(chunk.offset)
    head = stream.read(_RECORD_HEAD.size)
    opcode, length = _RECORD_HEAD.unpack(head)
    if length > MAX_RECORD_BYTES:
        raise ValueError(f"chunk record claims {length} bytes")
    record = _parse_record(head + stream.read(length))
    if not isinstance(record, Chunk):
        raise ValueError(f"expected a chunk at byte {chunk.offset}, found opcode {opcode}")
    return [r for r in breakup_chunk(record, validate_crc=True) if isinstance(r, Message)]


def snapshot_times(stream: IO[bytes], chunk: ChunkRef, topics: dict[int, str]) -> list[int]:
    """Log times of the snapshots in ``chunk``, from its message index (one small read), or
    from the chunk itself where the file has no message index."""
    if chunk.snapshot_times_ns is None:
        times: list[int] = []
        if not chunk.indexed:
            times = [m.log_time for m in read_chunk_messages(stream, chunk)
                     if topics.get(m.channel_id) == TOPIC_SNAPSHOT]
        elif chunk.snapshot_index_offset is not None:
            stream.seek(chunk.snapshot_index_offset)
            head = stream.read(_RECORD_HEAD.size)
            _, length = _RECORD_HEAD.unpack(head)
            record = _parse_record(head + stream.read(min(length, MAX_RECORD_BYTES)))
            if isinstance(record, MessageIndex):
                times = [t for t, _ in record.records]
        chunk.snapshot_times_ns = times
    return chunk.snapshot_times_ns


__all__ = ["LIVE", "ChunkRef", "FileIndex", "TornTail", "load_file_index", "read_chunk_messages",
           "snapshot_times", "torn_warning"]
