"""Struct-of-arrays tables: preallocated numpy columns, each with dtype, shape and unit.

Static model (what the scene declares) lives apart from mutable state (what readings change),
as in MuJoCo's mjModel/mjData. ``-1`` means none. Nothing here allocates per frame or step.
Column names are ``<object>_<field>_<unit>``; N is the entity count, P the point count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.quality import Quality, Reason
from runtime.scene.model import ASSET_TYPES, POINT_KINDS

TYPE_CODE = {name: i for i, name in enumerate(ASSET_TYPES)}
KIND_CODE = {name: i for i, name in enumerate(POINT_KINDS)}


@dataclass(frozen=True, slots=True)
class EntityTable:
    """Static per-entity model, row i is entity ``ids[i]``."""

    ids: tuple[str, ...]
    """Stable scene ids, e.g. ``P-101``; row order is scene order (pipes last)."""
    type_code: np.ndarray
    """int8 (N,): index into ``ASSET_TYPES``."""
    position_m: np.ndarray
    """float64 (N, 3): scene position, metres, Z up."""
    heading_deg: np.ndarray
    """float64 (N,): rotation about Z, degrees, 0 = +X."""
    point_first: np.ndarray
    """int32 (N,): first column of this entity's points in the point table, -1 if none."""
    point_count: np.ndarray
    """int32 (N,): number of points of this entity (they are contiguous)."""

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class PointTable:
    """Static per-point model, column j is point ``ids[j]`` (``<entity>/<point>``)."""

    ids: tuple[str, ...]
    units: tuple[str, ...]
    """Unit text as declared (``m``, ``m3/h``, ``%``, ``bool``, ...)."""
    entity: np.ndarray
    """int32 (P,): row of the owning entity."""
    kind_code: np.ndarray
    """int8 (P,): index into ``POINT_KINDS``."""
    poll_period_ns: np.ndarray
    """int64 (P,): the owning device's poll period, ns; -1 when no device serves the point."""

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(slots=True)
class PointState:
    """Mutable per-point state written by ingest and read by simulation and render sync."""

    value: np.ndarray
    """float64 (P,): latest value in the point's unit; NaN until the first reading."""
    quality: np.ndarray
    """uint8 (P,): ``Quality`` code of ``value``."""
    reason: np.ndarray
    """uint8 (P,): ``Reason`` code (why not Good)."""
    t_source_ns: np.ndarray
    """int64 (P,): source timestamp (wall clock at the device/adapter), ns; -1 none."""
    t_receive_ns: np.ndarray
    """int64 (P,): viewer's monotonic clock when the reading arrived, ns; -1 none."""
    seq: np.ndarray
    """int64 (P,): bus sequence number of the batch that carried it; -1 none."""
    good_value: np.ndarray
    """float64 (P,): last value that was Good (held for the simulation, R3); NaN none."""
    good_t_receive_ns: np.ndarray
    """int64 (P,): monotonic receive time of ``good_value``, ns; -1 none."""

    @classmethod
    def empty(cls, count: int) -> PointState:
        return cls(
            value=np.full(count, np.nan),
            quality=np.full(count, Quality.BAD, dtype=np.uint8),
            reason=np.full(count, Reason.INITIAL, dtype=np.uint8),
            t_source_ns=np.full(count, -1, dtype=np.int64),
            t_receive_ns=np.full(count, -1, dtype=np.int64),
            seq=np.full(count, -1, dtype=np.int64),
            good_value=np.full(count, np.nan),
            good_t_receive_ns=np.full(count, -1, dtype=np.int64),
        )
