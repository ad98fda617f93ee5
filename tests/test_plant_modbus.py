"""The plant's Modbus servers over real loopback sockets with a real pymodbus client, and
every fault's observable effect."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from plant_fixtures import PUMP_STATION, free_port_block, pump_station
from pymodbus.client import AsyncModbusTcpClient

from adapters.plant.control import request
from adapters.plant.runner import PlantRunner
from runtime.registers import decode_value, encode_value
from runtime.scene import load_devices
from runtime.sim.plant_model import PlantModel


@contextlib.asynccontextmanager
async def served(speed: float = 1.0) -> AsyncIterator[tuple[PlantRunner, int, int]]:
    scene = pump_station()
    devices = load_devices(PUMP_STATION / "devices.yaml", scene)
    base = free_port_block(4)
    runner = PlantRunner(PlantModel(scene, seed=0), devices, speed=speed,
                         port_offset=base - 15020, control_port=base + 3)
    await runner.start()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run_until(stop))
    try:
        yield runner, base, base + 3
    finally:
        stop.set()
        await task
        await runner.stop()


async def client(port: int, timeout: float = 1.0) -> AsyncModbusTcpClient:
    c = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=timeout, retries=0)
    assert await c.connect()
    return c


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    """Await ``check()`` every 10 ms until true; fail after a deadline generous for a busy CI."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"condition not met within {timeout_s} s"
        await asyncio.sleep(0.01)


async def steps_pass(model: PlantModel, n_steps: int) -> None:
    """Wait until the served plant has taken ``n_steps`` more fixed steps."""
    target = model.steps + n_steps

    async def stepped() -> bool:
        return model.steps >= target

    await until(stepped)


def run(coro) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))


def test_every_point_type_reads_and_writes() -> None:
    async def scenario() -> None:
        async with served() as (runner, base, _ctl):
            plc1 = await client(base)
            plc2 = await client(base + 1)
            rtu = await client(base + 2)
            model = runner.model
            # float32 big-endian holding: read, write, read back; the model sees it.
            r = await plc1.read_holding_registers(1, count=2, device_id=1)
            assert decode_value("float32", "big", 1, 0, r.registers) == 1480.0
            w = await plc1.write_registers(1, encode_value("float32", "big", 1, 0, 1200.0),
                                           device_id=1)
            assert not w.isError()
            assert model.read_point("P-101/speed_sp_rpm") == 1200.0
            r = await plc1.read_holding_registers(0, count=3, device_id=1)
            assert decode_value("float32", "big", 1, 0, r.registers[1:3]) == 1200.0
            # uint16 holding (single-register write) and bool coil.
            assert not (await plc1.write_register(20, 0, device_id=1)).isError()  # UC-101 manual
            assert not (await plc1.write_register(10, 1, device_id=1)).isError()  # P-102 run
            assert model.read_point("P-102/run_cmd") == 1.0
            model.trip_pump("P-102")
            assert not (await plc1.write_coil(1, True, device_id=1)).isError()  # reset P-102

            async def reset_and_running() -> bool:
                r = await plc1.read_discrete_inputs(0, count=4, device_id=1)
                return model.read_point("P-102/tripped") == 0.0 and r.bits[:4] == [
                    True, False, True, False]  # running / tripped bits of P-101, P-102

            await until(reset_and_running)
            # Plant time stops (as a trainer's freeze does) so that a register read and the
            # model's value are of the same instant however slowly this machine answers.
            runner.training.frozen = True
            # input registers: float32, scaled uint16, scaled int16, scaled int32 (big).
            r = await plc1.read_input_registers(0, count=5, device_id=1)
            assert decode_value("float32", "big", 1, 0, r.registers[0:2]) == pytest.approx(
                model.read_point("P-101/speed_rpm"), rel=0.02)
            assert decode_value("uint16", "big", 0.1, 0, r.registers[2:3]) == pytest.approx(
                model.read_point("M-101/power_kw"), abs=3.0)
            assert decode_value("int16", "big", 0.1, 0, r.registers[3:4]) == pytest.approx(
                model.read_point("M-101/temperature_degc"), abs=0.2)
            r = await plc1.read_input_registers(21, count=2, device_id=1)
            assert decode_value("int32", "big", 0.01, 0, r.registers) == pytest.approx(
                model.read_point("PT-101/pressure_kpa"), abs=5.0)
            # little word order: float32 holding and uint32 input on PLC-102.
            w = await plc2.write_registers(0, encode_value("float32", "little", 1, 0, 55.5),
                                           device_id=1)
            assert not w.isError()
            assert model.read_point("FV-101/position_sp_pct") == 55.5 or \
                model.read_point("LIC-102/mode") == 1  # the PID may already have moved it
            r = await plc2.read_input_registers(3, count=2, device_id=1)
            assert decode_value("uint32", "little", 0.001, 0, r.registers) == pytest.approx(
                model.read_point("FT-101/flow_m3_h"), abs=0.5)
            r = await plc2.read_holding_registers(3, count=2, device_id=1)
            assert decode_value("float32", "little", 1, 0, r.registers) == 3.0
            # a device on unit 3.
            r = await rtu.read_input_registers(0, count=5, device_id=3)
            assert decode_value("float32", "big", 1, 0, r.registers[0:2]) == pytest.approx(
                model.read_point("LT-101/level_m"), abs=0.02)
            # refused writes: out of range (exception 3), read-only or unmapped (exception 2).
            w = await plc2.write_registers(3, encode_value("float32", "little", 1, 0, 9.0),
                                           device_id=1)
            assert w.isError() and w.exception_code == 3
            assert model.read_point("LIC-102/setpoint_m") == 3.0
            w = await plc1.write_register(50, 1, device_id=1)
            assert w.isError() and w.exception_code == 2
            r = await plc1.read_input_registers(0, count=100, device_id=1)
            assert r.isError() and r.exception_code == 2
            for c in (plc1, plc2, rtu):
                c.close()

    run(scenario())


def test_comm_faults() -> None:
    async def scenario() -> None:
        async with served() as (runner, base, ctl):
            reply = await request("127.0.0.1", ctl, {"op": "fault", "kind": "exception",
                                                     "target": "PLC-101", "code": 4})
            assert reply["ok"], reply
            plc1 = await client(base, timeout=0.3)
            r = await plc1.read_input_registers(0, count=2, device_id=1)
            assert r.isError() and r.exception_code == 4
            await request("127.0.0.1", ctl, {"op": "fault", "kind": "exception",
                                             "target": "PLC-101", "code": 0x0B})
            r = await plc1.read_input_registers(0, count=2, device_id=1)
            assert r.isError() and r.exception_code == 0x0B
            # silent: connected, but no reply.
            await request("127.0.0.1", ctl, {"op": "fault", "kind": "silent",
                                             "target": "PLC-101"})
            with pytest.raises(Exception):  # noqa: B017 - pymodbus raises ModbusIOException
                r = await plc1.read_input_registers(0, count=2, device_id=1)
                assert r.isError()
            plc1.close()
            # another device is unaffected.
            plc2 = await client(base + 1)
            assert not (await plc2.read_input_registers(0, count=2, device_id=1)).isError()
            # down: connection refused until cleared.
            await request("127.0.0.1", ctl, {"op": "fault", "kind": "down", "target": "PLC-101"})
            with pytest.raises(OSError):
                _r, w = await asyncio.open_connection("127.0.0.1", base)
                w.close()
            status = await request("127.0.0.1", ctl, {"op": "status"})
            assert status["faults"] == ["down PLC-101"]
            cleared = await request("127.0.0.1", ctl, {"op": "clear", "target": "all"})
            assert cleared["cleared"] == ["down PLC-101"]
            plc1 = await client(base)
            assert not (await plc1.read_input_registers(0, count=2, device_id=1)).isError()
            plc1.close()
            plc2.close()

    run(scenario())


def test_model_faults_seen_over_modbus() -> None:
    async def scenario() -> None:
        async with served(speed=20.0) as (runner, base, ctl):
            plc1 = await client(base)
            plc2 = await client(base + 1)
            rtu = await client(base + 2)

            async def lt101() -> float:
                r = await rtu.read_input_registers(0, count=2, device_id=3)
                return decode_value("float32", "big", 1, 0, r.registers)

            async def pt101() -> float:
                r = await plc1.read_input_registers(21, count=2, device_id=1)
                return decode_value("int32", "big", 0.01, 0, r.registers)

            async def valve_pct() -> float:
                r = await plc2.read_input_registers(0, count=2, device_id=1)
                return decode_value("float32", "little", 1, 0, r.registers)

            model = runner.model
            assert (await request("127.0.0.1", ctl, {"op": "fault", "kind": "freeze",
                                                     "target": "PT-101"}))["ok"]
            await steps_pass(model, 2)
            held = await pt101()
            await steps_pass(model, 600)  # 6 s of plant time, 0.3 s of wall time at x20
            assert await pt101() == held
            # drift: 0.05 m/s of plant time; the reading walks away from the true level.
            before = await lt101()
            await request("127.0.0.1", ctl, {"op": "fault", "kind": "drift", "target": "LT-101",
                                             "rate": 0.05})

            async def drifted() -> bool:
                return await lt101() - model.read_point("T-101/level_m") > 0.2

            await until(drifted)
            assert await lt101() > before
            # stick: the valve ignores its set point.
            await request("127.0.0.1", ctl, {"op": "write", "point": "LIC-102/mode", "value": 0})
            await request("127.0.0.1", ctl, {"op": "fault", "kind": "stick", "target": "FV-101"})
            pos = model.read_point("FV-101/position_pct")
            await plc2.write_registers(0, encode_value("float32", "little", 1, 0, 100.0),
                                       device_id=1)
            await steps_pass(model, 600)
            assert await valve_pct() == pytest.approx(pos)
            # trip: the tripped bit comes up and the standby takes over.
            await request("127.0.0.1", ctl, {"op": "fault", "kind": "trip", "target": "P-101"})

            async def standby_took_over() -> bool:
                r = await plc1.read_discrete_inputs(0, count=4, device_id=1)
                return r.bits[:4] == [False, True, True, False]

            await until(standby_took_over)
            # clearing everything resets the pump and frees the valve and instruments.
            reply = await request("127.0.0.1", ctl, {"op": "clear", "target": "all"})
            assert len(reply["cleared"]) == 4

            async def reset_and_freed() -> bool:
                return model.read_point("P-101/tripped") == 0 and await valve_pct() > pos

            await until(reset_and_freed)
            for c in (plc1, plc2, rtu):
                c.close()

    run(scenario())


def test_control_socket_refuses_bad_requests() -> None:
    async def scenario() -> None:
        async with served() as (_runner, _base, ctl):
            for req, word in [
                ({"op": "fault", "kind": "freeze", "target": "FV-101"}, "transmitter"),
                ({"op": "fault", "kind": "melt", "target": "FV-101"}, "unknown"),
                ({"op": "fault", "kind": "silent", "target": "PLC-9"}, "device"),
                ({"op": "write", "point": "T-101/level_m", "value": 1}, "cannot be written"),
                ({"op": "read", "point": "nope"}, "unknown point"),
                ({"op": "dance"}, "unknown op"),
            ]:
                reply = await request("127.0.0.1", ctl, req)
                assert not reply["ok"] and word in reply["error"], reply
            r, w = await asyncio.open_connection("127.0.0.1", ctl)
            w.write(b"{not json\n")
            assert json.loads(await r.readline())["ok"] is False
            w.write(b'{"op": "status"}\n')
            assert json.loads(await r.readline())["ok"] is True
            w.close()

    run(scenario())
