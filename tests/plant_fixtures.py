"""Shared helpers for the virtual plant's tests (imported, not a conftest: the lead owns that)."""

from __future__ import annotations

import dataclasses
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
    """A base port such that base .. base+count-1 were all free a moment ago (loopback)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count > 65000:
            continue
        socks = []
        try:
            for k in range(count):
                t = socket.socket()
                socks.append(t)
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
