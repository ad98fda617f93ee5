"""The generated plant's files validate, and lookups by id answer as the scans they replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.scene import load_devices, load_scene
from runtime.scene.generated import write_generated_plant


def test_generated_plant_files_validate(tmp_path: Path) -> None:
    write_generated_plant(tmp_path, 150, devices=4, poll_period_ms=50)
    scene = load_scene(tmp_path)
    devices = load_devices(tmp_path / "devices.yaml", scene)
    assert len([e for e in scene.entities if e.type != "pipe"]) == 100  # 10 trains of 10 + pipes
    assert len(scene.entities) == 150
    mapped = [p.point for d in devices.devices for p in d.points]
    assert sorted(mapped) == sorted(p.id for p in scene.points)  # every point, once
    assert len(devices.devices) == 4
    assert {d.poll_period_ms for d in devices.devices} == {50}
    assert len({d.port for d in devices.devices}) == 4


def test_points_per_device_grows_the_plant(tmp_path: Path) -> None:
    write_generated_plant(tmp_path, 0, devices=3, points_per_device=50)
    scene = load_scene(tmp_path)
    devices = load_devices(tmp_path / "devices.yaml", scene)
    assert [len(d.points) for d in devices.devices] == [50, 50, 50]
    assert len(scene.points) >= 150


def test_lookups_by_id(tmp_path: Path) -> None:
    write_generated_plant(tmp_path, 30, devices=2)
    scene = load_scene(tmp_path)
    devices = load_devices(tmp_path / "devices.yaml", scene)
    by_id = scene.points_by_id()
    for p in scene.points:
        assert scene.point(p.id) is p
        assert by_id[p.id] is p
    assert len(by_id) == len(scene.points)
    with pytest.raises(TypeError):
        by_id["TS-00000/nope_m"] = scene.points[0]  # type: ignore[index]  # a read-only view
    for e in scene.entities:
        assert scene.entity(e.id) is e
    with pytest.raises(KeyError):
        scene.point("TS-00000/nope_m")
    with pytest.raises(KeyError):
        scene.entity("NOPE-1")
    for d in devices.devices:
        assert devices.device(d.id) is d
        for p in d.points:
            assert devices.owner_of(p.point) == (d, p)
    assert devices.owner_of("TS-00000/nope_m") is None
    with pytest.raises(KeyError):
        devices.device("RTU-999")
