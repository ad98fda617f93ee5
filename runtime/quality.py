"""Data quality of a reading: Good, Uncertain or Bad, with a reason (reliability R1).

Codes are small integers so they travel compactly on the bus and sit in numpy columns.
A Bad value is never used as if it were good: the simulation holds the last good value.
"""

from __future__ import annotations

from enum import IntEnum


class Quality(IntEnum):
    """Overall quality. Ordered: a larger code is worse."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


class Reason(IntEnum):
    """Why a reading is not Good (NONE when it is)."""

    NONE = 0
    LAST_USABLE = 1
    """Uncertain: value is the last one read; fresh readings are late (R2)."""
    NO_COMMUNICATION = 2
    """Bad: the device does not answer, the connection is down, or the source went silent."""
    DEVICE_FAILURE = 3
    """Bad: the device answered with Modbus exception 4 (server device failure)."""
    CONFIGURATION_ERROR = 4
    """Bad: exception 1-3 (illegal function, address or value): the register map is wrong."""
    DEVICE_BUSY = 5
    """Bad: exception 5/6 (acknowledge, busy); retried with capped back-off."""
    GATEWAY = 6
    """Bad: exception 0x0A/0x0B: the gateway cannot reach this unit; other units are unaffected."""
    BAD_REPLY = 7
    """Bad: a short, mismatched or undecodable reply (R6)."""
    NOT_FINITE = 8
    """Bad: the decoded value is NaN or infinite."""
    SENSOR_FAULT = 9
    """Bad or Uncertain: the instrument reports a fault (out of its calibrated range)."""
    INITIAL = 10
    """Bad: no reading has arrived yet."""


def describe(quality: int, reason: int) -> str:
    """Human text such as ``Bad (no communication)`` for labels and logs."""
    q = Quality(quality).name.capitalize()
    if reason == Reason.NONE:
        return q
    try:
        r = Reason(reason).name.lower().replace("_", " ")
    except ValueError:
        r = f"reason {reason}"
    return f"{q} ({r})"
