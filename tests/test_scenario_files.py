"""Scenario and autopilot files: the shipped ones load; bad ones fail with file, line and key
(and exit 2 from the CLI, never a traceback)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from plant_fixtures import PUMP_STATION, REPO

from runtime.scenarios.load import (
    list_scenarios,
    load_autopilot,
    load_scenario,
    parse_duration_s,
    resolve_autopilot,
    resolve_scenario,
)
from runtime.scene import SceneError

GOOD = (PUMP_STATION / "scenarios" / "duty_pump_trip.yaml").read_text()


def test_shipped_scenarios_and_autopilots_load() -> None:
    found = {p.stem for p in list_scenarios("pump_station")}
    assert found == {"duty_pump_trip", "level_transmitter_drift", "control_valve_stuck"}
    for name in sorted(found):
        s = load_scenario(resolve_scenario(f"pump_station/{name}"))
        assert s.rationale and s.expectations and s.limits
        for kind in ("pass", "fail"):
            pilot = load_autopilot(resolve_autopilot(f"{name}-{kind}", s.path), s)
            assert pilot.expect_passed is (kind == "pass")
            lo, hi = pilot.expect_score
            assert 0 <= lo <= hi <= 100


def test_durations() -> None:
    assert parse_duration_s("60 s") == 60 and parse_duration_s("2 min") == 120
    assert parse_duration_s(5) == 5
    with pytest.raises(ValueError):
        parse_duration_s("soon")


def _scene_copy(tmp_path: Path) -> Path:
    scene = tmp_path / "scene"
    shutil.copytree(PUMP_STATION, scene, ignore=shutil.ignore_patterns("scenarios"))
    (scene / "scenarios").mkdir()
    return scene


@pytest.mark.parametrize("old,new,line_of,key,words", [
    ("when: T-102/level_m < 2.3 and P-102/running == 0",
     "when: T-102/levl_m < 2.3", "when: T-102/levl_m", "events[2].when", "unknown point"),
    ("    within_s: 60\n", "", "  - id: standby_started", "expectations[0]",
     "no deadline"),
    ("fault: {kind: trip, target: P-101}", "fault: {kind: melt, target: P-101}",
     "fault: {kind: melt", "events[0].do[0].fault.kind", "unknown fault"),
    ("fault: {kind: trip, target: P-101}", "fault: {kind: trip, target: P-999}",
     "fault: {kind: trip", "events[0].do[0].fault.target", "unknown fault target"),
    ("after: trip\n    within_s: 60", "after: trap\n    within_s: 60", "after: trap",
     "expectations[0].after", "unknown event"),
    ("  after_s: 300", "  after_s: soon", "after_s: soon", "end.after_s", "not a duration"),
    ("    UC-101/mode: 0", "    T-102/level_m: 2", "T-102/level_m: 2",
     "initial.points.T-102/level_m", "only setpoints and commands"),
])
def test_bad_scenario_names_file_line_key(tmp_path: Path, old: str, new: str, line_of: str,
                                          key: str, words: str) -> None:
    scene = _scene_copy(tmp_path)
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    path = scene / "scenarios" / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SceneError) as info:
        load_scenario(path)
    err = info.value
    expected_line = next(i for i, ln in enumerate(text.splitlines(), 1) if line_of in ln)
    assert err.path == path.resolve()
    assert err.line == expected_line, err.format()
    assert err.key == key, err.format()
    assert words in err.message, err.format()


def test_unknown_alarm_checked_against_alarms_yaml(tmp_path: Path) -> None:
    scene = _scene_copy(tmp_path)
    (scene / "alarms.yaml").write_text("alarms:\n  - {id: P-101-TRIP}\n  - {id: T-102-LO}\n")
    path = scene / "scenarios" / "s.yaml"
    path.write_text(GOOD.replace("alarm P-101-TRIP acknowledged",
                                 "alarm P-101-TRIPPED acknowledged", 1))
    with pytest.raises(SceneError) as info:
        load_scenario(path)
    assert "unknown alarm 'P-101-TRIPPED'" in info.value.message
    assert info.value.key == "events[1].when"
    path.write_text(GOOD)
    assert load_scenario(path).id == "s"


def test_cli_validate_bad_file_exits_2_without_traceback(tmp_path: Path) -> None:
    scene = _scene_copy(tmp_path)
    path = scene / "scenarios" / "bad.yaml"
    path.write_text(GOOD.replace("    within_s: 60\n", "", 1))
    out = subprocess.run([sys.executable, "-m", "runtime.cli", "scenario", "validate",
                          str(path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{path}:" in out.stderr and "[expectations[0]]" in out.stderr
    assert "no deadline" in out.stderr
    ok = subprocess.run([sys.executable, "-m", "runtime.cli", "scenario", "validate",
                         "pump_station/duty_pump_trip", "--autopilot", "duty_pump_trip-pass"],
                        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    listed = subprocess.run([sys.executable, "-m", "runtime.cli", "scenario", "list"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "pump_station/control_valve_stuck" in listed.stdout


def test_cli_usage_errors_exit_2() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "runtime.cli", "scenario", *args],
                              cwd=REPO, capture_output=True, text=True, timeout=60)

    headless = cli("run", "pump_station/duty_pump_trip", "--headless")
    assert headless.returncode == 2 and "--autopilot" in headless.stderr
    missing = cli("run", "pump_station/no_such_scenario", "--headless")
    assert missing.returncode == 2 and "duty_pump_trip" in missing.stderr  # says what exists
    pilot = cli("validate", "pump_station/duty_pump_trip", "--autopilot",
                "level_transmitter_drift-pass")
    assert pilot.returncode == 2 and "not 'duty_pump_trip'" in pilot.stderr
    report = cli("report", str(REPO / "docs"))
    assert report.returncode == 2 and "not a scenario run folder" in report.stderr
    for out in (headless, missing, pilot, report):
        assert "Traceback" not in out.stderr
