"""Operator control from the 3D view: roles, two-step confirm, pending, outcome (issue 6).

The state machine (:class:`ControlPanel`) is tested in-process with a fake commander and a
hand-driven clock. End to end: a real bus in a thread, a fake adapter on the bus's adapter
socket (:class:`live_fixtures.FakeAdapter`: confirms in range, refuses out of range with code
``range``, select-before-operate for sbo points, silent for one point), and ``twinstage view``
headless as a child process driven by ``--write``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bus_fixtures import wait_until
from conftest import REPO_ROOT
from live_fixtures import FakeAdapter, live_bus_server

from runtime.control.ack import Ack, Outcome
from runtime.control.pending import PendingTracker, TrackedCommand
from runtime.control.roles import Role
from runtime.live.control_panel import ControlPanel, Mode, bind_keys, writable_points
from runtime.quality import Quality
from runtime.scene import load_devices, load_scene
from runtime.world import World, build_world

# -- the panel, in-process ----------------------------------------------------------------------


class FakeCommander:
    """Records what the panel sends; the test answers with :meth:`ack`."""

    def __init__(self, role: str = "operator") -> None:
        self.role = role
        self.tracker = PendingTracker(timeout_ns=1_000_000_000)
        self.sent: list[tuple[str, str, float, str]] = []
        self.outcomes: dict[str, str] = {}
        self.inbox: list[Ack] = []

    def send(self, point: str, value: float, now_ns: int, *, action: str = "write",
             unit: str = "", command_id: str | None = None) -> TrackedCommand:
        cid = command_id or f"c{len(self.sent)}"
        self.sent.append((cid, point, value, action))
        return self.tracker.sent(cid, point, value, now_ns, action=action, unit=unit)

    def ack(self, cid: str, outcome: str, text: str = "", readback: float | None = None,
            code: str = "") -> None:
        tracked = self.tracker.get(cid)
        self.inbox.append(Ack(cid, tracked.point if tracked else "?", Outcome(outcome), text,
                              readback, code))

    def poll(self, now_ns: int) -> list[TrackedCommand]:
        done = []
        for ack in self.inbox:
            self.outcomes[ack.id] = str(ack.outcome)
            done.append(self.tracker.acked(ack, now_ns))
        self.inbox.clear()
        return done + self.tracker.expire(now_ns)

    def get(self, command_id: str) -> TrackedCommand | None:
        return self.tracker.get(command_id)

    def outcome(self, command_id: str) -> str | None:
        return self.outcomes.get(command_id)


@pytest.fixture(scope="module")
def plant() -> tuple[World, object]:
    scene = load_scene("pump_station")
    devices = load_devices(scene.path / "devices.yaml", scene)
    world = build_world(scene, devices)
    for point, value in (("FV-101/position_sp_pct", 48.3), ("P-101/run_cmd", 1.0)):
        c = world.point_column[point]
        world.state.value[c] = value
        world.state.quality[c] = Quality.GOOD
        world.state.t_receive_ns[c] = 1
    return world, devices


def _panel(plant: tuple[World, object], role: Role = Role.OPERATOR,
           entity: str = "FV-101") -> tuple[ControlPanel, FakeCommander, list[int]]:
    world, devices = plant
    clock = [10_000_000_000]
    commander = FakeCommander(str(role))
    panel = ControlPanel(world, writable_points(devices, world, role), commander,
                         ack_timeout_s=1.0, clock=lambda: clock[0])
    panel.set_entity(entity)
    panel.update(clock[0])
    return panel, commander, clock


def test_viewer_role_is_offered_nothing(plant: tuple[World, object]) -> None:
    world, devices = plant
    assert writable_points(devices, world, Role.VIEWER) == {}
    panel, _, _ = _panel(plant, Role.VIEWER)
    assert panel.lines() == []
    offered = writable_points(devices, world, Role.OPERATOR)
    assert [wp.point for wp in offered["FV-101"]] == ["FV-101/position_sp_pct"]
    assert "PT-101" not in offered  # read-only points are never offered


def test_setpoint_two_step_confirm_then_pending_then_read_back(
        plant: tuple[World, object]) -> None:
    panel, commander, clock = _panel(plant)
    assert panel.lines()[1].startswith("> position_sp_pct") and "48.3 %" in panel.lines()[1]
    panel.key_write()
    assert panel.mode is Mode.EDIT
    for ch in "60":
        panel.key_char(ch)
    panel.key_enter()
    assert panel.lines()[-1] == ("Confirm: FV-101/position_sp_pct 48.3 % -> 60 %? Enter to send, "
                                 "Esc to cancel")
    assert commander.sent == [], "nothing goes out before the second Enter"
    panel.key_enter()
    assert [(p, v, a) for _, p, v, a in commander.sent] == [("FV-101/position_sp_pct", 60.0,
                                                             "write")]
    assert panel.lines()[-1] == "FV-101/position_sp_pct 60.0 %: pending..."
    commander.ack(commander.sent[0][0], "confirmed", "ok", 60.0)
    clock[0] += 50_000_000
    panel.update(clock[0])
    assert panel.lines()[-1] == "FV-101/position_sp_pct 60.0 %: confirmed, read back 60.0 %"


def test_refused_shows_code_and_text_and_silence_shows_no_answer(
        plant: tuple[World, object]) -> None:
    panel, commander, clock = _panel(plant)
    panel.open("FV-101/position_sp_pct")
    panel.set_value(150)
    panel.to_confirm()
    assert "(above the maximum 100.0 %: the adapter will refuse)" in panel.flow_line()
    panel.send()
    commander.ack(commander.sent[-1][0], "refused", "150 % is above the maximum 100 %",
                  code="range")
    panel.update(clock[0] + 1)
    assert panel.status_line().endswith(
        "refused: range - 150 % is above the maximum 100 %")
    panel.open("FV-101/position_sp_pct")
    panel.key_enter()
    panel.key_enter()
    panel.update(clock[0] + 2_000_000_000)
    assert "no answer within 1 s" in panel.status_line()


def test_escape_backs_out_without_sending_and_steps_stay_in_limits(
        plant: tuple[World, object]) -> None:
    panel, commander, _ = _panel(plant)
    panel.key_enter()
    for _ in range(60):
        panel.key_up()  # Up steps the value in EDIT: 1 % a press, capped at the maximum
    assert panel.flow_line().startswith("Set FV-101/position_sp_pct to [100.0 %]")
    panel.key_enter()
    assert panel.key_escape() and panel.mode is Mode.LIST
    assert commander.sent == [] and "nothing sent" in panel.lines()[-1]
    assert not panel.key_escape(), "nothing left to back out of: the viewer clears selection"


def test_equipment_is_selected_then_operated_within_the_expiry(
        plant: tuple[World, object]) -> None:
    panel, commander, clock = _panel(plant, entity="P-101")
    assert panel.points[0].point == "P-101/run_cmd"
    panel.key_enter()  # opens on run_cmd with the other state proposed: stop a running pump
    panel.key_enter()
    assert panel.flow_line() == ("Confirm: P-101/run_cmd run (1) -> stop (0)? Enter to select, "
                                 "Esc to cancel")
    panel.key_enter()
    assert panel.mode is Mode.SELECTING and commander.sent[-1][3] == "select"
    select_id = commander.sent[-1][0]
    assert select_id.endswith(".select")
    commander.ack(select_id, "selected", "P-101/run_cmd selected by alice")
    panel.update(clock[0] + 1_000_000)
    assert panel.mode is Mode.SELECTED
    assert "selected, operate within 10 s (10 s left)" in " ".join(panel.lines())
    panel.key_enter()
    assert commander.sent[-1][3] == "operate" and commander.sent[-1][2] == 0.0
    assert commander.sent[-1][0] == select_id.replace(".select", ".operate")

    panel.key_enter()
    panel.key_enter()
    panel.key_enter()
    commander.ack(commander.sent[-1][0], "selected")
    panel.update(clock[0] + 2_000_000)
    panel.update(clock[0] + 11_000_000_000)
    assert panel.mode is Mode.LIST and "selection expired" in panel.status_line()
    assert commander.sent[-1][3] == "select", "an expired selection is never operated"


def test_keys_drive_the_same_flow(plant: tuple[World, object]) -> None:
    panel, commander, clock = _panel(plant)
    handlers: dict = {}
    events = bind_keys(lambda event, handler: handlers.__setitem__(event, handler), panel)
    assert "escape" not in events, "Escape stays with the viewer (back out, then deselect)"
    handlers["w"]()
    for ch in "7q5":  # a letter typed while editing is ignored
        handlers["keystroke"](ch)
    handlers["backspace"]()
    handlers["keystroke"]("2")
    handlers["enter"]()
    assert panel.flow_line().startswith("Confirm: FV-101/position_sp_pct 48.3 % -> 72 %?")
    handlers["enter"]()
    assert commander.sent[-1][1:] == ("FV-101/position_sp_pct", 72.0, "write")


# -- end to end: bus, fake adapter, viewer process -----------------------------------------------


def _view(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", "view", "pump_station", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))


def test_operator_writes_from_the_inspector(tmp_path: Path) -> None:
    shots, stats = tmp_path / "shots", tmp_path / "stats.json"
    with live_bus_server() as (address, plant, server):
        adapter = FakeAdapter.for_scene(server.endpoints, plant=plant,
                                        silent_points={"LIC-102/setpoint_m"})
        adapter.start()
        try:
            wait_until(lambda: server.owner("FV-101/position_sp_pct"), timeout_s=10)
            proc = _view("--bus", address, "--headless", "--size", "960x540", "--max-fps", "30",
                         "--seconds", "60", "--role", "operator", "--actor", "alice",
                         "--write", "FV-101/position_sp_pct=60",
                         "--write", "FV-101/position_sp_pct=150",
                         "--write", "P-101/run_cmd=0", "--write", "LIC-102/setpoint_m=3.5",
                         "--ack-timeout", "1", "--screenshot-dir", str(shots),
                         "--screenshot-every", "100", "--stats-json", str(stats))
        finally:
            adapter.stop()
    assert proc.returncode == 1, proc.stderr  # one refused and one unanswered write
    # The bus stamps actor and role from the station's key (the session's operator key),
    # whatever --actor said.
    sent = [(c.point, c.value, c.action, c.role, c.actor) for c in adapter.received]
    assert sent == [
        ("FV-101/position_sp_pct", 60.0, "write", "operator", "operator"),
        ("FV-101/position_sp_pct", 150.0, "write", "operator", "operator"),
        ("P-101/run_cmd", 0.0, "select", "operator", "operator"),
        ("P-101/run_cmd", 0.0, "operate", "operator", "operator"),
        ("LIC-102/setpoint_m", 3.5, "write", "operator", "operator"),
    ]
    data = json.loads(stats.read_text())
    commands = [(c["point"], c["action"], c["state"], c["outcome"], c["code"], c["readback"])
                for c in data["commands"]]
    assert commands == [
        ("FV-101/position_sp_pct", "write", "confirmed", "confirmed", "", 60.0),
        ("FV-101/position_sp_pct", "write", "refused", "refused", "range", None),
        ("P-101/run_cmd", "select", "confirmed", "selected", "", None),
        ("P-101/run_cmd", "operate", "confirmed", "confirmed", "", 0.0),
        ("LIC-102/setpoint_m", "write", "expired", None, "timeout", None),
    ]
    history = data["control"]["history"]
    assert "FV-101/position_sp_pct 60.0 %: confirmed, read back 60.0 %" in history
    assert ("FV-101/position_sp_pct 150.0 %: refused: range - FV-101/position_sp_pct: 150 % is "
            "above the maximum 100 %") in history
    assert "operate P-101/run_cmd stop (0): confirmed, read back stop (0)" in history
    assert any(h.startswith("LIC-102/setpoint_m 3.50 m: no answer within 1 s") for h in history)
    assert data["points"]["FV-101/position_sp_pct"]["value"] == 60.0, "read back on the bus"

    # Each state was on screen: a screenshot per change of the control lines.
    seen = {t["screenshot"]: t["control"] for t in data["timeline"] if "control" in t}
    confirm = [name for name, lines in seen.items() if lines[-1] ==
               "Confirm: FV-101/position_sp_pct 40.0 % -> 60.0 %? Enter to send, Esc to cancel"]
    pending = [name for name, lines in seen.items()
               if lines[-1] == "FV-101/position_sp_pct 60.0 %: pending..."]
    selected = [name for name, lines in seen.items()
                if "selected, operate within 10 s" in " ".join(lines)]
    assert confirm and pending and selected, seen
    assert all((shots / name).is_file() for name in confirm + pending + selected)
    # The question is in amber and the pending line in blue, at the panel's foot (top right;
    # the tanks' yellow railings are lower in this view).
    amber = [_count(shots / confirm[0], _amber), _count(shots / pending[0], _amber)]
    blue = [_count(shots / confirm[0], _blue), _count(shots / pending[0], _blue)]
    assert amber[0] > 50 and amber[1] < 10, amber
    assert blue[1] > 50 and blue[0] < 10, blue
    assert data["panel_lines"][0].startswith("LIC-102")


def _count(png: Path, colour: object) -> int:
    """Pixels of ``colour`` (a predicate on an (N, 3) array) in the panel's corner."""
    from panda3d.core import Filename, PNMImage

    img = PNMImage(Filename.from_os_specific(str(png)))
    px = np.array([[tuple(img.get_xel(x, y)) for x in range(470, img.get_x_size())]
                   for y in range(0, 140)]).reshape(-1, 3) * 255
    return int(colour(px).sum())


def _amber(px: np.ndarray) -> np.ndarray:
    return (px[:, 0] > 200) & (px[:, 1] > 150) & (px[:, 2] < 130)


def _blue(px: np.ndarray) -> np.ndarray:
    return (px[:, 2] > 235) & (px[:, 1] > 185) & (px[:, 0] < 170)  # brighter than the sky


def test_viewer_role_shows_no_control_and_sends_nothing(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    with live_bus_server() as (address, plant, server):
        adapter = FakeAdapter.for_scene(server.endpoints, plant=plant)
        adapter.start()
        try:
            wait_until(lambda: server.owner("FV-101/position_sp_pct"), timeout_s=10)
            proc = _view("--bus", address, "--headless", "--size", "320x180", "--seconds", "2",
                         "--select", "FV-101", "--stats-json", str(stats))
        finally:
            adapter.stop()
    assert proc.returncode == 0, proc.stderr
    assert adapter.received == []
    data = json.loads(stats.read_text())
    assert data["control"] == {"role": "viewer", "mode": None, "offered": {}}
    assert data["commands"] == []
    lines = data["panel_lines"]
    assert lines[0].startswith("FV-101") and any(li.startswith("Position") for li in lines)
    assert any("view only" in li for li in lines)  # said before anyone tries
    assert not any(li.startswith(("control", ">", "Confirm")) for li in lines)


@pytest.mark.parametrize("args, word", [
    (["--role", "viewer", "--write", "FV-101/position_sp_pct=60"], "viewer role writes nothing"),
    (["--role", "operator", "--write", "FV-101/position_pct=60"], "read-only"),
    (["--role", "operator", "--write", "FV-101/position_sp_pct"], "POINT=VALUE"),
    (["--role", "operator", "--write", "XX-1/a=1"], "not a point"),
    (["--role", "operator", "--write", "FV-101/position_sp_pct=abc"], "not a number"),
    (["--role", "admin"], "invalid choice"),
])
def test_write_flag_errors_are_usage_errors(args: list[str], word: str) -> None:
    proc = _view("--headless", "--bus", "tcp://127.0.0.1:5555", *args)
    assert proc.returncode == 2 and word in proc.stderr and "Traceback" not in proc.stderr
