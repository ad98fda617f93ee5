"""Units a scene may declare, and the name suffix each one requires.

A point called ``level_m`` must have ``unit: m``; a reader should never have to guess a unit.
"""

from __future__ import annotations

UNIT_SUFFIX: dict[str, str | None] = {
    "m": "_m",
    "m3": "_m3",
    "m3/h": "_m3_h",
    "rpm": "_rpm",
    "%": "_pct",
    "kPa": "_kpa",
    "kW": "_kw",
    "degC": "_degc",
    "s": "_s",
    "A": "_a",
    "h": "_h",
    "count": "_count",
    "bool": None,
    "enum": None,
}
"""``count`` is dimensionless (counters: ``starts_count``); ``enum`` names its states."""
"""Known units -> required suffix of the point name (None: any name)."""


def unit_problem(point_name: str, unit: str) -> str | None:
    """Why ``point_name`` cannot carry ``unit``, or None when they agree."""
    if unit not in UNIT_SUFFIX:
        known = ", ".join(UNIT_SUFFIX)
        return f"unknown unit {unit!r} (known units: {known})"
    suffix = UNIT_SUFFIX[unit]
    if suffix is not None:
        if not point_name.endswith(suffix):
            return f"point {point_name!r} has unit {unit!r}, so its name must end in {suffix!r}"
        return None
    for other_unit, other_suffix in UNIT_SUFFIX.items():
        if other_suffix and point_name.endswith(other_suffix):
            return (
                f"point {point_name!r} is named for unit {other_unit!r} but declares unit {unit!r}"
            )
    return None
