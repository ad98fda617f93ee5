"""The fixed-timestep clock: time is data, in integer nanoseconds.

The caller measures the frame delta and passes it in; the clock never reads a wall clock, so
tests drive it by hand. ``advance`` returns how many fixed steps to run now and the fraction of
a step left over (``alpha``) for blending previous and current state when drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

NS_PER_S = 1_000_000_000


@dataclass(slots=True)
class FixedClock:
    """Accumulator clock with a capped frame delta and a cap on steps per frame.

    The delta cap stops a stall (a breakpoint, a dragged window) from being replayed as a burst;
    the step cap keeps one slow frame from spiralling into ever longer frames. Time dropped by
    either cap is counted in ``dropped_ns`` so a caller can report it.
    """

    step_ns: int = 10_000_000
    """Fixed simulation step (default 10 ms, 100 Hz)."""
    max_frame_ns: int = 250_000_000
    """Largest frame delta honoured; a longer frame counts as this long."""
    max_steps_per_frame: int = 8
    """At most this many steps per ``advance``; leftover time beyond it is dropped."""
    accumulator_ns: int = 0
    """Time received but not yet simulated; always in [0, step_ns) after ``advance``."""
    steps_total: int = 0
    """Steps handed out since creation: simulated time is ``steps_total * step_ns``."""
    dropped_ns: int = 0
    """Time thrown away by the caps since creation."""

    def __post_init__(self) -> None:
        if self.step_ns <= 0:
            raise ValueError("step_ns must be positive")
        if self.max_frame_ns < 0 or self.max_steps_per_frame < 1:
            raise ValueError("max_frame_ns must be >= 0 and max_steps_per_frame >= 1")

    def advance(self, frame_dt_ns: int) -> tuple[int, float]:
        """Add one frame's elapsed time; return (steps to run now, alpha in [0, 1))."""
        if frame_dt_ns < 0:
            raise ValueError("frame delta cannot be negative")
        if frame_dt_ns > self.max_frame_ns:
            self.dropped_ns += frame_dt_ns - self.max_frame_ns
            frame_dt_ns = self.max_frame_ns
        self.accumulator_ns += frame_dt_ns
        steps = self.accumulator_ns // self.step_ns
        steps = min(steps, self.max_steps_per_frame)
        self.accumulator_ns -= steps * self.step_ns
        if self.accumulator_ns >= self.step_ns:
            # Only after the step cap: drop whole steps, keep the remainder below one step.
            self.dropped_ns += self.accumulator_ns - self.accumulator_ns % self.step_ns
            self.accumulator_ns %= self.step_ns
        self.steps_total += steps
        return int(steps), self.accumulator_ns / self.step_ns

    @property
    def alpha(self) -> float:
        """Fraction of a step accumulated but not yet simulated."""
        return self.accumulator_ns / self.step_ns

    @property
    def sim_time_ns(self) -> int:
        """Simulated time since creation."""
        return self.steps_total * self.step_ns

    def reset(self) -> None:
        """Forget accumulated time (scene load, snapshot, teleport): blending restarts."""
        self.accumulator_ns = 0
