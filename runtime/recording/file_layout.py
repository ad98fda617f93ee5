"""What one recording file holds and where: its chunks, their times, channels and snapshots.

:class:`FileIndex` is built either from the file's MCAP summary (``file_index``) or by a
recovery scan of a torn file (``recovery``); reading and seeking use it the same way.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mcap.records import Chunk, Message, MessageIndex, Metadata
from mcap.stream_reader import StreamReader, breakup_chunk

from runtime.recording.schemas import METADATA_NAME, TOPIC_SNAPSHOT

RECORD_HEAD = struct.Struct("<BQ")
"""Every MCAP record starts with its opcode (1 byte) and body length (8 bytes)."""
MAX_RECORD_BYTES = 1 << 30
"""A record longer than this is corruption, not data (a chunk is about 1 MiB)."""
LIVE = "still being recorded"
""":attr:`TornTail.reason` of a file a recorder still holds open."""


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


def parse_record(data: bytes) -> Any:
    """One complete record (head and body) parsed by the mcap library's stream reader."""
    return next(StreamReader(io.BytesIO(data), skip_magic=True, emit_chunks=True).records)


def twinstage_metadata(metadata: list[Metadata]) -> dict[str, str]:
    """The ``twinstage`` metadata record's fields ({} if the file has none)."""
    return next((dict(m.metadata) for m in metadata if m.name == METADATA_NAME), {})


def read_chunk_messages(stream: IO[bytes], chunk: ChunkRef) -> list[Message]:
    """The messages of one chunk, CRC-checked (raises on corrupt data)."""
    stream.seek(chunk.offset)
    head = stream.read(RECORD_HEAD.size)
    opcode, length = RECORD_HEAD.unpack(head)
    if length > MAX_RECORD_BYTES:
        raise ValueError(f"chunk record claims {length} bytes")
    record = parse_record(head + stream.read(length))
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
            head = stream.read(RECORD_HEAD.size)
            _, length = RECORD_HEAD.unpack(head)
            record = parse_record(head + stream.read(min(length, MAX_RECORD_BYTES)))
            if isinstance(record, MessageIndex):
                times = [t for t, _ in record.records]
        chunk.snapshot_times_ns = times
    return chunk.snapshot_times_ns


__all__ = ["LIVE", "MAX_RECORD_BYTES", "RECORD_HEAD", "ChunkRef", "FileIndex", "TornTail",
           "parse_record", "read_chunk_messages", "snapshot_times", "twinstage_metadata"]
