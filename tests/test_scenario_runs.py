"""Every shipped scenario with both of its autopilots, on one real stack (bus, plant, adapter,
recorder as processes), the plant sped up so each run takes seconds. The autopilots operate
through the bus with the operator key; each score must fall in its autopilot's range. The
report of one run carries its charts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bus_fixtures import free_base_port
from plant_fixtures import PUMP_STATION, port_offset_for

from runtime.scenarios.load import (
    list_scenarios,
    load_autopilot,
    load_scenario,
    resolve_autopilot,
)
from runtime.scenarios.report import write_report
from runtime.scenarios.session import Session

SPEED = 40.0
"""Plant seconds per wall second: a 300 s scenario runs in about 8 s."""
CASES = [(p.stem, kind) for p in list_scenarios(PUMP_STATION) for kind in ("pass", "fail")]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    tmp = tmp_path_factory.mktemp("scenario-runs")
    s = Session(PUMP_STATION, tmp / "stack", bus_port=free_base_port(5),
                port_offset=port_offset_for(PUMP_STATION), keys=tmp / "keys", speed=SPEED,
                log=lambda line: None)
    s.start()
    try:
        yield s
    finally:
        codes = s.stop()
        assert all(c in (0, -2) for c in codes.values()), codes


@pytest.mark.parametrize("name,kind", CASES)
def test_scenario_with_autopilot(session: Session, tmp_path: Path, name: str, kind: str) -> None:
    scenario = load_scenario(PUMP_STATION / "scenarios" / f"{name}.yaml")
    pilot = load_autopilot(resolve_autopilot(f"{name}-{kind}", scenario.path), scenario)
    result = session.run(scenario, pilot, headless=True, speed=SPEED, folder=tmp_path / "run")
    lo, hi = pilot.expect_score
    events = [json.loads(x) for x in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    story = "\n".join(f"{e['t_s']:.1f} {e['kind']} {e['text']}" for e in events)
    assert result["ended"] == "end", story
    assert lo <= result["score"] <= hi, f"score {result['score']} not in {lo}..{hi}\n{story}"
    assert result["passed"] is pilot.expect_passed, story
    if kind == "pass":
        # the autopilot's commands went through the bus and came back as confirmed acks
        assert any(e["kind"] == "command" and "confirmed" in e["text"] for e in events), story
    if name == "duty_pump_trip":
        json_path, html_path = write_report(tmp_path / "run")
        page = html_path.read_text()
        svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
        assert len(svgs) == 3
        assert all(len(re.findall(r"<path\b", s)) > 5 for s in svgs)
        assert "<script" not in page and "src=" not in page  # self-contained
        report = json.loads(json_path.read_text())
        assert report["score"]["score"] == result["score"]
        assert report["points"]["T-102/level_m"]["min"] > 0


def test_trainee_presence_instructor_backtrack_and_messages(session: Session,
                                                            tmp_path: Path) -> None:
    """A run waits for the trainee's presence (a real bus client with the operator key), the
    instructor (instructor key) freezes, snapshots, backtracks (state hash equal), messages;
    the trainee going quiet pauses the run and coming back resumes it; an operator may not
    freeze."""
    import threading
    import time

    from runtime.bus.security import client_security
    from runtime.bus.service_client import ServiceClient

    scenario = load_scenario(PUMP_STATION / "scenarios" / "control_valve_stuck.yaml")
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(session.run(
        scenario, None, headless=False, speed=4.0, trainee_timeout_s=1.5, wait_trainee_s=60,
        folder=tmp_path / "run")))
    runner.start()
    keys = session.stack.keys
    trainee = ServiceClient(session.stack.endpoints,
                            security=client_security(keys / "operator.key_secret"))
    teacher = ServiceClient(session.stack.endpoints,
                            security=client_security(keys / "instructor.key_secret"))

    def until(pred, what: str, timeout_s: float = 30.0, present: bool = True):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if present:
                trainee.call("scenario", "presence", {"since": 0}, timeout_s=2.0)
            got = pred()
            if got:
                return got
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def status() -> dict:
        reply = teacher.call("scenario", "status", {"since": 0}, timeout_s=3.0)
        assert reply.ok, reply.text
        return reply.body

    def call(method: str, body: dict | None = None) -> dict:
        reply = teacher.call("scenario", method, body or {}, timeout_s=5.0)
        assert reply.ok, f"{method}: {reply.status} {reply.text}"
        return reply.body

    try:
        assert until(lambda: status()["state"] == "running", "the run to start on presence")
        refused = trainee.call("scenario", "freeze", {}, timeout_s=3.0)
        assert refused.status == "refused"
        call("freeze")
        snap = call("snapshot", {"label": "test"})["snapshot"]
        until(lambda: status()["frozen"], "frozen")
        call("run")
        snap_t_s = snap["time_s"] - session_t0(session)
        until(lambda: status()["time_s"] > snap_t_s + 12, "plant time to move on")
        call("freeze")
        back = call("backtrack", {"seconds": status()["time_s"] + session_t0(session)
                                  - snap["time_s"]})
        assert back["snapshot"]["id"] == snap["id"] and back["hash"] == snap["hash"]
        assert call("inject", {"kind": "trip", "target": "P-102"})["fault"] == "trip P-102"
        assert "trip P-102" in status()["faults"]
        assert call("clear", {"target": "P-102"})["cleared"] == ["trip P-102"]
        assert call("speed", {"speed": 8})["speed"] == 8 and status()["speed"] == 8
        call("speed", {"speed": 4})
        call("message", {"text": "Look at FV-101's position."})
        bad = teacher.call("scenario", "start", {"scenario": "no_such"}, timeout_s=3.0)
        assert bad.status == "error" and "no scenario" in bad.text
        assert call("start", {"scenario": "duty_pump_trip"})["queued"] == "duty_pump_trip"
        assert session.next_scenario().id == "duty_pump_trip"
        session.hub.queued = None
        msgs = until(lambda: [m for m in trainee.call("scenario", "presence", {"since": 0},
                                                        timeout_s=2.0).body["messages"]
                              if "FV-101" in m["text"]], "the message at the trainee")
        assert msgs[0]["kind"] == "message"
        call("run")
        # the trainee goes quiet: paused, and says so; back: resumed
        until(lambda: status()["state"] == "paused", "a pause", present=False)
        until(lambda: status()["state"] == "running", "the resume")
        kinds = [e["kind"] for e in status()["events"]]
        assert {"freeze", "snapshot", "backtrack", "message", "paused", "resumed"} <= set(kinds)
        paused = next(e for e in status()["events"] if e["kind"] == "paused")
        assert "disconnected" in paused["text"]
        # the instructor station draws the run (headless view, offscreen); the trainee is quiet
        hud_path = tmp_path / "hud.json"
        out = subprocess.run(
            [sys.executable, "-m", "runtime.cli", "view", str(PUMP_STATION), "--bus",
             session.stack.bus, "--key", str(keys / "instructor.key_secret"), "--role",
             "instructor", "--headless", "--seconds", "3", "--hud-json", str(hud_path)],
            capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        hud = json.loads(hud_path.read_text())
        panel = next(e for e in hud["elements"] if e["kind"] == "instructor")
        assert "INSTRUCTOR STATION" in panel["text"]
        assert "Control valve stuck: paused" in panel["text"]
        assert "trainee: operator (NOT connected)" in panel["text"]
        assert "Look at FV-101" in panel["text"] and panel["bbox"][2] > 100
        call("stop")
        runner.join(30)
        assert result["ended"] == "stopped"
    finally:
        session.request_stop() if runner.is_alive() else None
        runner.join(10)
        trainee.close()
        teacher.close()


def session_t0(session: Session) -> float:
    """Plant time (s) at which the current run's scenario time is 0."""
    assert session.current is not None
    return session.current.t0_s
