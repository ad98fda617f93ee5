"""CURVE + ZAP on the bus with real keys (R12, R19, R20): who gets in, as whom, and what for."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import zmq
from bus_fixtures import wait_until
from security_fixtures import auth_failures, client, make_keys, secure_bus

from runtime.bus.adapter_link import AdapterLink
from runtime.bus.command_client import new_command_id, send_command
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.handshake import BusRefusedError
from runtime.bus.keys import add_key, new_key_pair, read_key_pair, revoke_key
from runtime.bus.publisher import Publisher
from runtime.bus.security import ClientSecurity
from runtime.bus.server import BusServer
from runtime.bus.subscriber import Subscriber
from runtime.bus.wire import Ack, Command, Reading, decode_checkpoint
from runtime.control.audit import AuditLog
from runtime.errors import UsageError


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))


def _reading(point: str, value: float) -> Reading:
    return Reading(point, value, 0, 0, time.time_ns())


def _publish_until_cached(bus: BusServer, pub: Publisher, point: str, value: float) -> None:
    wait_until(lambda: (c := bus.cached(point)) is not None and c.value == value,
               between=lambda: pub.publish([_reading(point, value)]))


def test_allowed_keys_publish_and_read(keys: Path) -> None:
    with secure_bus(keys) as bus, \
            Publisher(bus.endpoints, "ad-1", security=client(keys, "ad-1")) as pub:
        _publish_until_cached(bus, pub, "LT-102/level_m", 2.5)
        with Subscriber(bus.endpoints, security=client(keys, "viewer")) as sub:
            got = wait_until(lambda: {u.point: u for u in sub.poll()}.get("LT-102/level_m"))
            assert got.value == 2.5


@pytest.mark.parametrize("how", ["unknown key", "NULL mechanism", "wrong server key"])
def test_unauthenticated_clients_get_nothing_and_deliver_nothing(keys: Path, how: str) -> None:
    stranger = new_key_pair("stranger")
    good = client(keys, "ad-1")
    security: ClientSecurity | None
    if how == "unknown key":
        security = ClientSecurity("stranger", stranger.public_key, stranger.secret_key,
                                  good.bus_public_key)
    elif how == "NULL mechanism":
        security = None
    else:
        security = ClientSecurity("ad-1", good.public_key, good.secret_key,
                                  new_key_pair("fake-bus").public_key)
    with secure_bus(keys) as bus, \
            Publisher(bus.endpoints, "ad-1", security=client(keys, "ad-1")) as real:
        _publish_until_cached(bus, real, "LT-102/level_m", 2.5)
        ctx = zmq.Context()
        try:
            sub = Subscriber(bus.endpoints, context=ctx, security=security)
            forged = Publisher(bus.endpoints, "ad-1", context=ctx, security=security)
            monitor = forged._socket.get_monitor_socket()
            for i in range(20):
                forged.publish([_reading("LT-102/level_m", 4.95)])
                real.publish([_reading("LT-102/level_m", 2.5 + i)])
                assert sub.poll() == []
                time.sleep(0.02)
            if how != "wrong server key":  # a wrong server key fails before ZAP is asked
                assert auth_failures(monitor), "the bus should refuse the handshake"
            assert bus.cached("LT-102/level_m").value != 4.95
            assert not sub.synced and sub.last_values() == {}
            forged._socket.disable_monitor()
            monitor.close(linger=0)
            forged.close()
            sub.close()
        finally:
            ctx.destroy(linger=0)


def test_forged_source_is_dropped_counted_and_never_reaches_a_viewer(keys: Path) -> None:
    with secure_bus(keys) as bus, \
            Publisher(bus.endpoints, "ad-1", security=client(keys, "ad-1")) as real, \
            Publisher(bus.endpoints, "ad-1", security=client(keys, "ad-2")) as forger, \
            Subscriber(bus.endpoints, security=client(keys, "viewer")) as sub:
        _publish_until_cached(bus, real, "LT-102/level_m", 2.5)
        seen: list[float] = []
        wait_until(lambda: bus.stats["forged"] >= 5,
                   between=lambda: (forger.publish([_reading("LT-102/level_m", 4.95)]),
                                    seen.extend(u.value for u in sub.poll())))
        _publish_until_cached(bus, real, "LT-102/level_m", 2.75)
        wait_until(lambda: 2.75 in seen, between=lambda: seen.extend(u.value for u in sub.poll()))
        assert 4.95 not in seen and bus.cached("LT-102/level_m").value == 2.75


class _Adapter:
    """Answers every command ``confirmed`` and remembers what it got."""

    def __init__(self, link: AdapterLink) -> None:
        self.link = link
        self.seen: list[Command] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for cmd in self.link.poll_commands():
                self.seen.append(cmd)
                self.link.send_ack(Ack(cmd.id, cmd.point, "confirmed", "", cmd.value))
            time.sleep(0.002)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.link.close()


def _command(role: str, actor: str = "mallory") -> Command:
    return Command(new_command_id(), "P-101/speed_sp_rpm", 1200.0, role, actor, "ws-3", "write")


def test_identity_comes_from_the_key_and_impostors_are_refused(keys: Path, tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "bus.jsonl")
    with secure_bus(keys, audit=audit) as bus:
        real = _Adapter(AdapterLink(bus.endpoints, "ad-1", ["P-101/speed_sp_rpm"],
                                    register_period_s=0.1, security=client(keys, "ad-1")))
        impostors = []
        try:
            wait_until(lambda: bus.owner("P-101/speed_sp_rpm") == "ad-1")
            # Same adapter id from other keys: one may publish for ad-*, one may not.
            for name in ("adapter", "ad-2"):
                impostors.append(_Adapter(AdapterLink(
                    bus.endpoints, "ad-1", ["P-101/speed_sp_rpm"], register_period_s=0.1,
                    security=client(keys, name))))
            wait_until(lambda: bus.stats["impostors"] >= 4)
            for _ in range(3):
                ack = send_command(bus.endpoints, _command("operator"), 5,
                                   security=client(keys, "operator"))
                assert ack.outcome == "confirmed"
            assert len(real.seen) == 3 and all(not i.seen for i in impostors)
            # Actor and role come from the key; the claimed actor is not believed.
            assert {(c.actor, c.role) for c in real.seen} == {("operator", "operator")}
            assert all(c.host.startswith("ws-3@") for c in real.seen)

            viewer = send_command(bus.endpoints, _command("viewer"), 5,
                                  security=client(keys, "viewer"))
            claimed = send_command(bus.endpoints, _command("operator"), 5,
                                   security=client(keys, "viewer"))
            mismatch = send_command(bus.endpoints, _command("instructor"), 5,
                                    security=client(keys, "operator"))
            assert (viewer.outcome, viewer.code) == ("refused", "role")
            assert (claimed.outcome, claimed.code) == ("refused", "role")
            assert (mismatch.outcome, mismatch.code) == ("refused", "role_mismatch")
            assert len(real.seen) == 3  # none of them reached the adapter
        finally:
            for a in [real, *impostors]:
                a.close()
    audit.close()
    records = [json.loads(line) for line in (tmp_path / "bus.jsonl").read_text().splitlines()]
    assert [(r["actor"], r["role"], r["outcome"], r["reason"]) for r in records] == [
        ("viewer", "viewer", "refused", "role"),
        ("viewer", "viewer", "refused", "role"),
        ("operator", "operator", "refused", "role_mismatch"),
    ]
    assert "claimed role 'instructor', actor 'mallory'" in records[2]["detail"]


def test_revoked_key_is_cut_while_connected(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys")
    add_key(keys, "kiosk-1", "viewer")
    kiosk = client(keys, "kiosk-1")
    with secure_bus(keys) as bus, \
            Publisher(bus.endpoints, "ad-1", security=client(keys, "ad-1")) as pub, \
            Subscriber(bus.endpoints, security=kiosk) as sub:
        monitor = sub._sub.get_monitor_socket()
        values: list[float] = []
        i = 0

        def tick() -> None:
            nonlocal i
            i += 1
            pub.publish([_reading("LT-102/level_m", float(i))])
            values.extend(u.value for u in sub.poll())

        wait_until(lambda: len(values) > 3, between=tick)
        revoke_key(keys, "kiosk-1")
        revoked_at = time.monotonic()
        failures: list[int] = []
        wait_until(lambda: failures.extend(auth_failures(monitor, 0.01)) or failures,
                   timeout_s=10, between=tick)
        assert failures[0] == 400
        cut_after_s = time.monotonic() - revoked_at
        count = len(values)
        for _ in range(20):
            tick()
            time.sleep(0.01)
        assert len(values) == count, "a revoked key must receive nothing more"
        assert bus.stats["revocations"] == 1
        print(f"revocation cut the subscriber after {cut_after_s:.2f} s")
        sub._sub.disable_monitor()
        monitor.close(linger=0)


def test_plaintext_only_on_loopback() -> None:
    with pytest.raises(UsageError, match="loopback"):
        BusServer(BusEndpoints.from_address("tcp://0.0.0.0:0"))


def test_secret_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = add_key(tmp_path, "alice", "operator")
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        read_key_pair(path)


def test_command_with_an_unknown_key_is_told_so(keys: Path) -> None:
    stranger = new_key_pair("stranger")
    with secure_bus(keys) as bus:
        sec = ClientSecurity("stranger", stranger.public_key, stranger.secret_key,
                             client(keys, "viewer").bus_public_key)
        with pytest.raises(BusRefusedError, match="refused key stranger"):
            send_command(bus.endpoints, _command("operator"), 5, security=sec)
        assert bus.stats["commands"] == 0


def test_audit_heads_travel_on_the_bus_and_forged_ones_are_dropped(keys: Path) -> None:
    head = "ab" * 32
    with secure_bus(keys) as bus, \
            Publisher(bus.endpoints, "ad-1", security=client(keys, "ad-1")) as pub, \
            Publisher(bus.endpoints, "ad-1", security=client(keys, "ad-2")) as forger:
        ctx = zmq.Context()
        try:
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            client(keys, "viewer").apply(sub)
            sub.setsockopt(zmq.SUBSCRIBE, b"c.")
            sub.connect(bus.endpoints.sub_out)
            wait_until(lambda: sub.poll(0), between=lambda: pub.publish_checkpoint(7, head))
            assert decode_checkpoint(sub.recv_multipart()).head == head
            assert bus.checkpoint("ad-1").log_seq == 7
            wait_until(lambda: bus.stats["forged"] >= 3,
                       between=lambda: forger.publish_checkpoint(8, "cd" * 32))
            assert bus.checkpoint("ad-1").log_seq == 7
            sub.close()
        finally:
            ctx.term()


def test_a_key_sending_oversized_messages_is_cut_and_quarantined(keys: Path) -> None:
    with secure_bus(keys) as bus, \
            Publisher(bus.endpoints, "ad-1", security=client(keys, "ad-1")) as real:
        _publish_until_cached(bus, real, "LT-102/level_m", 2.5)
        ctx = zmq.Context()
        try:
            bomb = ctx.socket(zmq.PUB)
            bomb.setsockopt(zmq.LINGER, 0)
            client(keys, "rogue").apply(bomb)
            monitor = bomb.get_monitor_socket()
            bomb.connect(bus.endpoints.pub_in)
            part = b"x" * 60_000
            wait_until(lambda: bus.stats["oversized"] >= 1,
                       between=lambda: bomb.send_multipart([b"r.rogue-1", *[part] * 100]),
                       timeout_s=10, step_s=0.05)
            # Cut, and refused when it reconnects: no second bomb gets assembled.
            assert auth_failures(monitor, 10) == [400]
            count = bus.stats["oversized"]  # 1, or 2 when a second was already in flight
            for _ in range(5):
                bomb.send_multipart([b"r.rogue-1", *[part] * 100])
            _publish_until_cached(bus, real, "LT-102/level_m", 3.0)
            assert bus.stats["oversized"] == count <= 3
            bomb.disable_monitor()
            monitor.close(linger=0)
        finally:
            ctx.destroy(linger=0)
