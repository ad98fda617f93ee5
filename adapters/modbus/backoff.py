"""Capped exponential back-off with jitter, one instance per thing that can fail.

Doubling spaces retries out when a device stays down; the cap keeps recovery prompt when it comes
back (R5: first good reading within 1 s of a server's return needs a reconnect cap well under
1 s); jitter keeps many adapters that lost the same gateway from retrying in lock-step.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays ``initial_s, 2*initial_s, ...`` up to ``max_s``, each scaled by 1 +/- ``jitter``."""

    __slots__ = ("initial_s", "max_s", "jitter", "failures", "_rng")

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        *,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError("back-off needs 0 < initial_s <= max_s")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        self.initial_s = initial_s
        self.max_s = max_s
        self.jitter = jitter
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Record one more failure and return how long to wait before the next try."""
        base = min(self.max_s, self.initial_s * (2.0 ** min(self.failures, 60)))
        self.failures += 1
        return base * (1.0 + self.jitter * (2.0 * self._rng.random() - 1.0))

    def reset(self) -> None:
        """A success: the next failure starts again from ``initial_s``."""
        self.failures = 0

    @property
    def longest_s(self) -> float:
        """The longest delay this back-off can ever return (cap plus jitter)."""
        return self.max_s * (1.0 + self.jitter)


__all__ = ["Backoff"]
