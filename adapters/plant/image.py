"""Register image of one device: the four Modbus tables encoded from the plant model.

The plant steps and marks the images out of date (:meth:`RegisterImage.invalidate`); the next
read or write of a device encodes every mapped point into plain int lists
(:meth:`RegisterImage.refresh`), so a plant of 10,000 points stepping at 100 Hz encodes only what
is polled, at most once per step batch. Modbus reads are served from those lists, and writes
are decoded point by point into the model at once (so the next step acts on them). Addresses
inside the device's map but not used by a point read as 0, like spare registers in a PLC;
addresses past the end answer exception 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.registers import decode_value, encode_value
from runtime.scene.model import DevicePoint, DeviceSpec
from runtime.sim.plant_model import PlantModel

ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3

TABLE_OF_FUNCTION: dict[int, str] = {
    1: "coil", 5: "coil", 15: "coil",
    2: "discrete",
    3: "holding", 6: "holding", 16: "holding", 22: "holding", 23: "holding",
    4: "input",
}
"""Modbus function code -> the table it addresses."""


@dataclass(frozen=True, slots=True)
class _Slot:
    point: DevicePoint
    first: int  # first address of the point


class RegisterImage:
    """Encoded tables of one device, refreshed from a PlantModel after each batch of steps."""

    def __init__(self, device: DeviceSpec, model: PlantModel) -> None:
        self.device = device
        self.model = model
        self.tables: dict[str, list[int]] = {}
        self._slots: dict[str, dict[int, _Slot]] = {t: {} for t in TABLE_OF_FUNCTION.values()}
        sizes = {t: 0 for t in self._slots}
        for p in device.points:
            model.point_ref(p.point)  # KeyError now, not at the first read
            for k in range(p.register_count):
                self._slots[p.table][p.address + k] = _Slot(p, p.address)
            sizes[p.table] = max(sizes[p.table], p.address + p.register_count)
        for table, size in sizes.items():
            self.tables[table] = [0] * size
        self._stale = False
        self.refresh()

    def invalidate(self) -> None:
        """The model has stepped: encode again before the next read or write."""
        self._stale = True

    def refresh(self) -> None:
        """Encode every point's present value into its table."""
        self._stale = False
        order = self.device.word_order
        for p in self.device.points:
            value = self.model.read_point(p.point)
            try:
                words = encode_value(p.type, order, p.scale, p.offset, value)
            except ValueError:  # NaN in an integer register: show 0 rather than crash the plant
                words = [0] * p.register_count
            table = self.tables[p.table]
            table[p.address : p.address + len(words)] = words

    def read(self, table: str, address: int, count: int) -> list[int] | int:
        """Values ``address .. address+count-1``, or an exception code."""
        if self._stale:
            self.refresh()
        data = self.tables[table]
        if count < 1 or address < 0 or address + count > len(data):
            return ILLEGAL_ADDRESS
        return data[address : address + count]

    def write(self, table: str, address: int, values: list[int]) -> int | None:
        """Apply a master's write; returns an exception code or None when accepted.

        Every address written must belong to a writable point; a write that covers only one word
        of a 32-bit point is decoded with the other word as it stands. Each touched point is
        range-checked against min/max before anything changes, so a refused write has no effect.
        """
        if self._stale:
            self.refresh()
        slots = self._slots[table]
        data = self.tables[table]
        if address < 0 or address + len(values) > len(data):
            return ILLEGAL_ADDRESS
        touched: dict[int, DevicePoint] = {}
        for k in range(len(values)):
            slot = slots.get(address + k)
            if slot is None or not slot.point.writable:
                return ILLEGAL_ADDRESS
            touched[slot.first] = slot.point
        trial = list(data)
        for k, v in enumerate(values):
            trial[address + k] = int(v) & 0xFFFF if table == "holding" else (1 if v else 0)
        decoded: list[tuple[DevicePoint, float]] = []
        for first, p in touched.items():
            regs = trial[first : first + p.register_count]
            value = decode_value(p.type, self.device.word_order, p.scale, p.offset, regs)
            if value != value or (p.min is not None and value < p.min) or (
                p.max is not None and value > p.max
            ):
                return ILLEGAL_VALUE
            decoded.append((p, value))
        for p, value in decoded:
            self.model.write_point(p.point, value)
        self.tables[table] = trial
        return None
