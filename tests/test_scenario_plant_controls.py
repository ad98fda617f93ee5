"""Plant-side training controls through the real control socket of a ``twinstage plant``
subprocess: freeze stops plant time (Modbus registers unchanged), speed, periodic snapshots,
and a backtrack that restores the state hash exactly."""

from __future__ import annotations

import asyncio
import time

from plant_fixtures import port_offset_for
from pymodbus.client import ModbusTcpClient
from test_plant_cli import _start_plant

from adapters.plant.control import request


def _ctl(port: int, **req: object) -> dict:
    reply = asyncio.run(request("127.0.0.1", port, dict(req)))
    assert reply.get("ok"), reply
    return reply


def _wait(pred, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _registers(c: ModbusTcpClient) -> tuple:
    rtu = c.read_input_registers(0, count=5, device_id=3)
    assert not rtu.isError(), rtu
    return tuple(rtu.registers)


def test_freeze_speed_snapshot_backtrack(tmp_path) -> None:
    offset = port_offset_for()
    proc, _lines = _start_plant(offset, "--speed", "50", "--seed", "4")
    ctl = 15019 + offset
    try:
        c = ModbusTcpClient("127.0.0.1", port=15022 + offset, timeout=2)
        assert c.connect()
        first = _registers(c)
        _wait(lambda: _registers(c) != first, 10, "noisy level registers to change while running")

        frozen_at = _ctl(ctl, op="freeze")["time_s"]
        held = _registers(c)
        reads = 0
        wall_start = time.monotonic()
        while time.monotonic() - wall_start < 0.6:  # 30 plant seconds at x50 if it ran
            assert _registers(c) == held, "a register changed while the plant was frozen"
            reads += 1
        assert reads > 10
        status = _ctl(ctl, op="status")
        assert status["frozen"] is True and status["time_s"] == frozen_at

        snap = _ctl(ctl, op="snapshot", label="before")["snapshot"]
        assert snap["hash"] == _ctl(ctl, op="hash")["hash"]
        _ctl(ctl, op="fault", kind="stick", target="FV-101")
        _ctl(ctl, op="run")
        _wait(lambda: _ctl(ctl, op="hash")["time_s"] > frozen_at + 70, 20,
              "plant time to pass the next automatic snapshot")
        _ctl(ctl, op="freeze")
        later = _ctl(ctl, op="hash")
        assert later["hash"] != snap["hash"]
        auto = [s for s in _ctl(ctl, op="snapshots")["snapshots"] if s["label"].startswith("auto")]
        assert len(auto) >= 2, auto  # one at start, one every 60 s of plant time

        back = _ctl(ctl, op="backtrack", seconds=later["time_s"] - snap["time_s"])
        assert back["snapshot"]["id"] == snap["id"]
        assert back["hash"] == snap["hash"] == _ctl(ctl, op="hash")["hash"]
        assert "stick FV-101" not in _ctl(ctl, op="status")["faults"]  # faults as they were

        # a snapshot saved to a file (a scenario's initial conditions) loads back exactly
        saved = tmp_path / "start.npz"
        _ctl(ctl, op="save", id=snap["id"], path=str(saved))
        _ctl(ctl, op="fault", kind="trip", target="P-101")
        assert _ctl(ctl, op="hash")["hash"] != snap["hash"]
        loaded = _ctl(ctl, op="load", path=str(saved))["snapshot"]
        assert loaded["hash"] == snap["hash"] == _ctl(ctl, op="hash")["hash"]
        bad = asyncio.run(request("127.0.0.1", ctl, {"op": "load", "path": str(tmp_path)}))
        assert not bad["ok"] and "snapshot file" in bad["error"]

        assert _ctl(ctl, op="speed", speed=2.5)["speed"] == 2.5
        bad = asyncio.run(request("127.0.0.1", ctl, {"op": "speed", "speed": -1}))
        assert not bad["ok"] and "above 0" in bad["error"]
        c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
