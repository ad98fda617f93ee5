"""Register images encode lazily (issue 17, item 6): a plant step only marks them out of date,
and the next read or write of a device encodes its points from the model as it is then."""

from __future__ import annotations

from plant_fixtures import PUMP_STATION, pump_station

from adapters.plant.image import RegisterImage
from runtime.registers import decode_value
from runtime.scene import load_devices
from runtime.sim.plant_model import PlantModel


def _image() -> tuple[RegisterImage, PlantModel]:
    scene = pump_station()
    devices = load_devices(PUMP_STATION / "devices.yaml", scene)
    model = PlantModel(scene, seed=0)
    return RegisterImage(devices.device("RTU-101"), model), model


def _read(image: RegisterImage, point: str) -> float:
    p = next(p for p in image.device.points if p.point == point)
    words = image.read(p.table, p.address, p.register_count)
    assert isinstance(words, list)
    return decode_value(p.type, image.device.word_order, p.scale, p.offset, words)


def test_read_after_steps_sees_the_model_as_it_is_then() -> None:
    image, model = _image()
    point = next(p.point for p in image.device.points if p.table in ("input", "holding")
                 and p.type == "float32")
    model.step(3000)  # 30 s: levels move
    image.invalidate()
    encodes = []
    original = image.refresh

    def counting_refresh() -> None:
        encodes.append(1)
        original()

    image.refresh = counting_refresh  # type: ignore[method-assign]
    first = _read(image, point)
    assert abs(first - model.read_point(point)) < 1e-3 * max(1.0, abs(first))
    _read(image, point)
    assert len(encodes) == 1  # once per step batch, however often it is read
    image.invalidate()
    image.invalidate()
    assert len(encodes) == 1  # invalidating costs nothing until the next read
    _read(image, point)
    assert len(encodes) == 2
