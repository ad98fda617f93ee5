"""Warm-up compiles the step without changing the plant (so servers start ready to answer)."""

from __future__ import annotations

from plant_fixtures import pump_station

from runtime.sim.plant_model import PlantModel


def test_warm_up_leaves_state_untouched() -> None:
    model = PlantModel(pump_station(), seed=3)
    before = model.state_hash()
    model.warm_up()
    assert model.state_hash() == before
    assert model.steps == 0
    twin = PlantModel(pump_station(), seed=3)
    model.step(50)
    twin.step(50)
    assert model.state_hash() == twin.state_hash()
