"""The live clock's source: the bus subscriber's blocks, stamped with the session's now."""

from __future__ import annotations

from runtime.bus.link import BusLink
from runtime.bus.subscriber import Subscriber
from runtime.sources.base import PublisherState
from runtime.sources.world_writer import WorldWriter
from runtime.world import World


class LiveBusSource:
    """Drains a :class:`~runtime.bus.subscriber.Subscriber` into the world each frame.

    Live, virtual time is the monotonic clock at speed 1, so a reading's receive time is the
    frame's ``now``; liveness (silent sources go Bad) comes from the subscriber's own blocks.
    """

    kind = "live"
    seekable = False
    start_ns = None
    end_ns = None

    def __init__(self, subscriber: Subscriber, world: World) -> None:
        self.subscriber = subscriber
        self.writer = WorldWriter(world)
        self.link = BusLink(subscriber.readings_socket)
        """Whether the TCP connection to the bus stands (not whether adapters speak)."""

    @property
    def stats(self) -> dict[str, int]:
        """The subscriber's counters (messages, gaps, snapshots, rejected, ...)."""
        return self.subscriber.stats

    @property
    def synced(self) -> bool:
        return self.subscriber.synced

    @property
    def backlogged(self) -> bool:
        return self.subscriber.backlogged

    def bus_down_s(self, now_ns: int) -> float | None:
        since = self.link.down_since_ns
        return None if self.link.up or since is None else max(0.0, (now_ns - since) / 1e9)

    def publishers(self, now_ns: int) -> list[PublisherState]:
        """Live virtual now is the monotonic clock the subscriber judges liveness by."""
        return [PublisherState(name, st.alive, 0.0 if st.alive
                               else max(0.0, (now_ns - st.last_heard_ns) / 1e9))
                for name, st in self.subscriber.liveness().items()]

    def drain(self, world: World, until_ns: int, budget_ns: int) -> int:
        self.link.poll(until_ns)
        count = 0
        for block in self.subscriber.poll_blocks(budget_ns):
            count += len(self.writer.write(block.columns, until_ns, block.seq))
        if self.subscriber.synced:
            self.link.heard()
        return count

    def reset(self, world: World, t_ns: int) -> None:
        raise ValueError("the live bus cannot seek; replay a recording to travel in time")

    def close(self) -> None:
        self.link.close()
        self.subscriber.close()
