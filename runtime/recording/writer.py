"""The flight recorder's file writer: what the recorder receives, into crash-safe MCAP files.

Rules (``docs/recording-format.md``):

- **Every file starts with a full snapshot** (``why="start"``) of the writer's own last-value
  state, and a ``keyframe`` snapshot follows every ``keyframe_s``: any file replays alone, and
  a seek reads only from the last keyframe.
- **One file per ``split_s``** of log time, named ``{prefix}-{YYYYmmddTHHMMSSZ}.mcap``.
- **Crash safety:** at least every ``flush_s`` the open chunk is finished and handed to the OS,
  and fsynced at most once a second, so ``kill -9`` loses at most the last second; a torn file
  is recovered on open (``runtime.recording.reader``) or rewritten by ``repair_recording``.
- **Write errors stop the recording** with one :class:`RecordingWriteError` that names the file
  and says what was lost; the caller (the recorder) reports it and the bus is unaffected.

All times are integer nanoseconds of wall clock given by the caller: the writer reads no clock
of its own except ``clock`` (default ``time.time_ns``), which paces fsyncs and stands in for
``now_ns`` when :meth:`RecordingWriter.tick` is called without one.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from runtime.bus.wire import ReadingColumns, SnapshotSource, WireError
from runtime.control.ack import Ack
from runtime.recording.decode import InvalidMessageError, check_stream_fields, decode_message
from runtime.recording.encode import (
    MessageEncoder,
    encode_ack_json,
    encode_event,
    encode_source_state,
)
from runtime.recording.errors import DiskFullError, RecordingWriteError
from runtime.recording.mcap_file import McapFile, recording_path
from runtime.recording.schemas import (
    SNAPSHOT_WHY,
    TOPIC_ACK,
    TOPIC_EVENT,
    TOPIC_READINGS,
    TOPIC_SNAPSHOT,
    TOPIC_SOURCE,
)
from runtime.recording.state import SourcesState
from runtime.recording.timefmt import NS_PER_S, utc_clock_text

FSYNC_MIN_INTERVAL_NS = NS_PER_S
"""fsync at most once a second: durability against power loss without a disk-bound writer."""


class RecordingWriter:
    """Writes recorded bus traffic into MCAP files under ``out_dir``.

    Not thread-safe: the recorder calls it from one thread (its receive loop), and calls
    :meth:`tick` often (every loop turn, or at least every ``flush_s``) so that flushes,
    keyframes and splits happen on time even when the bus is quiet.
    """

    def __init__(self, out_dir: Path, *, prefix: str = "rec", split_s: float = 3600.0,
                 keyframe_s: float = 10.0, flush_s: float = 1.0, scene: str = "",
                 chunk_bytes: int = 1 << 20, host: str = "",
                 clock: Callable[[], int] = time.time_ns) -> None:
        if not (split_s > 0 and keyframe_s > 0 and flush_s > 0 and chunk_bytes > 0):
            raise ValueError("split_s, keyframe_s, flush_s and chunk_bytes must be positive")
        if not prefix or "/" in prefix:
            raise ValueError(f"file prefix {prefix!r} must be a non-empty name without '/'")
        self.out_dir = Path(out_dir)
        self._prefix = prefix
        self._split_ns = int(split_s * NS_PER_S)
        self._keyframe_ns = int(keyframe_s * NS_PER_S)
        self._flush_ns = int(flush_s * NS_PER_S)
        self._scene = scene
        self._host = host
        self._chunk_bytes = chunk_bytes
        self._clock = clock
        self._state = SourcesState()
        self._encoder = MessageEncoder()
        self._file: McapFile | None = None
        self._file_end_ns = 0
        self._next_keyframe_ns = 0
        self._next_flush_ns = 0
        self._last_fsync_ns = -FSYNC_MIN_INTERVAL_NS
        self._unflushed = 0
        """Messages of the open file not yet handed to the OS."""
        self._durable_until_ns = 0
        """Log time up to which everything was handed to the OS."""
        self._error: RecordingWriteError | None = None
        self._closed = False
        self.files: list[Path] = []
        """Every file this writer created, in order (the last may still be open)."""
        self.messages_written = 0
        """Messages handed to the files (including the open chunk)."""
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingWriteError(self.out_dir, f"cannot create the recording directory: "
                                      f"{exc.strerror or exc}") from None

    # -- what the recorder hands over ---------------------------------------------------------

    def write_readings(self, log_time_ns: int, source: str, epoch: int, seq: int, t_ns: int,
                       cols: ReadingColumns) -> None:
        """One bus batch of readings (validated columns, as the subscriber decoded them).

        Raises WireError for fields the reader would refuse (a bad source name, epoch 0):
        one bad call must not make the file unreadable after it."""
        _check_stream(source, epoch, seq, t_ns)
        self._maintain(log_time_ns)  # a new file's start snapshot goes before this batch
        self._state.apply_readings(source, epoch, seq, cols)
        self._add(TOPIC_READINGS, log_time_ns,
                  self._encoder.readings(source, epoch, seq, t_ns, cols), t_ns)

    def note_heartbeat(self, log_time_ns: int, source: str, epoch: int, seq: int,
                       period_ms: int) -> None:
        """A heartbeat: remembered in the state (period, seq) that snapshots carry.

        A heartbeat writes no message of its own, except when it is the first word from a
        publisher, from a new epoch of it (a restart), or from one recorded as silent: then a
        source-state message (alive, ``silent_ms`` 0: not measured here) records it, so a
        replay forgets the old epoch's points, or sees the source back, when the live bus
        did rather than at the next keyframe."""
        _check_stream(source, epoch, seq, 0, period_ms)
        self._check_usable()
        known = self._state.sources.get(source)
        if known is None or known.epoch != epoch or not known.alive:
            self.write_source_state(log_time_ns, source, epoch, True, 0)
        self._state.note_heartbeat(source, epoch, seq, period_ms)

    def write_source_state(self, log_time_ns: int, source: str, epoch: int, alive: bool,
                           silent_ms: int) -> None:
        """A publisher fell silent (``alive`` False) or came back."""
        data = _checked(TOPIC_SOURCE, encode_source_state(source, epoch, alive, silent_ms))
        self._maintain(log_time_ns)
        self._state.set_alive(source, epoch, alive)
        self._add(TOPIC_SOURCE, log_time_ns, data)

    def write_ack(self, log_time_ns: int, ack: Ack) -> None:
        """A command's ack as the bus delivered it (raises WireError for an invalid ack)."""
        data = encode_ack_json(ack)
        self._maintain(log_time_ns)
        self._add(TOPIC_ACK, log_time_ns, data)

    def write_event(self, log_time_ns: int, kind: str, id: str, text: str,  # noqa: A002
                    severity: str = "", data: dict[str, Any] | None = None) -> None:
        """An alarm, scenario or other event (``data`` must be JSON-serialisable)."""
        payload = _checked(TOPIC_EVENT, encode_event(kind, id, text, severity, data))
        self._maintain(log_time_ns)
        self._add(TOPIC_EVENT, log_time_ns, payload)

    def write_snapshot(self, log_time_ns: int, why: str,
                       sources: Sequence[SnapshotSource] | None = None) -> None:
        """Write the full state now, as ``why`` (``keyframe`` or ``resync``).

        ``sources``: a bus snapshot the recorder just received (late join or gap); its
        sources replace the writer's state for them first. A call that opens a new file writes
        only that file's ``start`` snapshot, which already holds the same state.
        """
        if why not in SNAPSHOT_WHY or why == "start":
            raise ValueError(f"snapshot why {why!r} must be 'keyframe' or 'resync' ('start' "
                             "is written by the writer at the start of each file)")
        self._check_usable()
        if sources is not None:
            for snap in sources:
                _check_stream(snap.source, snap.epoch, snap.seq, 0, snap.period_ms)
            self._state.merge(sources)
        if self._maintain(log_time_ns):
            return
        self._write_snapshot(log_time_ns, why)

    def tick(self, now_ns: int | None = None) -> None:
        """Flush, write a keyframe or start the next file when due (call it often)."""
        if self._file is None or self._error is not None or self._closed:
            return
        self._maintain(self._clock() if now_ns is None else now_ns)

    def close(self) -> None:
        """Finish the open file (summary and index written, fsynced). Idempotent; after a
        write error it only releases the file."""
        if self._closed:
            return
        self._closed = True
        if self._file is None:
            return
        file, self._file = self._file, None
        if self._error is not None:
            file.abandon()
            return
        try:
            file.finish()
        except OSError as exc:
            raise self._failed(exc, file) from None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def path(self) -> Path | None:
        """The file being written, if any."""
        return None if self._file is None else self._file.path

    # -- policy: when to open, split, keyframe and flush --------------------------------------

    def _check_usable(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise RuntimeError("the recording writer is closed")

    def _maintain(self, now_ns: int) -> bool:
        """Open, split, keyframe and flush as due at ``now_ns``; True if a file was opened."""
        self._check_usable()
        if type(now_ns) is not int or not 0 <= now_ns < 1 << 63:
            raise WireError(f"not recorded: log time {now_ns!r:.40} is not an integer "
                            "0..2^63-1 (ns)")
        opened = False
        file = self._file
        if file is not None and now_ns >= self._file_end_ns:
            self._finish_file(file)
            file = None
        if file is None:
            self._open_file(now_ns)
            opened = True
        elif now_ns >= self._next_keyframe_ns:
            self._write_snapshot(now_ns, "keyframe")
        if now_ns >= self._next_flush_ns:
            self._flush(now_ns)
        return opened

    def _open_file(self, start_ns: int) -> None:
        path = recording_path(self.out_dir, self._prefix, start_ns)
        try:
            self._file = McapFile(path, start_ns=start_ns, scene=self._scene, host=self._host,
                                  chunk_bytes=self._chunk_bytes)
        except OSError as exc:
            self._error = self._wrap(exc, path, 0, start_ns)
            raise self._error from None
        self.files.append(path)
        self._file_end_ns = start_ns + self._split_ns
        self._durable_until_ns = start_ns
        self._unflushed = 0
        self._write_snapshot(start_ns, "start")
        # The file is replayable from its first message on: flush the schemas, channels and
        # start snapshot now rather than a second later.
        self._flush(start_ns)

    def _finish_file(self, file: McapFile) -> None:
        self._file = None
        try:
            file.finish()
        except OSError as exc:
            raise self._failed(exc, file) from None

    def _write_snapshot(self, log_time_ns: int, why: str) -> None:
        self._add(TOPIC_SNAPSHOT, log_time_ns,
                  self._encoder.snapshot(why, self._state.snapshot()))
        self._next_keyframe_ns = log_time_ns + self._keyframe_ns

    def _add(self, topic: str, log_time_ns: int, data: bytes,
             publish_time_ns: int | None = None) -> None:
        file = self._file
        assert file is not None, "_maintain opens a file before anything is added"
        self._unflushed += 1
        try:
            file.add(topic, log_time_ns, data,
                     log_time_ns if publish_time_ns is None else publish_time_ns)
        except OSError as exc:
            raise self._failed(exc, file) from None
        self.messages_written += 1

    def _flush(self, now_ns: int) -> None:
        self._next_flush_ns = now_ns + self._flush_ns
        file = self._file
        if file is None or not self._unflushed:
            return
        clock_ns = self._clock()
        fsync = clock_ns - self._last_fsync_ns >= FSYNC_MIN_INTERVAL_NS
        try:
            file.flush(fsync)
        except OSError as exc:
            raise self._failed(exc, file) from None
        if fsync:
            self._last_fsync_ns = clock_ns
        self._unflushed = 0
        self._durable_until_ns = now_ns

    # -- errors ---------------------------------------------------------------------------

    def _failed(self, exc: OSError, file: McapFile) -> RecordingWriteError:
        """Stop recording after an OS error; later calls raise the same error."""
        self._file = None
        file.abandon()
        self._error = self._wrap(exc, file.path, self._unflushed, self._durable_until_ns)
        return self._error

    @staticmethod
    def _wrap(exc: OSError, path: Path, lost: int, since_ns: int) -> RecordingWriteError:
        lost_text = (f"{lost} messages after {utc_clock_text(since_ns)} UTC were not written"
                     if lost else "nothing recorded was lost")
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return DiskFullError(path, f"disk full: recording stopped; {lost_text}",
                                 f"disk full writing {path}: recording stopped; {lost_text}")
        reason = exc.strerror or str(exc)
        return RecordingWriteError(path, f"{reason}: recording stopped; {lost_text}",
                                   f"cannot write {path} ({reason}): recording stopped; "
                                   f"{lost_text}")


def _check_stream(source: str, epoch: int, seq: int, t_ns: int = 0,
                  period_ms: int = 0) -> None:
    try:
        check_stream_fields(source, epoch, seq, t_ns, period_ms)
    except InvalidMessageError as exc:
        raise WireError(f"not recorded: {exc}") from None


def _checked(topic: str, data: bytes) -> bytes:
    """Refuse a rare message (source state, event) that would not read back: the caller
    learns now, not the person replaying the file later."""
    try:
        decode_message(topic, 0, data)
    except InvalidMessageError as exc:
        raise WireError(f"not recorded on {topic}: {exc}") from None
    return data


__all__ = ["RecordingWriter"]
