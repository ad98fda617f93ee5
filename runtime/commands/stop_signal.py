"""SIGINT and SIGTERM ask a long-running command to stop at its next loop turn (files closed,
ports freed), instead of killing it mid-write."""

from __future__ import annotations

import signal
from types import FrameType


class StopSignal:
    """Installs the handlers; :attr:`requested` turns True on the first signal."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def __call__(self) -> bool:
        return self.requested
