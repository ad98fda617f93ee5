"""What the policy needs to know about current values: value and quality per point.

The adapter keeps its latest decoded reading of every point it polls; the policy reads that
through this small protocol so it does not depend on the adapter's own types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from runtime.quality import Quality


class ReadingLike(Protocol):
    """Anything with a value and a quality code (``runtime.quality.Quality``; 0 is Good)."""

    @property
    def value(self) -> float: ...

    @property
    def quality(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Reading:
    """A plain reading, for tests and simple callers."""

    value: float
    quality: int = Quality.GOOD


Readings = Mapping[str, ReadingLike]
"""Point id -> latest reading. A point missing from it has no reading yet (treated as Bad)."""


def is_good(reading: ReadingLike | None) -> bool:
    """Good quality and a finite value: the only readings a decision may rely on."""
    if reading is None or int(reading.quality) != Quality.GOOD:
        return False
    value = float(reading.value)
    return value == value and value not in (float("inf"), float("-inf"))


__all__ = ["Reading", "ReadingLike", "Readings", "is_good"]
