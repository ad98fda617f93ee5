"""The instructor panel's and the trainee box's text, and a station link on a bus with no
training run (it says so instead of failing)."""

from __future__ import annotations

import time
from pathlib import Path

from security_fixtures import client, make_keys, secure_bus

from runtime.scenarios.station_link import StationLink
from runtime.ui.instructor_panel import instructor_lines, trainee_lines

STATUS = {
    "state": "running", "name": "Duty pump trip", "time_s": 95.0, "end_after_s": 300.0,
    "speed": 2.0, "frozen": True, "trainee": "operator", "trainee_present": False,
    "faults": ["trip P-101"], "snapshots": [{"id": 3, "t_s": 60.0}],
    "score": {"score": 61.5, "base": 65.5, "hints": 0, "warnings": 2, "aborted": False,
              "components": [{"kind": "limit", "id": "inlet_flow", "score": 0.5, "weight": 20},
                             {"kind": "expectation", "id": "standby_started", "score": 0.0,
                              "weight": 40, "status": "missed"}]},
}


def test_instructor_lines_say_state_in_words() -> None:
    view = {"connected": True, "status": STATUS,
            "scenarios": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
            "events": [{"t_s": 30.2, "kind": "trigger", "text": "event trip"}],
            "feedback": ["freeze: done"]}
    text = "\n".join(instructor_lines(view, 1, "stick FV-101", "Check P-1"))
    assert "Duty pump trip: running (plant FROZEN), 1:35 of 5:00, speed x2" in text
    assert "trainee: operator (NOT connected)" in text
    assert "score 61.5 / 100" in text and "standby_started: MISSED" in text
    assert "inlet_flow: 50 %" in text
    assert " > B (b)" in text and "malfunction to inject: stick FV-101" in text
    assert "0:30 trigger: event trip" in text and "message: Check P-1_" in text
    idle = instructor_lines({"connected": False, "note": "no training run on this bus"}, 0,
                            "none", None)
    assert idle[1] == "no training run on this bus"


def test_trainee_lines_show_latest_messages() -> None:
    msgs = [{"kind": "message", "text": f"m{i}"} for i in range(6)] + \
        [{"kind": "hint", "text": "Start P-102."}]
    lines = trainee_lines({"connected": True, "status": {"scenario": "X", "state": "paused"},
                           "messages": msgs})
    assert lines[0] == "TRAINING: X (paused)" and lines[-1] == "HINT: Start P-102."
    assert len(lines) == 5
    assert trainee_lines({"connected": False}) == []


def test_station_link_with_no_training_run(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys")
    with secure_bus(keys) as bus:
        link = StationLink(bus.endpoints, security=client(keys, "operator"), instructor=False)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and \
                    "no training run" not in link.take()["note"]:
                time.sleep(0.05)
            view = link.take()
            assert not view["connected"] and "no training run" in view["note"], view
        finally:
            link.close()
