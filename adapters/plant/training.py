"""Training controls of a running plant: freeze/run, speed, snapshots, restore and backtrack.

An instructor station (through ``twinstage scenario``) drives these over the plant's control
socket (:mod:`adapters.plant.control`), the same JSON-lines channel ``twinstage fault`` uses:

- ``{"op": "freeze"}`` / ``{"op": "run"}``: plant time stops / goes on. Frozen, the model takes
  no steps, so every Modbus register keeps its value (client writes still land in the model and
  take effect when it runs again).
- ``{"op": "speed", "speed": 4.0}``: simulated seconds per wall second (0 < speed <= 1e6).
- ``{"op": "snapshot", "label": "before trip"}`` -> ``{"snapshot": {"id", "time_s", "hash",
  "label"}}``; the plant also takes one by itself every ``SNAPSHOT_EVERY_S`` of plant time.
- ``{"op": "snapshots"}`` -> the list, oldest first (at most ``MAX_SNAPSHOTS`` kept).
- ``{"op": "restore", "id": N}``: the model state is put back exactly (its state hash equals
  the snapshot's), with the model faults that were active then; later snapshots are dropped.
- ``{"op": "backtrack", "seconds": 60}``: restore the newest snapshot at least ``seconds`` of
  plant time before now.
- ``{"op": "save", "id": N, "path": FILE}`` / ``{"op": "load", "path": FILE}``: a snapshot on
  disk (``.npz``), for a scenario's initial conditions.
- ``{"op": "read_many", "points": [...]}`` -> ``{"values": {...}, "time_s", "frozen",
  "speed", "hash"?}``: the plant's truth for a scoring tick in one round trip.
- ``{"op": "hash"}`` -> ``{"hash": "<sha256>", "time_s"}``.
- ``{"op": "set", "point": "T-102/outflow_m3_h", "value": 400}``: a disturbance: a writable
  point, or a tank's ``inflow_m3_h`` / ``outflow_m3_h`` even when the scene declares no such
  point.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adapters.plant.faults import Fault, FaultBoard, FaultError
from runtime.sim.plant_model import _entity_point_ref

SNAPSHOT_EVERY_S = 60.0
MAX_SNAPSHOTS = 120
MAX_SPEED = 1e6
OPS = ("freeze", "run", "speed", "snapshot", "snapshots", "restore", "backtrack", "save", "load",
       "read_many", "hash", "set")


@dataclass(slots=True)
class Snapshot:
    id: int
    time_ns: int
    hash: str
    label: str
    state: dict[str, np.ndarray]
    faults: dict[str, Fault] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "time_s": self.time_ns / 1e9, "hash": self.hash,
                "label": self.label}


class TrainingControls:
    """Freeze, speed and snapshots of one plant; the runner asks ``frozen``/``speed`` each tick."""

    def __init__(self, board: FaultBoard, *, speed: float = 1.0,
                 every_s: float = SNAPSHOT_EVERY_S) -> None:
        self.board = board
        self.model = board.model
        self.frozen = False
        self.speed = speed
        self.every_ns = int(every_s * 1e9)
        self.snapshots: list[Snapshot] = []
        self._next_id = 1
        self._next_auto_ns = 0

    # -- called by the runner after each batch of steps ------------------------------------
    def after_steps(self) -> None:
        """Take the periodic snapshot when plant time has passed the next multiple."""
        if self.every_ns > 0 and self.model.time_ns >= self._next_auto_ns:
            self.take(f"auto {self.model.time_ns / 1e9:.0f} s")
            self._next_auto_ns = (self.model.time_ns // self.every_ns + 1) * self.every_ns

    # -- operations ------------------------------------------------------------------------
    def take(self, label: str = "") -> Snapshot:
        snap = Snapshot(self._next_id, self.model.time_ns, self.model.state_hash(), label,
                        self.model.snapshot(), dict(self.board.active))
        self._next_id += 1
        self.snapshots.append(snap)
        if len(self.snapshots) > MAX_SNAPSHOTS:
            # keep the first (the scenario's start) and drop the oldest after it
            del self.snapshots[1]
        return snap

    def restore(self, snap: Snapshot) -> None:
        """Put the plant back to ``snap``; snapshots taken after it (an abandoned future) go."""
        self.model.restore(snap.state)
        self.snapshots = [s for s in self.snapshots if s.id <= snap.id]
        # model faults live in the state arrays; the board's list follows the snapshot
        comm = {t: f for t, f in self.board.active.items() if t in self.board.servers}
        model_faults = {t: f for t, f in snap.faults.items() if t not in self.board.servers}
        self.board.active = {**model_faults, **comm}
        self._next_auto_ns = (self.model.time_ns // self.every_ns + 1) * self.every_ns \
            if self.every_ns > 0 else 0

    def find(self, snap_id: int) -> Snapshot:
        for s in self.snapshots:
            if s.id == snap_id:
                return s
        raise FaultError(f"no snapshot {snap_id} (have {[s.id for s in self.snapshots]})")

    def backtrack(self, seconds: float) -> Snapshot:
        target = self.model.time_ns - int(seconds * 1e9)
        older = [s for s in self.snapshots if s.time_ns <= target]
        if not older:
            raise FaultError(f"no snapshot {seconds:g} s or more before plant time "
                             f"{self.model.time_ns / 1e9:.1f} s")
        snap = older[-1]
        self.restore(snap)
        return snap

    def save(self, snap: Snapshot, path: Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, **{k.replace(".", "__"): v for k, v in snap.state.items()},
                 __time_ns=np.array([snap.time_ns]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())

    def load(self, path: Path) -> Snapshot:
        try:
            with np.load(path) as data:
                state = {k.replace("__", "."): data[k] for k in data.files if k != "__time_ns"}
        except (OSError, ValueError) as exc:
            raise FaultError(f"snapshot file {path}: {exc}") from None
        current = self.model.snapshot()
        missing = [k for k in current if k not in state or state[k].shape != current[k].shape]
        if missing:
            raise FaultError(f"snapshot file {path} is not of this scene (differs in "
                             f"{', '.join(missing[:3])})")
        self.model.restore(state)
        return self.take(f"loaded {path.name}")

    def set_value(self, point: str, value: float) -> None:
        """Write a point, or a tank's supply/demand (a disturbance) by its point-style name."""
        if point in self.model.points:
            self.model.write_point(point, value)
            return
        entity, _, name = point.partition("/")
        where = self.model.compiled.index.get(entity)
        ref = _entity_point_ref(where[0], where[1], name, self.model.compiled, entity) \
            if where else None
        if ref is None or not ref.writable or not np.isfinite(value):
            raise FaultError(f"cannot set {point!r} (not a writable value of this plant)")
        getattr(getattr(self.model.state, ref.table), ref.column)[ref.row] = value / ref.scale

    # -- the control socket's requests ----------------------------------------------------
    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        model = self.model
        if op == "freeze":
            self.frozen = True
            return {"ok": True, "frozen": True, "time_s": model.time_ns / 1e9}
        if op == "run":
            self.frozen = False
            return {"ok": True, "frozen": False, "time_s": model.time_ns / 1e9}
        if op == "speed":
            speed = float(req.get("speed", 0))
            if not 0 < speed <= MAX_SPEED:
                raise FaultError(f"speed {speed:g}: give a number above 0 and up to 1e6")
            self.speed = speed
            return {"ok": True, "speed": speed}
        if op == "snapshot":
            return {"ok": True, "snapshot": self.take(str(req.get("label", ""))).describe()}
        if op == "snapshots":
            return {"ok": True, "snapshots": [s.describe() for s in self.snapshots]}
        if op == "restore":
            snap = self.find(int(req.get("id", -1)))
            self.restore(snap)
            return {"ok": True, "snapshot": snap.describe(), "hash": model.state_hash()}
        if op == "backtrack":
            snap = self.backtrack(float(req.get("seconds", SNAPSHOT_EVERY_S)))
            return {"ok": True, "snapshot": snap.describe(), "hash": model.state_hash()}
        if op == "save":
            snap = self.find(int(req.get("id", -1)))
            self.save(snap, Path(str(req.get("path"))))
            return {"ok": True, "snapshot": snap.describe()}
        if op == "load":
            return {"ok": True, "snapshot": self.load(Path(str(req.get("path")))).describe()}
        if op == "read_many":
            points = req.get("points") or []
            if not isinstance(points, list):
                raise FaultError("read_many: points is a list of point ids")
            values = {str(p): model.read_point(str(p)) for p in points}
            out = {"ok": True, "values": values, "time_s": model.time_ns / 1e9,
                   "frozen": self.frozen, "speed": self.speed,
                   "faults": [f.describe() for f in self.board.active.values()]}
            if req.get("hash"):
                out["hash"] = model.state_hash()
            return out
        if op == "set":
            self.set_value(str(req.get("point")), float(req.get("value")))
            return {"ok": True}
        if op == "hash":
            return {"ok": True, "hash": model.state_hash(), "time_s": model.time_ns / 1e9}
        raise FaultError(f"unknown op {op!r}")
