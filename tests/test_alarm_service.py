"""The alarm service on a real CURVE bus: readings in, journaled events out, snapshots for late
joiners, operator actions as audited commands, one state seen by every viewer (R9, R17)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alarm_fixtures import alarm, alarm_set
from bus_fixtures import wait_until
from security_fixtures import client, make_keys, secure_bus

from runtime.alarms import AlarmEngine, AlarmJournal
from runtime.alarms.board import AlarmBoard
from runtime.alarms.feed import AlarmFeed
from runtime.alarms.service import AlarmService
from runtime.bus.command_client import new_command_id, send_command
from runtime.bus.publisher import Publisher
from runtime.bus.server import BusServer
from runtime.bus.wire import Command, Reading
from runtime.control.audit import AuditLog


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("alarm-keys"))


DEFS = alarm_set(
    alarm("T-1-H", "T-1/level_m", "high", limit=4.0, deadband=0.1, priority="Medium"),
    alarm("P-1-TRIP", "P-1/tripped", "discrete", value=1.0, priority="High"),
)


@contextmanager
def _service(bus: BusServer, keys: Path, folder: Path,
             defs=DEFS) -> Iterator[AlarmService]:  # noqa: ANN001
    journal = AlarmJournal(folder / "journal.jsonl")
    audit = AuditLog(folder / "audit.jsonl")
    engine = AlarmEngine.restore(defs, journal)
    service = AlarmService(engine, bus.endpoints, security=client(keys, "alarms"), audit=audit)
    thread = service.start_thread()
    try:
        yield service
    finally:
        service.stop()
        thread.join(5)
        journal.close()
        audit.close()


def _readings(pub: Publisher, level: float, tripped: float) -> None:
    pub.publish([Reading("T-1/level_m", level, 0, 0, 1), Reading("P-1/tripped", tripped, 0, 0, 1)])


def _state(board: AlarmBoard, feed: AlarmFeed, ident: str) -> str | None:
    feed.drain(board)
    alarm_view = board.alarms.get(ident)
    return None if alarm_view is None else alarm_view.state


def _ack(bus: BusServer, keys: Path, target: str, key: str = "operator", *,
         action: str = "ack", cid: str | None = None, minutes: float = 0.0,
         comment: str = "") -> object:
    role = {"operator": "operator", "viewer": "viewer", "instructor": "instructor"}[key]
    return send_command(bus.endpoints, Command(cid or new_command_id(), f"alarm/{target}",
                                               minutes, role, key, "test", action, comment),
                        security=client(keys, key))


def test_two_viewers_see_one_state_and_an_ack_on_one_acks_it_on_both(keys: Path,
                                                                     tmp_path: Path) -> None:
    with secure_bus(keys) as bus, _service(bus, keys, tmp_path) as service:
        pub = Publisher(bus.endpoints, "adapter-test", security=client(keys, "adapter"))
        feeds = [AlarmFeed(bus.endpoints, security=client(keys, name))
                 for name in ("viewer", "operator")]
        boards = [AlarmBoard(), AlarmBoard()]
        try:
            wait_until(lambda: service.subscriber.synced, timeout_s=10)
            wait_until(lambda: (_readings(pub, 4.5, 1.0) or True) and all(
                _state(b, f, "P-1-TRIP") == "unack" for b, f in zip(boards, feeds, strict=True)),
                timeout_s=15)
            ack = _ack(bus, keys, "P-1-TRIP", comment="seen it")
            assert ack.outcome == "confirmed", ack
            wait_until(lambda: all(_state(b, f, "P-1-TRIP") == "ack"
                                   for b, f in zip(boards, feeds, strict=True)), timeout_s=10)
            assert boards[0].alarms["P-1-TRIP"].actor == "operator"  # the key's name
            # Late joiner: a third viewer gets the state from a snapshot.
            late = AlarmFeed(bus.endpoints, security=client(keys, "instructor"))
            board = AlarmBoard()
            wait_until(lambda: _state(board, late, "P-1-TRIP") == "ack", timeout_s=10)
            assert _state(board, late, "T-1-H") == "unack"
            late.close()
        finally:
            for f in feeds:
                f.close()
            pub.close()
    rows = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    acks = [r for r in rows if r.get("action") == "ack"]
    assert acks and acks[-1]["actor"] == "operator" and acks[-1]["outcome"] == "confirmed"
    assert "seen it" in acks[-1]["detail"]


def test_refusals_say_why_and_a_repeated_id_does_nothing_twice(keys: Path,
                                                              tmp_path: Path) -> None:
    with secure_bus(keys) as bus, _service(bus, keys, tmp_path) as service:
        pub = Publisher(bus.endpoints, "adapter-test", security=client(keys, "adapter"))
        try:
            wait_until(lambda: "alarms" in bus._adapters, timeout_s=10)
            unknown = _ack(bus, keys, "NO-SUCH-ALARM")
            assert unknown.outcome == "refused" and unknown.code == "unknown_alarm"
            assert "NO-SUCH-ALARM" in unknown.text
            viewer = _ack(bus, keys, "P-1-TRIP", key="viewer")
            assert viewer.outcome == "refused" and viewer.code == "role"  # at the bus
            no_reason = _ack(bus, keys, "T-1-H", action="shelve", minutes=30)
            assert no_reason.outcome == "refused" and "reason" in no_reason.text.lower()
            wait_until(lambda: service.subscriber.synced, timeout_s=10)
            wait_until(lambda: (_readings(pub, 4.5, 0.0) or True) and any(
                s["id"] == "T-1-H" and s["state"] == "unack" for s in service.engine.states()),
                timeout_s=10)
            cid = new_command_id()
            first = _ack(bus, keys, "T-1-H", action="shelve", minutes=30,
                         comment="transmitter maintenance", cid=cid)
            assert first.outcome == "confirmed", first
            again = _ack(bus, keys, "T-1-H", action="shelve", minutes=30,
                         comment="transmitter maintenance", cid=cid)
            assert again.duplicate and again.outcome == "confirmed"
            shelved = [s for s in service.engine.states() if s["id"] == "T-1-H"][0]
            assert shelved["state"] == "shelved" and "maintenance" in shelved["comment"]
        finally:
            pub.close()


def test_restart_rebuilds_state_from_the_journal(keys: Path, tmp_path: Path) -> None:
    with secure_bus(keys) as bus:
        pub = Publisher(bus.endpoints, "adapter-test", security=client(keys, "adapter"))
        try:
            with _service(bus, keys, tmp_path) as service:
                wait_until(lambda: service.subscriber.synced, timeout_s=10)
                wait_until(lambda: (_readings(pub, 3.0, 1.0) or True) and any(
                    s["id"] == "P-1-TRIP" and s["state"] == "unack"
                    for s in service.engine.states()), timeout_s=10)
                assert _ack(bus, keys, "P-1-TRIP").outcome == "confirmed"
                before = {s["id"]: s["state"] for s in service.engine.states()}
            with _service(bus, keys, tmp_path) as again:
                after = {s["id"]: s["state"] for s in again.engine.states()}
                assert after == before == {"T-1-H": "normal", "P-1-TRIP": "ack"}
                feed = AlarmFeed(bus.endpoints, security=client(keys, "viewer"))
                board = AlarmBoard()
                try:
                    wait_until(lambda: _state(board, feed, "P-1-TRIP") == "ack", timeout_s=15)
                finally:
                    feed.close()
        finally:
            pub.close()


def test_a_flood_of_ten_thousand_alarms_in_one_second_keeps_the_service_answering(
        keys: Path, tmp_path: Path) -> None:
    n = 10_000
    defs = alarm_set(*[alarm(f"F-{i}", f"E{i}/v", "high", limit=1.0, priority=(
        "Critical", "High", "Medium", "Low")[i % 4]) for i in range(n)])
    with secure_bus(keys) as bus, _service(bus, keys, tmp_path, defs) as service:
        pub = Publisher(bus.endpoints, "adapter-flood", security=client(keys, "adapter"))
        feed = AlarmFeed(bus.endpoints, security=client(keys, "operator"))
        board = AlarmBoard()
        done = threading.Event()
        try:
            wait_until(lambda: service.subscriber.synced, timeout_s=10)
            pub.publish([Reading(f"E{i}/v", 0.0, 0, 0, 1) for i in range(n)])
            wait_until(lambda: service.stats["readings"] >= n, timeout_s=15)
            pub.publish([Reading(f"E{i}/v", 2.0, 0, 0, 1) for i in range(n)])
            wait_until(lambda: service.stats["transitions"] >= n, timeout_s=30)
            # Responsive during and after: an ack is answered, the board catches up.
            assert _ack(bus, keys, "F-0").outcome == "confirmed"
            wait_until(lambda: feed.drain(board, 5000) or len(board.active()) == n,
                       timeout_s=30)
            counts = board.counts()
            assert sum(a for _, a in counts.values()) == n
            assert counts["Critical"][1] == n // 4
            assert board.banner() is not None and board.banner().priority == "Critical"
            rows, page, pages = board.page(3, 8)
            assert len(rows) == 8 and pages == n // 8
            done.set()
        finally:
            feed.close()
            pub.close()
    assert done.is_set()


def test_coalesced_list_form_readings_drive_the_alarms(keys: Path, tmp_path: Path) -> None:
    """An adapter's coalesced messages (points as one string per device) reach the alarm
    points whichever devices a message combines; a device the alarms do not read is skipped."""
    from runtime.bus.wire import composite_layout, layout_of

    tank, pump, other = (layout_of(["T-1/level_m", "T-1/temp_c"]), layout_of(["P-1/tripped"]),
                         layout_of(["X-9/junk_m"]))
    with secure_bus(keys) as bus, _service(bus, keys, tmp_path) as service:
        pub = Publisher(bus.endpoints, "adapter-test", security=client(keys, "adapter"))
        try:
            wait_until(lambda: service.subscriber.synced, timeout_s=10)

            def send(level: float, tripped: float) -> None:
                for parts, values in (([other, tank], [5.0, level, 20.0]),
                                      ([pump, other], [tripped, 5.0]),
                                      ([tank, pump], [level, 20.0, tripped])):
                    n = len(values)
                    pub.publish_columns(composite_layout(parts), values, [0] * n, [0] * n,
                                        [1] * n)

            wait_until(lambda: (send(4.5, 1.0) or True)
                       and service.values[service._index["T-1/level_m"]] == 4.5
                       and service.values[service._index["P-1/tripped"]] == 1.0, timeout_s=10)
            wait_until(lambda: (send(1.0, 0.0) or True)
                       and service.values[service._index["T-1/level_m"]] == 1.0
                       and service.values[service._index["P-1/tripped"]] == 0.0, timeout_s=10)
            assert service.stats["readings"] > 0
        finally:
            pub.close()
