"""What the status bar and the bus banner say, from plain data (tested without Panda3D).

The bar: site time, the session's clock (LIVE / REPLAY 4x 10:42:05 / MODEL), the bus, each
publisher's state, and who is signed in with which role. Losing the bus is one banner ("no
data from the bus since 10:42:05 - values held"), not one Bad label per asset (hmi.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from runtime.render.sync import format_age
from runtime.sources.base import PublisherState

BUS_LOST_AFTER_S = 3.0
"""Every publisher silent (or no snapshot) this long counts as losing the bus."""


@dataclass(frozen=True, slots=True)
class StatusInputs:
    wall_s: float
    """Site time (Unix seconds) for the clock at the left."""
    mode: str
    """``live``, ``replay`` or ``model``."""
    virtual_s: float
    speed: float
    paused: bool
    bus: str
    """The bus address (live), the recording (replay) or ``""``."""
    synced: bool
    """Live: whether the bus has answered with a snapshot."""
    publishers: tuple[PublisherState, ...]
    user: str
    role: str
    bus_down_s: float | None = None
    """Live: seconds the connection to the bus has been down; None while it stands."""
    forecast: str = ""
    """The what-if look-ahead: "no alarms forecast in the next 30 min" or the first one."""


def _clock(t_s: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t_s))


def bus_lost_since(inputs: StatusInputs) -> float | None:
    """Unix time since when the bus connection is lost (live only), or None while it stands.
    Adapters falling silent on a standing bus are theirs to report, per asset."""
    if inputs.mode != "live" or inputs.bus_down_s is None:
        return None
    if inputs.bus_down_s < BUS_LOST_AFTER_S:
        return None
    return inputs.wall_s - inputs.bus_down_s


def banner_text(inputs: StatusInputs) -> str:
    """The bus banner, or ``""`` when there is nothing to say."""
    since = bus_lost_since(inputs)
    if since is None:
        return ""
    if not inputs.publishers and not inputs.synced:
        return f"no connection to the bus at {inputs.bus} - waiting for it"
    return (f"bus connection lost since {_clock(since)} "
            f"({format_age(inputs.wall_s - since)}) - values held")


def status_text(inputs: StatusInputs) -> str:
    """The one-line status bar."""
    parts = [_clock(inputs.wall_s)]
    if inputs.mode == "live":
        parts.append("LIVE")
    elif inputs.mode == "replay":
        speed = f"{inputs.speed:g}x" if inputs.speed >= 1 else f"1/{1 / inputs.speed:g}x"
        state = " paused" if inputs.paused else ""
        parts.append(f"REPLAY {speed}{state} {_clock(inputs.virtual_s)}")
    else:
        parts.append("MODEL (no data source)")
    if inputs.mode == "live":
        lost = bus_lost_since(inputs) is not None
        parts.append(f"bus {inputs.bus}: {'LOST' if lost else 'connected'}")
    elif inputs.bus:
        parts.append(inputs.bus)
    if inputs.publishers:
        silent = [p for p in inputs.publishers if not p.alive]
        if not silent:
            parts.append(f"{len(inputs.publishers)} adapter(s) OK")
        else:
            parts.append(", ".join(f"{p.name} SILENT {format_age(p.silent_s)}"
                                   for p in silent[:3]) + (" ..." if len(silent) > 3 else ""))
    if inputs.forecast:
        parts.append(inputs.forecast)
    who = f"{inputs.user} ({inputs.role})" if inputs.role != "viewer" else \
        f"{inputs.user} (viewer: no control)"
    parts.append(who)
    return "   |   ".join(parts)
