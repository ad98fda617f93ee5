"""Generated plants for benchmarks and scale tests: N assets in parallel, independent trains.

One train is 15 entities: source tank -> pipe -> junction -> pipe -> pump (+ motor) -> pipe ->
junction -> pipe -> control valve -> pipe -> product tank, a level and a flow transmitter, and a
PID holding the product level with the valve. Each train is its own hydraulic component, so the
network solve stays small per component however many trains there are.
"""

from __future__ import annotations

from pathlib import Path

from runtime.scene.model import Connection, Entity, PointSpec, Scene

TRAIN_ENTITIES = 15


def _e(eid: str, kind: str, x: float, y: float, params: dict, points: list[tuple[str, str, str]]
       ) -> Entity:
    return Entity(
        id=eid, type=kind, name=eid, position_m=(x, y, 0.0), heading_deg=0.0,
        model_procedural=None, model_file=None, params=params,
        points=tuple(PointSpec(eid, n, u, k) for n, u, k in points),
    )


def generated_scene(n_assets: int, trains_per_row: int | None = None) -> Scene:
    """A plant of about ``n_assets`` entities (a whole number of trains, at least one).

    Trains are laid side by side 10 m apart; with ``trains_per_row`` they wrap into rows 30 m
    apart (a square-ish site instead of one line kilometres long, for the viewer)."""
    trains = max(1, round(n_assets / TRAIN_ENTITIES))
    entities: list[Entity] = []
    conns: list[Connection] = []
    for t in range(trains):
        row, col = divmod(t, trains_per_row) if trains_per_row else (0, t)
        x0, y = 30.0 * row, 10.0 * col
        p = f"{t:05d}"
        src, j1, j2, dst = f"TS-{p}", f"JA-{p}", f"JB-{p}", f"TP-{p}"
        pump, motor, valve = f"P-{p}", f"M-{p}", f"FV-{p}"
        entities += [
            _e(src, "tank", x0, y, {"diameter_m": 6.0, "height_m": 6.0, "overflow_m": 5.5,
                                   "initial_level_m": 3.0 + 0.001 * (t % 7),
                                   "inflow_m3_h": 100.0}, [("level_m", "m", "process")]),
            _e(j1, "junction", x0 + 5, y, {"elevation_m": 0.0},
               [("pressure_kpa", "kPa", "process")]),
            _e(motor, "motor", x0 + 8, y + 2, {"rated_power_kw": 30.0, "rated_speed_rpm": 1480,
                                          "inertia_kg_m2": 0.8}, [("power_kw", "kW", "process")]),
            _e(pump, "pump", x0 + 8, y, {"motor": motor, "rated_flow_m3_h": 150.0,
                                    "rated_head_m": 30.0, "shutoff_head_m": 40.0,
                                    "rated_speed_rpm": 1480}, [("flow_m3_h", "m3/h", "process")]),
            _e(j2, "junction", x0 + 11, y, {"elevation_m": 0.0},
               [("pressure_kpa", "kPa", "process")]),
            _e(valve, "valve", x0 + 14, y, {"cv_m3_h": 250.0, "characteristic": "equal_percentage",
                                       "rangeability": 50.0, "travel_time_s": 20.0,
                                       "initial_position_pct": 50.0},
               [("position_sp_pct", "%", "setpoint")]),
            _e(dst, "tank", x0 + 20, y, {"diameter_m": 8.0, "height_m": 5.0, "overflow_m": 4.7,
                                    "initial_level_m": 2.5, "outflow_m3_h": 95.0},
               [("level_m", "m", "process")]),
            _e(f"LT-{p}", "transmitter", x0 + 20, y + 3, {"measures": f"{dst}/level_m",
                                                    "noise_std": 0.005, "lag_s": 2.0,
                                                    "range": [0.0, 5.0]},
               [("level_m", "m", "measurement")]),
            _e(f"FT-{p}", "transmitter", x0 + 16, y + 1, {"measures": f"{j2}/pressure_kpa",
                                                    "noise_std": 0.5, "lag_s": 0.5,
                                                    "range": [0.0, 600.0]},
               [("pressure_kpa", "kPa", "measurement")]),
            _e(f"LIC-{p}", "controller", x0 + 22, y, {
                "algorithm": "pid", "pv": f"LT-{p}/level_m", "output": f"{valve}/position_sp_pct",
                "kp": 80.0, "ti_s": 1200.0, "output_range": [0.0, 100.0],
                "initial_setpoint_m": 3.0, "reverse_acting": True}, []),
        ]
        legs = [(src, j1), (j1, pump), (pump, j2), (j2, valve), (valve, dst)]
        for k, (a, b) in enumerate(legs):
            cid = f"L-{p}-{k}"
            conns.append(Connection(cid, "pipe", a, b, 0.25, 6.0, ()))
    pipes = [
        _e(c.id, "pipe", 0, 0, {"diameter_m": c.diameter_m, "length_m": c.length_m},
           [("flow_m3_h", "m3/h", "process")])
        for c in conns
    ]
    all_entities = tuple(entities + pipes)
    points = tuple(p for e in all_entities for p in e.points)
    return Scene(path=Path("<generated>"), name=f"generated {trains} trains", description="",
                 entities=all_entities, connections=tuple(conns), points=points)
