"""Compile a Scene into the plant's tables: topology walk, parameters in SI, initial state.

Pumps and valves sit on pipes between tanks and junctions; the walk folds each chain
``node - pipe - [pump|valve] - pipe - ... - node`` into one branch, so the network solve works on
nodes and branches only. Everything is allocated here, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runtime.scene.errors import SceneError
from runtime.scene.model import Connection, Entity, Scene
from runtime.sim import tables as T  # noqa: N812
from runtime.sim.kernels_valve import k_open_s2_m5
from runtime.sim.network_batched import (
    N_BRANCH_ROWS,
    N_COMP_ROWS,
    N_JUNCTION_ROWS,
    N_PUMP_ROWS,
    PUMP_B,
    PUMP_H0,
    PUMP_INV_RATED_RPM,
    PUMP_SIGN,
)

G_M_S2 = 9.80665
_RPM_TO_RAD_S = 2.0 * math.pi / 60.0
RHO_KG_M3 = 1000.0
PIPE_FRICTION = 0.02
"""Darcy friction factor: turbulent flow in clean steel pipe."""
PIPE_MINOR_K = 1.0
"""Entry, exit and fittings of each pipe, in velocity heads."""
WEIR_COEF = 0.92
"""Overflow weir: 1.84 * 0.5 m crest length (Francis formula), m^1.5/s."""

_SOURCES: dict[tuple[str, str], int] = {
    ("tank", "level_m"): T.SRC_TANK_LEVEL,
    ("tank", "volume_m3"): T.SRC_TANK_VOLUME,
    ("tank", "overflow_m3_h"): T.SRC_TANK_OVERFLOW,
    ("junction", "pressure_kpa"): T.SRC_JUNCTION_PRESSURE,
    ("pump", "speed_rpm"): T.SRC_PUMP_SPEED,
    ("pump", "flow_m3_h"): T.SRC_PUMP_FLOW,
    ("valve", "position_pct"): T.SRC_VALVE_POSITION,
    ("valve", "flow_m3_h"): T.SRC_VALVE_FLOW,
    ("pipe", "flow_m3_h"): T.SRC_PIPE_FLOW,
    ("motor", "temperature_degc"): T.SRC_MOTOR_TEMPERATURE,
    ("motor", "power_kw"): T.SRC_MOTOR_POWER,
}


@dataclass
class Compiled:
    """The compiled plant: tables plus the entity-id -> row index of each table."""

    model: T.PlantModelTables
    state: T.PlantStateTables
    index: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Entity id -> (table name, row): ``P-101`` -> ("pump", 0); controllers -> pid | duty."""
    entities: dict[str, Entity] = field(default_factory=dict)


def _fail(scene: Scene, entity: Entity | None, key: str, message: str) -> SceneError:
    line = entity.line if entity else None
    return SceneError(Path(scene.path) / "scene.yaml", line, key, message)


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) or 1


def _arr(values: list, dtype: type = T.F8) -> np.ndarray:
    return np.array(values, dtype=dtype) if values else np.zeros(0, dtype=dtype)


def compile_scene(scene: Scene, seed: int = 0, step_ns: int = T.PLANT_STEP_NS) -> Compiled:
    """Build model and state tables for ``scene``; raise SceneError for what cannot be simulated."""
    by_type: dict[str, list[Entity]] = {}
    for e in scene.entities:
        by_type.setdefault(e.type, []).append(e)
    ent = {e.id: e for e in scene.entities}
    _order_rows(by_type, ent)
    index: dict[str, tuple[str, int]] = {}
    for kind in ("tank", "pump", "motor", "valve", "junction", "transmitter", "pipe"):
        for i, e in enumerate(by_type.get(kind, [])):
            index[e.id] = ("tx" if kind == "transmitter" else kind, i)
    pids = [e for e in by_type.get("controller", []) if e.params["algorithm"] == "pid"]
    duties = [e for e in by_type.get("controller", []) if e.params["algorithm"] == "duty_standby"]
    for i, e in enumerate(pids):
        index[e.id] = ("pid", i)
    for i, e in enumerate(duties):
        index[e.id] = ("duty", i)

    tanks = by_type.get("tank", [])
    junctions = by_type.get("junction", [])
    pumps = by_type.get("pump", [])
    motors = by_type.get("motor", [])
    valves = by_type.get("valve", [])
    pipes = by_type.get("pipe", [])
    txs = by_type.get("transmitter", [])
    dt_s = step_ns / 1e9

    # --- nodes and branches -------------------------------------------------------------
    node_of: dict[str, int] = {}
    for e in tanks + junctions:
        node_of[e.id] = len(node_of)
    n_node = len(node_of)
    links: dict[str, list[int]] = {}
    for ci, c in enumerate(scene.connections):
        for end in (c.source, c.target):
            links.setdefault(end, []).append(ci)
            if ent[end].type not in ("tank", "junction", "pump", "valve"):
                raise _fail(scene, ent[end], "connections",
                            f"a pipe ({c.id}) cannot connect to a {ent[end].type}; pipes join "
                            "tanks, junctions, pumps and valves")
    for e in pumps + valves:
        n = len(links.get(e.id, []))
        if n not in (0, 2):
            raise _fail(scene, e, "connections",
                        f"{e.type} {e.id} has {n} pipes; it needs one inlet and one outlet")
    used: set[int] = set()
    br_from: list[int] = []
    br_to: list[int] = []
    br_inlet: list[tuple[float, float]] = []  # roof inlet head at (from, to), -inf for none
    br_k: list[float] = []
    br_pump: list[int] = []
    br_valve: list[int] = []
    pipe_branch = [-1] * len(pipes)
    pipe_sign = [1.0] * len(pipes)
    pump_branch = [-1] * len(pumps)
    pump_sign = [1.0] * len(pumps)
    valve_branch = [-1] * len(valves)
    valve_sign = [1.0] * len(valves)
    conn_index = {c.id: i for i, c in enumerate(scene.connections)}
    pipe_row = {e.id: i for i, e in enumerate(pipes)}
    for start in list(node_of):
        for ci in links.get(start, []):
            if ci in used:
                continue
            chain: list[tuple[int, float]] = []  # (connection, +1 if walked source->target)
            inline: list[tuple[str, float]] = []  # (pump/valve id, +1 if walked inlet->outlet)
            here = start
            cur = ci
            while True:
                used.add(cur)
                c = scene.connections[cur]
                forward = c.source == here
                chain.append((cur, 1.0 if forward else -1.0))
                nxt = c.target if forward else c.source
                if nxt in node_of:
                    end = nxt
                    break
                others = [x for x in links[nxt] if x != cur]
                other = others[0]
                inline.append((nxt, 1.0 if forward else -1.0))
                here, cur = nxt, other
            pumps_here = [(i, s) for i, s in inline if ent[i].type == "pump"]
            valves_here = [(i, s) for i, s in inline if ent[i].type == "valve"]
            if len(pumps_here) > 1 or len(valves_here) > 1:
                raise _fail(scene, ent[inline[0][0]], "connections",
                            f"between {start} and {end} there are {len(pumps_here)} pumps and "
                            f"{len(valves_here)} valves in series; put a junction between them")
            b = len(br_from)
            # A branch runs in its pump's direction, so a pump's own sign is +1.
            flip = pumps_here[0][1] < 0 if pumps_here else False
            a_node, b_node = (node_of[end], node_of[start]) if flip else (node_of[start],
                                                                          node_of[end])
            dirn = -1.0 if flip else 1.0
            br_from.append(a_node)
            br_to.append(b_node)
            ends = (_roof_inlet_m(scene.connections[chain[0][0]], start, ent),
                    _roof_inlet_m(scene.connections[chain[-1][0]], end, ent))
            br_inlet.append(ends[::-1] if flip else ends)
            k_sum = 0.0
            for cidx, s in chain:
                c = scene.connections[cidx]
                area = math.pi * c.diameter_m**2 / 4.0
                k = (PIPE_FRICTION * c.length_m / c.diameter_m + PIPE_MINOR_K) / (
                    2.0 * G_M_S2 * area * area)
                k_sum += k
                row = pipe_row[c.id]
                pipe_branch[row] = b
                pipe_sign[row] = s * dirn
            br_k.append(k_sum)
            if pumps_here:
                row = index[pumps_here[0][0]][1]
                pump_branch[row] = b
                pump_sign[row] = pumps_here[0][1] * dirn
                br_pump.append(row)
            else:
                br_pump.append(-1)
            if valves_here:
                row = index[valves_here[0][0]][1]
                valve_branch[row] = b
                valve_sign[row] = valves_here[0][1] * dirn
                br_valve.append(row)
            else:
                br_valve.append(-1)
    del conn_index
    n_branch = len(br_from)

    # --- components (union-find over junction nodes joined by branches) ------------------
    parent = list(range(n_node))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    is_junction = [False] * n_node
    for e in junctions:
        is_junction[node_of[e.id]] = True
    for a, b in zip(br_from, br_to, strict=True):
        if is_junction[a] and is_junction[b]:
            parent[find(a)] = find(b)
    comp_of_root: dict[int, int] = {}
    comp_junctions: list[list[int]] = []
    comp_branches: list[list[int]] = []
    node_local = [-1] * n_node
    for e in junctions:
        n = node_of[e.id]
        r = find(n)
        if r not in comp_of_root:
            comp_of_root[r] = len(comp_junctions)
            comp_junctions.append([])
            comp_branches.append([])
        c = comp_of_root[r]
        node_local[n] = len(comp_junctions[c])
        comp_junctions[c].append(n)
    for b in range(n_branch):
        a, z = br_from[b], br_to[b]
        j = a if is_junction[a] else (z if is_junction[z] else -1)
        if j < 0:
            comp_junctions.append([])
            comp_branches.append([b])
        else:
            comp_branches[comp_of_root[find(j)]].append(b)
    cj_start = np.cumsum([0] + [len(x) for x in comp_junctions]).astype(T.I8)
    cb_start = np.cumsum([0] + [len(x) for x in comp_branches]).astype(T.I8)
    max_nj = max([len(x) for x in comp_junctions] + [1])

    batch = _batch_groups(comp_junctions, comp_branches, br_from, br_to, br_pump, node_local)
    # Renumber branches and nodes so a batch slot is its branch's (junction's) own index: the
    # batched fast path then reads and writes the network state as contiguous slices.
    b_new = _slots_first(batch["batch_branches"], n_branch)
    n_new = _slots_first(batch["batch_junctions"], n_node)
    b_old = np.argsort(b_new)
    n_old = np.argsort(n_new)
    br_from = [int(n_new[br_from[b]]) for b in b_old]
    br_to = [int(n_new[br_to[b]]) for b in b_old]
    br_inlet = [br_inlet[b] for b in b_old]
    br_k = [br_k[b] for b in b_old]
    br_pump = [br_pump[b] for b in b_old]
    br_valve = [br_valve[b] for b in b_old]
    pipe_branch = [int(b_new[b]) if b >= 0 else -1 for b in pipe_branch]
    pump_branch = [int(b_new[b]) if b >= 0 else -1 for b in pump_branch]
    valve_branch = [int(b_new[b]) if b >= 0 else -1 for b in valve_branch]
    node_of = {k: int(n_new[n]) for k, n in node_of.items()}
    node_local = [node_local[n] for n in n_old]
    comp_junctions = [[int(n_new[n]) for n in x] for x in comp_junctions]
    comp_branches = [[int(b_new[b]) for b in x] for x in comp_branches]
    batch = _batch_groups(comp_junctions, comp_branches, br_from, br_to, br_pump, node_local)
    assert (batch["batch_branches"] == np.arange(len(batch["batch_branches"]))).all()
    assert (batch["batch_junctions"] == np.arange(len(batch["batch_junctions"]))).all()

    node_tank = [-1] * n_node
    node_junction = [-1] * n_node
    for i, e in enumerate(tanks):
        node_tank[node_of[e.id]] = i
    for i, e in enumerate(junctions):
        node_junction[node_of[e.id]] = i

    net_m = T.NetworkModel(
        node_tank=_arr(node_tank, T.I8),
        node_junction=_arr(node_junction, T.I8),
        node_local=_arr(node_local, T.I8),
        branch_from=_arr(br_from, T.I8),
        branch_to=_arr(br_to, T.I8),
        branch_pipe_k_s2_m5=_arr(br_k),
        branch_pump=_arr(br_pump, T.I8),
        branch_valve=_arr(br_valve, T.I8),
        branch_from_tank=_arr([node_tank[a] for a in br_from], T.I8),
        branch_to_tank=_arr([node_tank[b] for b in br_to], T.I8),
        branch_from_inlet_m=_arr([f for f, _ in br_inlet]),
        branch_to_inlet_m=_arr([t for _, t in br_inlet]),
        comp_junction_start=cj_start,
        comp_junctions=_arr([n for x in comp_junctions for n in x], T.I8),
        comp_branch_start=cb_start,
        comp_branches=_arr([b for x in comp_branches for b in x], T.I8),
        **batch,
        batch_pump=np.zeros((N_PUMP_ROWS, 0)),  # filled in once the pump table exists
        batch_pump_motor=np.zeros(0, T.I8),
    )
    head0 = np.zeros(n_node)
    for e in tanks:
        head0[node_of[e.id]] = e.params.get("elevation_m", 0.0) + e.params["initial_level_m"]
    tank_heads = [head0[node_of[e.id]] for e in tanks] or [0.0]
    for e in junctions:
        head0[node_of[e.id]] = float(np.mean(tank_heads))
    net_s = T.NetworkState(
        node_head_m=head0,
        branch_flow_m3_s=np.zeros(n_branch),
        branch_k_s2_m5=_arr(br_k),
        branch_block=np.zeros(n_branch, T.I8),
        jac=np.zeros((max_nj, max_nj)),
        rhs=np.zeros(max_nj),
        work=np.zeros((max_nj, 2)),
        branch_work=np.zeros((n_branch, 4)),
        batch_work=np.zeros((N_BRANCH_ROWS, len(batch["batch_branches"]))),
        batch_cwork=np.zeros((N_COMP_ROWS, len(batch["batch_comps"]))),
        # padded by the largest group: a tank end reads a junction slot (weighted by 0)
        batch_jwork=np.zeros((N_JUNCTION_ROWS, len(batch["batch_junctions"]))),
        comp_fast_it=np.zeros(len(comp_branches), T.I8),
        batch_failed=np.zeros(len(batch["batch_comps"]), T.I8),
        stats=np.zeros(3, T.I8),
    )

    # --- tanks, junctions, pipes ---------------------------------------------------------
    area = [math.pi * e.params["diameter_m"] ** 2 / 4.0 for e in tanks]
    tank_m = T.TankModel(
        area_m2=_arr(area),
        inv_area_m2=_arr([1.0 / a for a in area]),
        height_m=_arr([e.params["height_m"] for e in tanks]),
        overflow_m=_arr([e.params["overflow_m"] for e in tanks]),
        weir_coef_m15_s=_arr([WEIR_COEF for _ in tanks]),
        elevation_m=_arr([e.params.get("elevation_m", 0.0) for e in tanks]),
        node=_arr([node_of[e.id] for e in tanks], T.I8),
    )
    n_tank = len(tanks)
    tank_s = T.TankState(
        volume_m3=_arr([a * e.params["initial_level_m"] for a, e in zip(area, tanks, strict=True)]),
        level_m=_arr([e.params["initial_level_m"] for e in tanks]),
        supply_m3_s=_arr([e.params.get("inflow_m3_h", 0.0) / 3600.0 for e in tanks]),
        demand_m3_s=_arr([e.params.get("outflow_m3_h", 0.0) / 3600.0 for e in tanks]),
        outflow_m3_s=T.zeros(n_tank),
        overflow_m3_s=T.zeros(n_tank),
        net_pipe_m3_s=T.zeros(n_tank),
        cum_in_m3=T.zeros(n_tank),
        cum_out_m3=T.zeros(n_tank),
    )
    junction_m = T.JunctionModel(
        elevation_m=_arr([e.params.get("elevation_m", 0.0) for e in junctions]),
        node=_arr([node_of[e.id] for e in junctions], T.I8),
    )
    junction_s = T.JunctionState(pressure_kpa=T.zeros(len(junctions)))
    pipe_m = T.PipeModel(
        k_s2_m5=_arr([_pipe_k(e.params) for e in pipes]),
        branch=_arr(pipe_branch, T.I8),
        branch_sign=_arr(pipe_sign),
    )
    pipe_s = T.PipeState(flow_m3_s=T.zeros(len(pipes)))

    # --- pumps and motors ----------------------------------------------------------------
    sequenced = {e.params["duty"] for e in duties} | {e.params["standby"] for e in duties}
    motor_row = {e.id: i for i, e in enumerate(motors)}
    motor_pump = [-1] * len(motors)
    pump_motor = []
    suction = []
    for i, e in enumerate(pumps):
        m = motor_row[e.params["motor"]]
        if motor_pump[m] >= 0:
            raise _fail(scene, e, "pump.motor", f"motor {e.params['motor']} already drives "
                        f"{pumps[motor_pump[m]].id}; each pump needs its own motor")
        motor_pump[m] = i
        pump_motor.append(m)
        if m != i:  # _order_rows guarantees it; the motor kernel relies on it
            raise _fail(scene, e, "pump.motor", f"motor {e.params['motor']} of {e.id} is not "
                        "a motor of this scene")
        b = pump_branch[i]
        suction.append(br_from[b] if b >= 0 else -1)
    pump_m = T.PumpModel(
        motor=_arr(pump_motor, T.I8),
        branch=_arr(pump_branch, T.I8),
        branch_sign=_arr(pump_sign),
        shutoff_head_m=_arr([e.params["shutoff_head_m"] for e in pumps]),
        inv_rated_speed_rpm=_arr([1.0 / e.params["rated_speed_rpm"] for e in pumps]),
        curve_b_s2_m5=_arr([
            (e.params["shutoff_head_m"] - e.params["rated_head_m"])
            / (e.params["rated_flow_m3_h"] / 3600.0) ** 2 for e in pumps
        ]),
        rated_flow_m3_s=_arr([e.params["rated_flow_m3_h"] / 3600.0 for e in pumps]),
        inv_rated_flow_s_m3=_arr([3600.0 / e.params["rated_flow_m3_h"] for e in pumps]),
        rated_speed_rpm=_arr([e.params["rated_speed_rpm"] for e in pumps]),
        rated_shaft_w=_arr([
            RHO_KG_M3 * G_M_S2 * e.params["rated_flow_m3_h"] / 3600.0 * e.params["rated_head_m"]
            / (e.params.get("rated_efficiency_pct", 75.0) / 100.0) for e in pumps
        ]),
        suction_node=_arr(suction, T.I8),
    )
    net_m = net_m._replace(**_batch_pump(net_m, pump_m))
    for e in pumps:
        if e.params["shutoff_head_m"] <= e.params["rated_head_m"]:
            raise _fail(scene, e, "pump.shutoff_head_m",
                        "shut-off head must exceed rated head (the curve falls with flow)")
    duty_leads = {e.params["duty"] for e in duties}
    run0 = [1 if (e.id not in sequenced or e.id in duty_leads) else 0 for e in pumps]
    sp0 = [min(e.params["rated_speed_rpm"], ent[e.params["motor"]].params["rated_speed_rpm"])
           for e in pumps]
    n_pump = len(pumps)
    pump_s = T.PumpState(
        run_cmd=_arr(run0, T.U1),
        speed_sp_rpm=_arr(sp0),
        reset_cmd=np.zeros(n_pump, T.U1),
        running=_arr(run0, T.U1),
        tripped=np.zeros(n_pump, T.U1),
        trip_reason=np.zeros(n_pump, T.I8),
        flow_m3_s=T.zeros(n_pump),
        head_m=T.zeros(n_pump),
        shaft_w=T.zeros(n_pump),
        dry_s=T.zeros(n_pump),
        run_s=T.zeros(n_pump),
    )
    motor_m = T.MotorModel(
        rated_power_w=_arr([e.params["rated_power_kw"] * 1000.0 for e in motors]),
        rated_speed_rpm=_arr([e.params["rated_speed_rpm"] for e in motors]),
        inertia_kg_m2=_arr([e.params["inertia_kg_m2"] for e in motors]),
        trip_temperature_degc=_arr([e.params.get("trip_temperature_degc", 120.0) for e in motors]),
        ambient_degc=_arr([e.params.get("ambient_temperature_degc", 25.0) for e in motors]),
        thermal_tau_s=_arr([e.params.get("thermal_time_constant_s", 900.0) for e in motors]),
        rated_rise_k=_arr([e.params.get("rated_temperature_rise_k", 70.0) for e in motors]),
        pump=_arr(motor_pump, T.I8),
        rated_omega_rad_s=_arr([e.params["rated_speed_rpm"] * _RPM_TO_RAD_S for e in motors]),
        rated_torque_nm=_arr([e.params["rated_power_kw"] * 1000.0
                              / (e.params["rated_speed_rpm"] * _RPM_TO_RAD_S) for e in motors]),
        inv_inertia=_arr([1.0 / e.params["inertia_kg_m2"] for e in motors]),
        inv_rated_power_w=_arr([1.0 / (e.params["rated_power_kw"] * 1000.0) for e in motors]),
        inv_rated_omega_rad_s=_arr([1.0 / (e.params["rated_speed_rpm"] * _RPM_TO_RAD_S)
                                    for e in motors]),
        inv_thermal_tau_s=_arr([1.0 / e.params.get("thermal_time_constant_s", 900.0)
                                for e in motors]),
    )
    motor_s = T.MotorState(
        speed_rpm=_arr([sp0[p] * run0[p] if p >= 0 else 0.0 for p in motor_pump]),
        torque_nm=T.zeros(len(motors)),
        power_w=T.zeros(len(motors)),
        temperature_degc=_arr([e.params.get("ambient_temperature_degc", 25.0) for e in motors]),
    )

    # --- valves --------------------------------------------------------------------------
    valve_m = T.ValveModel(
        kv_m3_h=_arr([e.params["cv_m3_h"] for e in valves]),
        characteristic=_arr([
            T.VALVE_EQUAL_PERCENTAGE if e.params.get("characteristic") == "equal_percentage"
            else T.VALVE_LINEAR for e in valves
        ], T.I8),
        rangeability=_arr([e.params.get("rangeability", 50.0) for e in valves]),
        log_rangeability=_arr([math.log(e.params.get("rangeability", 50.0)) for e in valves]),
        k_open_s2_m5=_arr([k_open_s2_m5(e.params["cv_m3_h"]) for e in valves]),
        rate_pct_s=_arr([100.0 / e.params.get("travel_time_s", 10.0) for e in valves]),
        branch=_arr(valve_branch, T.I8),
        branch_sign=_arr(valve_sign),
    )
    pos0 = [min(100.0, e.params.get("initial_position_pct", 0.0)) for e in valves]
    valve_s = T.ValveState(
        position_sp_pct=_arr(pos0),
        position_pct=_arr(pos0),
        flow_m3_s=T.zeros(len(valves)),
        stuck=np.zeros(len(valves), T.U1),
        k_s2_m5=T.zeros(len(valves)),
    )

    # --- transmitters ----------------------------------------------------------------------
    def source(point_id: str, who: Entity, key: str) -> tuple[int, int]:
        eid, name = point_id.split("/", 1)
        target = ent.get(eid)
        if target is None:
            raise _fail(scene, who, key, f"{point_id} names no entity")
        if target.type == "transmitter":
            return T.SRC_TRANSMITTER, index[eid][1]
        kind = _SOURCES.get((target.type, name))
        if kind is None:
            known = ", ".join(f"{t}/{n}" for t, n in _SOURCES)
            raise _fail(scene, who, key, f"the plant cannot measure {point_id}; it simulates "
                        f"{known} and transmitter outputs")
        return kind, index[eid][1]

    src = [source(e.params["measures"], e, "transmitter.measures") for e in txs]
    lag = [e.params.get("lag_s", 0.0) for e in txs]
    kinds = _arr([s[0] for s in src], T.I8)
    assert np.all(np.diff(kinds) >= 0), "_order_rows sorts transmitters by source kind"
    rng_init = [_splitmix64((seed & 0xFFFFFFFF) * 1_000_003 + i) for i in range(len(txs))]
    tx_m = T.TransmitterModel(
        source_kind=_arr([s[0] for s in src], T.I8),
        source_index=_arr([s[1] for s in src], T.I8),
        noise_std=_arr([e.params.get("noise_std", 0.0) for e in txs]),
        lag_alpha=_arr([1.0 - math.exp(-dt_s / x) if x > 0 else 1.0 for x in lag]),
        range_lo=_arr([e.params.get("range", [0.0, 1e9])[0] for e in txs]),
        range_hi=_arr([e.params.get("range", [0.0, 1e9])[1] for e in txs]),
        by_kind_start=np.searchsorted(kinds, np.arange(T.N_SOURCE_KINDS + 1)).astype(T.I8),
    )
    n_tx = len(txs)
    tx_s = T.TransmitterState(
        filtered=T.zeros(n_tx),
        output=T.zeros(n_tx),
        rng=np.array(rng_init, dtype=np.uint64) if n_tx else np.zeros(0, np.uint64),
        sample=T.zeros(n_tx),
        frozen=np.zeros(n_tx, T.U1),
        drift_per_s=T.zeros(n_tx),
        drift=T.zeros(n_tx),
    )

    # --- controllers -----------------------------------------------------------------------
    pv = [source(e.params["pv"], e, "controller.pv") for e in pids]
    outs = []
    for e in pids:
        eid, name = e.params["output"].split("/", 1)
        t = ent[eid].type
        if t == "valve" and name == "position_sp_pct":
            outs.append((T.OUT_VALVE_POSITION_SP, index[eid][1]))
        elif t == "pump" and name == "speed_sp_rpm":
            outs.append((T.OUT_PUMP_SPEED_SP, index[eid][1]))
        else:
            raise _fail(scene, e, "controller.output", f"a pid can drive a valve's "
                        f"position_sp_pct or a pump's speed_sp_rpm, not {e.params['output']}")
    pid_m = T.PidModel(
        pv_kind=_arr([p[0] for p in pv], T.I8),
        pv_index=_arr([p[1] for p in pv], T.I8),
        out_kind=_arr([o[0] for o in outs], T.I8),
        out_index=_arr([o[1] for o in outs], T.I8),
        kp=_arr([e.params.get("kp", 1.0) for e in pids]),
        ti_s=_arr([e.params.get("ti_s", 60.0) for e in pids]),
        out_lo=_arr([e.params.get("output_range", [0.0, 100.0])[0] for e in pids]),
        out_hi=_arr([e.params.get("output_range", [0.0, 100.0])[1] for e in pids]),
        direction=_arr([-1.0 if e.params.get("reverse_acting") else 1.0 for e in pids]),
    )
    out0 = [pos0[o[1]] if o[0] == T.OUT_VALVE_POSITION_SP else sp0[o[1]] for o in outs]
    pid_s = T.PidState(
        mode=_arr([T.MODE_AUTO for _ in pids], T.I8),
        setpoint=_arr([e.params.get("initial_setpoint_m", 0.0) for e in pids]),
        output=_arr(out0),
        integral=_arr(out0),
    )
    duty_pumps = np.zeros((len(duties), 2), T.I8)
    suction_tank = []
    for i, e in enumerate(duties):
        duty_pumps[i, 0] = index[e.params["duty"]][1]
        duty_pumps[i, 1] = index[e.params["standby"]][1]
        suction_tank.append(_suction_tank(suction[duty_pumps[i, 0]], net_m))
    duty_m = T.DutyModel(
        pumps=duty_pumps,
        suction_tank=_arr(suction_tank, T.I8),
        low_level_m=_arr([e.params.get("low_suction_level_m", 0.0) for e in duties]),
    )
    duty_s = T.DutyState(
        mode=_arr([T.MODE_AUTO for _ in duties], T.I8),
        active=np.zeros(len(duties), T.I8),
        lockout=np.zeros(len(duties), T.U1),
    )
    clock = T.Clock(step=np.zeros(1, T.I8), dt_s=np.array([dt_s]))
    model = T.PlantModelTables(tank_m, pump_m, motor_m, valve_m, pipe_m, junction_m, net_m, tx_m,
                               pid_m, duty_m)
    state = T.PlantStateTables(clock, tank_s, pump_s, motor_s, valve_s, pipe_s, junction_s, net_s,
                               tx_s, pid_s, duty_s)
    return Compiled(model=model, state=state, index=index, entities=ent)


def _order_rows(by_type: dict[str, list[Entity]], ent: dict[str, Entity]) -> None:
    """Order rows for the kernels: pump i's motor at motor row i (the motor kernel then walks
    both tables in step), and transmitters grouped by what they measure (the sampling loop per
    kind then writes contiguous rows). Rows are internal: points and ``index`` follow them."""
    motors = by_type.get("motor", [])
    first: list[Entity] = []
    seen: set[str] = set()
    for p in by_type.get("pump", []):
        mid = p.params.get("motor")
        if mid in ent and ent[mid].type == "motor" and mid not in seen:
            seen.add(mid)
            first.append(ent[mid])
    if motors:
        by_type["motor"] = first + [m for m in motors if m.id not in seen]

    def kind(e: Entity) -> int:
        eid, _, name = str(e.params.get("measures", "")).partition("/")
        target = ent.get(eid)
        if target is None:
            return T.N_SOURCE_KINDS
        if target.type == "transmitter":
            return T.SRC_TRANSMITTER
        return _SOURCES.get((target.type, name), T.N_SOURCE_KINDS)

    if "transmitter" in by_type:
        by_type["transmitter"] = sorted(by_type["transmitter"], key=kind)


MAX_BATCH_JUNCTIONS = 2
"""Components with up to this many junctions solve in batch groups (closed-form systems)."""
MIN_BATCH = 8
"""Fewer components of one shape than this solve one at a time (a batch's gather and scatter
would cost more than it saves)."""


def _batch_groups(comp_junctions: list[list[int]], comp_branches: list[list[int]],
                  br_from: list[int], br_to: list[int], br_pump: list[int],
                  node_local: list[int]) -> dict[str, np.ndarray]:
    """Group components of the same shape for the batched fast path
    (:mod:`runtime.sim.network_batched`): same junction count (at most two), and per branch
    position the same local junction at each end and pump or not. Slots are position-major
    (slot = group start + position * components + component), so a loop over one position's
    components reads contiguous scratch."""
    groups: dict[tuple, list[int]] = {}
    for c, (js, bs) in enumerate(zip(comp_junctions, comp_branches, strict=True)):
        if len(js) > MAX_BATCH_JUNCTIONS:
            continue
        shape = (len(js), tuple((node_local[br_from[b]], node_local[br_to[b]],
                                 1 if br_pump[b] >= 0 else 0) for b in bs))
        groups.setdefault(shape, []).append(c)
    groups = {shape: members for shape, members in groups.items() if len(members) >= MIN_BATCH}
    max_nb = max([len(shape[1]) for shape in groups] + [1])
    local = np.full((len(groups), max_nb, 3), -1, T.I8)
    comps: list[int] = []
    starts = [0]
    branches: list[int] = []
    branch_starts = [0]
    junctions: list[int] = []
    junction_starts = [0]
    for g, (shape, members) in enumerate(groups.items()):
        nj, tmpl = shape
        local[g, :len(tmpl)] = tmpl
        comps += members
        starts.append(len(comps))
        for p in range(len(tmpl)):
            branches += [comp_branches[c][p] for c in members]
        branch_starts.append(len(branches))
        for i in range(nj):
            junctions += [comp_junctions[c][i] for c in members]
        junction_starts.append(len(junctions))
    batched = np.zeros(len(comp_branches), T.U1)
    batched[comps] = 1
    return {
        "comp_batched": batched,
        "comp_unbatched": np.flatnonzero(batched == 0).astype(T.I8),
        "batch_start": _arr(starts, T.I8),
        "batch_comps": _arr(comps, T.I8),
        "batch_nj": _arr([shape[0] for shape in groups], T.I8),
        "batch_nb": _arr([len(shape[1]) for shape in groups], T.I8),
        "batch_local": local,
        "batch_branch_start": _arr(branch_starts, T.I8),
        "batch_branches": _arr(branches, T.I8),
        "batch_junction_start": _arr(junction_starts, T.I8),
        "batch_junctions": _arr(junctions, T.I8),
    }


def _batch_pump(net: T.NetworkModel, pump: T.PumpModel) -> dict[str, np.ndarray]:
    """Each batch slot's pump constants, so the batched fast path reads them as slices."""
    n_slot = len(net.batch_branches)
    table = np.zeros((N_PUMP_ROWS, n_slot))
    table[PUMP_SIGN] = 1.0
    motor = np.zeros(n_slot, T.I8)
    p = net.branch_pump[:n_slot]
    has = p >= 0
    table[PUMP_H0, has] = pump.shutoff_head_m[p[has]]
    table[PUMP_B, has] = pump.curve_b_s2_m5[p[has]]
    table[PUMP_SIGN, has] = pump.branch_sign[p[has]]
    table[PUMP_INV_RATED_RPM, has] = pump.inv_rated_speed_rpm[p[has]]
    motor[has] = pump.motor[p[has]]
    return {"batch_pump": table, "batch_pump_motor": motor}


def _slots_first(slots: np.ndarray, n: int) -> np.ndarray:
    """New index of each of ``n`` items when ``slots[i]`` becomes item ``i`` and the items in
    no slot follow in their old order."""
    new = np.full(n, -1, T.I8)
    new[slots] = np.arange(len(slots))
    rest = new < 0
    new[rest] = len(slots) + np.arange(int(rest.sum()))
    return new


def _pipe_k(params: dict) -> float:
    d = params["diameter_m"]
    area = math.pi * d * d / 4.0
    return (PIPE_FRICTION * params["length_m"] / d + PIPE_MINOR_K) / (2.0 * G_M_S2 * area * area)


def _suction_tank(node: int, net: T.NetworkModel) -> int:
    """The tank feeding a pump's inlet node: the node itself, or a tank one branch away."""
    if node < 0:
        return -1
    if net.node_tank[node] >= 0:
        return int(net.node_tank[node])
    for a, b in zip(net.branch_from, net.branch_to, strict=True):
        if b == node and net.node_tank[a] >= 0:
            return int(net.node_tank[a])
        if a == node and net.node_tank[b] >= 0:
            return int(net.node_tank[b])
    return -1


def _roof_inlet_m(conn: Connection, node: str, ent: dict) -> float:
    """The head of a roof inlet where pipe ``conn`` meets tank ``node``: the height of the
    route's last point before the tank when it lies above the tank's roof (the pipe falls
    freely into the tank, so the water must be lifted that high to flow in, and the tank can
    push water back out only when its own head reaches it); -inf for a shell nozzle or a
    junction."""
    e = ent[node]
    if e.type != "tank" or not conn.via_m:
        return -math.inf
    z = conn.via_m[-1][2] if conn.target == node else conn.via_m[0][2]
    roof = e.params.get("elevation_m", 0.0) + e.params["height_m"]
    return float(z) if z > roof else -math.inf
