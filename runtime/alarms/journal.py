"""The alarm journal: every transition, appended and fsync'd before anyone is told of it.

One line per transition: ``<crc32 as 8 hex digits> <JSON event map>\\n`` (docs/alarms.md).
``journal_seq`` rises by one per line. On open the file is checked line by line: a last line
without its newline, or whose CRC fails, is what a kill -9 mid-write leaves, and is cut off; a
bad line followed by good ones is damage, and opening refuses with the file and line.

One ``append`` is one write and one fsync however many transitions it carries (a flood of
10,000 transitions is one fsync, not 10,000). The open journal holds an exclusive lock on its
file: a second alarm service on the same journal is refused instead of interleaving lines.
"""

from __future__ import annotations

import fcntl
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from runtime.errors import UsageError


class JournalError(UsageError):
    """The journal file is damaged in a way a crash cannot explain: says which line."""


def encode_line(event: dict[str, Any]) -> bytes:
    body = orjson.dumps(event)
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def decode_line(line: bytes) -> dict[str, Any] | None:
    """The event of one complete line (without its newline), or None if it fails its CRC."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        row = orjson.loads(body)
    except (ValueError, orjson.JSONDecodeError):
        return None
    return row if isinstance(row, dict) else None


def scan(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every good row of ``path`` and the byte length of the good part.

    A torn or bad *last* line is left out (its bytes are beyond the returned length); a bad
    line before a good one raises JournalError.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    rows: list[dict[str, Any]] = []
    good_end = 0
    pos = 0
    line_no = 0
    bad_at: int | None = None
    while pos < len(data):
        line_no += 1
        end = data.find(b"\n", pos)
        if end < 0:  # no newline: a torn last write
            break
        row = decode_line(data[pos:end])
        if row is None:
            if bad_at is None:
                bad_at = line_no
        else:
            if bad_at is not None:
                raise JournalError(f"{path}:{bad_at}: journal line is damaged (checksum or JSON "
                                   "wrong) and good lines follow it; this is not what a crash "
                                   "leaves: restore the file from a backup or move it aside")
            rows.append(row)
            good_end = end + 1
        pos = end + 1
    return rows, good_end


class AlarmJournal:
    """Append-only journal file. Not thread-safe: one owner (the alarm service loop)."""

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._file = open(self.path, "ab")  # noqa: SIM115 - held open for the journal's life
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise JournalError(f"{self.path}: the journal is in use by another alarm service; "
                               "run one alarm service per journal") from None
        if created and fsync:  # the new file's name must survive a power cut too
            _fsync_dir(self.path.parent)
        try:
            rows, good_end = scan(self.path)
        except JournalError:
            self._file.close()
            raise
        self.truncated_bytes = 0
        """Bytes of a torn last line cut off on open (0: the file ended cleanly)."""
        size = self.path.stat().st_size
        if size > good_end:
            self.truncated_bytes = size - good_end
            self._file.truncate(good_end)
            os.fsync(self._file.fileno())
        self.last_seq = int(rows[-1]["journal_seq"]) if rows else 0
        self.last_rows: dict[str, dict[str, Any]] = {}
        """Alarm id -> its latest row (what a restore rebuilds from)."""
        for row in rows:
            self.last_rows[str(row.get("id"))] = row
        self._fsync = fsync
        self._failed = ""
        """Why a write failed; appends are refused from then on (a torn line may be there)."""

    def append(self, events: list[dict[str, Any]]) -> None:
        """Give each event its ``journal_seq`` (in place), write them all, flush and fsync."""
        if not events:
            return
        if self._failed:
            raise JournalError(f"{self.path}: an earlier write failed ({self._failed}); "
                               "restart the alarm service (it rebuilds from the journal)")
        chunks = []
        for event in events:
            self.last_seq += 1
            event["journal_seq"] = self.last_seq
            chunks.append(encode_line(event))
            self.last_rows[event["id"]] = event
        try:
            self._file.write(b"".join(chunks))
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())
        except OSError as exc:  # disk full, I/O error: nothing more may follow a torn line
            self._failed = exc.strerror or str(exc)
            raise

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row from the start of the file, in journal order."""
        self._file.flush()
        rows, _ = scan(self.path)
        yield from rows

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> AlarmJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
