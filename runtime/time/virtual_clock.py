"""The session's virtual clock: integer nanoseconds that pause, change speed and seek.

The caller measures the wall-clock frame delta and passes it in; the clock never reads a wall
clock itself, so tests drive it by hand. A long wall frame (a stall, a dragged window) counts
at most ``max_frame_wall_ns``, so a stall is never replayed as a burst. Speed is kept as the
ratio of two integers so that virtual time is exact: 16x for 1 s of wall time is exactly 16 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

MIN_SPEED = Fraction(1, 64)
MAX_SPEED = Fraction(64)
SPEED_STEPS = tuple(Fraction(2) ** k for k in range(-6, 7))
"""The speeds the faster/slower keys step through: 1/64x ... 64x, doubling."""


def parse_speed(text: str | float) -> Fraction:
    """``"16"``, ``"16x"``, ``"1/4"``, ``0.25`` -> a speed in [1/64, 64]; ValueError otherwise."""
    raw = str(text).strip().lower().removesuffix("x").strip()
    try:
        speed = Fraction(raw).limit_denominator(64)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"speed {text!r}: expected a number such as 1, 4, 0.25 or 1/4") from None
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed {text!r}: must be between 1/64 and 64")
    return speed


def format_speed(speed: Fraction) -> str:
    """``4x``, ``1/4x``."""
    return f"{speed.numerator}x" if speed.denominator == 1 else f"{speed}x"


@dataclass(slots=True)
class VirtualClock:
    """Virtual now in ns, advanced by wall deltas times the speed, unless paused."""

    now_ns: int = 0
    speed: Fraction = field(default_factory=lambda: Fraction(1))
    paused: bool = False
    max_frame_wall_ns: int = 250_000_000
    """Largest wall delta honoured per frame; a longer frame counts as this long."""
    start_ns: int | None = None
    """Lower bound for seeks (replay: the recording's start); None for no bound."""
    end_ns: int | None = None
    """Upper bound: the clock stops (pauses) here (replay: the recording's end)."""
    _remainder: Fraction = field(default_factory=Fraction)

    def advance(self, wall_dt_ns: int) -> int:
        """Add one frame's wall time; return the virtual delta (0 when paused)."""
        if wall_dt_ns < 0:
            raise ValueError("wall delta cannot be negative")
        if self.paused:
            return 0
        exact = min(wall_dt_ns, self.max_frame_wall_ns) * self.speed + self._remainder
        dt = int(exact)
        self._remainder = exact - dt
        if self.end_ns is not None and self.now_ns + dt >= self.end_ns:
            dt = max(0, self.end_ns - self.now_ns)
            self.paused = True
            self._remainder = Fraction(0)
        self.now_ns += dt
        return dt

    def set_speed(self, speed: Fraction | float | str) -> None:
        self.speed = speed if isinstance(speed, Fraction) else parse_speed(speed)
        self._remainder = Fraction(0)

    def faster(self) -> Fraction:
        """Next doubling up (at most 64x)."""
        ups = [s for s in SPEED_STEPS if s > self.speed]
        self.set_speed(ups[0] if ups else MAX_SPEED)
        return self.speed

    def slower(self) -> Fraction:
        downs = [s for s in SPEED_STEPS if s < self.speed]
        self.set_speed(downs[-1] if downs else MIN_SPEED)
        return self.speed

    def seek(self, t_ns: int) -> int:
        """Jump to ``t_ns`` (clamped to start/end); returns where it landed."""
        if self.start_ns is not None:
            t_ns = max(t_ns, self.start_ns)
        if self.end_ns is not None:
            t_ns = min(t_ns, self.end_ns)
        self.now_ns = int(t_ns)
        self._remainder = Fraction(0)
        return self.now_ns

    def toggle_pause(self) -> bool:
        """Pause or play; playing at the end starts again from the start."""
        if self.paused and self.end_ns is not None and self.now_ns >= self.end_ns:
            self.seek(self.start_ns if self.start_ns is not None else self.now_ns)
        self.paused = not self.paused
        return self.paused
