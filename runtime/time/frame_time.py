"""One frame's time, computed once by the session and handed to every phase (Godot's
main_timer_sync, Bevy's ``Time<Virtual>``): no phase reads a wall clock of its own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FrameTime:
    """Where the session's virtual clock stands this frame."""

    now_ns: int
    """Virtual now: live, the monotonic clock; replay, the recording's log time (Unix ns)."""
    dt_ns: int
    """Virtual time since the previous frame (0 while paused or right after a seek)."""
    steps: int
    """Fixed simulation ticks run this frame."""
    alpha: float
    """Fraction of a tick accumulated but not yet simulated, for blending (0 <= alpha < 1)."""
    speed: float = 1.0
    """Virtual seconds per wall second this frame."""
    paused: bool = False
    frame: int = 0
    """Frames since the session started."""
    behind: bool = False
    """Replay could not run every tick this frame in its CPU budget: it plays slower than
    ``speed`` for now (the timeline says so)."""

    @property
    def now_s(self) -> float:
        return self.now_ns / 1e9


FIRST_FRAME = FrameTime(now_ns=0, dt_ns=0, steps=0, alpha=0.0)
"""The frame before the first one (a session starts here)."""
