"""Scene load rows: parse + validate + build the world, for the bundled and a generated scene."""

from __future__ import annotations

import gc
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from runtime import DEFAULT_SCENE, REPO_ROOT
from runtime.scene import load_devices, load_scene
from runtime.scene.generated import write_generated_plant
from runtime.world import build_world
from tools.bench.row import Row


def generated_scene_yaml(tanks: int) -> str:
    """A valid scene of ``tanks`` tank+transmitter pairs joined in a chain by pipes."""
    entities = []
    connections = []
    for i in range(tanks):
        x, y = (i % 40) * 12.0, (i // 40) * 12.0
        entities.append(
            {
                "id": f"T-{i}",
                "type": "tank",
                "transform": {"position_m": [x, y, 0]},
                "tank": {"diameter_m": 4, "height_m": 5, "overflow_m": 4.5, "initial_level_m": 2},
                "points": [{"name": "level_m", "unit": "m", "kind": "process"}],
            }
        )
        entities.append(
            {
                "id": f"LT-{i}",
                "type": "transmitter",
                "transform": {"position_m": [x, y + 3, 5]},
                "transmitter": {"measures": f"T-{i}/level_m"},
                "points": [{"name": "level_m", "unit": "m", "kind": "measurement"}],
            }
        )
        if i:
            connections.append(
                {
                    "id": f"L-{i}",
                    "from": f"T-{i - 1}",
                    "to": f"T-{i}",
                    "diameter_m": 0.2,
                    "length_m": 12,
                }
            )
    doc = {
        "format": "twinstage.scene/1",
        "name": f"Generated {tanks}",
        "entities": entities,
        "connections": connections,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _time_load(folder: Path, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        scene = load_scene(folder)
        devices_file = folder / "devices.yaml"
        devices = load_devices(devices_file, scene) if devices_file.exists() else None
        build_world(scene, devices)
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool) -> list[Row]:
    repeats = 3 if quick else 10
    rows = [
        Row(
            "scene",
            "load pump_station (parse, validate, build world)",
            _time_load(DEFAULT_SCENE, repeats) * 1e3,
            "ms",
            target=50.0,
            better="lower",
        )
    ]
    tanks = 50 if quick else 500
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "scene.yaml").write_text(generated_scene_yaml(tanks))
        ms = _time_load(folder, 1 if not quick else 2) * 1e3
    rows.append(
        Row(
            "scene",
            f"load generated scene, {tanks * 3 - 1} entities",
            ms,
            "ms",
            target=1000.0,
            better="lower",
        )
    )
    rows += _device_file_rows(quick)
    return rows


def _device_file_rows(quick: bool) -> list[Row]:
    """A generated plant whose devices.yaml maps 100 devices x 100 points (10 x 100 quick):
    CPU seconds to validate and load the devices file against its scene (the issue's figure),
    and the scene itself (10,725 entities)."""
    devices = 10 if quick else 100
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_generated_plant(folder, 0, devices=devices, points_per_device=100)
        gc.collect()
        t0 = time.process_time()
        scene = load_scene(folder)
        gc.collect()  # the scene's deferred collection is the scene's cost, not the devices'
        t1 = time.process_time()
        loaded = load_devices(folder / "devices.yaml", scene)
        gc.collect()
        t2 = time.process_time()
        validate_s, validate_cpu_s = _time_validate(folder)
    points = sum(len(d.points) for d in loaded.devices)
    return [
        Row("scene", f"validate + load devices.yaml, {points:,} points on {devices} devices",
            t2 - t1,
            "s CPU", target=0.5, better="lower",
            note="was 23 s (issue: 14-16 s); 0.37-0.55 s before round 4"),
        Row("scene", f"validate + load its scene.yaml, {len(scene.entities):,} entities",
            t1 - t0, "s CPU", better="lower", note="was 4.3 s here; 0.82-1.88 s before round 4"),
        Row("scene", "twinstage validate of that plant, process start to exit", validate_s,
            "s wall", better="lower", note=f"{validate_cpu_s:.2f} s CPU: what a user waits for"),
    ]


def _time_validate(folder: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``twinstage validate FOLDER`` in a fresh interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "runtime.cli", "validate", str(folder)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
    wall_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        return float("nan"), float("nan")
    return wall_s, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
