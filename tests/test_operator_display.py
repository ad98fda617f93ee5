"""The operator's display: value badges with units on every asset, never over a panel or each
other; the status bar; one banner when the bus is lost instead of a Bad per asset. Checked
through ``--hud-json`` (what is on screen, in pixels) and the pure text builders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from bus_fixtures import wait_until
from conftest import PUMP_STATION, REPO_ROOT
from live_fixtures import live_bus_server

from runtime.live.bindings import build_bindings
from runtime.quality import Quality, Reason
from runtime.scene import load_devices, load_scene
from runtime.sources.base import PublisherState
from runtime.ui.badge_text import badge_text, format_value, motor_of
from runtime.ui.hud import overlaps
from runtime.ui.status_model import StatusInputs, banner_text, status_text
from runtime.world import build_world

S = 1_000_000_000


def test_values_read_as_operators_expect() -> None:
    assert format_value(2.3456, "m") == "2.35 m"
    assert format_value(45.4, "%") == "45 %"
    assert format_value(-0.04, "m3/h") == "0.0 m3/h"
    assert format_value(1.0, "bool", name="P-101/running") == "Running"
    assert format_value(0.0, "bool", name="P-101/running") == "Stopped"
    assert format_value(1.0, "enum", states=("manual", "auto")) == "Auto"
    assert format_value(float("nan"), "kPa") == "--"


def test_badges_have_units_quality_marks_and_ages() -> None:
    scene = load_scene(PUMP_STATION)
    world = build_world(scene, load_devices(PUMP_STATION / "devices.yaml", scene))
    b = build_bindings(world)
    s = world.state
    s.value[:] = s.good_value[:] = 1.0
    s.quality[:] = Quality.GOOD
    s.good_t_receive_ns[:] = 0
    estimate = np.full(len(world.points), 3.0)
    row = world.entity_row

    def badge(eid: str):  # noqa: ANN202
        r = row[eid]
        return badge_text(world, r, list(b.entity_points[r]), 10 * S, estimate, motor_of(world, r))

    assert badge("P-101").near == "Running  1 rpm  est 3.0 m3/h  1.0 kW"
    assert badge("P-101").far == "Running"
    assert badge("T-102").near == "1.00 m  20 %"  # the level transmitter, % of the height
    assert badge("L-101") is None  # pipes carry flow beads, not badges
    lt = world.point_column["LT-102/level_m"]
    s.quality[lt], s.reason[lt] = Quality.BAD, Reason.NO_COMMUNICATION
    bad = badge("T-102")
    assert bad.quality == Quality.BAD and bad.near.startswith("! 1.00 m") and "(10 s)" in bad.near


def _inputs(**kw: object) -> StatusInputs:
    base = dict(wall_s=1_767_225_600.0, mode="live", virtual_s=0.0, speed=1.0, paused=False,
                bus="tcp://127.0.0.1:5555", synced=True,
                publishers=(PublisherState("PLC-101", True, 0.0),), user="ana", role="operator")
    base.update(kw)
    return StatusInputs(**base)  # type: ignore[arg-type]


def test_status_bar_and_the_one_banner_for_a_lost_bus() -> None:
    ok = _inputs()
    assert "LIVE" in status_text(ok) and "connected" in status_text(ok)
    assert "ana (operator)" in status_text(ok) and banner_text(ok) == ""
    one_silent = _inputs(publishers=(PublisherState("PLC-101", True, 0.0),
                                     PublisherState("RTU-101", False, 12.0)))
    assert banner_text(one_silent) == "" and "RTU-101 SILENT 12 s" in status_text(one_silent)
    all_silent = _inputs(publishers=(PublisherState("PLC-101", False, 5.0),))
    assert banner_text(all_silent) == ""  # the adapters are silent, the bus stands
    lost = _inputs(bus_down_s=5.0, publishers=(PublisherState("PLC-101", False, 5.0),
                                               PublisherState("RTU-101", False, 7.0)))
    assert banner_text(lost).startswith("bus connection lost since ")
    assert banner_text(lost).endswith("(5 s) - values held")
    assert "LOST" in status_text(lost)
    assert banner_text(_inputs(bus_down_s=1.0)) == ""  # a blip is not a banner
    replay = _inputs(mode="replay", speed=4.0, paused=True, publishers=())
    assert "REPLAY 4x paused" in status_text(replay) and banner_text(replay) == ""


def _view(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runtime.cli", "view", "pump_station", *args],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def _run(tmp_path: Path, name: str, size: str, stop_bus: bool = False) -> dict:
    shots, hud = tmp_path / name, tmp_path / f"{name}.json"
    with live_bus_server() as (address, _plant, server):
        proc = _view("--bus", address, "--headless", "--seconds", "120", "--size", size,
                     "--screenshot-dir", str(shots), "--screenshot-every", "1",
                     "--select", "T-102", "--hud-json", str(hud), "--max-fps", "20")
        try:
            wait_until(lambda: (shots / "live-002.png").exists(), timeout_s=90)
            if stop_bus:
                server.stop()  # the bus process dies: the viewer's connection drops
                wait_until(lambda: (shots / "live-007.png").exists(), timeout_s=60)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err
    return json.loads(hud.read_text())


def test_every_asset_shows_its_values_with_units_clear_of_panels(tmp_path: Path) -> None:
    scene = load_scene(PUMP_STATION)
    for size in ("1280x720", "3840x2160"):
        hud = _run(tmp_path, f"shots-{size}", size)
        elements = hud["elements"]
        badges = [e for e in elements if e["kind"] == "badge"]
        panels = [e for e in elements if e["kind"] in ("status", "faceplate")]
        assert {e["kind"] for e in panels} == {"status", "faceplate"}
        tags = {e["text"].split()[0] for e in badges}
        wanted = {e.id for e in scene.entities if e.type != "pipe" and e.points}
        assert wanted <= tags, f"{size}: no badge for {sorted(wanted - tags)}"
        units = ("m", "%", "rpm", "kW", "kPa", "m3/h", "Running", "Stopped", "Auto", "Manual")
        for e in badges:
            values = e["text"].splitlines()[1]
            assert any(u in values.split() for u in units), e["text"]
        boxes = badges + panels
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not overlaps(a["bbox"], b["bbox"]), (size, a, b)


def test_losing_the_bus_is_one_banner_not_a_bad_per_asset(tmp_path: Path) -> None:
    hud = _run(tmp_path, "lost", "1280x720", stop_bus=True)
    elements = hud["elements"]
    (banner,) = [e for e in elements if e["kind"] == "banner"]
    assert banner["text"].startswith("bus connection lost since ")
    assert "values held" in banner["text"]
    (status,) = [e for e in elements if e["kind"] == "status"]
    assert "LOST" in status["text"]
    badges = [e for e in elements if e["kind"] == "badge"]
    assert badges and not any("no communication" in e["text"] for e in badges)
    assert not any(e["text"].splitlines()[1].startswith("!") for e in badges)
    assert any("held" in e["text"] for e in badges)
    assert {"P-101", "T-102", "LT-102"} <= {e["text"].split()[0] for e in badges}
    assert not any(overlaps(banner["bbox"], e["bbox"]) for e in badges)


def _plant_view(**values: float):  # noqa: ANN202
    from runtime.ui.faceplate_text import PlantView

    scene = load_scene(PUMP_STATION)
    devices = load_devices(PUMP_STATION / "devices.yaml", scene)
    world = build_world(scene, devices)
    s = world.state
    s.quality[:] = Quality.GOOD
    s.value[:] = s.good_value[:] = 0.0
    for point, v in values.items():
        c = world.point_column[point.replace("__", "/").replace("_", "-", 1)]
        s.value[c] = s.good_value[c] = v
    return PlantView(world, devices), world


def test_faceplates_say_why_a_command_cannot_be_done_before_it_is_tried() -> None:
    from runtime.ui.faceplate_text import faceplate_lines, outcome_words

    view, world = _plant_view(**{"UC_101__mode": 1.0, "P_101__running": 1.0})
    lines = [f.text for f in faceplate_lines(view, world.entity_row["P-101"], "operator")]
    assert lines[1] == "Running   Auto (UC-101)"
    assert "Run hours 0.0 h" in lines
    assert ("  Start/Stop   not now - UC-101 runs P-101 in Auto - switch UC-101 to Manual to "
            "stop it") in lines
    assert outcome_words(view, "P-101/run_cmd", 0.0, "readback_mismatch") == (
        "P-101 did not stop: UC-101 restarted it (it runs the pumps in Auto)")
    viewer_lines = [f.text for f in faceplate_lines(view, world.entity_row["P-101"], "viewer")]
    assert any("view only" in li for li in viewer_lines)

    view, world = _plant_view(**{"UC_101__mode": 0.0, "P_101__running": 1.0})
    p102 = [f.text for f in faceplate_lines(view, world.entity_row["P-102"], "operator")]
    assert any(li.startswith("  Start/Stop   not now - interlock IL-1: P-101 is running")
               for li in p102), p102
    p101 = [f.text for f in faceplate_lines(view, world.entity_row["P-101"], "operator")]
    assert "  Start/Stop   ready" in p101 and lines[1].startswith("Running")


def test_an_operator_stops_p101_from_its_faceplate_after_putting_uc101_in_manual(
        tmp_path: Path) -> None:
    from conftest import run_cli
    from e2e_fixtures import live_stack

    with live_stack(tmp_path) as stack:
        def view(name: str, *writes: str) -> tuple[int, dict, str]:
            hud = tmp_path / f"{name}.json"
            args = ["view", "pump_station", "--bus", stack.bus_address, "--headless",
                    "--size", "960x540", "--role", "operator", "--actor", "ana",
                    "--select", "P-101", "--hud-json", str(hud), "--seconds", "40"]
            for w in writes:
                args += ["--write", w]
            done = run_cli(*args, timeout_s=240)
            return done.returncode, json.loads(hud.read_text()), done.stdout

        code, hud, out = view("auto", "P-101/run_cmd=0")
        (face,) = [e for e in hud["elements"] if e["kind"] == "faceplate"]
        assert "UC-101 runs P-101 in Auto - switch UC-101 to Manual to stop it" in face["text"]
        # The warning was true: whatever the adapter answered (the run command may read back
        # 0 before the sequencer writes it again), P-101 is still running.
        assert face["text"].splitlines()[1].startswith("Running   Auto (UC-101)"), face

        code, hud, out = view("manual", "UC-101/mode=0", "P-101/run_cmd=0")
        assert code == 0, out
        (face,) = [e for e in hud["elements"] if e["kind"] == "faceplate"]
        assert face["text"].splitlines()[1].startswith("Stopped   Manual (UC-101)"), face
