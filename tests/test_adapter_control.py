"""Operator control end to end (R13, R14): the virtual plant and the adapter as real processes, a
real bus, and ``twinstage write`` / ``twinstage audit verify`` as subprocesses.

One plant and one bus serve the module; each test starts its own adapter with its own audit log.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from adapter_fixtures import REPO_ROOT
from bus_fixtures import free_base_port, wait_until
from conftest import PUMP_STATION, run_cli
from plant_fixtures import port_offset_for
from pymodbus.client import ModbusTcpClient
from security_fixtures import session_client, session_keys, session_server

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.server import BusServer
from runtime.bus.subscriber import Subscriber
from runtime.quality import Quality
from runtime.registers import decode_value

PLC_101 = 15020
SPEED_SP = 1  # holding address of P-101/speed_sp_rpm (float32, big word order)
P102_RUN = 10  # holding address of P-102/run_cmd
READY_POINTS = ("P-101/speed_sp_rpm", "P-101/run_cmd", "P-101/running", "P-102/run_cmd")


def _start_devices(offset: int) -> list[subprocess.Popen[str]]:
    """The virtual plant serving the scene's devices, once it says it is ready."""
    plant = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "plant", str(PUMP_STATION), "--port-offset",
         str(offset)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert plant.stdout is not None
    for line in plant.stdout:
        if line.startswith("plant ready"):
            return [plant]
    _, err = plant.communicate(timeout=10)
    raise AssertionError(f"the virtual plant did not start: {err[-500:]}")


def _stop_devices(devices: list[subprocess.Popen[str]]) -> None:
    for d in devices:
        d.send_signal(signal.SIGTERM)
        try:
            d.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            d.kill()
            d.communicate()


@pytest.fixture(scope="module")
def plant_and_bus() -> Iterator[tuple[BusServer, int]]:
    offset = port_offset_for()
    devices = _start_devices(offset)
    try:
        # The CLI addresses a bus by its base port (five in a row), so not running_bus's port 0.
        bus = BusServer(BusEndpoints.from_address(f"tcp://127.0.0.1:{free_base_port()}"),
                        security=session_server())
        thread = bus.start_thread()
        try:
            yield bus, offset
        finally:
            bus.stop()
            thread.join(timeout=5)
    finally:
        _stop_devices(devices)


class Adapter:
    """``twinstage adapter`` as a subprocess; stops it with SIGTERM and keeps its output."""

    def __init__(self, bus: BusServer, offset: int, audit: Path) -> None:
        self.bus = bus
        self.address = bus.endpoints.pub_in  # the base address: pub_in is its first port
        self.started_ns = time.time_ns()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "adapter", str(PUMP_STATION), "--bus",
             self.address, "--port-offset", str(offset), "--audit-log", str(audit)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out = self.err = ""

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        """Wait until this adapter publishes Good readings of the points the tests write.

        Only readings stamped after this process started count: the bus still holds the last
        values of the previous test's adapter (same source id) in its snapshot cache.
        """
        sub = Subscriber(self.bus.endpoints, security=session_client("viewer"))
        fresh: dict[str, int] = {}
        try:
            def ready() -> bool:
                for u in sub.poll():
                    if u.t_source_ns > self.started_ns:
                        fresh[u.point] = u.quality
                assert self.proc.poll() is None, self.stop()
                return all(fresh.get(p) == Quality.GOOD for p in READY_POINTS)
            wait_until(ready, timeout_s, step_s=0.02)
        finally:
            sub.close()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.out, self.err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.out, self.err = self.proc.communicate()
        return self.err


def _write(address: str, *args: str) -> subprocess.CompletedProcess:
    return run_cli("write", *args, "--bus", address, "--actor", "alice", timeout_s=60)


def _holding(offset: int, address: int, count: int) -> list[int]:
    client = ModbusTcpClient("127.0.0.1", port=PLC_101 + offset, timeout=2)
    try:
        assert client.connect()
        reply = client.read_holding_registers(address, count=count, device_id=1)
        assert not reply.isError(), reply
        return list(reply.registers)
    finally:
        client.close()


def _speed_sp(offset: int) -> float:
    return decode_value("float32", "big", 1.0, 0.0, _holding(offset, SPEED_SP, 2))


def _records(audit: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in audit.read_text().splitlines()]


def test_operator_control_through_the_cli(plant_and_bus: tuple[BusServer, int],
                                          tmp_path: Path) -> None:
    bus, offset = plant_and_bus
    audit = tmp_path / "audit" / "adapter.jsonl"
    adapter = Adapter(bus, offset, audit)
    try:
        adapter.wait_ready()
        addr = adapter.address

        # (a) a setpoint within limits and rate: confirmed with its read-back; the register moved.
        r = _write(addr, "P-101/speed_sp_rpm", "1300")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "confirmed: P-101/speed_sp_rpm = 1300 rpm, read back 1300 rpm" in r.stdout
        assert _speed_sp(offset) == pytest.approx(1300.0)

        # (b) out of range: refused, never clamped; the device keeps its value.
        r = _write(addr, "P-101/speed_sp_rpm", "5000")
        assert r.returncode == 1 and "refused" in r.stdout and ": range: " in r.stdout, r.stdout
        assert _speed_sp(offset) == pytest.approx(1300.0)

        # (c) a viewer key writes nothing, whatever role it claims: refused at the bus's router
        # (audited there, never reaching the adapter); a key claiming a role it does not hold
        # is refused too.
        viewer = str(session_keys() / "viewer.key_secret")
        for claim in ("viewer", "operator"):
            r = _write(addr, "P-101/speed_sp_rpm", "1250", "--role", claim, "--key", viewer)
            assert r.returncode == 1 and "refused" in r.stdout and ": role: " in r.stdout, r.stdout
        r = _write(addr, "P-101/speed_sp_rpm", "1250", "--role", "instructor")
        assert r.returncode == 1 and ": role_mismatch: " in r.stdout, r.stdout

        # (d) equipment needs select-before-operate; --confirm does both steps.
        r = _write(addr, "P-101/run_cmd", "1")
        assert r.returncode == 1 and ": not_selected: " in r.stdout and "--confirm" in r.stdout
        r = _write(addr, "P-101/run_cmd", "1", "--confirm")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "[1/2 select] selected: P-101/run_cmd" in r.stdout
        assert "[2/2 operate] confirmed: P-101/run_cmd = 1, read back 1" in r.stdout
        # With the scene, the CLI knows the point is sbo and says so before sending anything.
        r = _write(addr, "P-101/run_cmd", "1", "--scene", str(PUMP_STATION))
        assert r.returncode == 2 and "--confirm" in r.stderr and "Traceback" not in r.stderr

        # (e) IL-1: P-102 must not start while P-101 runs (it does: the plant starts on duty).
        r = _write(addr, "P-102/run_cmd", "1", "--confirm")
        assert r.returncode == 1 and "refused" in r.stdout and ": interlock:IL-1: " in r.stdout
        assert _holding(offset, P102_RUN, 1) == [0]

        # (f) a deliberate resend of one command id: one write, the second answer a duplicate.
        args = ("P-101/speed_sp_rpm", "1250", "--command-id", "resend-1")
        first, again = _write(addr, *args), _write(addr, *args)
        assert first.returncode == 0 and "duplicate" not in first.stdout, first.stdout
        assert again.returncode == 0 and "duplicate" in again.stdout, again.stdout
        assert _speed_sp(offset) == pytest.approx(1250.0)
    finally:
        err = adapter.stop()
    assert adapter.proc.returncode == 0 and "Traceback" not in err, err

    # (g) every attempt is in the audit log, the chain verifies, and tampering is found. The
    # chain is keyed (the session's audit.key): the first record says so.
    header, *records = _records(audit)
    assert (header["action"], header["outcome"]) == ("audit", "keyed")
    outcomes = [(r["point"], r["action"], r["outcome"], r["reason"]) for r in records]
    assert outcomes == [
        ("P-101/speed_sp_rpm", "write", "pending", ""),
        ("P-101/speed_sp_rpm", "write", "confirmed", ""),
        ("P-101/speed_sp_rpm", "write", "refused", "range"),
        ("P-101/run_cmd", "write", "refused", "not_selected"),
        ("P-101/run_cmd", "select", "selected", ""),
        ("P-101/run_cmd", "operate", "pending", ""),
        ("P-101/run_cmd", "operate", "confirmed", ""),
        ("P-102/run_cmd", "select", "refused", "interlock:IL-1"),
        ("P-101/speed_sp_rpm", "write", "pending", ""),
        ("P-101/speed_sp_rpm", "write", "confirmed", ""),
        ("P-101/speed_sp_rpm", "write", "duplicate", "duplicate"),
    ]
    assert [r["command_id"] for r in records[-3:]] == ["resend-1"] * 3
    # Actor and role are the key's (the operator key), not what --actor claimed.
    assert {(r["actor"], r["role"]) for r in records} == {("operator", "operator")}
    assert records[2]["new_value"] == 5000.0
    ok = run_cli("audit", "verify", str(audit), timeout_s=60)
    assert ok.returncode == 0 and f"last seq {len(records) + 1}" in ok.stdout, \
        ok.stdout + ok.stderr
    assert "HMAC key id" in ok.stdout
    # The adapter put its chain's head on the bus after every command: the last one is the
    # log's head, and verify checks the log against it.
    cp = wait_until(lambda: (c := bus.checkpoint("adapter-pump_station")) is not None
                    and c.log_seq == records[-1]["seq"] and c)
    assert cp.head == records[-1]["hash"]
    head = run_cli("audit", "verify", str(audit), "--head", f"{cp.log_seq}:{cp.head}",
                   timeout_s=60)
    assert head.returncode == 0, head.stdout + head.stderr
    lines = audit.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"refused"', b'"confirmed"')
    audit.write_bytes(b"".join(lines))
    bad = run_cli("audit", "verify", str(audit), timeout_s=60)
    assert bad.returncode == 1 and f"{audit}:4:" in bad.stderr, bad.stderr


def test_unusable_audit_log_refuses_writes_while_readings_flow(
    plant_and_bus: tuple[BusServer, int], tmp_path: Path
) -> None:
    bus, offset = plant_and_bus
    audit = tmp_path / "damaged.jsonl"
    audit.write_text('{"seq": 1, "edited": "by hand"}\n')
    adapter = Adapter(bus, offset, audit)
    try:
        adapter.wait_ready()  # readings keep flowing, Good
        before = _speed_sp(offset)
        r = _write(adapter.address, "P-101/speed_sp_rpm", str(before - 10))
        assert r.returncode == 1 and ": audit_unavailable: " in r.stdout, r.stdout
        assert _speed_sp(offset) == pytest.approx(before)
    finally:
        err = adapter.stop()
    assert adapter.proc.returncode == 0 and "warning" in err and "damaged" in err, err
    assert audit.read_text() == '{"seq": 1, "edited": "by hand"}\n'  # never "repaired"


def test_audit_log_path_that_cannot_be_created_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run_cli("adapter", str(PUMP_STATION), "--bus", "tcp://127.0.0.1:1", "--audit-log",
                str(blocker / "audit.jsonl"), timeout_s=60)
    assert r.returncode == 2 and "--audit-log" in r.stderr and "Traceback" not in r.stderr


def test_write_usage_errors() -> None:
    for args in (("P-1/x",), ("P-1/x", "1", "--confirm", "--action", "select"),
                 ("P-1/x", "abc"), ("P-1/x", "1", "--command-id", "has space"),
                 ("P-1/x", "1", "--role", "king")):
        r = run_cli("write", *args, "--bus", "tcp://127.0.0.1:1", "--timeout", "0.2",
                    timeout_s=60)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
    t = time.monotonic()
    r = run_cli("write", "P-1/x", "1", "--bus", "tcp://127.0.0.1:1", "--timeout", "0.2",
                "--command-id", "c-7", timeout_s=60)
    assert r.returncode == 1 and "timeout" in r.stdout and "--command-id c-7" in r.stdout
    assert time.monotonic() - t < 30
