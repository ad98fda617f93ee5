"""devices.yaml keys for control: roles, max_rate_per_s, sbo, interlocks (file/line/key errors)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from control_fixtures import PUMP_STATION, pump_devices

from runtime.scene import SceneError, load_devices, load_scene

SPEED_LINE = "max: 1480, max_rate_per_s: 300}"


def test_bundled_scene_declares_control_keys() -> None:
    devices = pump_devices()
    _, run = devices.owner_of("P-101/run_cmd")  # type: ignore[misc]
    _, speed = devices.owner_of("P-101/speed_sp_rpm")  # type: ignore[misc]
    assert run.sbo and not speed.sbo and speed.max_rate_per_s == 300
    assert [il.id for il in devices.interlocks] == ["IL-1", "IL-2"]
    il2 = devices.interlocks[1]
    assert (il2.blocks, il2.above, il2.when[0].point, il2.when[0].op) == (
        "FV-101/position_sp_pct", 80.0, "LT-102/level_m", ">",
    )  # fmt: skip


@pytest.fixture
def scene_dir(tmp_path: Path) -> Path:
    target = tmp_path / "pump_station"
    shutil.copytree(PUMP_STATION, target)
    return target


CASES = [
    (SPEED_LINE, "max: 1480, max_rate_per_s: 0}", "devices[0].points[1].max_rate_per_s", "than 0"),
    (SPEED_LINE, "max: 1480, roles: [viewer]}", "devices[0].points[1].roles[0]", "never writes"),
    (SPEED_LINE, "max: 1480, roles: [admin]}", "devices[0].points[1].roles[0]", "allowed here"),
    (SPEED_LINE, "max: 1480, roles: []}", "devices[0].points[1].roles", "empty"),
    (SPEED_LINE, "max: 1480, sbo: yes please}", "devices[0].points[1].sbo", "true or false"),
    (
        "unit: rpm}",
        "unit: rpm, sbo: true}",
        "devices[0].points[3].sbo",
        "writable: true",
    ),
    ("blocks: P-102/run_cmd", "blocks: P-102/running", "interlocks[0].blocks", "not writable"),
    ("blocks: P-102/run_cmd", "blocks: P-109/run_cmd", "interlocks[0].blocks", "not mapped"),
    ('op: "==", value: 1', 'op: "=~", value: 1', "interlocks[0].when.op", "must be one of"),
    ("point: LT-102/level_m, op", "point: LT-109/level_m, op", "interlocks[1].when.point", "no"),
    ("id: IL-2", "id: IL-1", "interlocks[1].id", "duplicate interlock"),
    ("unless_value: 0 ", "unless_value: 0\n    above: 3", "interlocks[0].unless_value", "either"),
    ("    message: P-101", "    colour: red\n    message: P-101", "interlocks[0].colour", "key"),
]


@pytest.mark.parametrize(("old", "new", "key", "message"), CASES)
def test_bad_control_keys_name_file_line_and_key(
    scene_dir: Path, old: str, new: str, key: str, message: str
) -> None:
    path = scene_dir / "devices.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SceneError) as caught:
        load_devices(path, load_scene(scene_dir))
    err = caught.value
    assert err.path == path and err.key == key and err.line, (err.key, str(err))
    assert message in str(err), str(err)


def test_when_may_be_a_list(scene_dir: Path) -> None:
    path = scene_dir / "devices.yaml"
    text = path.read_text().replace(
        'when: {point: P-101/running, op: "==", value: 1}',
        'when:\n      - {point: P-101/running, op: "==", value: 1}\n'
        '      - {point: P-101/tripped, op: "==", value: 0}',
    )
    path.write_text(text)
    devices = load_devices(path, load_scene(scene_dir))
    assert [c.point for c in devices.interlocks[0].when] == ["P-101/running", "P-101/tripped"]


def test_files_without_control_keys_stay_valid(scene_dir: Path) -> None:
    path = scene_dir / "devices.yaml"
    text = path.read_text()
    text = text[: text.index("\n# Write interlocks")] + "\n"
    text = text.replace(", sbo: true", "").replace(", max_rate_per_s: 300", "")
    path.write_text(text)
    devices = load_devices(path, load_scene(scene_dir))
    assert devices.interlocks == ()
    assert not any(p.sbo or p.max_rate_per_s or p.roles for d in devices.devices for p in d.points)
