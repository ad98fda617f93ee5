"""``twinstage adapter`` end to end: real bus, real device server processes, the adapter as a
subprocess; readings reach a subscriber, writes are acked, a dead device leaves others Good."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from adapter_fixtures import REPO_ROOT, ServerProcess
from conftest import PUMP_STATION, run_cli
from plant_fixtures import free_port_block
from security_fixtures import session_client, session_server

from runtime.bus.command_client import new_command_id, send_command
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.server import BusServer
from runtime.bus.subscriber import Subscriber
from runtime.bus.wire import Command
from runtime.quality import Quality
from runtime.registers import encode_value

SCENE_PORTS = {"PLC-101": (15020, 1), "PLC-102": (15021, 1), "RTU-101": (15022, 3)}


def _wait(sub: Subscriber, latest: dict, pred: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for u in sub.poll():
            latest[u.point] = u
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError(f"not met within {timeout_s} s; latest: "
                         f"{ {k: (v.quality, v.reason) for k, v in latest.items()} }")


def test_bad_arguments_are_one_line_errors() -> None:
    r = run_cli("adapter", str(PUMP_STATION), "--bus", "tcp://nope:x")
    assert r.returncode == 2 and "--bus" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("adapter", str(PUMP_STATION), "--devices", "PLC-999")
    assert r.returncode == 2 and "PLC-999" in r.stderr
    r = run_cli("adapter", str(PUMP_STATION), "--port-offset", "60000")
    assert r.returncode == 2 and "port" in r.stderr


def test_adapter_process_end_to_end(tmp_path: Path) -> None:
    bus_base = free_port_block(5)
    endpoints = BusEndpoints.from_address(f"tcp://127.0.0.1:{bus_base}")
    # Bound before the device ports are chosen: no overlap.
    bus = BusServer(endpoints, security=session_server())
    bus_thread = bus.start_thread()
    offset = free_port_block(3) - 15020
    speed = encode_value("float32", "big", 1.0, 0.0, 1234.5)
    servers = {
        dev: ServerProcess(port + offset, ["--unit", str(unit), "--input", f"0={speed[0]},"
                                           f"{speed[1]},523", "--discrete", "0=1"])
        for dev, (port, unit) in SCENE_PORTS.items()
    }
    for s in servers.values():
        s.start()
    adapter = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "adapter", str(PUMP_STATION), "--bus",
         f"tcp://127.0.0.1:{bus_base}", "--port-offset", str(offset), "--audit-log",
         str(tmp_path / "audit.jsonl")],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    sub = Subscriber(endpoints, security=session_client("viewer"))
    latest: dict = {}
    try:
        _wait(sub, latest, lambda: latest.get("P-101/speed_rpm") is not None
              and latest["P-101/speed_rpm"].quality == Quality.GOOD
              and latest.get("LT-101/level_m") is not None
              and latest["LT-101/level_m"].quality == Quality.GOOD, 10.0)
        assert latest["P-101/speed_rpm"].value == pytest.approx(1234.5)
        assert latest["M-101/power_kw"].value == pytest.approx(52.3)
        assert latest["P-101/running"].value == 1.0

        # 250 rpm: within max_rate_per_s (300) of the server's 0, so only range and role matter
        ack = send_command(endpoints, Command(new_command_id(), "P-101/speed_sp_rpm", 250.0,
                                              "operator", "test", "ci"), timeout_s=5.0,
                           security=session_client("operator"))
        assert ack.outcome == "confirmed" and ack.readback == pytest.approx(250.0), ack
        _wait(sub, latest, lambda: latest["P-101/speed_sp_rpm"].value == pytest.approx(250.0),
              3.0)
        ack = send_command(endpoints, Command(new_command_id(), "P-101/speed_sp_rpm", 5000.0,
                                              "operator", "test", "ci"), timeout_s=5.0,
                           security=session_client("operator"))
        assert (ack.outcome, ack.code) == ("refused", "range") and "maximum" in ack.text
        ack = send_command(endpoints, Command(new_command_id(), "P-101/speed_rpm", 1.0,
                                              "operator", "test", "ci"), timeout_s=5.0,
                           security=session_client("operator"))
        assert (ack.outcome, ack.code) == ("refused", "not_writable"), ack

        servers["RTU-101"].kill()  # poll period 200 ms: Bad within 0.4 s (+ slack)
        _wait(sub, latest, lambda: latest["LT-101/level_m"].quality == Quality.BAD, 2.0)
        _wait(sub, latest, lambda: latest["P-101/speed_rpm"].quality == Quality.GOOD, 1.0)
        servers["RTU-101"].start()
        _wait(sub, latest, lambda: latest["LT-101/level_m"].quality == Quality.GOOD, 3.0)
    finally:
        adapter.send_signal(signal.SIGTERM)
        try:
            out, err = adapter.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            adapter.kill()
            out, err = adapter.communicate()
        sub.close()
        for s in servers.values():
            s.kill()
        bus.stop()
        bus_thread.join(5)
    assert adapter.returncode == 0, err
    assert "Traceback" not in err
    assert "polling 3 devices" in out
