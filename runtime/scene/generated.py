"""scene.yaml and devices.yaml of a generated plant, for scale tests and the bench.

The plant is :func:`runtime.sim.generate.generated_scene` (independent trains of 15 entities)
written out as the files a site would have: every entity with its procedural model, every pipe
as a connection, and its points spread over ``devices`` Modbus devices, each on its own port of
one host, each point a float32 input register pair. ``twinstage generate`` writes them;
``twinstage plant`` serves them and ``twinstage adapter`` polls them like any other scene.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from runtime.scene.model import Scene

ROW_SPAN_TRAINS = 40
"""Trains per row of the site layout (rows 30 m apart, trains 10 m apart in a row)."""


def generated_plant(
    n_assets: int,
    *,
    devices: int = 100,
    points_per_device: int | None = None,
    host: str = "127.0.0.1",
    base_port: int = 16000,
    poll_period_ms: int = 100,
    timeout_ms: int = 250,
    name: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(scene document, devices document) for a plant of about ``n_assets`` entities.

    With ``points_per_device``, enough trains are generated to give every device exactly that
    many points (``n_assets`` is then a lower bound); otherwise the scene's points are split as
    evenly as they go over ``devices``.
    """
    from runtime.sim.generate import TRAIN_ENTITIES, generated_scene

    if devices < 1:
        raise ValueError("devices must be at least 1")
    scene = generated_scene(n_assets, trains_per_row=ROW_SPAN_TRAINS)
    if points_per_device is not None:
        wanted = devices * points_per_device
        per_train = len(scene.points) / (len(scene.entities) / TRAIN_ENTITIES)
        if len(scene.points) < wanted:
            trains = math.ceil(wanted / per_train)
            scene = generated_scene(trains * TRAIN_ENTITIES, trains_per_row=ROW_SPAN_TRAINS)
    trains = len(scene.entities) // TRAIN_ENTITIES
    scene_doc = _scene_doc(scene, name or f"Generated plant of {trains} trains")
    points = list(scene.points)
    if points_per_device is not None:
        chunks = [points[i * points_per_device:(i + 1) * points_per_device]
                  for i in range(devices)]
    else:
        size = math.ceil(len(points) / devices)
        chunks = [points[i * size:(i + 1) * size] for i in range(devices)]
    device_docs = []
    for i, chunk in enumerate(c for c in chunks if c):
        device_docs.append({
            "id": f"RTU-{i:03d}",
            "host": host,
            "port": base_port + i,
            "unit_id": 1,
            "poll_period_ms": poll_period_ms,
            "timeout_ms": timeout_ms,
            "points": [
                {"point": p.id, "table": "input", "address": 2 * k, "type": "float32",
                 "unit": p.unit}
                for k, p in enumerate(chunk)
            ],
        })
    return scene_doc, {"format": "twinstage.devices/1", "devices": device_docs}


def _scene_doc(scene: Scene, name: str) -> dict[str, Any]:
    entities = []
    for e in scene.entities:
        if e.type == "pipe":
            continue  # written as connections; the loader makes their entities
        doc: dict[str, Any] = {
            "id": e.id,
            "type": e.type,
            "transform": {"position_m": list(e.position_m)},
        }
        if e.params:
            doc[e.type] = {k: (list(v) if isinstance(v, tuple) else v)
                           for k, v in e.params.items()}
        if e.points:
            doc["points"] = [{"name": p.name, "unit": p.unit, "kind": p.kind} for p in e.points]
        entities.append(doc)
    connections = [
        {"id": c.id, "from": c.source, "to": c.target, "diameter_m": c.diameter_m,
         "length_m": c.length_m}
        for c in scene.connections
    ]
    return {"format": "twinstage.scene/1", "name": name, "entities": entities,
            "connections": connections}


def write_generated_plant(folder: Path, n_assets: int, **options: Any) -> tuple[Path, Path]:
    """Write ``scene.yaml`` and ``devices.yaml`` into ``folder`` (created); return both paths."""
    scene_doc, devices_doc = generated_plant(n_assets, **options)
    folder.mkdir(parents=True, exist_ok=True)
    scene_path, devices_path = folder / "scene.yaml", folder / "devices.yaml"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    scene_path.write_text(yaml.dump(scene_doc, Dumper=dumper, sort_keys=False,
                                    default_flow_style=None, width=200))
    devices_path.write_text(yaml.dump(devices_doc, Dumper=dumper, sort_keys=False,
                                      default_flow_style=None, width=200))
    return scene_path, devices_path
