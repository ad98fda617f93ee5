"""One place that builds a session for each clock: live (the bus), replay (a recording) or the
scene's model alone. Commands call these; nothing here parses arguments or opens windows."""

from __future__ import annotations

import time
from fractions import Fraction

from runtime.app.session import REPLAY_TICK_NS, Session
from runtime.live.observer import make_observer
from runtime.time.virtual_clock import VirtualClock
from runtime.world import World

LIVE_MAX_FRAME_WALL_NS = 1 << 62
"""Live virtual time is the monotonic clock itself: no frame cap (the observer caps its own)."""


def live_session(world: World, subscriber: object | None) -> Session:
    """The live clock: virtual now is ``time.monotonic_ns``; ``subscriber`` None shows the
    scene's model alone (no readings)."""
    from runtime.sources.live_bus import LiveBusSource

    source = None if subscriber is None else LiveBusSource(subscriber, world)  # type: ignore[arg-type]
    now = time.monotonic_ns()
    clock = VirtualClock(now_ns=now, max_frame_wall_ns=LIVE_MAX_FRAME_WALL_NS)
    return Session(world, source, make_observer(world), clock=clock, wall_start_ns=now)


def replay_session(world: World, recording: object, *, at_ns: int | None = None,
                   speed: Fraction = Fraction(1), paused: bool = False) -> Session:
    """The replay clock over an open recording, seeked to ``at_ns`` (default: its start)."""
    from runtime.sources.recording import RecordingSource

    source = RecordingSource(recording, world)  # type: ignore[arg-type]
    assert source.start_ns is not None and source.end_ns is not None
    clock = VirtualClock(now_ns=source.start_ns, speed=speed, paused=paused,
                         start_ns=source.start_ns, end_ns=source.end_ns)
    observer = make_observer(world, whole_frame_ns=REPLAY_TICK_NS)
    session = Session(world, source, observer, clock=clock)
    session.seek(source.start_ns if at_ns is None else at_ns)
    return session
