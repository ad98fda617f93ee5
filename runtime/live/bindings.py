"""Which point drives which visual, derived once from the scene, kept as numpy index arrays.

Render sync then moves every tank, rotor, stem and pipe with a few fancy-indexing operations per
frame, whatever the entity count: no per-entity Python work and no name lookups after load.

Rules (the scene says nothing explicit, so they follow plant practice):

- tank fill <- the level transmitter measuring it (``measures: T-xxx/level_m``), else the
  tank's own ``level_m``; fraction = level / wall height.
- pump rotor <- ``P-xxx/speed_rpm``; motor rotor <- the speed of the pump it drives.
- valve stem <- ``FV-xxx/position_pct`` / 100.
- pipe flow <- the pipe's own flow if a device serves it, else a served transmitter measuring
  the flow of a pump or valve at either end, else the pipe's simulated ``L-xxx/flow_m3_h``,
  else the flow of a pump or valve at either end.
- run lamp / trip beacon <- ``P-xxx/running`` / ``P-xxx/tripped``.
- a model file's ``bindings`` (``{node, point, action: spin|light|beacon}``) name the point for
  the rotor, run lamp or trip beacon themselves; they take the place of the rules above.
- entity quality <- the worst quality over the entity's own served points and the served points
  bound to its visuals (a tank whose level comes from a transmitter shows that transmitter's
  quality).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runtime.quality import Quality
from runtime.world import World

_NONE = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Bindings:
    """Index arrays from world point columns to entity visual rows.

    Every ``*_rows`` array holds entity rows (the world's entity table order, which is also
    RenderSync's row order) and the matching ``*_cols`` holds point columns; both int64 (K,).
    """

    fill_rows: np.ndarray
    fill_cols: np.ndarray
    fill_full_m: np.ndarray
    """float64 (K,): level at which the tank shows full (its wall height), metres."""
    rotor_rows: np.ndarray
    rotor_cols: np.ndarray
    stem_rows: np.ndarray
    stem_cols: np.ndarray
    """Stem columns are in percent open."""
    flow_rows: np.ndarray
    """Rows of pipe entities (one per connection)."""
    flow_cols: np.ndarray
    """Point column giving that pipe's flow in m3/h; -1 where nothing does."""
    flow_area_m2: np.ndarray
    """float64 (K,): the pipe's bore area, for velocity = flow / area."""
    run_rows: np.ndarray
    run_cols: np.ndarray
    trip_rows: np.ndarray
    trip_cols: np.ndarray
    quality_rows: np.ndarray
    quality_cols: np.ndarray
    """Pairs (entity row, served point column) whose quality the entity shows."""
    entity_points: tuple[tuple[int, ...], ...]
    """Per entity row: its own point columns, then the columns bound from other entities
    (what the inspector lists)."""

    def visual_quality(self, world: World, now_ns: int,
                       out_quality: np.ndarray, out_reason: np.ndarray,
                       out_age_s: np.ndarray) -> None:
        """Worst quality per entity over its pairs, that point's reason, and the age in seconds
        of the oldest last-good value among its non-Good points (-1: never had one).

        Writes into the (N,) output arrays so nothing allocates per frame beyond temporaries.
        """
        s = world.state
        q = s.quality[self.quality_cols]
        out_quality[:] = Quality.GOOD
        np.maximum.at(out_quality, self.quality_rows, q)
        out_reason[:] = 0
        out_age_s[:] = 0.0
        bad = q > Quality.GOOD
        if not bad.any():
            return
        rows = self.quality_rows[bad]
        cols = self.quality_cols[bad]
        worst = q[bad] == out_quality[rows]
        np.maximum.at(out_reason, rows[worst], s.reason[cols[worst]])
        t_good = s.good_t_receive_ns[cols]
        age = np.where(t_good >= 0, (now_ns - t_good) / 1e9, -1.0)
        out_age_s[rows] = -1.0
        np.maximum.at(out_age_s, rows, age.astype(out_age_s.dtype))


def build_bindings(world: World) -> Bindings:
    """Derive the bindings of ``world.scene`` (see the module docstring for the rules)."""
    scene = world.scene
    col = world.point_column
    row = world.entity_row
    served = world.points.poll_period_ns >= 0
    by_id = {e.id: e for e in scene.entities}

    measured_by: dict[str, int] = {}
    """Point id -> column of a transmitter point that measures it."""
    for e in scene.entities:
        if e.type != "transmitter":
            continue
        target = e.params.get("measures")
        own = [p for p in e.points]
        if target and own:
            measured_by[str(target)] = col[own[0].id]

    def first(*pids: str | None) -> int:
        for pid in pids:
            if pid is not None and pid in col:
                return col[pid]
        return -1

    fill, rotor, stem, run, trip = [], [], [], [], []
    flow: list[tuple[int, int, float]] = []
    bound: dict[int, list[int]] = {i: [] for i in range(len(scene.entities))}

    def bind(rows_cols: list, r: int, c: int, *extra: float) -> None:
        if c < 0:
            return
        rows_cols.append((r, c, *extra))
        owner = int(world.points.entity[c])
        if owner != r and c not in bound[r]:
            bound[r].append(c)

    pump_of_motor = {str(e.params.get("motor")): e.id for e in scene.entities
                     if e.type == "pump" and e.params.get("motor")}
    explicit = {"spin": rotor, "light": run, "beacon": trip}
    for e in scene.entities:
        r = row[e.id]
        bound_actions = set()
        for binding in (e.model.bindings if e.model is not None else ()):
            bind(explicit[binding.action], r, first(binding.point))
            bound_actions.add(binding.action)
        if e.type == "tank":
            c = measured_by.get(f"{e.id}/level_m", first(f"{e.id}/level_m"))
            bind(fill, r, c, float(e.params.get("height_m", 1.0)) or 1.0)
        elif e.type == "pump":
            for action, point in (("spin", "speed_rpm"), ("light", "running"),
                                  ("beacon", "tripped")):
                if action not in bound_actions:
                    bind(explicit[action], r, first(f"{e.id}/{point}"))
        elif e.type == "motor" and "spin" not in bound_actions:
            pump = pump_of_motor.get(e.id)
            bind(rotor, r, first(f"{pump}/speed_rpm" if pump else None, f"{e.id}/speed_rpm"))
        elif e.type == "valve":
            bind(stem, r, first(f"{e.id}/position_pct"))

    for conn in scene.connections:
        r = row.get(conn.id)
        if r is None:
            continue
        ends = [by_id[x] for x in (conn.source, conn.target)
                if by_id[x].type in ("pump", "valve")]
        own = first(f"{conn.id}/flow_m3_h")
        candidates: list[int] = []
        if own >= 0 and served[own]:
            candidates.append(own)
        for end in ends:
            tx = measured_by.get(f"{end.id}/flow_m3_h", -1)
            if tx >= 0 and served[tx]:
                candidates.append(tx)
        candidates.append(own)
        candidates += [first(f"{end.id}/flow_m3_h") for end in ends]
        c = next((x for x in candidates if x >= 0), -1)
        area = math.pi * (0.5 * conn.diameter_m) ** 2
        flow.append((r, c, area))
        if c >= 0 and int(world.points.entity[c]) != r and c not in bound[r]:
            bound[r].append(c)

    q_pairs: list[tuple[int, int]] = []
    entity_points: list[tuple[int, ...]] = []
    for i in range(len(scene.entities)):
        first_col = int(world.entities.point_first[i])
        own = list(range(first_col, first_col + int(world.entities.point_count[i]))) \
            if first_col >= 0 else []
        entity_points.append(tuple(own + bound[i]))
        q_pairs += [(i, c) for c in own + bound[i] if served[c]]

    def split(items: list, n_extra: int = 0) -> tuple[np.ndarray, ...]:
        if not items:
            return (_NONE, _NONE) + tuple(np.zeros(0) for _ in range(n_extra))
        arr = list(zip(*items, strict=True))
        out = [np.asarray(arr[0], dtype=np.int64), np.asarray(arr[1], dtype=np.int64)]
        out += [np.asarray(a, dtype=np.float64) for a in arr[2:]]
        return tuple(out)

    fill_rows, fill_cols, fill_full = split(fill, 1)
    flow_rows, flow_cols, flow_area = split(flow, 1)
    return Bindings(
        fill_rows=fill_rows, fill_cols=fill_cols, fill_full_m=fill_full,
        rotor_rows=split(rotor)[0], rotor_cols=split(rotor)[1],
        stem_rows=split(stem)[0], stem_cols=split(stem)[1],
        flow_rows=flow_rows, flow_cols=flow_cols, flow_area_m2=flow_area,
        run_rows=split(run)[0], run_cols=split(run)[1],
        trip_rows=split(trip)[0], trip_cols=split(trip)[1],
        quality_rows=split(q_pairs)[0], quality_cols=split(q_pairs)[1],
        entity_points=tuple(entity_points),
    )
