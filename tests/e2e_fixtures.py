"""A whole live stack on loopback for end-to-end tests: bus, plant, adapter as real processes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bus_fixtures import free_base_port
from plant_fixtures import PUMP_STATION, port_offset_for
from security_fixtures import session_client

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.subscriber import Subscriber, Update
from runtime.scene import load_devices, load_scene
from runtime.supervisor import Child, Supervisor, port_accepts, port_is_free


@dataclass
class Stack:
    """Handles to a running stack."""

    sup: Supervisor
    bus_address: str
    endpoints: BusEndpoints
    port_offset: int
    device_ports: dict[str, int]
    log_dir: Path

    def child(self, name: str) -> Child:
        return next(c for c in self.sup.children if c.name == name)

    def start_adapter(self, *extra: str) -> Child:
        """The adapter, its audit log in this stack's folder unless ``extra`` names one (a log
        left in the repository's out/ by another test, keyed with other keys, would stop
        every write)."""
        audit = [] if "--audit-log" in extra else [
            "--audit-log", str(self.log_dir.parent / "adapter-audit.jsonl")]
        child = self.sup.start("adapter", ["adapter", str(PUMP_STATION), "--bus", self.bus_address,
                                           "--port-offset", str(self.port_offset), *audit,
                                           *extra])
        return child

    def stop_child(self, name: str) -> int:
        child = self.child(name)
        os.killpg(child.process.pid, signal.SIGINT)
        code = child.process.wait(timeout=10)
        self.sup.children.remove(child)
        return code


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> float:
    """Poll until ``predicate()`` is truthy; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Watch:
    """A bus subscriber that keeps the latest update per point."""

    def __init__(self, endpoints: BusEndpoints) -> None:
        self.sub = Subscriber(endpoints, security=session_client("viewer"))
        self.latest: dict[str, Update] = {}

    def pump(self) -> None:
        for u in self.sub.poll(20_000_000):
            self.latest[u.point] = u

    def value(self, point: str) -> Update | None:
        self.pump()
        return self.latest.get(point)

    def close(self) -> None:
        self.sub.close()


@contextmanager
def live_stack(tmp: Path, *, adapter: bool = True) -> Iterator[Stack]:
    """Start bus, plant (and adapter) on free loopback ports; stop all and check ports freed."""
    scene = load_scene(PUMP_STATION)
    devices = load_devices(PUMP_STATION / "devices.yaml", scene)
    offset = port_offset_for(PUMP_STATION)
    base = free_base_port(5)
    bus = f"tcp://127.0.0.1:{base}"
    sup = Supervisor(log_dir=tmp / "logs")
    ports = {d.id: d.port + offset for d in devices.devices}
    stack = Stack(sup, bus, BusEndpoints.from_address(bus), offset, ports, tmp / "logs")
    try:
        child = sup.start("bus", ["bus", "--bind", bus])
        sup.wait_until(child, lambda: all(port_accepts("127.0.0.1", base + i) for i in range(5)),
                       30)
        child = sup.start("plant", ["plant", str(PUMP_STATION), "--port-offset", str(offset)])
        sup.wait_until(child, lambda: all(port_accepts("127.0.0.1", p) for p in ports.values()),
                       90)
        if adapter:
            stack.start_adapter()
        yield stack
    finally:
        codes = sup.stop_all(grace_s=10)
        bad = {name: code for name, code in codes.items() if code not in (0, -signal.SIGINT)}
        assert not bad, f"children exited badly: {bad}; logs in {tmp / 'logs'}"
        held = [p for p in [*ports.values(), *range(base, base + 5)]
                if not port_is_free("127.0.0.1", p)]
        assert not held, f"ports still held after stop: {held}"
