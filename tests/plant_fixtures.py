"""Shared helpers for the virtual plant's tests (imported, not a conftest: the lead owns that)."""

from __future__ import annotations

import dataclasses
import random
import socket
from pathlib import Path
from typing import Any

from runtime.scene import Scene, load_scene

REPO = Path(__file__).resolve().parents[1]
PUMP_STATION = REPO / "scenes" / "pump_station"


def pump_station() -> Scene:
    return load_scene(PUMP_STATION)


def with_params(scene: Scene, changes: dict[str, dict[str, Any]]) -> Scene:
    """A copy of ``scene`` with some entities' parameters changed: {"T-101": {"inflow_m3_h": 0}}."""
    entities = []
    for e in scene.entities:
        if e.id in changes:
            e = dataclasses.replace(e, params={**e.params, **changes[e.id]})
        entities.append(e)
    return dataclasses.replace(scene, entities=tuple(entities))


def free_port_block(count: int) -> int:
    """A base port such that base .. base+count-1 were all free a moment ago (loopback).

    Drawn at random below Linux's ephemeral range (32768+), where outgoing connections never
    take ports: a machine busy with benches can hold that whole range in TIME_WAIT and
    ESTABLISHED sockets. Probed as the servers bind (SO_REUSEADDR, as asyncio and pymodbus do).
    """
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20000, 32700 - count)
        socks = []
        try:
            for k in range(count):
                t = socket.socket()
                socks.append(t)
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free block of ports on 127.0.0.1")


def port_offset_for(scene_dir: Path = PUMP_STATION) -> int:
    """A --port-offset that moves the scene's device ports and the control port (15019) onto
    free loopback ports."""
    from runtime.scene import load_devices

    devices = load_devices(scene_dir / "devices.yaml")
    ports = [d.port for d in devices.devices] + [15019]
    low, high = min(ports), max(ports)
    base = free_port_block(high - low + 1)
    return base - low
