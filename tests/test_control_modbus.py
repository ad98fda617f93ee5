"""The executor end to end against real pymodbus servers on loopback (issue 6, R13/R14)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from control_fixtures import LoopbackPlant, ManualClock, good_readings, pump_devices

from runtime.control.ack import Outcome
from runtime.control.audit import AuditLog, verify
from runtime.control.command import ControlCommand
from runtime.control.executor import Executor
from runtime.control.modbus_writer import ModbusDeviceWriter
from runtime.control.policy import WritePolicy
from runtime.control.readings import Reading
from runtime.registers import encode_value


def _cmd(ident: str, point: str, value: float | None, action: str = "write") -> ControlCommand:
    return ControlCommand(
        id=ident, point=point, value=value, role="operator", actor="ann", host="hmi-1",
        action=action,
    )  # fmt: skip


async def _session(tmp_path: Path, body, *, fail_writes: bool = False) -> None:  # noqa: ANN001
    devices = pump_devices()
    plant = await LoopbackPlant(devices, fail_writes=fail_writes).start()
    writer = await ModbusDeviceWriter.connect(devices, hosts=plant.hosts)
    clock = ManualClock()
    readings = good_readings(devices)
    audit = AuditLog(tmp_path / "audit.jsonl")
    executor = Executor(WritePolicy(devices), audit, writer, readings, clock=clock)
    try:
        await body(executor, plant, clock, readings, writer)
    finally:
        writer.close()
        audit.close()
        await plant.stop()


def test_setpoint_write_reaches_device_and_reads_back(tmp_path: Path) -> None:
    async def body(executor, plant, clock, readings, writer) -> None:  # noqa: ANN001
        ack = await executor.execute(_cmd("c1", "FV-101/position_sp_pct", 42.5))
        assert ack.outcome is Outcome.CONFIRMED, ack
        assert ack.readback == pytest.approx(42.5)
        words = tuple(encode_value("float32", "little", 1.0, 0.0, 42.5))
        assert [(w.device_id, w.function_code, w.address, w.values) for w in plant.writes] == [
            ("PLC-102", 16, 0, words)
        ]
        assert await writer.read_back("FV-101/position_sp_pct") == pytest.approx(42.5)

    asyncio.run(_session(tmp_path, body))
    result = verify(tmp_path / "audit.jsonl")
    assert result.ok and result.records == 2  # pending, then confirmed


def test_equipment_needs_select_then_operate_within_expiry(tmp_path: Path) -> None:
    async def body(executor, plant, clock, readings, writer) -> None:  # noqa: ANN001
        ack = await executor.execute(_cmd("c1", "P-101/run_cmd", 1, "operate"))
        assert (ack.outcome, ack.code) == (Outcome.REFUSED, "not_selected")
        ack = await executor.execute(_cmd("c2", "P-101/run_cmd", 1, "select"))
        assert ack.outcome is Outcome.SELECTED
        clock.advance(10.0)
        ack = await executor.execute(_cmd("c3", "P-101/run_cmd", 1, "operate"))
        assert (ack.outcome, ack.code) == (Outcome.REFUSED, "selection_expired")
        assert plant.writes == []
        await executor.execute(_cmd("c4", "P-101/run_cmd", 1, "select"))
        clock.advance(9.9)
        ack = await executor.execute(_cmd("c5", "P-101/run_cmd", 1, "operate"))
        assert ack.outcome is Outcome.CONFIRMED, ack
        assert [(w.function_code, w.address, w.values) for w in plant.writes] == [(6, 0, (1,))]
        again = await executor.execute(_cmd("c5", "P-101/run_cmd", 1, "operate"))
        assert again.duplicate and again.outcome is Outcome.CONFIRMED
        assert len(plant.writes) == 1

    asyncio.run(_session(tmp_path, body))
    assert verify(tmp_path / "audit.jsonl").ok


def test_coil_write(tmp_path: Path) -> None:
    async def body(executor, plant, clock, readings, writer) -> None:  # noqa: ANN001
        ack = await executor.execute(_cmd("c1", "P-102/reset_cmd", 1))
        assert ack.outcome is Outcome.CONFIRMED, ack
        assert [(w.function_code, w.address, w.values) for w in plant.writes] == [(5, 1, (1,))]

    asyncio.run(_session(tmp_path, body))


def test_device_exception_is_a_failed_write_and_audited(tmp_path: Path) -> None:
    async def body(executor, plant, clock, readings, writer) -> None:  # noqa: ANN001
        ack = await executor.execute(_cmd("c1", "LIC-102/setpoint_m", 3.0))
        assert (ack.outcome, ack.code) == (Outcome.FAILED, "write_failed")
        assert "exception 4" in ack.text

    asyncio.run(_session(tmp_path, body, fail_writes=True))
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert [line.split('"outcome":"')[1].split('"')[0] for line in lines] == ["pending", "failed"]


def test_interlock_uses_latest_readings(tmp_path: Path) -> None:
    async def body(executor, plant, clock, readings, writer) -> None:  # noqa: ANN001
        readings["LT-102/level_m"] = Reading(4.6)
        ack = await executor.execute(_cmd("c1", "FV-101/position_sp_pct", 90))
        assert (ack.outcome, ack.code) == (Outcome.REFUSED, "interlock:IL-2")
        ack = await executor.execute(_cmd("c2", "FV-101/position_sp_pct", 70))
        assert ack.outcome is Outcome.CONFIRMED
        assert len(plant.writes) == 1

    asyncio.run(_session(tmp_path, body))
