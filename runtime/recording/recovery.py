"""Recovering a torn recording: every complete chunk, found by reading records in order.

A recorder killed with ``kill -9`` leaves a file without summary or footer, perhaps with half a
record at the end. The scan reads record by record from the start (each complete record parsed
by the mcap library's stream reader), keeps every chunk whose data passes its CRC, and stops
at the first incomplete or corrupt record: what follows cannot be framed with confidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from mcap.opcode import Opcode
from mcap.records import Channel, Chunk, DataEnd, Footer, Header, Message, Metadata
from mcap.stream_reader import breakup_chunk
from mcap.writer import MCAP0_MAGIC

from runtime.recording.file_layout import (
    LIVE,
    MAX_RECORD_BYTES,
    RECORD_HEAD,
    ChunkRef,
    FileIndex,
    TornTail,
    parse_record,
    twinstage_metadata,
)
from runtime.recording.mcap_file import being_written
from runtime.recording.schemas import TOPIC_SNAPSHOT
from runtime.recording.timefmt import utc_clock_text

_KNOWN_OPCODES = frozenset(int(op) for op in Opcode)


def scan_file(path: Path, stream: IO[bytes], size: int) -> FileIndex:
    """Recover every complete chunk, in file order; stop at the first incomplete record."""
    index = FileIndex(path)
    pos = len(MCAP0_MAGIC)
    stream.seek(pos)
    reason = "interrupted"
    complete = False
    data_end = 0
    metadata: list[Metadata] = []
    while True:
        head = stream.read(RECORD_HEAD.size)
        if len(head) < RECORD_HEAD.size:
            break
        opcode, length = RECORD_HEAD.unpack(head)
        if length > MAX_RECORD_BYTES:
            reason = f"a record at byte {pos} claims {length} bytes (corrupt)"
            break
        if pos + RECORD_HEAD.size + length > size:
            break  # the torn tail: this record was being written
        body = stream.read(length)
        if opcode not in _KNOWN_OPCODES:  # a record type from a newer MCAP: skip it
            pos += RECORD_HEAD.size + length
            continue
        try:
            record = parse_record(head + body)
            if isinstance(record, Chunk):
                _add_chunk(index, pos, RECORD_HEAD.size + length,
                           breakup_chunk(record, validate_crc=True))
        except Exception as exc:  # noqa: BLE001 - any parse failure means corrupt bytes here
            reason = f"the record at byte {pos} is corrupt ({type(exc).__name__})"
            break
        pos += RECORD_HEAD.size + length
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
    index.metadata = twinstage_metadata(metadata)
    index.chunks.sort(key=lambda c: (c.start_ns, c.offset))
    if not complete:
        if reason == "interrupted" and being_written(stream):
            reason = LIVE
        index.torn = TornTail(index.message_count, data_end or pos, size, reason)
    return index


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


__all__ = ["scan_file", "torn_warning"]
