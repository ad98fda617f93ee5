"""A log that says each kind of thing at most once a second.

A flood of bad messages (or gaps) must not become a flood of log lines or a full disk; the
count of what was held back goes out with the next line of the same kind.
"""

from __future__ import annotations

import logging
import time
from typing import Any


class RateLimitedLog:
    """At most one line per key per ``interval_s``, with a count of what was suppressed."""

    def __init__(self, logger: logging.Logger, interval_s: float = 1.0) -> None:
        self._log = logger
        self._interval_ns = int(interval_s * 1e9)
        self._next: dict[str, int] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, level: int, key: str, msg: str, *args: Any) -> None:
        now = time.monotonic_ns()
        if now < self._next.get(key, 0):
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        if len(self._next) > 10_000:  # keys come from peers' names: keep the memo bounded
            self._next.clear()
            self._suppressed.clear()
        self._next[key] = now + self._interval_ns
        skipped = self._suppressed.pop(key, 0)
        if skipped:
            msg += f" ({skipped} similar suppressed)"
        self._log.log(level, msg, *args)
