"""World: the tables of one scene plus the indexes from names to rows and columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.quality import Quality, Reason
from runtime.scene.model import Devices, Scene
from runtime.world.tables import KIND_CODE, TYPE_CODE, EntityTable, PointState, PointTable


@dataclass(slots=True)
class World:
    """Everything the frame phases share. Passed explicitly; there is no global world."""

    scene: Scene
    entities: EntityTable
    points: PointTable
    state: PointState
    entity_quality: np.ndarray
    """uint8 (N,): worst quality over the entity's measured points (Good if it has none)."""
    entity_row: dict[str, int]
    """Entity id -> row."""
    point_column: dict[str, int]
    """Point id (``<entity>/<point>``) -> column: the index ingest uses to write readings."""

    def write(
        self,
        columns: np.ndarray,
        values: np.ndarray,
        quality: np.ndarray,
        reason: np.ndarray,
        t_source_ns: np.ndarray,
        t_receive_ns: int,
        seq: int | np.ndarray = -1,
    ) -> None:
        """Store a batch of readings; non-finite values become Bad, Good ones are held."""
        s = self.state
        values, quality, reason = checked_readings(values, quality, reason)
        s.value[columns] = values
        s.quality[columns] = quality
        s.reason[columns] = reason
        s.t_source_ns[columns] = t_source_ns
        s.t_receive_ns[columns] = t_receive_ns
        s.seq[columns] = seq
        good = quality == Quality.GOOD
        s.good_value[columns[good]] = values[good]
        s.good_t_receive_ns[columns[good]] = t_receive_ns

    def refresh_entity_quality(self) -> None:
        """Entity quality = worst quality over its points that a device serves."""
        self.entity_quality[:] = Quality.GOOD
        served = self.points.poll_period_ns >= 0
        np.maximum.at(self.entity_quality, self.points.entity[served], self.state.quality[served])


def checked_readings(values: np.ndarray, quality: np.ndarray,
                     reason: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, quality, reason) as the world stores them: float64, and a non-finite value
    Bad (not finite) whatever its source said; quality and reason are copies."""
    values = np.asarray(values, dtype=np.float64)
    quality = np.asarray(quality, dtype=np.uint8).copy()
    reason = np.asarray(reason, dtype=np.uint8).copy()
    finite = np.isfinite(values)
    quality[~finite] = Quality.BAD
    reason[~finite] = Reason.NOT_FINITE
    return values, quality, reason


def build_world(scene: Scene, devices: Devices | None = None) -> World:
    """Build the tables and indexes for ``scene``; ``devices`` gives each point's poll period."""
    entity_ids = tuple(e.id for e in scene.entities)
    n = len(entity_ids)
    point_first = np.full(n, -1, dtype=np.int32)
    point_count = np.zeros(n, dtype=np.int32)
    point_ids: list[str] = []
    units: list[str] = []
    owner: list[int] = []
    kinds: list[int] = []
    for row, entity in enumerate(scene.entities):
        if entity.points:
            point_first[row] = len(point_ids)
            point_count[row] = len(entity.points)
        for p in entity.points:
            point_ids.append(p.id)
            units.append(p.unit)
            owner.append(row)
            kinds.append(KIND_CODE[p.kind])
    period = np.full(len(point_ids), -1, dtype=np.int64)
    column = {pid: j for j, pid in enumerate(point_ids)}
    if devices is not None:
        for device in devices.devices:
            for dp in device.points:
                if dp.point in column:
                    period[column[dp.point]] = device.poll_period_ms * 1_000_000
    entities = EntityTable(
        ids=entity_ids,
        type_code=np.array([TYPE_CODE[e.type] for e in scene.entities], dtype=np.int8),
        position_m=np.array([e.position_m for e in scene.entities], dtype=np.float64).reshape(n, 3),
        heading_deg=np.array([e.heading_deg for e in scene.entities], dtype=np.float64),
        point_first=point_first,
        point_count=point_count,
    )
    points = PointTable(
        ids=tuple(point_ids),
        units=tuple(units),
        entity=np.array(owner, dtype=np.int32),
        kind_code=np.array(kinds, dtype=np.int8),
        poll_period_ns=period,
    )
    world = World(
        scene=scene,
        entities=entities,
        points=points,
        state=PointState.empty(len(point_ids)),
        entity_quality=np.zeros(n, dtype=np.uint8),
        entity_row={eid: i for i, eid in enumerate(entity_ids)},
        point_column=column,
    )
    world.refresh_entity_quality()
    return world
