"""alarms.yaml: the bundled set is valid and rationalized; every bad file names file, line and
key; ``twinstage validate`` on a scene with a bad alarms.yaml exits 2 without a traceback."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import hypothesis.strategies as st
import pytest
import yaml
from conftest import PUMP_STATION, run_cli
from hypothesis import given, settings

from runtime.alarms import PRIORITIES, load_alarms
from runtime.scene import SceneError, load_devices, load_scene


def _edit(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` with ``new``; return the 1-based line it was on."""
    text = path.read_text()
    index = text.index(old)
    path.write_text(text[:index] + new + text[index + len(old):])
    return text.count("\n", 0, index) + 1


def test_bundled_alarm_set_is_valid_and_rationalized() -> None:
    scene = load_scene(PUMP_STATION)
    defs = load_alarms(PUMP_STATION / "alarms.yaml", scene,
                       load_devices(PUMP_STATION / "devices.yaml", scene))
    by_id = defs.by_id()
    assert {"T-101-HH", "T-101-H", "T-101-L", "T-101-LL", "T-102-LL", "P-101-TRIP",
            "P-102-TRIP", "P-101-CMD", "P-102-CMD", "FV-101-CMD", "M-101-TEMP-H",
            "LT-101-BAD", "T-102-ROC", "LIC-102-DEV"} <= set(by_id)
    assert {a.type for a in defs.alarms} == {"high", "high_high", "low", "low_low", "deviation",
                                             "rate", "discrete", "bad_quality",
                                             "command_disagree"}
    assert by_id["P-101-TRIP"].priority == "High"
    assert by_id["P-102-TRIP"].suppress_when[0].point == "UC-101/duty_pump"
    assert by_id["FV-101-CMD"].limit == 5 and by_id["FV-101-CMD"].on_delay_s == 30
    for a in defs.alarms:
        assert a.rationalization.cause and a.rationalization.response, a.id
    counts = {p: sum(a.priority == p for a in defs.alarms) for p in PRIORITIES}
    assert counts["Critical"] + counts["High"] < counts["Medium"] < counts["Low"]


CASES = [
    # (old text, new text, key, message fragment)
    ("    point: LT-101/level_m\n    type: high_high", "    point: LT-109/level_m\n    type: "
     "high_high", "alarms[0].point", "unknown point 'LT-109/level_m'"),
    ("    limit: 0.9\n", "    limit: 1.5\n", "alarms[3].limit", "LL limit 1.5 on LT-101/level_m "
     "is not below its L limit 1.2"),
    ("    limit: 5.0\n", "    limit: 5.6\n", "alarms[1].limit", "H limit 5.6 on LT-101/level_m "
     "is not below its HH limit 5.4"),
    ("    on_delay_s: 10\n    message: Raw water tank level high\n",
     "    on_delay_s: -1\n    message: Raw water tank level high\n", "alarms[1].on_delay_s",
     "must not be negative"),
    ("    deadband: 0.05\n", "    deadband: -0.05\n", "alarms[0].deadband", "must not be negative"),
    ("{point: UC-101/duty_pump, op: \"==\", value: 0}", "{point: UC-109/duty_pump, op: \"==\", "
     "value: 0}", "alarms[11].suppress_when.point", "unknown point 'UC-109/duty_pump'"),
    ("    priority: Critical\n", "    priority: Urgent\n", "alarms[7].priority",
     "must be one of Low, Medium, High, Critical"),
    ("    type: bad_quality\n", "    type: bad_qualty\n", "alarms[18].type", "must be one of"),
    ("  - id: T-101-H\n", "  - id: T-101-HH\n", "alarms[1].id", "duplicate alarm id 'T-101-HH'"),
    ("      response: Restore the intake now", "      respond: Restore the intake now",
     "alarms[3].rationalization.respond", "unknown key 'respond'"),
    ("      cause: River intake reduced or blocked while the pumps draw full flow.\n", "",
     "alarms[2].rationalization", "missing rationalization field 'cause'"),
    ("  - id: T-101-HH\n", "  - id: T 101 HH\n", "alarms[0].id", "visible ASCII"),
    ("    command_point: P-101/run_cmd\n", "    command_point: P-101/runcmd\n",
     "alarms[12].command_point", "unknown point 'P-101/runcmd'"),
    ("    point: LT-101/level_m\n    type: high_high", "    point: T-101/level_m\n    type: "
     "high_high", "alarms[0].point", "has no reading"),
    ("    type: rate\n", "    type: high\n", "alarms[8].direction", "belongs to rate alarms"),
    ("    limit: 1.5\n", "    limit: 4.2\n", "alarms[6].limit", "L limit 4.2 on LT-102/level_m "
     "is not below its H limit 4"),
]


@pytest.mark.parametrize(("old", "new", "key", "message"), CASES)
def test_bad_alarm_files_name_file_line_and_key(scene_copy: Path, old: str, new: str, key: str,
                                                message: str) -> None:
    path = scene_copy / "alarms.yaml"
    line = _edit(path, old, new)
    scene = load_scene(scene_copy)
    with pytest.raises(SceneError) as caught:
        load_alarms(path, scene, load_devices(scene_copy / "devices.yaml", scene))
    err = caught.value
    assert err.path == path
    assert err.key == key, err.format()
    assert message in err.message, err.format()
    assert err.line is not None and abs(err.line - line) <= 1, (err.line, line)


def test_cli_validate_reports_the_alarm_file_and_exits_2(scene_copy: Path) -> None:
    line = _edit(scene_copy / "alarms.yaml", "    limit: 0.9\n", "    limit: 1.5\n")
    result = run_cli("validate", str(scene_copy))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.search(rf"alarms\.yaml:{line}: \[alarms\[3\]\.limit\] LL limit", result.stderr)
    result = run_cli("validate", str(PUMP_STATION))
    assert result.returncode == 0 and "22 alarms" in result.stdout, result.stderr


def test_wrong_format_and_shelve_limit(scene_copy: Path) -> None:
    path = scene_copy / "alarms.yaml"
    _edit(path, "shelve_max_minutes: 480", "shelve_max_minutes: 60")
    _edit(path, "    priority: Low\n", "    priority: Low\n    shelve_max_minutes: 90\n")
    with pytest.raises(SceneError, match="longer than the site's shelve_max_minutes"):
        load_alarms(path, load_scene(scene_copy))
    path.write_text("format: twinstage.alarms/9\nalarms: []\n")
    with pytest.raises(SceneError, match="unsupported format"):
        load_alarms(path)


SCENE = load_scene(PUMP_STATION)
BASE = yaml.safe_load((PUMP_STATION / "alarms.yaml").read_text())


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alarm-fuzz")

JUNK = [None, True, -1, 0, 1e309, "", "  ", "x", [], [1], {}, {"a": 1}, -0.5, 10**30]


@settings(max_examples=80, deadline=None)
@given(alarm_index=st.integers(0, 21), key=st.sampled_from(sorted(
    ["id", "point", "type", "limit", "setpoint_point", "direction", "window_s", "state",
     "value", "command_point", "feedback_point", "timeout_s", "tolerance", "priority",
     "deadband", "on_delay_s", "off_delay_s", "message", "rationalization", "suppress_when",
     "shelve_max_minutes"])), junk=st.sampled_from(JUNK))
def test_any_junk_value_is_a_located_error_never_a_crash(fuzz_dir: Path, alarm_index: int,
                                                          key: str, junk: object) -> None:
    doc = copy.deepcopy(BASE)
    doc["alarms"][alarm_index][key] = junk
    body = yaml.safe_dump(doc, sort_keys=False).replace("1.0e+309", ".inf")
    path = fuzz_dir / "alarms.yaml"
    path.write_text(body)
    try:
        load_alarms(path, SCENE)
    except SceneError as err:
        assert err.path == path and err.line is not None and err.message
