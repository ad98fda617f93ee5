"""Staleness from the viewer's own monotonic clock (reliability R2).

A point whose device polls every T: after 2 T with no fresh reading it is Uncertain (last usable
value); after 3 T, or when its source's heartbeat stops, it is Bad (no communication). The
adapter's own quality is kept when it is already worse. Runs once per frame, vectorised.
"""

from __future__ import annotations

import numpy as np

from runtime.quality import Quality, Reason
from runtime.world import World

UNCERTAIN_AFTER_PERIODS = 2
BAD_AFTER_PERIODS = 3


def apply_staleness(world: World, now_ns: int, silent: np.ndarray | None = None) -> None:
    """Downgrade stale points in place.

    ``now_ns`` is the viewer's monotonic clock (``time.monotonic_ns``). ``silent`` is a bool (P,)
    mask of points whose source's heartbeat has stopped (None: all sources alive).
    """
    s = world.state
    period = world.points.poll_period_ns
    served = (period > 0) & (s.t_receive_ns >= 0)
    age = np.where(served, now_ns - s.t_receive_ns, 0)
    uncertain = served & (age > UNCERTAIN_AFTER_PERIODS * period)
    bad = served & (age > BAD_AFTER_PERIODS * period)
    if silent is not None:
        bad |= silent & (period > 0)
    downgrade_uncertain = uncertain & ~bad & (s.quality == Quality.GOOD)
    s.quality[downgrade_uncertain] = Quality.UNCERTAIN
    s.reason[downgrade_uncertain] = Reason.LAST_USABLE
    downgrade_bad = bad & (s.quality != Quality.BAD)
    s.quality[downgrade_bad] = Quality.BAD
    s.reason[downgrade_bad] = Reason.NO_COMMUNICATION


def age_ns(world: World, now_ns: int) -> np.ndarray:
    """Age of each point's last good value, ns (-1 where there has never been one)."""
    t = world.state.good_t_receive_ns
    return np.where(t >= 0, now_ns - t, -1)
