"""``twinstage record repair FILE``: rewrite a torn recording as a complete, indexed MCAP.

A torn file (the recorder was killed) opens anyway, but every open rescans it and seeking has
no index to use. Repair keeps every message recovery finds and writes them into a new file
with a summary and index. A complete file with a damaged chunk (a flipped bit fails its CRC,
and reading stops there) is rewritten the same way, without that chunk.

The name never points at a half-written file: the new file is written beside the old one and
fsynced, the original is kept as ``FILE.torn`` (a hard link: its bytes stay untouched), and the
new file is renamed over ``FILE``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO, NamedTuple

from runtime.recording.errors import BadRecordingError, RecordingWriteError
from runtime.recording.file_index import load_file_index
from runtime.recording.file_layout import LIVE, ChunkRef, FileIndex, read_chunk_messages
from runtime.recording.mcap_file import McapFile, fsync_dir
from runtime.recording.schemas import CHANNEL_BY_TOPIC


class RepairResult(NamedTuple):
    """What a repair did, for the CLI to print."""

    path: Path
    repaired: bool
    """False when the file was complete and sound already (left alone)."""
    messages_kept: int
    bytes_dropped: int
    """Bytes that held nothing recoverable: the torn tail and any damaged chunks."""
    damaged_chunks: int
    """Chunks dropped because their data failed its CRC or did not decode."""
    backup: Path | None
    """The original, kept as ``FILE.torn`` (None when nothing was changed)."""

    def describe(self) -> str:
        """One line for a person."""
        if not self.repaired:
            return f"{self.path}: already complete ({self.messages_kept} messages); left alone"
        damaged = (f" ({self.damaged_chunks} damaged chunks among them)"
                   if self.damaged_chunks else "")
        return (f"{self.path}: repaired; {self.messages_kept} messages kept, "
                f"{self.bytes_dropped} bytes dropped{damaged}; the original is {self.backup}")


def repair_recording(path: Path) -> RepairResult:
    """Rewrite a torn or damaged recording with an index; a sound, complete file is left
    alone. Raises BadRecordingError (bad or live input) or RecordingWriteError.

    Only twinstage channels are copied (other channels' schemas cannot be trusted in a file
    that needed repair).
    """
    path = Path(path)
    if not path.is_file():
        raise BadRecordingError(path, "no such file" if not path.exists() else
                                "not a file (repair takes one .mcap file)")
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise BadRecordingError(path, f"cannot read the file ({exc.strerror})") from None
    with stream:
        index = load_file_index(path, stream)
        if index.torn is not None and index.torn.reason == LIVE:
            raise BadRecordingError(path, "is still being recorded (a recorder has it open); "
                                    "a recorder finishes its file when it stops")
        chunks = sorted(index.chunks, key=lambda c: c.offset)
        damaged = [c for c in chunks if not _readable(stream, c)]
        if index.torn is None and not damaged:
            return RepairResult(path, False, index.message_count, 0, 0, None)
        backup = path.with_name(path.name + ".torn")
        if backup.exists():
            raise BadRecordingError(path, f"{backup} exists already (an earlier repair?): "
                                    "move it away first")
        tmp = path.with_name(path.name + ".repair-tmp")
        kept = _rewrite(stream, index, [c for c in chunks if c not in damaged], tmp)
    _swap(path, tmp, backup)
    torn = index.torn
    dropped = sum(c.length for c in damaged) + (
        0 if torn is None else torn.file_bytes - torn.valid_bytes)
    return RepairResult(path, True, kept, dropped, len(damaged), backup)


def _readable(stream: IO[bytes], chunk: ChunkRef) -> bool:
    try:
        read_chunk_messages(stream, chunk)
    except Exception:  # noqa: BLE001 - any failure means this chunk's bytes are damaged
        return False
    return True


def _rewrite(stream: IO[bytes], index: FileIndex, chunks: list[ChunkRef], tmp: Path) -> int:
    """Copy the messages of ``chunks`` into a new, complete file at ``tmp``; messages kept."""
    tmp.unlink(missing_ok=True)
    kept = 0
    try:
        out = McapFile(tmp, start_ns=index.start_ns, metadata=index.metadata)
        try:
            for chunk in chunks:
                for msg in read_chunk_messages(stream, chunk):
                    topic = index.topics.get(msg.channel_id, "")
                    if topic in CHANNEL_BY_TOPIC:
                        out.add(topic, msg.log_time, msg.data, msg.publish_time, msg.sequence)
                        kept += 1
            out.finish()
        except BaseException:
            out.abandon()
            raise
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RecordingWriteError(tmp, f"cannot write the repaired file ({exc.strerror}); "
                                  "the original is unchanged") from None
    return kept


def _swap(path: Path, tmp: Path, backup: Path) -> None:
    """Keep the original as ``backup`` and put ``tmp`` in its place, atomically."""
    try:
        os.link(path, backup)
    except OSError:
        shutil.copy2(path, backup)  # a file system without hard links
    os.replace(tmp, path)
    fsync_dir(path.parent)


__all__ = ["RepairResult", "repair_recording"]
