"""PlantModel: the compiled plant behind a small, stable API.

The virtual plant's device servers, the bench and (later) the viewer's own model all drive the
same object: ``step(n)``, ``read_point(id)``, ``write_point(id, value)``, ``snapshot()`` /
``restore()`` and ``state_hash()``. Points are resolved once to (table, column, row, scale), so a
read is an array lookup and nothing walks entities per step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from runtime.scene.model import Scene
from runtime.sim import tables as T  # noqa: N812
from runtime.sim.build import Compiled, compile_scene
from runtime.sim.step import plant_init, plant_steps


@dataclass(frozen=True, slots=True)
class PointRef:
    """Where a point's value lives: ``state.<table>.<column>[row] * scale``."""

    table: str
    column: str
    row: int
    scale: float = 1.0
    writable: bool = False


_FLOW = 3600.0  # m3/s -> m3/h
SCRATCH = frozenset({"net.jac", "net.rhs", "net.work", "net.branch_work", "net.batch_work",
                     "net.batch_cwork", "net.batch_jwork",
                     "net.comp_fast_it", "net.batch_failed"})
"""Solver workspace columns: not part of the plant's state (left out of ``state_hash``)."""


def _entity_point_ref(table: str, row: int, name: str, c: Compiled, eid: str) -> PointRef | None:
    """Map ``<entity>/<name>`` of an entity of table ``table`` at ``row`` (None: unknown)."""
    if table == "tank":
        return {
            "level_m": PointRef("tank", "level_m", row),
            "volume_m3": PointRef("tank", "volume_m3", row),
            "overflow_m3_h": PointRef("tank", "overflow_m3_s", row, _FLOW),
            "inflow_m3_h": PointRef("tank", "supply_m3_s", row, _FLOW, True),
            "outflow_m3_h": PointRef("tank", "demand_m3_s", row, _FLOW, True),
        }.get(name)
    if table == "junction":
        return {"pressure_kpa": PointRef("junction", "pressure_kpa", row)}.get(name)
    if table == "pump":
        motor = int(c.model.pump.motor[row])
        return {
            "run_cmd": PointRef("pump", "run_cmd", row, 1.0, True),
            "speed_sp_rpm": PointRef("pump", "speed_sp_rpm", row, 1.0, True),
            "reset_cmd": PointRef("pump", "reset_cmd", row, 1.0, True),
            "speed_rpm": PointRef("motor", "speed_rpm", motor),
            "flow_m3_h": PointRef("pump", "flow_m3_s", row, _FLOW),
            "running": PointRef("pump", "running", row),
            "tripped": PointRef("pump", "tripped", row),
            "trip_reason": PointRef("pump", "trip_reason", row),
            "run_hours_h": PointRef("pump", "run_s", row, 1.0 / 3600.0),
        }.get(name)
    if table == "motor":
        return {
            "temperature_degc": PointRef("motor", "temperature_degc", row),
            "power_kw": PointRef("motor", "power_w", row, 0.001),
            "speed_rpm": PointRef("motor", "speed_rpm", row),
        }.get(name)
    if table == "valve":
        return {
            "position_sp_pct": PointRef("valve", "position_sp_pct", row, 1.0, True),
            "position_pct": PointRef("valve", "position_pct", row),
            "flow_m3_h": PointRef("valve", "flow_m3_s", row, _FLOW),
        }.get(name)
    if table == "pipe":
        return {"flow_m3_h": PointRef("pipe", "flow_m3_s", row, _FLOW)}.get(name)
    if table == "tx":
        return PointRef("tx", "output", row)
    if table == "pid":
        if name == "mode":
            return PointRef("pid", "mode", row, 1.0, True)
        if name.startswith("setpoint"):
            return PointRef("pid", "setpoint", row, 1.0, True)
        if name.startswith("output"):
            return PointRef("pid", "output", row, 1.0, True)
        return None
    if table == "duty":
        return {
            "mode": PointRef("duty", "mode", row, 1.0, True),
            "duty_pump": PointRef("duty", "active", row),
        }.get(name)
    return None


class PlantModel:
    """The numba plant of one scene, advanced in fixed steps of ``step_ns``.

    ``seed`` seeds every instrument's noise: the same scene, seed and sequence of writes give the
    same state hash, step for step.
    """

    def __init__(self, scene: Scene, *, seed: int = 0, step_ns: int = T.PLANT_STEP_NS) -> None:
        self.scene = scene
        self.seed = seed
        self.step_ns = step_ns
        self.compiled = compile_scene(scene, seed=seed, step_ns=step_ns)
        self.model = self.compiled.model
        self.state = self.compiled.state
        self.points: dict[str, PointRef] = {}
        """Point id -> where it lives. Points the physics does not compute are kept in
        ``free_values`` (they read back what was last written, 0 at start)."""
        free: list[str] = []
        for p in scene.points:
            where = self.compiled.index.get(p.entity_id)
            ref = _entity_point_ref(where[0], where[1], p.name, self.compiled, p.entity_id) \
                if where else None
            if ref is None:
                ref = PointRef("free", "value", len(free), 1.0, True)
                free.append(p.id)
            self.points[p.id] = ref
        self.free_values = np.zeros(len(free))
        plant_init(self.model, self.state)

    # --- time ------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """Steps taken since start."""
        return int(self.state.clock.step[0])

    @property
    def time_ns(self) -> int:
        """Simulated time since start, in integer nanoseconds."""
        return self.steps * self.step_ns

    def step(self, n_steps: int = 1) -> None:
        """Advance ``n_steps`` fixed steps in one compiled call."""
        if n_steps > 0:
            plant_steps(self.model, self.state, int(n_steps))

    # --- points ----------------------------------------------------------------------------
    def _column(self, ref: PointRef) -> np.ndarray:
        if ref.table == "free":
            return self.free_values
        return getattr(getattr(self.state, ref.table), ref.column)

    def point_ref(self, point_id: str) -> PointRef:
        """Where ``point_id`` lives; KeyError naming the point when the scene has no such point."""
        try:
            return self.points[point_id]
        except KeyError:
            raise KeyError(f"unknown point {point_id!r}") from None

    def read_point(self, point_id: str) -> float:
        """Current value of a point in the unit its name carries."""
        ref = self.point_ref(point_id)
        return float(self._column(ref)[ref.row]) * ref.scale

    def write_point(self, point_id: str, value: float) -> None:
        """Set a set point or command (what an operator or a Modbus master writes).

        Raises ValueError for a point the plant computes (a measurement cannot be written) or a
        value that is not finite.
        """
        ref = self.point_ref(point_id)
        if not ref.writable:
            raise ValueError(f"{point_id} is computed by the plant and cannot be written")
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{point_id}: {value} is not a finite number")
        col = self._column(ref)
        if col.dtype == np.uint8:
            col[ref.row] = 1 if value >= 0.5 else 0
        elif col.dtype == np.int64:
            col[ref.row] = int(round(value))
        else:
            col[ref.row] = value / ref.scale

    def row_of(self, entity_id: str) -> tuple[str, int]:
        """(table, row) of an entity: ``P-101`` -> ("pump", 0)."""
        return self.compiled.index[entity_id]

    # --- faults ----------------------------------------------------------------------------
    def set_sensor_frozen(self, entity_id: str, frozen: bool) -> None:
        """Hold a transmitter's output at its present value (a stuck instrument)."""
        self.state.tx.frozen[self._row("tx", entity_id)] = 1 if frozen else 0

    def set_sensor_drift(self, entity_id: str, per_s: float) -> None:
        """Add ``per_s`` (point unit per second) to the reading from now on; 0 stops the drift
        and clears the offset built up so far."""
        row = self._row("tx", entity_id)
        self.state.tx.drift_per_s[row] = per_s
        if per_s == 0.0:
            self.state.tx.drift[row] = 0.0

    def set_valve_stuck(self, entity_id: str, stuck: bool) -> None:
        """The valve's actuator stops moving (set point changes are ignored)."""
        self.state.valve.stuck[self._row("valve", entity_id)] = 1 if stuck else 0

    def trip_pump(self, entity_id: str) -> None:
        """Trip a pump as its protection relay would (latched until reset)."""
        row = self._row("pump", entity_id)
        self.state.pump.tripped[row] = 1
        self.state.pump.trip_reason[row] = T.TRIP_EXTERNAL
        self.state.pump.running[row] = 0

    def _row(self, table: str, entity_id: str) -> int:
        where = self.compiled.index.get(entity_id)
        if where is None or where[0] != table:
            kind = {"tx": "transmitter"}.get(table, table)
            raise KeyError(f"{entity_id!r} is not a {kind} of this scene")
        return where[1]

    # --- state -----------------------------------------------------------------------------
    def _arrays(self) -> list[tuple[str, np.ndarray]]:
        out = []
        for tname, table in zip(self.state._fields, self.state, strict=True):
            for cname, col in zip(table._fields, table, strict=True):
                out.append((f"{tname}.{cname}", col))
        out.append(("free.value", self.free_values))
        return out

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) the step now, leaving the state untouched.

        A cold compile takes tens of seconds; done lazily it would stall whatever loop first
        steps the model (the plant's Modbus servers stopped answering for ~20 s after 'ready').
        """
        snap = self.snapshot()
        self.step(1)
        self.restore(snap)

    def snapshot(self) -> dict[str, np.ndarray]:
        """A copy of all mutable state (restore() puts it back, RNG streams included)."""
        return {name: col.copy() for name, col in self._arrays()}

    def restore(self, snap: dict[str, np.ndarray]) -> None:
        """Put back a snapshot taken from a model of the same scene, in place."""
        for name, col in self._arrays():
            col[...] = snap[name]

    def state_hash(self) -> str:
        """SHA-256 over every mutable column (names, dtypes and bytes): equal runs, equal hash."""
        h = hashlib.sha256()
        for name, col in self._arrays():
            if name in SCRATCH:
                continue  # solver scratch
            h.update(name.encode())
            h.update(str(col.dtype).encode())
            h.update(np.ascontiguousarray(col).tobytes())
        return h.hexdigest()

    def total_volume_m3(self) -> float:
        return float(self.state.tank.volume_m3.sum())

    @property
    def entity_count(self) -> int:
        return len(self.scene.entities)
