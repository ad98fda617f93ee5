"""Every bad-input case of scene and device files names file, line and key, and exits 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import PUMP_STATION, run_cli

from runtime.scene import SceneError, load_devices, load_scene


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` with ``new``; return the 1-based line it was on."""
    text = path.read_text()
    index = text.index(old)
    path.write_text(text[:index] + new + text[index + len(old) :])
    return text.count("\n", 0, index) + 1


def test_bundled_scene_is_valid() -> None:
    scene = load_scene(PUMP_STATION)
    devices = load_devices(PUMP_STATION / "devices.yaml", scene)
    ids = {e.id for e in scene.entities}
    assert {"T-101", "T-102", "P-101", "P-102", "M-101", "FV-101", "LT-101", "FT-101"} <= ids
    assert {e.type for e in scene.entities} >= {"tank", "pump", "motor", "valve", "pipe"}
    assert len(devices.devices) == 3


CASES = [
    # (file, old text, new text, expected key fragment, expected message fragment)
    (
        "scene.yaml",
        "    name: Raw water tank\n",
        "    name: Raw: water tank\n",
        "",
        "YAML syntax error",
    ),
    (
        "scene.yaml",
        "    type: pump\n",
        "    type: pummp\n",
        "entities[3].type",
        "unknown asset type 'pummp'",
    ),
    ("scene.yaml", "  - id: P-102\n", "  - id: P-101\n", "entities[5].id", "duplicate id 'P-101'"),
    (
        "scene.yaml",
        "from: FV-101, to: T-102",
        "from: FV-101, to: T-109",
        "connections[6].to",
        "missing entity 'T-109'",
    ),
    (
        "scene.yaml",
        "{name: level_m, unit: m, kind: process}",
        "{name: level_m, unit: kPa, kind: process}",
        "entities[0].points[0].unit",
        "must end in '_kpa'",
    ),
    (
        "scene.yaml",
        "diameter_m: 8.0",
        "diameter_m: eight",
        "entities[0].tank.diameter_m",
        "expected a number",
    ),
    (
        "scene.yaml",
        "model: {procedural: pump}",
        "model: {file: assets/missing_pump.glb}",
        "entities[3].model.file",
        "model file not found",
    ),
    (
        "scene.yaml",
        "model: {procedural: tank}",
        "model: {procedural: spaceship}",
        "entities[0].model.procedural",
        "must be one of",
    ),
    (
        "scene.yaml",
        "      motor: M-101\n",
        "      motor: T-101\n",
        "entities[3].pump.motor",
        "is a tank, expected a motor",
    ),
    (
        "scene.yaml",
        "measures: T-101/level_m",
        "measures: T-101/levl_m",
        "entities[11].transmitter.measures",
        "undeclared point",
    ),
    (
        "scene.yaml",
        "      shutoff_head_m: 42.0\n",
        "      shutof_head_m: 42.0\n",
        "entities[3].pump.shutof_head_m",
        "unknown key",
    ),
    (
        "devices.yaml",
        "address: 1,  type: float32, unit: rpm",
        "address: 0,  type: float32, unit: rpm",
        "devices[0].points[1].address",
        "already used by P-101/run_cmd",
    ),
    (
        "devices.yaml",
        "type: float32, unit: rpm}",
        "type: float64, unit: rpm}",
        "devices[0].points[3].type",
        "must be one of",
    ),
    (
        "devices.yaml",
        "{point: LT-101/level_m,",
        "{point: LT-109/level_m,",
        "devices[2].points[0].point",
        "not declared",
    ),
    ("devices.yaml", "port: 15021", "port: 99999", "devices[1].port", "between 1 and 65535"),
]


@pytest.mark.parametrize(("file", "old", "new", "key", "message"), CASES)
def test_bad_input_names_file_line_and_key(
    scene_copy: Path, file: str, old: str, new: str, key: str, message: str
) -> None:
    target = scene_copy / file
    line = _edit(target, old, new)
    with pytest.raises(SceneError) as caught:
        scene = load_scene(scene_copy)
        load_devices(scene_copy / "devices.yaml", scene)
    err = caught.value
    assert err.path == target
    assert err.key == key
    assert message in err.message
    # The reported line is the edited line or the line of its enclosing item.
    assert err.line is not None and abs(err.line - line) <= 1, (err.line, line)


def test_cli_validate_reports_one_line_and_exit_code_2(scene_copy: Path) -> None:
    line = _edit(scene_copy / "scene.yaml", "    type: pump\n", "    type: pummp\n")
    result = run_cli("validate", str(scene_copy))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.search(
        rf"scene\.yaml:{line}: \[entities\[3\]\.type\] unknown asset type", result.stderr
    )


def test_cli_validate_ok() -> None:
    result = run_cli("validate", str(PUMP_STATION))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_cli_missing_scene_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "no such scene" in result.stderr and "Traceback" not in result.stderr


def test_empty_and_non_mapping_files(scene_copy: Path) -> None:
    (scene_copy / "scene.yaml").write_text("")
    with pytest.raises(SceneError, match="expected a mapping"):
        load_scene(scene_copy)
    (scene_copy / "scene.yaml").write_text("- just\n- a list\n")
    with pytest.raises(SceneError, match="expected a mapping"):
        load_scene(scene_copy)


def test_duplicate_yaml_key_is_reported(scene_copy: Path) -> None:
    line = _edit(
        scene_copy / "scene.yaml", "    name: Duty pump\n", "    name: Duty pump\n    name: Again\n"
    )
    with pytest.raises(SceneError) as caught:
        load_scene(scene_copy)
    assert caught.value.line == line + 1
    assert "key appears twice" in caught.value.message


def test_viewpoints_load_and_bad_ones_name_line_and_key(scene_copy) -> None:  # noqa: ANN001
    from runtime.scene import load_scene

    scene = load_scene(scene_copy)
    assert [v.name for v in scene.viewpoints][:2] == ["Whole site", "Pump skid"]
    text = (scene_copy / "scene.yaml").read_text()
    bad = text.replace("pitch_deg: -25}", "pitch_deg: 10}")
    (scene_copy / "scene.yaml").write_text(bad)
    line = next(i for i, li in enumerate(bad.splitlines(), 1) if "pitch_deg: 10}" in li)
    result = run_cli("validate", str(scene_copy))
    assert result.returncode == 2
    assert f"scene.yaml:{line}" in result.stderr and "pitch_deg" in result.stderr
    assert "-88..-3" in result.stderr


def test_validate_does_not_load_numpy() -> None:
    """`twinstage validate` is the command a user runs after every edit: it checks alarms.yaml
    through the definitions alone, without the alarm engine's numpy (about half its start)."""
    import subprocess
    import sys

    from conftest import PUMP_STATION, REPO_ROOT

    code = ("import sys; from runtime.cli import main; rc = main(['validate', sys.argv[1]]); "
            "print('numpy' in sys.modules, rc)")
    done = subprocess.run([sys.executable, "-c", code, str(PUMP_STATION)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split()[-2:] == ["False", "0"], done.stdout + done.stderr
