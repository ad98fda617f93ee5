"""``twinstage plant`` and ``twinstage fault`` as real subprocesses on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from plant_fixtures import REPO, port_offset_for
from pymodbus.client import ModbusTcpClient

from runtime.registers import decode_value

PY = sys.executable


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "runtime.cli", *args], cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def _start_plant(offset: int, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen(
        [PY, "-m", "runtime.cli", "plant", "scenes/pump_station", "--port-offset", str(offset),
         *extra],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 120  # a cold numba cache compiles for a while
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("plant ready"):
            return proc, lines
    proc.kill()
    raise AssertionError("plant did not start: " + "".join(lines) + proc.stderr.read())


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_plant_serves_takes_faults_and_stops_cleanly() -> None:
    offset = port_offset_for()
    proc, lines = _start_plant(offset, "--speed", "5", "--seed", "3", "--fault", "freeze:LT-102")
    try:
        text = "".join(lines)
        assert f"127.0.0.1:{15020 + offset}" in text and "RTU-101" in text
        assert "fault: freeze LT-102" in text
        c = ModbusTcpClient("127.0.0.1", port=15020 + offset, timeout=2)
        assert c.connect()
        r = c.read_input_registers(0, count=2, device_id=1)
        assert decode_value("float32", "big", 1, 0, r.registers) == pytest.approx(1480, rel=0.01)
        ctl = str(15019 + offset)
        out = _cli("fault", "trip", "P-101", "--control-port", ctl)
        assert out.returncode == 0, out.stderr
        time.sleep(0.5)
        bits = c.read_discrete_inputs(0, count=2, device_id=1).bits[:2]
        assert bits == [False, True]
        out = _cli("fault", "list", "--control-port", ctl)
        assert "trip P-101" in out.stdout and "freeze LT-102" in out.stdout
        out = _cli("fault", "stick", "LT-101", "--control-port", ctl)
        assert out.returncode == 2 and "needs a valve" in out.stderr
        assert "Traceback" not in out.stderr
        out = _cli("fault", "clear", "--control-port", ctl)
        assert out.returncode == 0 and "trip P-101" in out.stdout
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
    assert rc == 0, proc.stderr.read()
    for port in (15019, 15020, 15021, 15022):
        assert _port_free(port + offset)


def test_plant_port_in_use_is_a_usage_error() -> None:
    offset = port_offset_for()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 15021 + offset))
        s.listen()
        out = _cli("plant", "scenes/pump_station", "--port-offset", str(offset),
                   "--duration", "1")
    assert out.returncode == 2
    assert "PLC-102" in out.stderr and "--port-offset" in out.stderr
    assert "Traceback" not in out.stderr


def test_fault_without_plant_is_a_usage_error() -> None:
    offset = port_offset_for()
    out = _cli("fault", "list", "--control-port", str(15019 + offset))
    assert out.returncode == 2 and "no plant control socket" in out.stderr


def test_plant_bad_fault_spec() -> None:
    out = _cli("plant", "scenes/pump_station", "--fault", "melt:P-101", "--duration", "1")
    assert out.returncode == 2 and "KIND:TARGET" in out.stderr
