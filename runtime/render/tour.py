"""Playing a tour: the camera flies from stop to stop on a smooth path and dwells at each.

:class:`TourPlayer` is time as data: :meth:`TourPlayer.advance` takes the frame's delta and
returns what happened (arrived at a stop, left it, reached the end); :meth:`TourPlayer.pose`
is the orbit pose (target, distance, heading, pitch) for now. Between stops every number eases
in and out (smoothstep), the heading turns the short way round, and a long hop lifts the camera
(its distance swells mid-flight) so the path arcs over the plant instead of through it.
Nothing here reads a clock; tests and the kiosk drive it by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from runtime.scene.tours import Tour, TourStop

LIFT_FRACTION = 0.35
"""Mid-flight extra distance, as a fraction, on hops longer than :data:`LIFT_MIN_HOP_M`."""
LIFT_MIN_HOP_M = 10.0


@dataclass(frozen=True, slots=True)
class Pose:
    """An orbit pose: where the camera looks, from how far, heading and pitch (degrees)."""

    target_m: tuple[float, float, float]
    distance_m: float
    heading_deg: float
    pitch_deg: float


def stop_pose(stop: TourStop) -> Pose:
    return Pose(stop.target_m, stop.distance_m, stop.heading_deg, stop.pitch_deg)


def smoothstep(f: float) -> float:
    f = min(1.0, max(0.0, f))
    return f * f * (3.0 - 2.0 * f)


def blend(a: Pose, b: Pose, f: float) -> Pose:
    """The pose a fraction ``f`` (0..1, already eased) of the way from ``a`` to ``b``."""
    target = tuple(x + (y - x) * f for x, y in zip(a.target_m, b.target_m, strict=True))
    turn = (b.heading_deg - a.heading_deg + 180.0) % 360.0 - 180.0
    hop = math.dist(a.target_m, b.target_m)
    lift = LIFT_FRACTION * math.sin(math.pi * f) if hop > LIFT_MIN_HOP_M else 0.0
    distance = (a.distance_m + (b.distance_m - a.distance_m) * f) * (1.0 + lift)
    return Pose(target, distance, (a.heading_deg + turn * f) % 360.0,  # type: ignore[arg-type]
                a.pitch_deg + (b.pitch_deg - a.pitch_deg) * f)


class TourPlayer:
    """Where a tour is: travelling to stop ``index``, dwelling there, or done."""

    def __init__(self, tour: Tour, *, loop: bool = False) -> None:
        self.tour = tour
        self.loop = loop
        self.index = -1
        self.phase = "idle"
        """``idle`` (not started), ``travel``, ``dwell`` or ``done``."""
        self.t_s = 0.0
        """Seconds spent in the current phase."""
        self._from = Pose((0.0, 0.0, 0.0), 1.0, 0.0, -30.0)
        self._pose = self._from

    @property
    def playing(self) -> bool:
        return self.phase in ("travel", "dwell")

    @property
    def stop(self) -> TourStop | None:
        stops = self.tour.stops
        return stops[self.index] if 0 <= self.index < len(stops) else None

    def start(self, current: Pose, index: int = 0) -> None:
        """Fly from ``current`` to stop ``index`` and play on from there."""
        self._go(current, index)

    def next(self) -> int:
        """Skip ahead to the next stop (wraps when looping); returns the stop index."""
        count = len(self.tour.stops)
        target = self.index + 1
        if target >= count:
            target = 0 if self.loop else count - 1
        self._go(self._pose, target)
        return self.index

    def previous(self) -> int:
        self._go(self._pose, max(self.index - 1, 0))
        return self.index

    def stop_playing(self) -> None:
        self.phase = "idle"
        self.index = -1

    def pose(self) -> Pose:
        return self._pose

    def advance(self, dt_s: float) -> list[tuple[str, int]]:
        """Move on by ``dt_s`` seconds; events: (``arrive``, i), (``leave``, i), (``end``, -1)."""
        events: list[tuple[str, int]] = []
        remaining = max(dt_s, 0.0)
        while remaining > 0.0 and self.playing:
            stop = self.stop
            assert stop is not None
            length = stop.travel_s if self.phase == "travel" else stop.dwell_s
            take = min(remaining, max(length - self.t_s, 0.0))
            self.t_s += take
            remaining -= take
            if self.phase == "travel":
                f = 1.0 if length <= 0 else smoothstep(self.t_s / length)
                self._pose = blend(self._from, stop_pose(stop), f)
                if self.t_s >= length:
                    self._pose = stop_pose(stop)
                    self.phase, self.t_s = "dwell", 0.0
                    events.append(("arrive", self.index))
            elif self.t_s >= length:
                events.append(("leave", self.index))
                if self.index + 1 < len(self.tour.stops) or self.loop:
                    self._go(self._pose, (self.index + 1) % len(self.tour.stops))
                else:
                    self.phase = "done"
                    events.append(("end", -1))
        return events

    def _go(self, current: Pose, index: int) -> None:
        self._from = current
        self._pose = current
        self.index = index
        self.phase, self.t_s = "travel", 0.0
