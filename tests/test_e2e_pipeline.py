"""End to end on loopback: virtual plant -> adapter -> bus -> subscriber, as real processes.

A register changed on the device reaches subscribers; a stopped adapter's points go Bad within
the heartbeat bound (R10) and recover when it resumes; everything stops with no process left.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from e2e_fixtures import Watch, live_stack, wait_for
from pymodbus.client import ModbusTcpClient

from runtime.quality import Quality, Reason
from runtime.registers import encode_value
from runtime.scene import load_devices, load_scene

SCENE_DIR = Path(__file__).resolve().parent.parent / "scenes" / "pump_station"
DEVICES = load_devices(SCENE_DIR / "devices.yaml", load_scene(SCENE_DIR))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    with live_stack(tmp_path_factory.mktemp("e2e")) as s:
        yield s


@pytest.fixture
def watch(stack):
    w = Watch(stack.endpoints)
    yield w
    w.close()


def test_every_device_point_arrives_good(stack, watch: Watch) -> None:
    points = [p.point for d in DEVICES.devices for p in d.points]

    def all_good() -> bool:
        watch.pump()
        return all(
            (u := watch.latest.get(p)) is not None and u.quality == Quality.GOOD for p in points
        )

    wait_for(all_good, 30, "every device point Good on the bus")
    level = watch.latest["LT-102/level_m"].value
    assert 0.0 < level < 5.0


def test_register_written_on_device_reaches_the_bus(stack, watch: Watch) -> None:
    """Change LIC-102's setpoint register on the plant with a plain Modbus master."""
    device, spec = DEVICES.owner_of("LIC-102/setpoint_m")
    regs = encode_value(spec.type, device.word_order, spec.scale, spec.offset, 3.7)
    client = ModbusTcpClient("127.0.0.1", port=stack.device_ports[device.id], timeout=2)
    assert client.connect()
    try:
        reply = client.write_registers(spec.address, regs, device_id=device.unit_id)
        assert not reply.isError()
    finally:
        client.close()

    def changed() -> bool:
        u = watch.value("LIC-102/setpoint_m")
        return u is not None and abs(u.value - 3.7) < 1e-4 and u.quality == Quality.GOOD

    wait_for(changed, 5, "the new setpoint on the bus")


def test_stopped_adapter_goes_bad_and_recovers(stack, watch: Watch) -> None:
    """SIGSTOP the adapter: its points are Bad (no communication) within 3 s; SIGCONT: Good."""
    wait_for(lambda: (u := watch.value("FT-101/flow_m3_h")) and u.quality == Quality.GOOD, 30,
             "FT-101 Good")
    adapter = stack.child("adapter")
    os.kill(adapter.process.pid, signal.SIGSTOP)
    try:
        took = wait_for(
            lambda: (u := watch.value("FT-101/flow_m3_h")) and u.quality == Quality.BAD, 6,
            "FT-101 Bad after the adapter stopped",
        )
        assert took < 3.5, f"took {took:.2f} s to go Bad (R10 says within 3 s)"
        assert watch.latest["FT-101/flow_m3_h"].reason == Reason.NO_COMMUNICATION
    finally:
        os.kill(adapter.process.pid, signal.SIGCONT)
    wait_for(lambda: (u := watch.value("FT-101/flow_m3_h")) and u.quality == Quality.GOOD, 10,
             "FT-101 Good again after SIGCONT")


def test_adapter_restart_recovers(stack, watch: Watch) -> None:
    assert stack.stop_child("adapter") == 0
    wait_for(lambda: (u := watch.value("LT-101/level_m")) and u.quality == Quality.BAD, 6,
             "LT-101 Bad after the adapter exited")
    stack.start_adapter()
    wait_for(lambda: (u := watch.value("LT-101/level_m")) and u.quality == Quality.GOOD, 30,
             "LT-101 Good after the adapter restarted")
