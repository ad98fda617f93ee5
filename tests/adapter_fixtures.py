"""Helpers for the adapter tests: free ports, device specs, a capturing sink, server processes.

Imported explicitly by ``tests/test_adapter_*.py`` (the shared ``conftest.py`` is the lead's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from runtime.quality import Quality
from runtime.scene.model import DevicePoint, DeviceSpec

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent
FAULT_SERVER = TESTS / "modbus_fault_server.py"


def quiet_pymodbus() -> None:
    """pymodbus logs every timeout as an error with frame dumps; the tests expect them."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def free_port() -> int:
    """A TCP port nobody listens on right now (never the fixed 15020.. scene ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def point(name: str, table: str, address: int, dtype: str, **kw: Any) -> DevicePoint:
    unit = kw.pop("unit", "bool" if dtype == "bool" else "m")
    return DevicePoint(point=name, table=table, address=address, type=dtype, unit=unit, **kw)


def device(
    port: int,
    points: list[DevicePoint] | None = None,
    *,
    device_id: str = "DEV-1",
    unit_id: int = 1,
    word_order: str = "big",
    poll_period_ms: int = 100,
    timeout_ms: int = 250,
) -> DeviceSpec:
    if points is None:
        points = [
            point("T-1/level_m", "holding", 0, "uint16", scale=0.01),
            point("T-1/temp_m", "input", 0, "float32"),
            point("T-1/pump_on", "coil", 0, "bool", writable=True),
            point("T-1/alarm", "discrete", 3, "bool"),
            point("T-1/setpoint_m", "holding", 4, "float32", writable=True, min=0.0, max=10.0),
        ]
    return DeviceSpec(
        id=device_id, name=device_id, host="127.0.0.1", port=port, unit_id=unit_id,
        word_order=word_order, poll_period_ms=poll_period_ms, timeout_ms=timeout_ms,
        points=tuple(points),
    )


class Captured(NamedTuple):
    """One point of a captured batch."""

    point: str
    value: float
    quality: int
    reason: int
    t_source_ns: int


class CaptureSink:
    """Records every batch with its monotonic arrival time: pass it as a DevicePoller's sink
    factory (the production path: the poller hands over columns in its point order). A batch
    is filed under its points' entity id (these tests name each device's points after it)."""

    def __init__(self) -> None:
        self.batches: list[tuple[float, str, list[Captured]]] = []
        self.latest: dict[str, Captured] = {}
        self.latest_at: dict[str, float] = {}

    def __call__(self, point_ids: list[str]) -> Callable[..., None]:
        ids = list(point_ids)
        device = ids[0].split("/", 1)[0] if ids else ""

        def sink(values: list[float], quality: list[int], reason: list[int],
                 t_source_ns: list[int]) -> None:
            now = time.monotonic()
            readings = list(map(Captured, ids, values, quality, reason, t_source_ns))
            self.batches.append((now, device, readings))
            for r in readings:
                self.latest[r.point] = r
                self.latest_at[r.point] = now

        return sink

    def quality(self, point_id: str) -> int | None:
        r = self.latest.get(point_id)
        return None if r is None else r.quality

    def all_quality(self, quality: Quality, device_id: str | None = None) -> bool:
        """True when the latest batch (of ``device_id``) has every point at ``quality``."""
        for _t, dev, readings in reversed(self.batches):
            if device_id is None or dev == device_id:
                return bool(readings) and all(r.quality == quality for r in readings)
        return False

    async def wait(self, predicate: Callable[[], bool], timeout_s: float,
                   step_s: float = 0.005) -> float:
        """Wait until ``predicate()``; returns the monotonic time it first held, or raises."""
        deadline = time.monotonic() + timeout_s
        while True:
            if predicate():
                return time.monotonic()
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout_s} s")
            await asyncio.sleep(step_s)


def open_fds() -> int:
    """Open file descriptors of this process (Linux)."""
    return len(os.listdir("/proc/self/fd"))


class ServerProcess:
    """``tests/modbus_fault_server.py`` as a real process on a fixed port: kill and restart it."""

    def __init__(self, port: int, args: list[str] | None = None) -> None:
        self.port = port
        self.args = args or []
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(FAULT_SERVER), "--port", str(self.port), *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO_ROOT,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = self.proc.stdout.readline()
        if not line.startswith("READY") or time.monotonic() > deadline:
            self.kill()
            raise RuntimeError(f"fault server did not start: {line!r}")

    def kill(self) -> None:
        """SIGKILL: the OS closes its sockets, as when a PLC loses power mid-conversation."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


@contextlib.contextmanager
def server_process(port: int, args: list[str] | None = None) -> Iterator[ServerProcess]:
    proc = ServerProcess(port, args)
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


async def with_poller(server: Any, port: int,
                      check: Callable[[Any, Any, CaptureSink], Awaitable[None]],
                      **device_kw: Any) -> None:
    """Run a real DevicePoller against the started fault ``server`` on ``port``; once every
    point is Good, await ``check(server, poller, sink)``; then stop the poller (it must stop
    without an exception) and the server."""
    from adapters.modbus.device_poller import DevicePoller

    sink = CaptureSink()
    poller = DevicePoller(device(port, **device_kw), sink)  # type: ignore[arg-type]
    task = asyncio.create_task(poller.run())
    try:
        await sink.wait(lambda: sink.all_quality(Quality.GOOD), 3.0)
        await check(server, poller, sink)
    finally:
        poller.stop()
        await asyncio.wait_for(task, 5.0)
        await server.stop()
    assert task.exception() is None
