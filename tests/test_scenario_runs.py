"""Every shipped scenario with both of its autopilots, on one real stack (bus, plant, adapter,
recorder as processes), the plant sped up so each run takes seconds. The autopilots operate
through the bus with the operator key; each score must fall in its autopilot's range. The
report of one run carries its charts."""

from __future__ import annotations

import json
import re
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
