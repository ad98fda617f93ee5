"""Commands go client DEALER -> bus ROUTER -> owning adapter DEALER and acks come back (R9)."""

from __future__ import annotations

import threading
import time

import pytest
from bus_fixtures import running_bus, wait_until

from runtime.bus.adapter_link import AdapterLink
from runtime.bus.command_client import CommandTimeoutError, new_command_id, send_command
from runtime.bus.publisher import Publisher
from runtime.bus.server import BusServer
from runtime.bus.wire import Command, Reading
from runtime.control.ack import Ack


class _TestAdapter:
    """An adapter thread that accepts writes in 0..100 and refuses the rest."""

    def __init__(self, link: AdapterLink) -> None:
        self.link = link
        self.seen: list[Command] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _TestAdapter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.link.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for cmd in self.link.poll_commands():
                self.seen.append(cmd)
                if 0 <= cmd.value <= 100:
                    self.link.send_ack(Ack(cmd.id, cmd.point, "confirmed", "", cmd.value))
                else:
                    self.link.send_ack(Ack(cmd.id, cmd.point, "refused",
                                           f"{cmd.value:g} is outside 0..100", None, "range"))
            time.sleep(0.002)


def _command(point: str, value: float) -> Command:
    return Command(new_command_id(), point, value, "operator", "tester", "localhost")


def _registered(bus: BusServer, point: str) -> None:
    wait_until(lambda: bus.owner(point) is not None)


def test_command_is_routed_to_owner_and_acknowledged() -> None:
    with running_bus() as bus:
        link = AdapterLink(bus.endpoints, "adapter-1", ["P-101/setpoint_rpm"],
                           register_period_s=0.2)
        with _TestAdapter(link) as adapter:
            _registered(bus, "P-101/setpoint_rpm")
            cmd = _command("P-101/setpoint_rpm", 42.0)
            ack = send_command(bus.endpoints, cmd, 5)
            assert ack == Ack(cmd.id, "P-101/setpoint_rpm", "confirmed", "", 42.0)
            refused = send_command(bus.endpoints, _command("P-101/setpoint_rpm", 500.0), 5)
            assert refused.outcome == "refused" and "outside" in refused.text
            assert refused.code == "range" and not refused.duplicate
            assert cmd in adapter.seen


def test_commands_are_acknowledged_while_readings_flood() -> None:
    # R9: the command path does not share a queue with readings, so a flood cannot drop it.
    with running_bus() as bus, Publisher(bus.endpoints, "flood") as pub:
        link = AdapterLink(bus.endpoints, "adapter-1", ["P-1/x"], register_period_s=0.2)
        with _TestAdapter(link):
            _registered(bus, "P-1/x")
            batch = [Reading(f"P-{k}/y", 1.0, 0, 0, time.time_ns()) for k in range(100)]
            for _ in range(200):
                pub.publish(batch)
            acks = [send_command(bus.endpoints, _command("P-1/x", float(i)), 5) for i in range(5)]
            assert [a.outcome for a in acks] == ["confirmed"] * 5


def test_unowned_point_is_an_error_and_silent_adapter_a_timeout() -> None:
    with running_bus() as bus:
        ack = send_command(bus.endpoints, _command("P-404/x", 1.0), 5)
        assert (ack.outcome, ack.code) == ("failed", "no_owner")
        assert "no adapter owns P-404/x" in ack.text
        mute = AdapterLink(bus.endpoints, "mute", ["P-2/x"])  # registers, never answers
        try:
            _registered(bus, "P-2/x")
            with pytest.raises(CommandTimeoutError, match="no answer"):
                send_command(bus.endpoints, _command("P-2/x", 1.0), 0.5)
        finally:
            mute.close()
