"""Clone pattern on real loopback sockets: late joiners get a snapshot, gaps re-snapshot (R8)."""

from __future__ import annotations

import time

from bus_fixtures import running_bus, wait_until

from runtime.bus.publisher import Publisher
from runtime.bus.subscriber import Subscriber, Update
from runtime.bus.wire import Reading


def _readings(i: int, n: int = 10) -> list[Reading]:
    now = time.time_ns()
    return [Reading(f"P-{k}/speed_rpm", float(i * 100 + k), 0, 0, now) for k in range(n)]


def _drain(sub: Subscriber, into: dict[str, Update]) -> None:
    for u in sub.poll(5_000_000):
        into[u.point] = u


def test_late_joiner_gets_snapshot_after_1000_updates() -> None:
    with running_bus() as bus, Publisher(bus.endpoints, "ad-1") as pub:
        ep = bus.endpoints
        # The bus must be connected before counting: PUB drops until its subscription arrives.
        wait_until(lambda: bus.stats["messages"] > 0, between=lambda: pub.publish([]))
        for i in range(1000):
            pub.publish(_readings(i))
        wait_until(lambda: bus.cached("P-9/speed_rpm") == _readings(999)[9]._replace(
            t_source_ns=bus.cached("P-9/speed_rpm").t_source_ns))
        with Subscriber(ep) as sub:
            seen: dict[str, Update] = {}
            wait_until(lambda: sub.synced and len(seen) == 10, between=lambda: _drain(sub, seen))
            assert {p: u.value for p, u in seen.items()} == {
                f"P-{k}/speed_rpm": 99900.0 + k for k in range(10)}
            assert all(u.source == "ad-1" and u.quality == 0 for u in seen.values())
            # Updates after the snapshot arrive in order; covered ones are never re-applied.
            pub.publish(_readings(1000))
            wait_until(lambda: seen["P-0/speed_rpm"].value == 100000.0,
                       between=lambda: _drain(sub, seen))
            assert sub.stats["gaps"] == 0
            assert seen["P-0/speed_rpm"].seq == pub.seq


def test_snapshot_match_filters_points() -> None:
    with running_bus() as bus, Publisher(bus.endpoints, "ad-1") as pub:
        wait_until(lambda: bus.stats["messages"] > 0, between=lambda: pub.publish([]))
        pub.publish(_readings(1) + [Reading("T-1/level_m", 2.0, 0, 0, time.time_ns())])
        wait_until(lambda: bus.cached("T-1/level_m") is not None)
        with Subscriber(bus.endpoints, match="T-*") as sub:
            seen: dict[str, Update] = {}
            wait_until(lambda: sub.synced and seen, between=lambda: _drain(sub, seen))
            pub.publish(_readings(2) + [Reading("T-1/level_m", 3.0, 0, 0, time.time_ns())])
            wait_until(lambda: seen["T-1/level_m"].value == 3.0, between=lambda: _drain(sub, seen))
            assert set(seen) == {"T-1/level_m"}


def test_forced_drop_is_a_gap_and_triggers_a_new_snapshot() -> None:
    # A tiny high-water mark on both sides of the bus's XPUB makes ZeroMQ drop for certain.
    with running_bus(sub_hwm=2) as bus, Publisher(bus.endpoints, "ad-1") as pub:
        wait_until(lambda: bus.stats["messages"] > 0, between=lambda: pub.publish([]))
        with Subscriber(bus.endpoints, rcvhwm=2) as sub:
            seen: dict[str, Update] = {}
            wait_until(lambda: sub.synced, between=lambda: _drain(sub, seen))
            before = bus.stats["messages"]
            # Big batches so socket buffers fill while nobody reads the subscriber.
            for i in range(3000):
                pub.publish(_readings(i, 200))
            wait_until(lambda: bus.stats["messages"] >= before + 3000)
            final = 2999 * 100.0
            # The publisher keeps its heartbeats going, as a live adapter does: when the drops
            # took only the burst's tail, its next heartbeat's sequence number reveals the gap.
            wait_until(lambda: sub.synced and seen.get("P-0/speed_rpm") is not None
                       and seen["P-0/speed_rpm"].value == final,
                       timeout_s=20, between=lambda: (pub.tick(), _drain(sub, seen)))
            assert sub.stats["gaps"] >= 1
            assert sub.stats["snapshots"] >= 2
            assert {seen[f"P-{k}/speed_rpm"].value for k in range(200)} == {
                final + k for k in range(200)}


def test_publisher_restart_is_a_new_epoch_not_a_gap() -> None:
    with running_bus() as bus:
        ep = bus.endpoints
        with Subscriber(ep) as sub:
            seen: dict[str, Update] = {}
            with Publisher(ep, "ad-1") as pub:
                wait_until(lambda: bus.stats["messages"] > 0, between=lambda: pub.publish([]))
                pub.publish(_readings(1, 1))
                wait_until(lambda: seen.get("P-0/speed_rpm"), between=lambda: _drain(sub, seen))
            with Publisher(ep, "ad-1") as pub2:
                wait_until(lambda: seen["P-0/speed_rpm"].value == 200.0,
                           between=lambda: (pub2.publish(_readings(2, 1)), _drain(sub, seen)))
            assert sub.liveness()["ad-1"].epoch == pub2.epoch


def test_poll_blocks_gives_columns_and_poll_the_same_rows() -> None:
    """The viewer's path: one block of numpy columns per message, no object per reading."""
    import numpy as np

    from runtime.bus.subscriber import UpdateBlock

    with running_bus() as bus, Publisher(bus.endpoints, "ad-1") as pub:
        wait_until(lambda: bus.stats["messages"] > 0, between=lambda: pub.publish([]))
        layout = pub.layout(["P-1/speed_rpm", "T-1/level_m", "P-2/speed_rpm"])
        pub.publish_columns(layout, [1.0, 2.0, 3.0], [0, 1, 2], [0, 1, 8], [5, 6, 7])
        wait_until(lambda: bus.cached("P-2/speed_rpm") is not None)
        with Subscriber(bus.endpoints, match="P-*") as sub:
            blocks: list[UpdateBlock] = []
            wait_until(lambda: sub.synced and blocks,
                       between=lambda: blocks.extend(sub.poll_blocks(5_000_000)))
            (snap,) = blocks
            assert snap.columns.points == ("P-1/speed_rpm", "P-2/speed_rpm")  # matching only
            assert list(snap.columns.values) == [1.0, 3.0] and snap.seq.dtype == np.int64
            pub.publish_columns(layout, [4.0, 5.0, 6.0], [0, 0, 0], [0, 0, 0], [8, 9, 10])
            fresh: list[UpdateBlock] = []
            wait_until(lambda: fresh, between=lambda: fresh.extend(sub.poll_blocks(5_000_000)))
            (block,) = fresh
            assert block.source == "ad-1" and list(block.seq) == [pub.seq, pub.seq]
            assert block.updates() == [
                Update("P-1/speed_rpm", 4.0, 0, 0, 8, "ad-1", pub.seq),
                Update("P-2/speed_rpm", 6.0, 0, 0, 10, "ad-1", pub.seq)]
            assert sub.last_values()["P-2/speed_rpm"].value == 6.0
            assert "T-1/level_m" not in sub.last_values()
