"""When a publisher counts as silent: one rule for the bus server and every subscriber.

Liveness is judged from the judging process's own monotonic clock, never from a time a peer
wrote (R2, R10): a source not heard for ``misses`` of its heartbeat periods is silent, and its
points are served (bus) or shown (subscriber) as Bad, no communication, until it is heard
again. The server and the subscribers use the same rule and numbers, so a viewer and the bus's
snapshot agree on who is alive.
"""

from __future__ import annotations

DEFAULT_PERIOD_MS = 1000
"""Assumed heartbeat period of a source until a heartbeat (or snapshot) says otherwise."""
SILENCE_MISSES = 3
"""Heartbeat periods without a message before a source is silent."""


def silence_after_ns(period_ms: int, misses: int = SILENCE_MISSES) -> int:
    """How long a source with heartbeat period ``period_ms`` may stay unheard."""
    return period_ms * misses * 1_000_000


def fell_silent(last_heard_ns: int, period_ms: int, now_ns: int,
                misses: int = SILENCE_MISSES) -> bool:
    """Whether a source last heard at ``last_heard_ns`` is silent at ``now_ns``."""
    return now_ns - last_heard_ns > silence_after_ns(period_ms, misses)
