"""``twinstage scenario run --headless --autopilot`` and ``scenario report`` as a user runs them
(real subprocesses end to end). Soak: the default suite runs the same runs through the session
API on one shared stack (tests/test_scenario_runs.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bus_fixtures import free_base_port
from plant_fixtures import REPO, port_offset_for


@pytest.mark.soak
def test_cli_run_and_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "scenario", "run", "pump_station/duty_pump_trip",
         "--headless", "--autopilot", "duty_pump_trip-fail", "--speed", "60", "--out", str(out),
         "--bus-port", str(free_base_port(5)), "--port-offset", str(port_offset_for()),
         "--keys", str(tmp_path / "keys")],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "not passed" in run.stdout and "Traceback" not in run.stderr
    score = json.loads((out / "score.json").read_text())
    assert score["autopilot"]["within_expected"] and not score["passed"]
    report = subprocess.run([sys.executable, "-m", "runtime.cli", "scenario", "report",
                             str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    page = (out / "report.html").read_text()
    assert page.count("<svg") == 3 and "Duty pump trip" in page
