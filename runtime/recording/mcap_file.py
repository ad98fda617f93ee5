"""One open MCAP recording file: header, metadata, schemas, channels, then messages.

The mechanics only (what goes where in the file, flushing, fsync); when to flush, split or
write a snapshot is the :class:`~runtime.recording.writer.RecordingWriter`'s policy. OS errors
propagate as they are: the writer turns them into a message for a person.
"""

from __future__ import annotations

import fcntl
import io
import os
import socket
from pathlib import Path
from typing import IO

from mcap.writer import LIBRARY_IDENTIFIER, CompressionType, IndexType, Writer

from runtime.recording.schemas import (
    CHANNELS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MESSAGE_ENCODING,
    METADATA_NAME,
    PROFILE,
    SCHEMA_ENCODING,
)
from runtime.recording.timefmt import utc_iso, utc_stamp

LIBRARY = f"twinstage-recording/{FORMAT_VERSION} {LIBRARY_IDENTIFIER}"


def recording_path(out_dir: Path, prefix: str, start_ns: int) -> Path:
    """``out_dir/{prefix}-{YYYYmmddTHHMMSSZ}.mcap``; ``-1``, ``-2``, ... if that one exists.

    The reader orders files by name with the counter as a number (``open_recording``).
    """
    base = f"{prefix}-{utc_stamp(start_ns)}"
    path = out_dir / f"{base}.mcap"
    n = 0
    while path.exists():
        n += 1
        path = out_dir / f"{base}-{n}.mcap"
    return path


def recording_metadata(scene: str, host: str, start_ns: int) -> dict[str, str]:
    """The ``twinstage`` metadata record: what wrote the file, for which scene, when."""
    return {"format": FORMAT_NAME, "version": str(FORMAT_VERSION), "scene": scene,
            "host": host, "started_utc": utc_iso(start_ns), "started_ns": str(start_ns)}


class McapFile:
    """An MCAP file being written: chunked, zstd, fully indexed, statistics and summary offsets.

    Everything in the open chunk is in memory until :meth:`flush`, which finishes the chunk
    (with its message indexes) and hands it to the OS, so a killed process loses only that.
    """

    def __init__(self, path: Path, *, start_ns: int, scene: str = "", host: str = "",
                 chunk_bytes: int = 1 << 20, metadata: dict[str, str] | None = None) -> None:
        """Create ``path`` (it must not exist). ``metadata`` replaces the ``twinstage``
        metadata record built from scene, host and start (a repair keeps the original's)."""
        self.path = path
        self.start_ns = start_ns
        self._stream: io.BufferedWriter = open(path, "xb")  # noqa: SIM115 - closed in close()
        try:
            # Readers and repair see the lock and know the file is live, not torn.
            fcntl.flock(self._stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            fsync_dir(path.parent)
            self._mcap = Writer(self._stream, chunk_size=chunk_bytes,
                                compression=CompressionType.ZSTD, index_types=IndexType.ALL,
                                use_statistics=True, use_summary_offsets=True)
            self._mcap.start(profile=PROFILE, library=LIBRARY)
            self._mcap.add_metadata(METADATA_NAME, metadata if metadata is not None else
                                    recording_metadata(scene, host or socket.gethostname(),
                                                       start_ns))
            self.channel_ids: dict[str, int] = {}
            """Topic -> MCAP channel id."""
            for spec in CHANNELS:
                schema_id = self._mcap.register_schema(spec.schema_name, SCHEMA_ENCODING,
                                                       spec.schema_bytes())
                self.channel_ids[spec.topic] = self._mcap.register_channel(
                    spec.topic, MESSAGE_ENCODING, schema_id)
        except BaseException:
            self.abandon()
            raise
        self.messages = 0
        """Messages added to this file (written or still in the open chunk)."""

    def add(self, topic: str, log_time_ns: int, data: bytes, publish_time_ns: int,
            sequence: int | None = None) -> None:
        """Append one message to the open chunk (written when full or at :meth:`flush`).
        ``sequence`` defaults to the message's number in this file."""
        self._mcap.add_message(self.channel_ids[topic], log_time_ns, data, publish_time_ns,
                               (self.messages if sequence is None else sequence) & 0xFFFF_FFFF)
        self.messages += 1

    def flush(self, fsync: bool) -> None:
        """Finish the open chunk, hand everything to the OS, and fsync if asked."""
        self._mcap.flush()
        if fsync:
            os.fsync(self._stream.fileno())

    def finish(self) -> None:
        """Write the summary and footer (the index), fsync and close: a complete file."""
        self._mcap.finish()
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()

    def abandon(self) -> None:
        """Close without writing anything more (after an OS error); the file stays torn."""
        try:
            self._stream.close()
        except OSError:
            # What is still buffered cannot be written (that is why we abandon); release
            # the descriptor anyway.
            try:
                os.close(self._stream.fileno())
            except (OSError, ValueError):
                pass


def being_written(stream: IO[bytes]) -> bool:
    """Whether a writer holds this file open (its exclusive lock): then a missing footer
    means "still recording", not "torn"."""
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # a file system without locks: assume nobody is writing
    fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
    return False


def fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable (a crash must not lose the whole file)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["LIBRARY", "McapFile", "being_written", "fsync_dir", "recording_metadata",
           "recording_path"]
