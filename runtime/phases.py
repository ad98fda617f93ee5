"""Every per-frame task sort value, in one place.

Panda3D's ShowBase runs its own tasks by sort number: ``dataLoop`` (-50) reads input devices,
``igLoop`` (50) renders and flips. Our phases sit between them, in this order, each with room
for more tasks beside it. Tasks elsewhere take their sort from here, never a literal.
"""

from __future__ import annotations

from enum import IntEnum

PANDA_DATA_LOOP_SORT = -50
"""ShowBase's input/data graph traversal: mouse and keyboard are fresh after it."""
PANDA_IG_LOOP_SORT = 50
"""ShowBase's render-and-flip task."""


class Phase(IntEnum):
    """Named frame phases with their task sort values (run in ascending order)."""

    INPUT = -40
    """Camera and picking react to this frame's input."""
    INGEST = -20
    """Drain the bus within a time budget; write readings into the point columns."""
    SIMULATE = 0
    """Advance the fixed clock; run the fixed-step simulation ``steps`` times."""
    SYNC = 20
    """Blend previous and current state by alpha; push transforms, colours, shader inputs."""
    HUD = 30
    """Labels, inspector panel, quality cues that read the synced state."""
    CAPTURE = 60
    """After igLoop: screenshots and frame-time probes see the finished frame."""


assert Phase.HUD < PANDA_IG_LOOP_SORT < Phase.CAPTURE
assert PANDA_DATA_LOOP_SORT < Phase.INPUT
