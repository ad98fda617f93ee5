"""Heartbeats (R10): a silent publisher's points go Bad on the bus and in subscribers, each
judged by its own monotonic clock; when it resumes they come back Uncertain (last usable: a
value from before a SIGSTOP is not fresh) and regain their own quality with their next
reading."""

from __future__ import annotations

import time

from bus_fixtures import running_bus, wait_until

from runtime.bus.publisher import Publisher
from runtime.bus.subscriber import Subscriber, Update
from runtime.bus.wire import Reading
from runtime.quality import Quality, Reason

PERIOD_MS = 250  # silence after 3 periods = 0.75 s: short, yet past a loaded machine's stalls


def test_silence_marks_points_bad_and_recovery_good() -> None:
    with running_bus() as bus, Publisher(bus.endpoints, "ad-1", points=["P-1/x"],
                                         heartbeat_period_ms=PERIOD_MS) as pub:
        wait_until(lambda: bus.stats["messages"] > 0, between=pub.heartbeat)
        pub.publish([Reading("P-1/x", 5.0, int(Quality.GOOD), 0, time.time_ns())])
        with Subscriber(bus.endpoints) as sub:
            seen: dict[str, Update] = {}

            def alive_step() -> None:
                pub.tick()
                for u in sub.poll():
                    seen[u.point] = u

            wait_until(lambda: sub.synced and "P-1/x" in seen, between=alive_step)
            assert seen["P-1/x"].quality == Quality.GOOD
            assert sub.liveness()["ad-1"].period_ms == PERIOD_MS

            # The publisher stops (as if SIGSTOPped): no tick, no publish.
            def silent_step() -> None:
                for u in sub.poll():
                    seen[u.point] = u

            wait_until(lambda: seen["P-1/x"].quality == Quality.BAD, between=silent_step)
            assert seen["P-1/x"].reason == Reason.NO_COMMUNICATION
            assert seen["P-1/x"].value == 5.0  # last value kept, flagged Bad
            assert sub.liveness()["ad-1"].alive is False
            wait_until(lambda: bus.source_alive("ad-1") is False)
            assert bus.cached("P-1/x").quality == Quality.BAD
            # A late joiner during the silence gets the points as Bad from the snapshot.
            with Subscriber(bus.endpoints) as late:
                late_seen: dict[str, Update] = {}
                wait_until(lambda: late.synced and "P-1/x" in late_seen,
                           between=lambda: late_seen.update((u.point, u) for u in late.poll()))
                assert late_seen["P-1/x"].quality == Quality.BAD

            # It resumes (SIGCONT): a heartbeat alone brings the points back, but the value is
            # from before the stop: Uncertain (last usable), on the bus and in subscribers.
            pub.heartbeat()
            wait_until(lambda: seen["P-1/x"].quality == Quality.UNCERTAIN, between=alive_step)
            assert seen["P-1/x"].reason == Reason.LAST_USABLE
            assert sub.liveness()["ad-1"].alive is True
            wait_until(lambda: bus.source_alive("ad-1") is True)
            assert bus.cached("P-1/x").quality == Quality.UNCERTAIN
            with Subscriber(bus.endpoints) as late:
                late_seen = {}
                wait_until(lambda: late.synced and "P-1/x" in late_seen,
                           between=lambda: late_seen.update((u.point, u) for u in late.poll()))
                assert late_seen["P-1/x"].quality == Quality.UNCERTAIN
            # Its next reading of the point is fresh: Good again.
            pub.publish([Reading("P-1/x", 6.0, int(Quality.GOOD), 0, time.time_ns())])
            wait_until(lambda: seen["P-1/x"].quality == Quality.GOOD, between=alive_step)
            assert bus.cached("P-1/x").quality == Quality.GOOD


def test_publisher_sends_non_finite_values_as_bad() -> None:
    with running_bus() as bus, Publisher(bus.endpoints, "ad-1") as pub:
        wait_until(lambda: bus.stats["messages"] > 0, between=lambda: pub.publish([]))
        pub.publish([Reading("P-1/x", float("nan"), 0, 0, time.time_ns()),
                     Reading("P-1/y", 2.0, 0, 0, time.time_ns())])
        wait_until(lambda: bus.cached("P-1/y") is not None)
        bad = bus.cached("P-1/x")
        assert (bad.value, bad.quality, bad.reason) == (0.0, Quality.BAD, Reason.NOT_FINITE)
        assert bus.cached("P-1/y").quality == Quality.GOOD


def test_columnar_publish_sends_non_finite_values_as_bad_and_refuses_wrong_types() -> None:
    import pytest

    from runtime.bus.wire import WireError

    with running_bus() as bus, Publisher(bus.endpoints, "ad-1") as pub:
        wait_until(lambda: bus.stats["messages"] > 0, between=lambda: pub.publish([]))
        layout = pub.layout(["P-1/x", "P-1/y"])
        now = time.time_ns()
        pub.publish_columns(layout, [float("inf"), 2.0], [0, 0], [0, 0], [now, now])
        wait_until(lambda: bus.cached("P-1/y") is not None)
        bad = bus.cached("P-1/x")
        assert (bad.value, bad.quality, bad.reason) == (0.0, Quality.BAD, Reason.NOT_FINITE)
        assert bus.cached("P-1/y").quality == Quality.GOOD
        seq = pub.seq
        for values, quality in ((["1", 2.0], [0, 0]), ([1.0, 2.0], [0, 3]), ([1.0], [0])):
            with pytest.raises(WireError):
                pub.publish_columns(layout, values, quality, [0] * len(quality),
                                    [now] * len(quality))
        assert pub.seq == seq  # nothing was sent
