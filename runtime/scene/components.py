"""The parameter block each asset type takes (``tank:``, ``pump:``, ...), as data.

One table drives validation, the JSON Schema (docs/scene.schema.json) and the format docs, so the
three cannot drift apart. A field spec is (kind, required, default, help):

- ``pos``: number > 0; ``num``: any finite number; ``nonneg``: number >= 0
- ``bool``; ``range``: [low, high] with low < high
- ``entity:<type>``: id of an entity of that type; ``point``: a declared ``<entity>/<point>``
- ``choice:a|b``: one of the listed words
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Field(NamedTuple):
    kind: str
    required: bool
    default: Any
    help: str


def _f(kind: str, help: str, default: Any = None) -> Field:
    return Field(kind, default is None, default, help)


COMPONENT_FIELDS: dict[str, dict[str, Field]] = {
    "tank": {
        "diameter_m": _f("pos", "inside diameter of the vertical cylinder"),
        "height_m": _f("pos", "wall height"),
        "overflow_m": _f("pos", "level at which the overflow weir spills"),
        "initial_level_m": _f("nonneg", "level at start"),
        "inflow_m3_h": _f("nonneg", "constant external inflow (intake)", 0.0),
        "outflow_m3_h": _f("nonneg", "constant external demand drawn off", 0.0),
        "elevation_m": _f("num", "height of the tank floor above datum", 0.0),
    },
    "pump": {
        "motor": _f("entity:motor", "the motor that drives this pump"),
        "rated_flow_m3_h": _f("pos", "flow at the best-efficiency point"),
        "rated_head_m": _f("pos", "head at rated flow and speed"),
        "shutoff_head_m": _f("pos", "head at zero flow and rated speed"),
        "rated_speed_rpm": _f("pos", "speed the curve is given at"),
        "rated_efficiency_pct": _f("pos", "hydraulic efficiency at rated flow", 75.0),
    },
    "motor": {
        "rated_power_kw": _f("pos", "nameplate shaft power"),
        "rated_speed_rpm": _f("pos", "nameplate speed"),
        "inertia_kg_m2": _f("pos", "rotor plus pump inertia (spin-up, coast-down)"),
        "trip_temperature_degc": _f("pos", "winding temperature that trips the motor", 120.0),
    },
    "valve": {
        "cv_m3_h": _f("pos", "flow at 100 % open with 1 bar pressure drop (Kv)"),
        "characteristic": _f("choice:linear|equal_percentage", "inherent characteristic", "linear"),
        "rangeability": _f("pos", "max/min controllable flow (equal percentage)", 50.0),
        "travel_time_s": _f("pos", "time for a full 0-100 % stroke", 10.0),
        "initial_position_pct": _f("nonneg", "position at start", 0.0),
    },
    "junction": {
        "elevation_m": _f("num", "height above datum", 0.0),
    },
    "transmitter": {
        "measures": _f("point", "the process point this instrument measures"),
        "noise_std": _f(
            "nonneg", "standard deviation of measurement noise, in the point's unit", 0.0
        ),
        "lag_s": _f("nonneg", "first-order lag time constant", 0.0),
        "range": _f("range", "calibrated range [low, high]; readings clamp to it", [0.0, 1.0e9]),
    },
    "controller": {
        "algorithm": _f("choice:pid|duty_standby", "what the controller runs"),
        "pv": _f("point", "pid: process variable", ""),
        "output": _f("point", "pid: the setpoint it drives", ""),
        "kp": _f("num", "pid: proportional gain, output units per pv unit", 1.0),
        "ti_s": _f("pos", "pid: integral time", 60.0),
        "output_range": _f("range", "pid: output clamp", [0.0, 100.0]),
        "initial_setpoint_m": _f("num", "pid: setpoint at start", 0.0),
        "reverse_acting": _f("bool", "pid: output falls as pv rises above setpoint", False),
        "duty": _f("entity:pump", "duty_standby: the duty pump", ""),
        "standby": _f("entity:pump", "duty_standby: the standby pump", ""),
        "low_suction_level_m": _f("nonneg", "duty_standby: stop pumps below this level", 0.0),
    },
    "pipe": {},
}
"""Asset type -> its parameter block's fields. Pipes take theirs from ``connections``."""

PROCEDURAL_MODELS = ("tank", "pump", "motor", "valve", "junction", "transmitter", "cabinet")
"""Procedural models the viewer can build without a file."""

MODEL_FILE_SUFFIXES = (".gltf", ".glb", ".bam", ".egg")
