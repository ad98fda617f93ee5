"""One benchmark result with its target."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Row:
    """A measured value next to its target. ``better`` says which direction wins."""

    suite: str
    name: str
    value: float
    unit: str
    target: float | None = None
    better: str = "higher"
    """``higher`` (throughput) or ``lower`` (latency, time, CPU)."""
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.better == "higher" else self.value <= self.target

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["met"] = self.met
        return out


def format_value(value: float) -> str:
    if value != value:  # NaN: the measurement could not be taken
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"{value / 1e9:.2f} G"
    if magnitude >= 1e6:
        return f"{value / 1e6:.2f} M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.1f} k"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
