"""One adapter with more points than one message holds: chunked registrations, readings in
several messages, a subscriber's snapshot of all of them (issue 17, item 5).

Real bus (BusServer on loopback), real AdapterLink, Publisher and Subscriber sockets. The
100,000-point run is soak-marked; the default suite uses 25,000 points (three chunks).
"""

from __future__ import annotations

import threading
import time

import msgpack
import pytest
import zmq
from bus_fixtures import running_bus, wait_until

import runtime.bus.server as server_module
from runtime.bus import wire
from runtime.bus.adapter_link import AdapterLink
from runtime.bus.command_client import new_command_id, send_command
from runtime.bus.publisher import Publisher
from runtime.bus.server import BusServer
from runtime.bus.subscriber import Subscriber
from runtime.bus.wire import Command, WireError
from runtime.control.ack import Ack


def _names(n: int, per_device: int = 1000) -> list[str]:
    return [f"BIG-{i // per_device}/p{i % per_device}" for i in range(n)]


# -- the wire rule -----------------------------------------------------------------------------


def test_a_registration_over_max_points_goes_in_chunks_that_decode_back() -> None:
    points = _names(25_000)
    payloads = wire.encode_register_chunks("big", points)
    regs = [wire.decode_register(p) for p in payloads]
    assert [(r.adapter_id, r.chunk, r.chunks) for r in regs] == [("big", 0, 3), ("big", 1, 3),
                                                                 ("big", 2, 3)]
    assert [p for r in regs for p in r.points] == points
    assert all(len(r.points) <= wire.MAX_POINTS for r in regs)


def test_a_registration_that_fits_is_the_first_version_message() -> None:
    (payload,) = wire.encode_register_chunks("a-1", ["P-1/x", "P-1/y"])
    assert msgpack.unpackb(payload) == [2, "register", "a-1", ["P-1/x", "P-1/y"]]
    assert wire.decode_register(payload) == wire.Register("a-1", ["P-1/x", "P-1/y"], 0, 1)


def test_long_names_are_chunked_by_size_so_every_chunk_is_a_valid_message() -> None:
    # 10,000 names of 128 characters would be 1.3 MB in one message, over the 1 MiB limit.
    points = [f"E{i:05d}/" + "x" * 121 for i in range(10_000)]
    assert {len(p) for p in points} == {wire.MAX_POINT_LEN}
    payloads = wire.encode_register_chunks("long", points)
    assert len(payloads) > 1
    assert all(len(p) <= wire.MAX_MESSAGE_BYTES for p in payloads)
    assert [n for p in payloads for n in wire.decode_register(p).points] == points


def test_more_points_than_an_adapter_may_own_is_refused_when_encoding() -> None:
    with pytest.raises(WireError, match="at most 100000 per adapter"):
        wire.encode_register_chunks("big", _names(wire.MAX_POINTS_PER_ADAPTER + 1))


@pytest.mark.parametrize("chunk, chunks", [(3, 3), (-1, 3), (0, 0), (0, 101), (True, 2),
                                           (0, 2.0), (None, 2), (1, 1)])
def test_bad_chunk_fields_are_rejected(chunk: object, chunks: object) -> None:
    payload = msgpack.packb([2, "register", "big", ["P-1/x"], chunk, chunks])
    with pytest.raises(WireError, match="registration chunk"):
        wire.decode_register(payload)


def test_a_register_message_of_five_fields_is_rejected() -> None:
    with pytest.raises(WireError, match="fields"):
        wire.decode_register(msgpack.packb([2, "register", "big", ["P-1/x"], 0]))


# -- the bus ------------------------------------------------------------------------------------


class _Answerer:
    """An adapter thread that confirms every command it gets."""

    def __init__(self, link: AdapterLink) -> None:
        self.link = link
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for cmd in self.link.poll_commands():
                self.link.send_ack(Ack(cmd.id, cmd.point, "confirmed", "", cmd.value))
            time.sleep(0.005)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.link.close()


def test_the_bus_owns_the_union_of_the_chunks_and_drops_chunks_a_smaller_one_lacks() -> None:
    points = _names(25_000)
    with running_bus() as bus:
        adapter = _Answerer(AdapterLink(bus.endpoints, "big", points, register_period_s=0.2))
        try:
            wait_until(lambda: all(bus.owner(p) == "big" for p in points[::997] + points[-1:]),
                       timeout_s=15)
            cmd = Command(new_command_id(), points[-1], 7.0, "operator", "tester", "localhost")
            ack = send_command(bus.endpoints, cmd, 10)
            assert (ack.outcome, ack.point, ack.readback) == ("confirmed", points[-1], 7.0)
            adapter.link.set_points(points[:5_000])  # one chunk now: chunks 1 and 2 go
            wait_until(lambda: bus.owner(points[-1]) is None and bus.owner(points[12_000])
                       is None, timeout_s=15)
            assert bus.owner(points[0]) == "big" and bus.owner(points[4_999]) == "big"
        finally:
            adapter.close()


def test_the_bus_refuses_a_chunk_past_the_points_an_adapter_may_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "MAX_POINTS_PER_ADAPTER", 15_000)
    points = _names(25_000)
    with running_bus() as bus:
        ctx = zmq.Context()
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(bus.endpoints.adapters)
        try:
            for payload in wire.encode_register_chunks("big", points):
                dealer.send(payload)
            # Chunk 1 (10,000 more) would pass 15,000 and is refused; chunk 2 (5,000) fits.
            wait_until(lambda: bus.owner(points[-1]) == "big", timeout_s=15)
            assert bus.stats["cache_full"] == 1
            assert bus.owner(points[0]) == "big" and bus.owner(points[9_999]) == "big"
            assert bus.owner(points[10_000]) is None and bus.owner(points[19_999]) is None
        finally:
            dealer.close()
            ctx.term()


def _carry(bus: BusServer, n: int, per_device: int) -> None:
    """One adapter (registration in chunks, readings in messages of at most MAX_READINGS) with
    ``n`` points; a subscriber that joins afterwards gets all of them from the snapshot, then
    a live update of every point."""
    points = _names(n, per_device)
    step = wire.MAX_READINGS
    layouts = [Publisher.layout(points[i:i + step]) for i in range(0, n, step)]

    def publish(pub: Publisher, offset: float) -> None:
        for k, layout in enumerate(layouts):
            m = len(layout)
            values = [float(k * step + i) + offset for i in range(m)]
            pub.publish_columns(layout, values, [0] * m, [0] * m, [time.time_ns()] * m)

    def drain(sub: Subscriber, seen: dict[str, float]) -> None:
        for block in sub.poll_blocks(50_000_000):
            seen.update(zip(block.columns.points, block.columns.values.tolist(), strict=True))

    link = AdapterLink(bus.endpoints, "big", points, register_period_s=0.5)
    with Publisher(bus.endpoints, "big", points=points, hwm=100_000) as pub:
        try:
            wait_until(lambda: bus.owner(points[-1]) == "big", timeout_s=30,
                       between=link.poll_commands)
            # The bus forwards a batch only after caching it: once a live subscriber has every
            # point, the bus's cache has them all (PUB drops until connected: publish again).
            with Subscriber(bus.endpoints, rcvhwm=100_000) as live:
                got: dict[str, float] = {}
                wait_until(lambda: live.synced and len(got) == n, timeout_s=60, step_s=0.2,
                           between=lambda: (publish(pub, 0.0), drain(live, got)))
            with Subscriber(bus.endpoints, rcvhwm=100_000) as sub:
                seen: dict[str, float] = {}
                wait_until(lambda: sub.synced and len(seen) == n, timeout_s=60,
                           between=lambda: drain(sub, seen))
                assert all(seen[p] == float(i) for i, p in enumerate(points))
                publish(pub, 0.5)
                wait_until(lambda: seen[points[-1]] == n - 0.5, timeout_s=30,
                           between=lambda: drain(sub, seen))
                assert all(seen[p] == i + 0.5 for i, p in enumerate(points))
        finally:
            link.close()


def test_one_adapter_carries_25000_points() -> None:
    with running_bus() as bus:
        _carry(bus, 25_000, 1000)
        assert bus.stats["rejected"] == 0 and bus.stats["cache_full"] == 0


@pytest.mark.soak
def test_one_adapter_carries_100000_points() -> None:
    with running_bus() as bus:
        _carry(bus, 100_000, 1000)
        assert bus.stats["rejected"] == 0 and bus.stats["cache_full"] == 0


@pytest.mark.parametrize("count, announced", [(25_000, 0), (3, 3)])
def test_heartbeats_announce_the_points_only_when_they_fit_one(count: int,
                                                               announced: int) -> None:
    points = _names(count)
    with running_bus() as bus:
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"h.big")
        sub.connect(bus.endpoints.sub_out)
        try:
            with Publisher(bus.endpoints, "big", points=points, heartbeat_period_ms=50) as pub:
                got: list[wire.Batch] = []

                def beat() -> None:
                    pub.tick()
                    while sub.poll(0):
                        got.append(wire.decode_batch(sub.recv_multipart()))

                wait_until(lambda: got, timeout_s=10, between=beat)
            assert got[0].kind == wire.KIND_HEARTBEAT and len(got[0].points) == announced
            assert got[0].points == points[:announced]
        finally:
            sub.close()
            ctx.term()
