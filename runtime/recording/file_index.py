"""Opening one recording file: its index from the MCAP summary, or a recovery scan.

A complete file has an index (the MCAP summary: chunk indexes with per-channel message index
offsets, statistics), read in one go from the end of the file. A torn file (the recorder was
killed, so no summary or footer) is scanned instead (:mod:`runtime.recording.recovery`).
Either way the result is the same :class:`~runtime.recording.file_layout.FileIndex`, so
reading and seeking need not care which. Foreign files and newer format versions are refused
here, naming the channels a foreign file has.

Bad input raises :class:`~runtime.recording.errors.BadRecordingError` naming the file.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

from mcap.reader import make_reader
from mcap.records import Header, Metadata
from mcap.summary import Summary
from mcap.writer import MCAP0_MAGIC

from runtime.recording.errors import BadRecordingError, EmptyRecordingError
from runtime.recording.file_layout import ChunkRef, FileIndex, twinstage_metadata
from runtime.recording.recovery import scan_file
from runtime.recording.schemas import (
    CHANNEL_BY_TOPIC,
    FORMAT_VERSION,
    MESSAGE_ENCODING,
    PROFILE,
    TOPIC_SNAPSHOT,
)


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
        index = scan_file(path, stream, size)
    _check_ours(index, summary)
    return index


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
    return FileIndex(path, header.profile if header else "", twinstage_metadata(metadata),
                     topics, chunks, counts, stats.message_start_time, stats.message_end_time)


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


__all__ = ["load_file_index"]
