"""Untrusted input (R11): oversized, truncated, wrong-typed and garbage frames are dropped and
the bus keeps serving everyone else."""

from __future__ import annotations

import math
import struct
import time

import msgpack
import zmq
from bus_fixtures import running_bus, wait_until

from runtime.bus import wire
from runtime.bus.publisher import Publisher
from runtime.bus.subscriber import Subscriber, Update
from runtime.bus.wire import Reading

T0 = 1_700_000_000_000_000_000
V = wire.PROTOCOL_VERSION

GARBAGE: list[list[bytes]] = [
    [b"r.evil"],  # one frame
    [b"r.evil", b"", b"extra"],  # three frames
    [b"r.evil", b""],  # empty payload
    [b"r.evil", b"\xc1\xc1\xc1"],  # not msgpack
    [b"r.evil", wire.encode_batch(wire.Batch("evil", 1, 1, T0, "readings",
                                             [Reading("p/x", 1.0, 0, 0, T0)]))[1][:-4]],
    # the first protocol version's rows: refused as an unsupported version
    [b"r.evil", msgpack.packb([1, "readings", "evil", 1, 1, T0, [["p/x", 1.0, 0, 0, T0]]])],
    [b"r.evil", msgpack.packb([V, "readings", "evil", 1, 1, T0, [["p/x", "hi", 0, 0, T0]]])],
    [b"r.evil", msgpack.packb([V, "readings", "evil", 1, 1, T0,
                               ["p/x", struct.pack("<d", math.inf), b"\x00", b"\x00",
                                struct.pack("<q", T0)]])],
    [b"r.evil", msgpack.packb([V, "readings", "evil", 1, 1, T0,
                               ["p/x p/y", struct.pack("<d", 1.0), b"\x00", b"\x00",
                                struct.pack("<q", T0)]])],  # 2 names, 1 entry per column
    [b"r.evil", msgpack.packb([V, "readings", "evil", 1, 1, T0,
                               [" " * 500_000, b"", b"", b"", b""]])],
    [b"r.evil", msgpack.packb([V, "readings", "evil", 1, 1, T0, {"a": 1}])],
    [b"r.evil", b"\x91" * 100_000],
    [b"h.evil", msgpack.packb([V, "heartbeat", "evil", 1, 1, T0, [0, []]])],
    [b"r.evil", b"\xdd\xff\xff\xff\xff"],  # array32 claiming 4 G entries
]


def test_garbage_on_every_socket_is_dropped_and_the_bus_stays_up() -> None:
    ctx = zmq.Context()
    try:
        with running_bus(context=ctx) as bus, Publisher(bus.endpoints, "good", context=ctx) as pub:
            ep = bus.endpoints
            evil = ctx.socket(zmq.PUB)
            evil.setsockopt(zmq.LINGER, 0)
            evil.connect(ep.pub_in)
            wait_until(lambda: bus.stats["messages"] > 0, between=lambda: pub.publish([]))
            # Wait until the evil PUB has the bus's subscription (or it drops everything).
            wait_until(lambda: bus.stats["rejected"] > 0, between=lambda: evil.send_multipart(
                [b"r.evil", b"\xc1"]))
            with Subscriber(ep, context=ctx) as sub:
                for frames in GARBAGE:
                    evil.send_multipart(frames)
                for kind in (zmq.DEALER,):
                    for addr in (ep.snapshot, ep.commands, ep.adapters):
                        rogue = ctx.socket(kind)
                        rogue.setsockopt(zmq.LINGER, 0)
                        rogue.connect(addr)
                        for frames in GARBAGE:
                            rogue.send_multipart(frames)
                        rogue.send(msgpack.packb([V, "command", "x", "p/x", "nan", "", "", "",
                                                  "write"]))
                        rogue.close()
                # Oversized: libzmq's MAXMSGSIZE cuts this peer off before allocating it.
                big = ctx.socket(zmq.PUB)
                big.setsockopt(zmq.LINGER, 0)
                big.connect(ep.pub_in)
                time.sleep(0.2)
                big.send_multipart([b"r.big", b"\x00" * (wire.MAX_MESSAGE_BYTES + 4096)])
                big.close()
                evil.close()
                wait_until(lambda: bus.stats["rejected"] >= len(GARBAGE))
                # The good publisher still gets through, to the cache and to subscribers.
                seen: dict[str, Update] = {}

                def step() -> None:
                    pub.publish([Reading("P-1/x", 7.0, 0, 0, time.time_ns())])
                    for u in sub.poll(5_000_000):
                        seen[u.point] = u

                wait_until(lambda: "P-1/x" in seen and sub.synced, between=step)
                assert bus.cached("P-1/x").value == 7.0
                assert "p/x" not in seen and bus.cached("p/x") is None
                assert bus.source_alive("evil") is None
    finally:
        ctx.term()


def test_subscriber_drops_garbage_forwarded_from_a_fake_bus() -> None:
    # A subscriber must not trust the bus either: stand in for it with a raw XPUB.
    ctx = zmq.Context()
    xpub = ctx.socket(zmq.XPUB)
    xpub.setsockopt(zmq.LINGER, 0)
    port = xpub.bind_to_random_port("tcp://127.0.0.1")
    from runtime.bus.endpoints import BusEndpoints

    ep = BusEndpoints.from_ports("127.0.0.1", [1, port, 2, 3, 4])
    try:
        with Subscriber(ep, context=ctx) as sub:
            xpub.recv()  # its subscription
            for frames in GARBAGE:
                xpub.send_multipart(frames)
            wait_until(lambda: sub.stats["rejected"] >= len(GARBAGE) - 1,
                       between=lambda: sub._on_frames(sub._sub.recv_multipart(), [])
                       if sub._sub.poll(10) else None)
    finally:
        xpub.close()
        ctx.term()
