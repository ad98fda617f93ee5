"""``twinstage record repair FILE``: rewrite a torn recording as a complete, indexed MCAP.

A torn file (the recorder was killed) opens anyway, but every open rescans it and seeking has
no index to use. Repair keeps every message recovery finds, writes them into a new file with
a summary and index, and swaps it in without ever leaving the name without a file: the new
file is written beside the old one, fsynced, the original is kept as ``FILE.torn`` (a hard
link, so the original bytes stay untouched) and the new file is renamed over ``FILE``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NamedTuple

from runtime.recording.errors import BadRecordingError, RecordingWriteError
from runtime.recording.file_index import LIVE, load_file_index, read_chunk_messages
from runtime.recording.mcap_file import McapFile, fsync_dir
from runtime.recording.schemas import CHANNEL_BY_TOPIC


class RepairResult(NamedTuple):
    """What a repair did, for the CLI to print."""

    path: Path
    repaired: bool
    """False when the file was complete already (left alone)."""
    messages_kept: int
    bytes_dropped: int
    """Bytes of the torn tail that held nothing recoverable."""
    backup: Path | None
    """The original, kept as ``FILE.torn`` (None when nothing was changed)."""

    def describe(self) -> str:
        """One line for a person."""
        if not self.repaired:
            return f"{self.path}: already complete ({self.messages_kept} messages); left alone"
        return (f"{self.path}: repaired; {self.messages_kept} messages kept, "
                f"{self.bytes_dropped} bytes of torn tail dropped; the original is "
                f"{self.backup}")


def repair_recording(path: Path) -> RepairResult:
    """Rewrite a torn recording with an index; raises BadRecordingError / RecordingWriteError.

    Only twinstage channels are copied (a torn file's other channels cannot be trusted to
    have their schemas intact).
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
        if index.torn is None:
            return RepairResult(path, False, index.message_count, 0, None)
        if index.torn.reason == LIVE:
            raise BadRecordingError(path, "is still being recorded (a recorder has it open); "
                                    "a recorder finishes its file when it stops")
        backup = path.with_name(path.name + ".torn")
        if backup.exists():
            raise BadRecordingError(path, f"{backup} exists already (an earlier repair?): "
                                    "move it away first")
        tmp = path.with_name(path.name + ".repair-tmp")
        tmp.unlink(missing_ok=True)
        kept = 0
        try:
            out = McapFile(tmp, start_ns=index.start_ns, metadata=index.metadata)
            try:
                for chunk in sorted(index.chunks, key=lambda c: c.offset):
                    for msg in read_chunk_messages(stream, chunk):
                        topic = index.topics.get(msg.channel_id, "")
                        if topic in CHANNEL_BY_TOPIC:
                            out.add(topic, msg.log_time, msg.data, msg.publish_time,
                                    msg.sequence)
                            kept += 1
                out.finish()
            except BaseException:
                out.abandon()
                raise
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise RecordingWriteError(tmp, f"cannot write the repaired file "
                                      f"({exc.strerror}); the original is unchanged") from None
    _swap(path, tmp, backup)
    torn = index.torn
    return RepairResult(path, True, kept, torn.file_bytes - torn.valid_bytes, backup)


def _swap(path: Path, tmp: Path, backup: Path) -> None:
    """Keep the original as ``backup`` and put ``tmp`` in its place, atomically."""
    try:
        os.link(path, backup)
    except OSError:
        shutil.copy2(path, backup)  # a file system without hard links
    os.replace(tmp, path)
    fsync_dir(path.parent)


__all__ = ["RepairResult", "repair_recording"]
