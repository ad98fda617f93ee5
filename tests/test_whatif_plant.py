"""A forecast from the live bus matches the virtual plant running the same change.

Real processes on loopback: bus, virtual plant (at 20x real time) and adapter. The test takes
the plant's state from the bus as ``twinstage whatif`` does (snapshot, then the observer pulls a
fresh model onto it), forks it, then stops P-101 on the real plant through the bus (UC-101 to
Manual, then select/operate P-101's run command as an operator). The forecast applies the same
changes at the moments the plant did and is compared with the plant's true levels 5 min later.

Stated tolerance: tank levels within LEVEL_TOLERANCE_M (the forecast runs a 50 ms step from a
model anchored on noisy, 100-200 ms old measurements).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bus_fixtures import free_base_port
from conftest import REPO_ROOT
from e2e_fixtures import wait_for
from plant_fixtures import PUMP_STATION, port_offset_for
from security_fixtures import session_client, session_keys

from adapters.plant.control import request
from runtime.bus.command_client import send_command
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.subscriber import Subscriber
from runtime.bus.wire import Command
from runtime.control.pending import new_command_id
from runtime.scene import load_devices, load_scene
from runtime.sim.fork import Change, fork_model
from runtime.supervisor import Supervisor, port_accepts
from runtime.whatif.alarm_defs import load_alarm_defs
from runtime.whatif.forecast import forecast
from runtime.whatif.snapshot import drain_until_good, model_from_world, world_for

SPEED = 20.0
AHEAD_S = 300.0
LEVEL_TOLERANCE_M = 0.05


@contextmanager
def fast_stack(tmp: Path) -> Iterator[tuple[str, int]]:
    scene = load_scene(PUMP_STATION)
    devices = load_devices(PUMP_STATION / "devices.yaml", scene)
    offset = port_offset_for(PUMP_STATION)
    base = free_base_port(5)
    bus = f"tcp://127.0.0.1:{base}"
    sup = Supervisor(log_dir=tmp / "logs")
    ports = [d.port + offset for d in devices.devices]
    try:
        child = sup.start("bus", ["bus", "--bind", bus])
        sup.wait_until(child, lambda: all(port_accepts("127.0.0.1", base + i) for i in range(5)),
                       30)
        child = sup.start("plant", ["plant", str(PUMP_STATION), "--port-offset", str(offset),
                                    "--speed", str(SPEED)])
        sup.wait_until(child, lambda: all(port_accepts("127.0.0.1", p) for p in ports), 90)
        sup.start("adapter", ["adapter", str(PUMP_STATION), "--bus", bus, "--port-offset",
                              str(offset), "--audit-log", str(tmp / "audit.jsonl")])
        yield bus, 15019 + offset
    finally:
        for c in list(sup.children):
            if c.process.poll() is None:
                os.killpg(c.process.pid, signal.SIGINT)
        sup.stop_all(grace_s=10)


def _plant(port: int, req: dict) -> dict:
    reply = asyncio.run(request("127.0.0.1", port, req))
    assert reply.get("ok"), reply
    return reply


def _command(bus: str, point: str, value: float, action: str) -> None:
    ack = send_command(BusEndpoints.from_address(bus),
                       Command(new_command_id(), point, value, "operator", "test", "ci", action),
                       timeout_s=10.0, security=session_client("operator"))
    assert ack.outcome in ("confirmed", "selected"), ack


def test_forecast_of_stopping_p101_matches_the_plant(tmp_path: Path) -> None:
    scene = load_scene(PUMP_STATION)
    with fast_stack(tmp_path) as (bus, control_port):
        # The command line does the same from the bus (snapshot, settle, fork, run, print): a
        # process of its own, started at once (it runs while the plant warms up); it is done
        # before this test takes its own snapshot and commands anything on the plant.
        cli = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "whatif", "pump_station", "--bus", bus,
             "--key", str(session_keys() / "viewer.key_secret"), "--set", "P-101/run_cmd=stop",
             "--horizon", "10min", "--json"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Let the plant leave its initial state (1 min of plant time).
            wait_for(lambda: _plant(control_port, {"op": "status"})["time_s"] > 60, 60,
                     "the plant to run a minute")
            cli_out, cli_err = cli.communicate(timeout=120)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        assert cli.returncode == 0, cli_err
        out = json.loads(cli_out)
        assert out["label"] == "stopping P-101 (UC-101 to Manual)" and out["horizon_s"] == 600
        assert out["final"]["P-101/running"] == 0.0 and len(out["fork_hash"]) == 64
        world = world_for(scene)
        sub = Subscriber(BusEndpoints.from_address(bus), security=session_client("viewer"))
        try:
            drain_until_good(world, sub, timeout_s=30)
            t_snap = _plant(control_port, {"op": "status"})["time_s"]
        finally:
            sub.close()
        live = model_from_world(world).model
        fork = fork_model(live)
        assert fork.state_hash() == live.state_hash()

        _command(bus, "UC-101/mode", 0.0, "write")
        t_manual = _plant(control_port, {"op": "status"})["time_s"]
        _command(bus, "P-101/run_cmd", 0.0, "select")
        _command(bus, "P-101/run_cmd", 0.0, "operate")
        t_stop = _plant(control_port, {"op": "status"})["time_s"]
        # the run command is read back at once; the running contact follows within a step
        wait_for(lambda: _plant(control_port, {"op": "read", "point": "P-101/running"})["value"]
                 == 0.0, 10, "P-101 to stop")

        wait_for(lambda: _plant(control_port, {"op": "status"})["time_s"] > t_stop + AHEAD_S,
                 AHEAD_S / SPEED + 30, "5 min of plant time after the stop")
        t_end = _plant(control_port, {"op": "status"})["time_s"]
        plant = {p: _plant(control_port, {"op": "read", "point": p})["value"]
                 for p in ("T-101/level_m", "T-102/level_m", "P-101/running")}
        t_end = (t_end + _plant(control_port, {"op": "status"})["time_s"]) / 2

    defs, _ = load_alarm_defs(scene)
    changes = [Change("set", "UC-101/mode", 0.0, at_s=t_manual - t_snap),
               Change("set", "P-101/run_cmd", 0.0, at_s=t_stop - t_snap)]
    result = forecast(fork, changes, defs, horizon_s=t_end - t_snap + 10)
    at = result.trajectory.at(t_end - t_snap)
    assert at["P-101/running"] == plant["P-101/running"] == 0.0
    moved = abs(plant["T-101/level_m"] - result.trajectory.series("T-101/level_m")[0])
    assert moved > 0.1, "stopping P-101 should move the raw water level"
    print({p: round(at[p] - plant[p], 4) for p in ("T-101/level_m", "T-102/level_m")})
    for p in ("T-101/level_m", "T-102/level_m"):
        assert at[p] == pytest.approx(plant[p], abs=LEVEL_TOLERANCE_M), (p, at[p], plant[p])
