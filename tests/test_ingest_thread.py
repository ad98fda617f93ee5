"""The live source with the bus decoded in an ingest thread (runtime/sources/live_thread.py):
the hand-over leaves the world as in-order writes would, stays bounded under a flood the frame
never drains, keeps quality transitions, and stops cleanly with its sockets closed."""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest
from bus_fixtures import running_bus, wait_until
from conftest import PUMP_STATION

from runtime.app.build import live_session
from runtime.bus.publisher import Publisher
from runtime.bus.subscriber import Subscriber
from runtime.bus.wire import Reading
from runtime.quality import Quality, Reason
from runtime.scene import load_devices, load_scene
from runtime.sources.handover import PointHandOver
from runtime.sources.live_bus import LiveBusSource
from runtime.sources.live_thread import IngestThreadError, ThreadedLiveBusSource
from runtime.staleness import apply_staleness
from runtime.world import World, build_world

GOOD, UNCERTAIN, BAD = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.BAD)
STATE = ("value", "quality", "reason", "t_source_ns", "t_receive_ns", "seq", "good_value",
         "good_t_receive_ns")
PERIOD_MS = 250  # publisher heartbeat: silent after 0.75 s


def _world() -> World:
    scene = load_scene(PUMP_STATION)
    return build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))


def _frame(source: ThreadedLiveBusSource | LiveBusSource, world: World) -> int:
    """One live frame's ingest, as Session._live and Session.frame do it."""
    now = time.monotonic_ns()
    count = source.drain(world, now, 2_000_000)
    apply_staleness(world, now)
    world.refresh_entity_quality()
    return count


def _ingest_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bus-ingest"]


def test_coalesced_hand_over_leaves_the_world_as_in_order_writes_would() -> None:
    """Random batches (Good, Uncertain, Bad, NaN, repeated points): one hand-over apply gives
    every state column the sequence of World.write calls gives, and then nothing more."""
    rng = np.random.default_rng(7)
    direct, handed = _world(), _world()
    handover = PointHandOver(handed)
    count = len(direct.points)
    written = 0
    for t_recv in (1_000, 2_000):
        for _ in range(40):
            n = int(rng.integers(1, 3 * count))
            cols = rng.integers(0, count, n)  # repeats within a batch too
            values = rng.normal(size=n)
            values[rng.random(n) < 0.1] = np.nan
            quality = rng.choice([GOOD, UNCERTAIN, BAD], n, p=[0.6, 0.2, 0.2]).astype(np.uint8)
            reason = rng.integers(0, 4, n).astype(np.uint8)
            t_src = rng.integers(1, 1 << 40, n)
            seq = int(rng.integers(1, 1 << 30))
            direct.write(cols, values, quality, reason, t_src, t_recv, seq)
            handover.write(cols, values, quality, reason, t_src, -7, seq)
            written += n
        assert handover.pending() > 0
        assert handover.apply(handed, t_recv) == written
        written = 0
        for name in STATE:
            np.testing.assert_array_equal(getattr(handed.state, name),
                                          getattr(direct.state, name), err_msg=name)
    assert handover.coalesced > 0
    assert handover.pending() == 0 and handover.apply(handed, 9_999) == 0
    assert (handed.state.t_receive_ns <= 2_000).all()  # nothing stamped by the empty apply


def test_flood_the_frame_never_drains_stays_bounded_and_shows_the_latest_values() -> None:
    """The renderer stalls for a whole flood: the thread keeps decoding, memory does not grow
    with the messages (latest value per point, not a queue), and one frame shows the last."""
    world = _world()
    points = list(world.point_column)
    messages = 4000  # x 22 points: a queue of blocks would keep several MB
    with running_bus() as bus, Publisher(bus.endpoints, "ad-1", points=points) as pub:
        wait_until(lambda: bus.stats["messages"] > 0, between=pub.heartbeat)
        source = ThreadedLiveBusSource(Subscriber(bus.endpoints), world)
        try:
            wait_until(lambda: source.synced, timeout_s=10)
            layout = pub.layout(points)
            t_src = [time.time_ns()] * len(points)
            good = [GOOD] * len(points)
            zero = [0] * len(points)
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                for k in range(1, messages + 1):
                    pub.publish_columns(layout, [float(k + j) for j in range(len(points))],
                                        good, zero, t_src)

                def caught_up() -> bool:
                    s = source.stats
                    return s["messages"] + s["covered"] >= messages or (
                        s["gaps"] > 0 and source.synced and source.handover.pending())

                wait_until(caught_up, timeout_s=60, step_s=0.05)
                retained = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            assert retained < 1_000_000, f"hand-over kept {retained} bytes"
            assert source.handover.pending() <= len(points)
            assert 0 <= source.stats["lag_ms_p50"] <= source.stats["lag_ms_max"]
            applied = _frame(source, world)
            assert applied >= len(points)
            last = np.array([float(messages + j) for j in range(len(points))])
            cols = np.array([world.point_column[p] for p in points])
            if source.stats["gaps"] == 0:  # every message decoded: all but the last coalesced
                assert applied >= messages * len(points)
                assert source.stats["coalesced"] >= (messages - 1) * len(points)
            wait_until(lambda: (_frame(source, world), world.state.value[cols])[1][0] == last[0],
                       timeout_s=10)  # after a gap, the re-snapshot brings the latest
            np.testing.assert_array_equal(world.state.value[cols], last)
            assert (world.state.quality[cols] == GOOD).all()
        finally:
            source.close()
        assert not source.thread.is_alive()


def test_quality_transitions_pass_through_the_thread() -> None:
    """Good -> the publisher falls silent (judged in the thread, even while no frame drains) ->
    Bad, no communication, value kept -> heard again -> Uncertain, last usable -> fresh Good."""
    world = _world()
    point = "P-101/speed_rpm"
    col = world.point_column[point]
    state = world.state
    with running_bus() as bus, Publisher(bus.endpoints, "ad-1", points=[point],
                                         heartbeat_period_ms=PERIOD_MS) as pub:
        wait_until(lambda: bus.stats["messages"] > 0, between=pub.heartbeat)
        source = ThreadedLiveBusSource(Subscriber(bus.endpoints), world)
        try:
            def send(value: float) -> None:
                pub.publish([Reading(point, value, GOOD, 0, time.time_ns())])

            wait_until(lambda: _frame(source, world) >= 0 and state.value[col] == 1450.0,
                       between=lambda: send(1450.0))
            assert state.quality[col] == GOOD
            assert [(p.name, p.alive) for p in source.publishers(time.monotonic_ns())] == [
                ("ad-1", True)]
            # Silence while the frame is stalled: the thread alone notices it.
            wait_until(lambda: not source.publishers(time.monotonic_ns())[0].alive,
                       timeout_s=10)
            assert source.publishers(time.monotonic_ns())[0].silent_s > 0.5
            assert source.drain(world, time.monotonic_ns(), 0) >= 1  # the Bad block
            assert state.quality[col] == BAD
            assert state.reason[col] == Reason.NO_COMMUNICATION
            assert state.value[col] == 1450.0 and state.good_value[col] == 1450.0
            # Heard again: a heartbeat brings the point back Uncertain (a value from before
            # the silence is not fresh), then its next reading Good.
            pub.heartbeat()
            wait_until(lambda: _frame(source, world) >= 0 and state.quality[col] == UNCERTAIN,
                       timeout_s=10, between=pub.tick)
            assert state.reason[col] == Reason.LAST_USABLE
            assert state.value[col] == 1450.0
            wait_until(lambda: _frame(source, world) >= 0 and state.value[col] == 1500.0,
                       between=lambda: send(1500.0))
            assert state.quality[col] == GOOD
            assert source.stats["readings"] >= 2
        finally:
            source.close()


def test_close_stops_the_thread_and_closes_both_sockets_even_mid_flood() -> None:
    world = _world()
    points = list(world.point_column)
    before = len(_ingest_threads())
    with running_bus() as bus, Publisher(bus.endpoints, "ad-1", points=points) as pub:
        wait_until(lambda: bus.stats["messages"] > 0, between=pub.heartbeat)
        sub = Subscriber(bus.endpoints)
        source = ThreadedLiveBusSource(sub, world)
        assert len(_ingest_threads()) == before + 1
        wait_until(lambda: source.synced, timeout_s=10)
        layout = pub.layout(points)
        for k in range(500):
            pub.publish_columns(layout, [float(k)] * len(points), [GOOD] * len(points),
                                [0] * len(points), [time.time_ns()] * len(points))
        wait_until(lambda: source.stats["messages"] > 0)
        started = time.monotonic()
        source.close()
        took = time.monotonic() - started
        assert not source.thread.is_alive(), f"thread still running {took:.1f} s after close"
        assert sub.readings_socket.closed and sub.snapshot_socket.closed
        assert len(_ingest_threads()) == before
        source.close()  # twice is harmless
        assert source.bus_down_s(time.monotonic_ns()) is not None  # no longer connected


def test_a_failure_in_the_thread_reaches_the_frame_and_still_closes_the_sockets() -> None:
    world = _world()
    with running_bus() as bus:
        sub = Subscriber(bus.endpoints)

        def broken(budget_ns: int = 0) -> list:
            raise ValueError("decoder bug")

        sub.poll_blocks = broken  # type: ignore[method-assign]
        source = ThreadedLiveBusSource(sub, world)
        wait_until(lambda: not source.thread.is_alive())
        with pytest.raises(IngestThreadError, match="decoder bug"):
            source.drain(world, time.monotonic_ns(), 0)
        assert sub.readings_socket.closed and sub.snapshot_socket.closed
        source.close()


def test_live_session_takes_the_thread_by_default_and_the_frame_on_request() -> None:
    with running_bus() as bus:
        threaded = live_session(_world(), Subscriber(bus.endpoints))
        framed = live_session(_world(), Subscriber(bus.endpoints), ingest="frame")
        try:
            assert isinstance(threaded.source, ThreadedLiveBusSource)
            assert isinstance(framed.source, LiveBusSource)
            assert threaded.mode == framed.mode == "live"
            with pytest.raises(ValueError, match="ingest must be one of"):
                live_session(_world(), None, ingest="gpu")
        finally:
            threaded.close()
            framed.close()
        assert not threaded.source.thread.is_alive()  # type: ignore[union-attr]
