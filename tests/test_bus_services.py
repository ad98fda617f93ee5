"""Service requests/replies and events through a real CURVE bus (R9, R12): roles come from keys,
missing services answer at once, impostors cannot take a service name, gaps are marked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgpack
import pytest
from bus_fixtures import wait_until
from security_fixtures import client, make_keys, secure_bus

from runtime.bus.events import EventPublisher, EventSubscriber, encode_events
from runtime.bus.server import BusServer
from runtime.bus.service_client import ServiceClient
from runtime.bus.service_link import ServiceLink
from runtime.bus.services import (
    ServiceReply,
    ServiceRequest,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
)
from runtime.bus.wire import Command, WireError, decode_command, encode_command


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("svc-keys"))


@contextmanager
def _service(bus: BusServer, keys: Path, name: str, key: str) -> Iterator[list[ServiceRequest]]:
    """A service thread echoing each request's body, role and actor; yields what it saw."""
    link = ServiceLink(bus.endpoints, name, security=client(keys, key), offer_period_s=0.1)
    seen: list[ServiceRequest] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            if not link.socket.poll(20):
                link.poll(0)  # re-offer on time
                continue
            for req in link.poll():
                seen.append(req)
                if req.method == "big":
                    link.reply(req.id, "ok", {"blob": b"x" * (2 << 20)})
                else:
                    link.reply(req.id, "ok", {"echo": req.body, "role": req.role,
                                              "actor": req.actor})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)
        link.close()


def _offered(bus: BusServer, name: str) -> bool:
    return name in bus._services  # read-only peek from the test thread: a dict lookup


def test_request_reaches_the_service_with_the_keys_role_and_name(keys: Path) -> None:
    with secure_bus(keys) as bus, _service(bus, keys, "history", "historian") as seen:
        wait_until(lambda: _offered(bus, "history"))
        with ServiceClient(bus.endpoints, security=client(keys, "viewer")) as asker:
            # the request's own role/actor fields are overwritten by the bus from the key
            reply = asker.call("history", "raw", {"points": ["T-101/level_m"], "n": 3})
        assert reply.ok, reply
        assert reply.body == {"echo": {"points": ["T-101/level_m"], "n": 3}, "role": "viewer",
                              "actor": "viewer"}
        assert seen[0].method == "raw"
        assert bus.stats["requests"] == 1 and bus.stats["replies"] == 1


def test_a_missing_service_is_unavailable_at_once(keys: Path) -> None:
    with secure_bus(keys) as bus, \
            ServiceClient(bus.endpoints, security=client(keys, "operator")) as asker:
        started = time.monotonic()
        reply = asker.call("alarms", "snapshot", timeout_s=10)
        assert reply.status == "unavailable"
        assert "twinstage alarms" in reply.text
        assert time.monotonic() - started < 5  # answered by the bus, not by the timeout


def test_a_key_that_may_not_publish_for_the_name_cannot_offer_it(keys: Path) -> None:
    with secure_bus(keys) as bus, _service(bus, keys, "history", "ad-1") as seen:
        wait_until(lambda: bus.stats["impostors"] >= 1)
        with ServiceClient(bus.endpoints, security=client(keys, "operator")) as asker:
            reply = asker.call("history", "raw", {})
        assert reply.status == "unavailable"
        assert seen == []


def test_a_reply_too_large_becomes_an_error_and_the_service_keeps_working(keys: Path) -> None:
    with secure_bus(keys) as bus, _service(bus, keys, "history", "historian"):
        wait_until(lambda: _offered(bus, "history"))
        with ServiceClient(bus.endpoints, security=client(keys, "operator")) as asker:
            big = asker.call("history", "big", {})
            assert big.status == "error" and "could not be sent" in big.text
            assert asker.call("history", "raw", {"n": 1}).ok


def test_no_answer_is_a_visible_timeout(keys: Path) -> None:
    with secure_bus(keys) as bus:
        silent = ServiceLink(bus.endpoints, "history", security=client(keys, "historian"))
        try:
            wait_until(lambda: _offered(bus, "history"))
            with ServiceClient(bus.endpoints, security=client(keys, "operator")) as asker:
                reply = asker.call("history", "raw", {}, timeout_s=0.5)
            assert reply.status == "unavailable" and "no answer" in reply.text
        finally:
            silent.close()


def test_events_flow_with_gap_marks_and_forged_events_are_dropped(keys: Path) -> None:
    with secure_bus(keys) as bus:
        sub = EventSubscriber(bus.endpoints, ["alarms"], security=client(keys, "viewer"))
        pub = EventPublisher(bus.endpoints, "alarms", security=client(keys, "alarms"))
        forger = EventPublisher(bus.endpoints, "alarms", security=client(keys, "ad-1"))
        try:
            got = []

            def heard() -> bool:
                pub.publish([{"kind": "probe"}])
                got.extend(sub.poll(timeout_ms=20))
                return bool(got)

            wait_until(heard, timeout_s=10)
            assert got[0].gap  # the first batch heard: the subscriber must snapshot
            got.clear()
            pub.publish([{"kind": "alarm", "id": "P-101-TRIP", "state": "unack"}])
            wait_until(lambda: got.extend(sub.poll(timeout_ms=20)) or any(
                b.events and b.events[0].get("id") == "P-101-TRIP" for b in got))
            batch = next(b for b in got if b.events[0].get("id") == "P-101-TRIP")
            assert not batch.gap
            pub.seq += 5  # five messages "lost" before the bus
            pub.publish([{"kind": "alarm", "id": "T-102-LL"}])
            got.clear()
            wait_until(lambda: got.extend(sub.poll(timeout_ms=20)) or any(
                b.events[0].get("id") == "T-102-LL" for b in got))
            assert next(b for b in got if b.events[0].get("id") == "T-102-LL").gap
            forger.publish([{"kind": "alarm", "id": "FAKE"}])
            wait_until(lambda: bus.stats["forged"] >= 1)
            got.clear()
            pub.publish([{"kind": "end"}])
            wait_until(lambda: got.extend(sub.poll(timeout_ms=20)) or any(
                b.events[0].get("kind") == "end" for b in got))
            assert not any(b.events[0].get("id") == "FAKE" for b in got)
        finally:
            sub.close()
            pub.close()
            forger.close()


def test_wire_round_trips_and_refusals() -> None:
    req = ServiceRequest("r1", "history", "agg", {"points": ["a/b"], "every_s": 60.0})
    assert decode_request(encode_request(req)) == req
    rep = ServiceReply("r1", "ok", "", {"t": b"\x00" * 8, "n": [1, 2]})
    assert decode_reply(encode_reply(rep)) == rep
    with pytest.raises(WireError):
        encode_reply(ServiceReply("r1", "maybe", "", {}))
    with pytest.raises(WireError):
        encode_request(req._replace(body={"x": "y" * (70 << 10)}))
    with pytest.raises(WireError):
        decode_request(msgpack.packb([2, "request", "r", "history", "m", "", "", [1]]))
    with pytest.raises(WireError):
        encode_events("alarms", 1, 1, 0, [1, 2])  # type: ignore[list-item]
    cmd = Command("c1", "alarm/P-101-TRIP", 30.0, "operator", "op", "h", "shelve",
                  "maintenance on P-101")
    assert decode_command(encode_command(cmd)) == cmd
    plain = cmd._replace(action="ack", comment="")
    assert len(msgpack.unpackb(encode_command(plain))) == 9  # old receivers still read it
