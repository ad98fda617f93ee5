"""A session owns the world, one virtual clock, the readings source and the observer, and
turns each frame's wall-clock delta into one :class:`~runtime.time.FrameTime`.

Live: virtual time is the monotonic clock; each frame drains what the bus delivered, judges
staleness at ``now`` and advances the observer by the frame's delta (as wave 1 did).

Replay: virtual time is the recording's log time, at any speed from 1/64x to 64x, paused or
seeking. The world advances in fixed ticks (``REPLAY_TICK_NS``) on a grid anchored at the last
seek: each tick first advances the observer's model to the tick's end (corrected toward the
measurements held at its start), then applies every message logged up to the tick's end. What
the world and the model hold at a tick's end is therefore a function of the recording alone,
whatever the frame rate or speed: replaying twice gives the same state hashes at the same
virtual times (:func:`state_hash`). A seek rebuilds the world from the recording's index and
re-anchors the model on the measurements (its blend starts again).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import numpy as np

from runtime.live.observer import Observer
from runtime.sources.base import ReadingSource
from runtime.staleness import apply_staleness
from runtime.time.frame_time import FIRST_FRAME, FrameTime
from runtime.time.virtual_clock import VirtualClock
from runtime.world import World

DEFAULT_INGEST_BUDGET_NS = 2_000_000
"""At most 2 ms of a live frame goes to draining the bus; the rest waits for the next frame."""
MAX_INGEST_BUDGET_NS = 64_000_000
"""A backlogged live drain may take up to 64 ms of a frame."""
REPLAY_TICK_NS = 100_000_000
"""Replay advances in 100 ms ticks (10 model steps of 10 ms each)."""
REPLAY_FRAME_BUDGET_NS = 40_000_000
"""At most about 40 ms of CPU per frame go to replay ticks. When a fast replay of a large plant
needs more, the virtual clock falls back by the whole ticks it could not run (the frame says
``behind``): the view stays responsive and plays slower than asked, never skipping data."""
HASHED_STATE = ("value", "quality", "reason", "t_source_ns", "t_receive_ns", "seq")
"""The point-state columns a state hash covers (the held last-good value is not: a seek
cannot know the last good value of a point that was already Bad at the snapshot)."""


class Session:
    """World + virtual clock + source + observer; :meth:`frame` once per rendered frame."""

    def __init__(self, world: World, source: ReadingSource | None, observer: Observer, *,
                 clock: VirtualClock, tick_ns: int = REPLAY_TICK_NS,
                 budget_ns: int = DEFAULT_INGEST_BUDGET_NS, wall_start_ns: int = -1) -> None:
        self.world = world
        self.source = source
        self.observer = observer
        self.clock = clock
        self.tick_ns = tick_ns
        self.budget_ns = budget_ns
        self.base_budget_ns = budget_ns
        self.time = FIRST_FRAME
        """This frame's time; every phase reads it (never a clock of its own)."""
        self.wall_ns = wall_start_ns
        """Wall (monotonic) time the current frame was computed at: for UI cadences only. Live,
        it starts at the clock's own start, so virtual now stays the monotonic clock."""
        self.on_tick: list[Callable[[int], None]] = []
        """Replay: called after each tick with its end time (state hashes in tests)."""
        self.on_seek: list[Callable[[int], None]] = []
        """Called after a seek with the new virtual time (timeline, panels, blends)."""
        self.applied_last_frame = 0
        self.replay_budget_ns = REPLAY_FRAME_BUDGET_NS
        self.behind_ns = 0
        """Virtual time the replay clock gave back because ticks could not keep up."""
        self._behind = False
        self._tick_end_ns = clock.now_ns
        self._acc_ns = 0
        self._frames = 0

    @property
    def mode(self) -> str:
        """``live``, ``replay`` or ``model`` (no source: the scene's model alone)."""
        return "model" if self.source is None else self.source.kind

    @property
    def timed(self) -> bool:
        """Whether the world advances in replay ticks (a seekable source)."""
        return self.source is not None and self.source.seekable

    def frame(self, wall_now_ns: int) -> FrameTime:
        """Advance one frame to wall time ``wall_now_ns`` (monotonic ns); returns its time."""
        wall_dt = 0 if self.wall_ns < 0 else max(0, wall_now_ns - self.wall_ns)
        self.wall_ns = wall_now_ns
        dt = self.clock.advance(wall_dt)
        if self.timed:
            steps, alpha = self._replay_ticks(dt)
        else:
            steps, alpha = self._live(dt)
        if self.source is not None:  # nothing arrives without one: nothing can grow stale
            apply_staleness(self.world, self.clock.now_ns)
        self.world.refresh_entity_quality()
        self._frames += 1
        self.time = FrameTime(now_ns=self.clock.now_ns, dt_ns=dt, steps=steps, alpha=alpha,
                              speed=float(self.clock.speed), paused=self.clock.paused,
                              frame=self._frames, behind=self._behind)
        return self.time

    def seek(self, t_ns: int) -> int:
        """Jump to virtual ``t_ns`` (replay only); returns where the clock landed."""
        if self.source is None or not self.source.seekable:
            raise ValueError(f"a {self.mode} session cannot seek")
        t = self.clock.seek(t_ns)
        self.source.reset(self.world, t)
        self.observer.anchor()
        self._tick_end_ns = t
        self._acc_ns = 0
        apply_staleness(self.world, t)
        self.world.refresh_entity_quality()
        self.time = FrameTime(now_ns=t, dt_ns=0, steps=0, alpha=0.0,
                              speed=float(self.clock.speed), paused=self.clock.paused,
                              frame=self._frames)
        for hook in self.on_seek:
            hook(t)
        return t

    def close(self) -> None:
        if self.source is not None:
            self.source.close()

    # -- clocks -----------------------------------------------------------------------------

    def _live(self, dt: int) -> tuple[int, float]:
        if self.source is not None:
            self.applied_last_frame = self.source.drain(self.world, self.clock.now_ns,
                                                        self.budget_ns)
            # A view that cannot keep up with its bus (a slow frame, a large plant) takes more
            # of each frame until the backlog is gone, rather than fall ever further behind
            # until its sources look silent; then it gives the time back.
            if self.source.backlogged:
                self.budget_ns = min(2 * self.budget_ns, MAX_INGEST_BUDGET_NS)
            else:
                self.budget_ns = max(self.budget_ns // 2, self.base_budget_ns)
        steps = self.observer.update(dt)
        return steps, self.observer.clock.alpha

    def _replay_ticks(self, dt: int) -> tuple[int, float]:
        assert self.source is not None
        self._acc_ns += dt
        ticks = applied = 0
        started = time.perf_counter_ns()
        self._behind = False
        while self._acc_ns >= self.tick_ns:
            if ticks and time.perf_counter_ns() - started > self.replay_budget_ns:
                give_back = self._acc_ns - self._acc_ns % self.tick_ns
                self._acc_ns -= give_back
                self.clock.now_ns -= give_back
                self.behind_ns += give_back
                self._behind = True
                break
            self._acc_ns -= self.tick_ns
            self._tick_end_ns += self.tick_ns
            self.observer.update(self.tick_ns)
            applied += self.source.drain(self.world, self._tick_end_ns, self.budget_ns)
            ticks += 1
            for hook in self.on_tick:
                hook(self._tick_end_ns)
        self.applied_last_frame = applied
        alpha = self._acc_ns / self.tick_ns
        self.observer.blend(alpha)
        return ticks, alpha


def state_hash(world: World, observer: Observer | None = None) -> str:
    """SHA-256 of the world's point state (and the observer's model read-back, if given)."""
    h = hashlib.sha256()
    s = world.state
    for name in HASHED_STATE:
        h.update(np.ascontiguousarray(getattr(s, name)).tobytes())
    if observer is not None:
        h.update(np.ascontiguousarray(observer.current).tobytes())
    return h.hexdigest()
