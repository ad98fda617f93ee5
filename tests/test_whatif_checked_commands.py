"""Simulation-checked commands in the control panel, the status bar's look-ahead line and the
faceplate's extra lines: plain data, real forecasts of the pump station's model."""

from __future__ import annotations

import pytest
from plant_fixtures import pump_station

from runtime.bus.endpoints import BusEndpoints
from runtime.control.roles import Role
from runtime.live.commander import Commander
from runtime.live.control_panel import ControlPanel, Mode, Tone, writable_points
from runtime.quality import Quality
from runtime.scene import load_devices
from runtime.sim.fork import fork_model
from runtime.sim.plant_model import PlantModel
from runtime.ui.faceplate_text import FaceplateLine, PlantView, faceplate_lines
from runtime.ui.forecast_text import consequence_text, span, status_line
from runtime.ui.status_model import StatusInputs, status_text
from runtime.whatif.alarm_defs import load_alarm_defs
from runtime.whatif.forecast import command_changes, forecast
from runtime.world import build_world


@pytest.fixture(scope="module")
def model() -> PlantModel:
    m = PlantModel(pump_station())
    m.warm_up()
    m.step(30_000)
    return m


def _check(model: PlantModel, point: str, value: float) -> tuple[str, bool]:
    defs, _ = load_alarm_defs(model.scene)
    changes, label = command_changes(model, point, value)
    return consequence_text(forecast(fork_model(model), changes, defs, label=label))


def test_the_confirm_shows_the_predicted_consequence_and_flags_it(model: PlantModel) -> None:
    scene = model.scene
    devices = load_devices(scene.path / "devices.yaml", scene)
    world = build_world(scene, devices)
    c = world.point_column["FV-101/position_sp_pct"]
    world.state.value[c], world.state.quality[c] = 48.0, Quality.GOOD
    commander = Commander(BusEndpoints.from_address("tcp://127.0.0.1:9"), role="operator",
                          actor="test")
    try:
        asked: list[tuple[str, float]] = []

        def consequence(point: str, value: float) -> tuple[str, bool]:
            asked.append((point, value))
            return _check(model, point, value)

        panel = ControlPanel(world, writable_points(devices, world, Role.OPERATOR), commander,
                             consequence=consequence)
        panel.set_entity("FV-101")
        panel.open("FV-101/position_sp_pct")
        panel.set_value(30.0)
        panel.to_confirm()
        assert panel.mode is Mode.CONFIRM
        styled = panel.styled_lines()
        predicted = [(t, tone) for t, tone in styled if t.startswith("Predicted:")]
        assert predicted, styled
        text, tone = predicted[0]
        assert text.startswith("Predicted: FV-101/position_sp_pct to 30 (LIC-102 to Manual): ")
        assert tone is Tone.BAD  # the clearwell reaches low-low (Critical) within 2 h
        assert "WARNING" in " ".join(t for t, _ in styled)
        assert asked[-1] == ("FV-101/position_sp_pct", 30.0)
        panel.key_escape()  # back out: nothing sent, no prediction shown
        assert panel.predicted() is None and commander.stats["sent"] == 0
    finally:
        commander.close()


def test_a_harmless_command_is_not_flagged(model: PlantModel) -> None:
    text, flagged = _check(model, "FV-101/position_sp_pct", 60.0)
    assert not flagged, text


def test_status_line_names_the_first_alarm_or_says_none(model: PlantModel) -> None:
    defs, _ = load_alarm_defs(model.scene)
    quiet = forecast(fork_model(model), [], defs, horizon_s=3600)
    assert status_line(quiet) == "no alarms forecast in the next 30 min"
    changes, label = command_changes(model, "FV-101/position_sp_pct", 5.0)
    loud = forecast(fork_model(model), changes, defs, horizon_s=3600, label=label)
    line = status_line(loud)
    first = loud.crossings[0]
    assert first.t_s <= 1800 and line.startswith("forecast: ") and span(first.t_s) in line
    bar = status_text(StatusInputs(wall_s=0.0, mode="live", virtual_s=0.0, speed=1.0,
                                   paused=False, bus="tcp://x:1", synced=True, publishers=(),
                                   user="ann", role="operator", forecast=line))
    assert line in bar


def test_faceplates_show_the_plugins_extra_lines() -> None:
    scene = pump_station()
    world = build_world(scene, load_devices(scene.path / "devices.yaml", scene))
    view = PlantView(world, None)
    row = world.entity_row["P-101"]
    assert not any("Efficiency" in f.text for f in faceplate_lines(view, row, "viewer"))
    view.extra_lines.append(lambda eid: [FaceplateLine(f"Efficiency of {eid}")])
    assert any(f.text == "Efficiency of P-101" for f in faceplate_lines(view, row, "viewer"))
