"""The ReadingSource protocol: what a session needs of anything that feeds its world.

A source drains readings into the world's preallocated columns, stamping each with its virtual
receive time, within a CPU budget. A seekable source (a recording) can also be reset to any
virtual time: afterwards the world holds exactly the state the recording had then. Both the
live bus and a recording implement the whole protocol; capabilities are attributes, never
probed with ``getattr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from runtime.sources.world_writer import WorldWriter
from runtime.world import World


@dataclass(frozen=True, slots=True)
class PublisherState:
    """One publisher (adapter) as a source sees it."""

    name: str
    alive: bool
    silent_s: float
    """Seconds since it was last heard (0 when alive)."""


class ReadingSource(Protocol):
    """Feeds a world with readings on the session's virtual clock."""

    kind: str
    """``live`` or ``replay``: what the status bar and the timeline say."""
    seekable: bool
    """Whether :meth:`reset` may be called (a recording: yes; the live bus: no)."""
    start_ns: int | None
    """First virtual time with data (recordings); None for live."""
    end_ns: int | None
    """Last virtual time with data (recordings); None for live."""
    writer: WorldWriter
    """Writes its readings into the world; counts applied and unknown points."""

    @property
    def stats(self) -> dict[str, int]:
        """Counters for the stats file and the status bar (messages, gaps, seeks, ...)."""
        ...

    @property
    def synced(self) -> bool:
        """Whether the source has its starting state (live: the bus answered a snapshot)."""
        ...

    @property
    def backlogged(self) -> bool:
        """More arrived than the last drain could take (live): the session gives the next
        drain more time."""
        ...

    def bus_down_s(self, now_ns: int) -> float | None:
        """Seconds the connection to the bus has been down (live), None while it stands or
        where there is no bus (replay)."""
        ...

    def publishers(self, now_ns: int) -> list[PublisherState]:
        """Each publisher (adapter) this source has heard of, alive or silent, at ``now_ns``."""
        ...

    def drain(self, world: World, until_ns: int, budget_ns: int) -> int:
        """Write every reading received up to virtual ``until_ns`` (live: all that arrived),
        spending about ``budget_ns`` of CPU at most. Returns how many readings were written."""
        ...

    def reset(self, world: World, t_ns: int) -> None:
        """Put ``world`` in the state the source had at virtual ``t_ns`` (seekable only)."""
        ...

    def close(self) -> None: ...
