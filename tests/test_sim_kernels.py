"""Plant kernels checked value by value against the plain per-entity reading of the state."""

from __future__ import annotations

import dataclasses

from plant_fixtures import pump_station

from runtime.scene import Scene
from runtime.sim.plant_model import PlantModel

MEASURED = [
    "T-101/level_m", "T-102/volume_m3", "T-101/overflow_m3_h", "J-101/pressure_kpa",
    "P-102/speed_rpm", "P-101/flow_m3_h", "FV-101/position_pct", "FV-101/flow_m3_h",
    "L-106/flow_m3_h", "M-101/temperature_degc", "M-102/power_kw", "M-101/power_kw",
    "PT-101/pressure_kpa",
]
"""One instrument per source kind the plant simulates (and one measuring an instrument)."""


def _every_kind_scene() -> Scene:
    """The pump station with an extra transmitter per source kind (listed out of kind order,
    so the build's sort by kind is exercised), T-101 filling up to its overflow."""
    scene = pump_station()
    template = next(e for e in scene.entities if e.id == "PT-101")
    extra = tuple(
        dataclasses.replace(template, id=f"XT-{i}", name=f"XT-{i}",
                            params={**template.params, "measures": point, "noise_std": 0.0,
                                    "range": (-1e12, 1e12)})
        for i, point in enumerate(reversed(MEASURED)))
    entities = tuple(
        dataclasses.replace(e, params={**e.params, "initial_level_m": 5.59, "inflow_m3_h": 900.0})
        if e.id == "T-101" else e for e in scene.entities) + extra
    return dataclasses.replace(scene, entities=entities)


def test_every_transmitter_samples_exactly_the_point_it_measures() -> None:
    """The per-kind gathers in ``transmitter_sample`` read the same value, to the last bit, as
    the point the instrument measures (``read_point``: column x unit scale); an instrument that
    measures another reads that one's output from before the step."""
    m = PlantModel(_every_kind_scene(), seed=5)
    m.write_point("UC-101/mode", 0.0)  # manual: both pumps run on their own commands
    m.write_point("P-101/run_cmd", 1.0)
    m.write_point("P-102/run_cmd", 1.0)
    m.step(300)  # flows, speeds, power, heat and overflow all away from zero
    rows = {f"XT-{i}": m.compiled.index[f"XT-{i}"][1] for i in range(len(MEASURED))}
    before = m.read_point("PT-101/pressure_kpa")
    m.step(1)
    sample = m.state.tx.sample
    zero = []
    for i, point in enumerate(reversed(MEASURED)):
        expected = before if point.startswith("PT-101") else m.read_point(point)
        got = float(sample[rows[f"XT-{i}"]])
        assert got == expected, f"{point}: sampled {got!r}, the point reads {expected!r}"
        if expected == 0.0:
            zero.append(point)
    assert not zero, f"these read 0, so the check proves little for them: {zero}"
    assert len(set(m.model.tx.source_kind.tolist())) == 12  # every kind has a row
