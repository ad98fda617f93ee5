"""Recording failures, each naming the file and what is wrong.

They are :class:`~runtime.errors.UsageError` subclasses: the CLI prints the message in one line
and exits 2, never a traceback, because each is for a person to act on (a bad file, a full
disk), not a bug.
"""

from __future__ import annotations

from pathlib import Path

from runtime.errors import UsageError


class RecordingError(UsageError):
    """A recording cannot be read or written; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str, message: str = "") -> None:
        super().__init__(message or f"{path}: {problem}")
        self.path = Path(path)
        """The file (or directory) concerned."""
        self.problem = problem
        """What is wrong, without the file name."""


class BadRecordingError(RecordingError):
    """The input is not a readable twinstage recording (missing, empty, foreign, invalid)."""


class EmptyRecordingError(BadRecordingError):
    """The file holds nothing yet: the recorder stopped before its first flush. In a directory
    such a file is skipped with a warning (typically the last file, cut at its start)."""


class RecordingWriteError(RecordingError):
    """Writing failed (an OS error); the recording stopped and the message says what was lost."""


class DiskFullError(RecordingWriteError):
    """Writing failed because the file system is full."""


__all__ = ["BadRecordingError", "DiskFullError", "EmptyRecordingError", "RecordingError",
           "RecordingWriteError"]
