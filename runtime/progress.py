"""Progress lines a starting service prints, and a wait that gives up on silence, not on a clock.

A service that needs long to start (the plant model's first numba compile: 47-106 s measured on
a busy two-core machine) prints lines that start with ``compiling `` while it works and one
that starts with ``compiled `` when done. ``twinstage demo`` reads them from the child's log,
shows them, and keeps waiting as long as they keep coming: a fixed 60 s readiness wait failed
the first ``make demo`` on such a machine although nothing was wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from runtime.errors import UsageError
from runtime.supervisor import Child, Supervisor

PROGRESS_PREFIXES = ("compiling ", "compiled ")
"""A line starting with one of these is a progress line."""

STALL_S = 180.0
"""Give up on a starting child after this long with no new progress line. One numba pass of the
plant model took 22 s on a busy two-core machine; this leaves room for a machine several times
slower."""

START_DEADLINE_S = 900.0
"""Give up on a starting child after this long, progress or not (a compile that never ends)."""


def is_progress(line: str) -> bool:
    """True for a progress line (see module docstring)."""
    return line.startswith(PROGRESS_PREFIXES)


class LogTail:
    """New complete lines of a growing log file, read from where the last call stopped."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def new_lines(self) -> list[str]:
        """Lines completed since the last call (empty when the file is missing or unchanged)."""
        if self.path is None:
            return []
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [line.decode(errors="replace").rstrip("\r") for line in lines]

    def progress_lines(self) -> list[str]:
        """Progress lines among :meth:`new_lines`."""
        return [line for line in self.new_lines() if is_progress(line)]


def wait_while_progressing(sup: Supervisor, child: Child, ready: Callable[[], bool], *,
                           quiet_s: float, stall_s: float = STALL_S,
                           deadline_s: float = START_DEADLINE_S,
                           on_progress: Callable[[str], None] = print,
                           poll_s: float = 0.05) -> None:
    """Poll ``ready`` until true while ``child`` shows it is getting there.

    Fails (UsageError, with the end of the child's log) when the child exits; when it printed no
    progress line at all within ``quiet_s`` (a start that needs no compile); when its last
    progress line is older than ``stall_s``; or after ``deadline_s`` in all. Each progress line
    is handed to ``on_progress`` as it arrives.
    """
    tail = LogTail(child.log_path)
    start = last = time.monotonic()
    seen = False
    while True:
        now = time.monotonic()
        for line in tail.progress_lines():
            on_progress(line)
            seen, last = True, now
        if child.process.poll() is not None:
            raise UsageError(f"{child.name} exited with code {child.process.returncode}"
                             f"{sup._log_hint(child)}")
        if ready():
            for line in tail.progress_lines():  # the last lines, "compiled ..." among them
                on_progress(line)
            return
        if now - start > deadline_s:
            raise UsageError(f"{child.name} was not ready after {deadline_s:.0f} s"
                             f"{sup._log_hint(child)}")
        limit = stall_s if seen else quiet_s
        if now - last > limit:
            what = "no progress for" if seen else "not ready and no progress after"
            raise UsageError(f"{child.name}: {what} {limit:.0f} s{sup._log_hint(child)}")
        time.sleep(poll_s)
