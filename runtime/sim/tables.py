"""The plant's struct-of-arrays tables: one NamedTuple of numpy columns per asset concern.

Each ``*Model`` holds static parameters fixed when the scene is compiled; each ``*State`` holds
what a step mutates. Kernels receive these tuples as arguments (numba types a NamedTuple of
arrays natively) and read no globals. Every column is a 1-D array with one row per asset of that
type unless noted; ``-1`` in an index column means none. Flows are m3/s and heads metres inside
the kernels (SI); the point map converts to the units the point names carry (``_m3_h``, ``_kpa``).
Nothing is allocated inside a step: solver workspaces are preallocated here too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

PLANT_STEP_NS = 10_000_000
"""Fixed simulation step: 10 ms in integer nanoseconds."""

F8 = np.float64
I8 = np.int64
U1 = np.uint8

# Trip reasons of a pump (pump_state.trip_reason).
TRIP_NONE = 0
TRIP_OVERTEMPERATURE = 1
TRIP_DRY_RUN = 2
TRIP_EXTERNAL = 3
"""Tripped from outside: fault injection, or an operator's emergency stop."""

# Source kinds: what a transmitter measures or a PID reads (``source_kind`` columns).
SRC_TANK_LEVEL = 0
SRC_TANK_VOLUME = 1
SRC_TANK_OVERFLOW = 2
SRC_JUNCTION_PRESSURE = 3
SRC_PUMP_SPEED = 4
SRC_PUMP_FLOW = 5
SRC_VALVE_POSITION = 6
SRC_VALVE_FLOW = 7
SRC_PIPE_FLOW = 8
SRC_MOTOR_TEMPERATURE = 9
SRC_MOTOR_POWER = 10
SRC_TRANSMITTER = 11
N_SOURCE_KINDS = 12

# PID output kinds (pid_model.out_kind).
OUT_VALVE_POSITION_SP = 0
OUT_PUMP_SPEED_SP = 1

VALVE_LINEAR = 0
VALVE_EQUAL_PERCENTAGE = 1

MODE_MANUAL = 0
MODE_AUTO = 1


class TankModel(NamedTuple):
    """Vertical cylindrical tanks (static)."""

    area_m2: np.ndarray  # f8 (n_tank,) plan area: level = volume / area
    inv_area_m2: np.ndarray  # f8 (n_tank,) 1 / area (a multiply per step instead of a divide)
    height_m: np.ndarray  # f8 (n_tank,) wall height; level is clamped to it for display
    overflow_m: np.ndarray  # f8 (n_tank,) weir crest level
    weir_coef_m15_s: np.ndarray  # f8 (n_tank,) Q_overflow = coef * (level - crest)^1.5, m3/s
    elevation_m: np.ndarray  # f8 (n_tank,) floor above datum
    node: np.ndarray  # i8 (n_tank,) hydraulic node of the tank


class TankState(NamedTuple):
    """Tank storage and its flows during the last step (mutable)."""

    volume_m3: np.ndarray  # f8 (n_tank,) stored water; may dip a hair below 0 when dry
    level_m: np.ndarray  # f8 (n_tank,) level above the floor, >= 0
    supply_m3_s: np.ndarray  # f8 (n_tank,) external inflow set point (intake)
    demand_m3_s: np.ndarray  # f8 (n_tank,) external draw-off set point
    outflow_m3_s: np.ndarray  # f8 (n_tank,) draw-off actually delivered (0 when empty)
    overflow_m3_s: np.ndarray  # f8 (n_tank,) spill over the weir
    net_pipe_m3_s: np.ndarray  # f8 (n_tank,) net flow in through the network
    cum_in_m3: np.ndarray  # f8 (n_tank,) integral of supply since start (mass balance)
    cum_out_m3: np.ndarray  # f8 (n_tank,) integral of draw-off + overflow since start


class PumpModel(NamedTuple):
    """Centrifugal pumps: H = s^2 * H0 - b * Q|Q| with s = speed / rated speed (static)."""

    motor: np.ndarray  # i8 (n_pump,) driving motor: always row i (build orders motors so)
    branch: np.ndarray  # i8 (n_pump,) network branch, -1 when not connected
    branch_sign: np.ndarray  # f8 (n_pump,) +1 when the pump points along its branch
    shutoff_head_m: np.ndarray  # f8 (n_pump,) H0 at rated speed
    inv_rated_speed_rpm: np.ndarray  # f8 (n_pump,) 1 / rated_speed_rpm: s = speed * this
    curve_b_s2_m5: np.ndarray  # f8 (n_pump,) b, from rated flow and head
    rated_flow_m3_s: np.ndarray  # f8 (n_pump,)
    inv_rated_flow_s_m3: np.ndarray  # f8 (n_pump,) 1 / rated flow
    rated_speed_rpm: np.ndarray  # f8 (n_pump,)
    rated_shaft_w: np.ndarray  # f8 (n_pump,) shaft power at rated point (rho g Q H / eta)
    suction_node: np.ndarray  # i8 (n_pump,) node at the pump's inlet end, -1 when none


class PumpState(NamedTuple):
    """Pump commands, status and duty point (mutable)."""

    run_cmd: np.ndarray  # u1 (n_pump,) 1 = run requested (operator or sequencer)
    speed_sp_rpm: np.ndarray  # f8 (n_pump,) drive speed set point
    reset_cmd: np.ndarray  # u1 (n_pump,) write 1 to reset a trip; self-clears
    running: np.ndarray  # u1 (n_pump,) contactor closed (energised and not tripped)
    tripped: np.ndarray  # u1 (n_pump,) latched until reset
    trip_reason: np.ndarray  # i8 (n_pump,) TRIP_* code
    flow_m3_s: np.ndarray  # f8 (n_pump,) through the pump, inlet to outlet
    head_m: np.ndarray  # f8 (n_pump,) head added
    shaft_w: np.ndarray  # f8 (n_pump,) shaft power absorbed
    dry_s: np.ndarray  # f8 (n_pump,) time spent running without suction
    run_s: np.ndarray  # f8 (n_pump,) time run in all (the run-hours counter), s


class MotorModel(NamedTuple):
    """Induction motors with a speed-controlled drive (static)."""

    rated_power_w: np.ndarray  # f8 (n_motor,)
    rated_speed_rpm: np.ndarray  # f8 (n_motor,)
    inertia_kg_m2: np.ndarray  # f8 (n_motor,) rotor + pump + water
    trip_temperature_degc: np.ndarray  # f8 (n_motor,)
    ambient_degc: np.ndarray  # f8 (n_motor,)
    thermal_tau_s: np.ndarray  # f8 (n_motor,) winding thermal time constant
    rated_rise_k: np.ndarray  # f8 (n_motor,) steady temperature rise at rated load
    pump: np.ndarray  # i8 (n_motor,) the pump it drives, -1 when none
    rated_omega_rad_s: np.ndarray  # f8 (n_motor,) rated speed in rad/s
    rated_torque_nm: np.ndarray  # f8 (n_motor,) rated power / rated omega
    inv_inertia: np.ndarray  # f8 (n_motor,) 1 / inertia, 1/(kg m2)
    inv_rated_power_w: np.ndarray  # f8 (n_motor,) 1 / rated power
    inv_rated_omega_rad_s: np.ndarray  # f8 (n_motor,) 1 / rated angular speed
    inv_thermal_tau_s: np.ndarray  # f8 (n_motor,) 1 / winding thermal time constant


class MotorState(NamedTuple):
    """Motor dynamics (mutable)."""

    speed_rpm: np.ndarray  # f8 (n_motor,)
    torque_nm: np.ndarray  # f8 (n_motor,) drive torque
    power_w: np.ndarray  # f8 (n_motor,) electrical input
    temperature_degc: np.ndarray  # f8 (n_motor,) winding temperature


class ValveModel(NamedTuple):
    """Control valves (static)."""

    kv_m3_h: np.ndarray  # f8 (n_valve,) flow at 100 % open and 1 bar drop
    characteristic: np.ndarray  # i8 (n_valve,) VALVE_LINEAR | VALVE_EQUAL_PERCENTAGE
    rangeability: np.ndarray  # f8 (n_valve,)
    log_rangeability: np.ndarray  # f8 (n_valve,) ln(rangeability): R^(x-1) = exp((x-1) ln R)
    k_open_s2_m5: np.ndarray  # f8 (n_valve,) head loss coefficient fully open (Kv = Kvs)
    rate_pct_s: np.ndarray  # f8 (n_valve,) actuator travel rate (100 / travel time)
    branch: np.ndarray  # i8 (n_valve,) network branch, -1 when not connected
    branch_sign: np.ndarray  # f8 (n_valve,) +1 when inlet->outlet runs along the branch


class ValveState(NamedTuple):
    """Valve positions and flow (mutable)."""

    position_sp_pct: np.ndarray  # f8 (n_valve,)
    position_pct: np.ndarray  # f8 (n_valve,)
    flow_m3_s: np.ndarray  # f8 (n_valve,) inlet to outlet
    stuck: np.ndarray  # u1 (n_valve,) fault: the actuator does not move
    k_s2_m5: np.ndarray  # f8 (n_valve,) head loss coefficient at the present travel (derived)


class PipeModel(NamedTuple):
    """Pipes (connections), static. Darcy-Weisbach with a fixed friction factor."""

    k_s2_m5: np.ndarray  # f8 (n_pipe,) head loss = k Q|Q|
    branch: np.ndarray  # i8 (n_pipe,)
    branch_sign: np.ndarray  # f8 (n_pipe,) +1 when source->target runs along the branch


class PipeState(NamedTuple):
    flow_m3_s: np.ndarray  # f8 (n_pipe,) source to target


class JunctionModel(NamedTuple):
    elevation_m: np.ndarray  # f8 (n_junction,)
    node: np.ndarray  # i8 (n_junction,)


class JunctionState(NamedTuple):
    pressure_kpa: np.ndarray  # f8 (n_junction,) gauge pressure: rho g (head - elevation)


class NetworkModel(NamedTuple):
    """Hydraulic graph (static): nodes are tanks (fixed head) and junctions (solved head);
    a branch is a series chain of pipes with at most one pump and one valve."""

    node_tank: np.ndarray  # i8 (n_node,) tank index or -1
    node_junction: np.ndarray  # i8 (n_node,) junction index or -1
    node_local: np.ndarray  # i8 (n_node,) row of a junction in its component's matrix, -1 tank
    branch_from: np.ndarray  # i8 (n_branch,) node
    branch_to: np.ndarray  # i8 (n_branch,) node
    branch_pipe_k_s2_m5: np.ndarray  # f8 (n_branch,) sum of its pipes' k
    branch_pump: np.ndarray  # i8 (n_branch,) pump or -1
    branch_valve: np.ndarray  # i8 (n_branch,) valve or -1
    branch_from_tank: np.ndarray  # i8 (n_branch,) tank at the from end, -1 for a junction
    branch_to_tank: np.ndarray  # i8 (n_branch,) tank at the to end, -1 for a junction
    branch_from_inlet_m: np.ndarray  # f8 (n_branch,) roof inlet head at the from tank, -inf none
    branch_to_inlet_m: np.ndarray  # f8 (n_branch,) roof inlet head at the to tank, -inf none
    comp_junction_start: np.ndarray  # i8 (n_comp + 1,) CSR offsets into comp_junctions
    comp_junctions: np.ndarray  # i8 (n_junction,) junction nodes of each component
    comp_branch_start: np.ndarray  # i8 (n_comp + 1,) CSR offsets into comp_branches
    comp_branches: np.ndarray  # i8 (n_branch,) branches of each component
    comp_batched: np.ndarray  # u1 (n_comp,) 1: its fast path runs in a batch group
    comp_unbatched: np.ndarray  # i8 (n_comp - n_batched,) components solved one at a time
    batch_start: np.ndarray  # i8 (n_group + 1,) CSR offsets into batch_comps
    batch_comps: np.ndarray  # i8 (n_batched,) components of each group (same shape)
    batch_nj: np.ndarray  # i8 (n_group,) junctions per component (0..2)
    batch_nb: np.ndarray  # i8 (n_group,) branches per component
    batch_local: np.ndarray  # i8 (n_group, max_nb, 3) per branch position: local junction at
    #                          the from and to end (-1 a tank), 1 if it has a pump
    batch_branch_start: np.ndarray  # i8 (n_group + 1,) offsets into batch_branches
    batch_branches: np.ndarray  # i8 (n_slot,) branch at slot start + position * n_c + c
    batch_junction_start: np.ndarray  # i8 (n_group + 1,) offsets into batch_junctions
    batch_junctions: np.ndarray  # i8 (n_jslot,) junction node at start + local * n_c + c
    #                          (build numbers branches and nodes so both are the identity)
    batch_pump: np.ndarray  # f8 (4, n_slot) per slot: its pump's shut-off head, curve b,
    #                         sign in the branch, 1 / rated speed (zeros where no pump)
    batch_pump_motor: np.ndarray  # i8 (n_slot,) motor row of the slot's pump, 0 where none


class NetworkState(NamedTuple):
    """Solved heads and flows (mutable; warm start for the next step) and solver workspace."""

    node_head_m: np.ndarray  # f8 (n_node,)
    branch_flow_m3_s: np.ndarray  # f8 (n_branch,) from -> to
    branch_k_s2_m5: np.ndarray  # f8 (n_branch,) pipes + valve this step
    branch_block: np.ndarray  # i8 (n_branch,) +1 forward / -1 reverse blocked (dry tank)
    jac: np.ndarray  # f8 (max_nj, max_nj) workspace
    rhs: np.ndarray  # f8 (max_nj,) workspace: residual, then Newton step
    work: np.ndarray  # f8 (max_nj, 2) workspace: heads before the step, the step
    branch_work: np.ndarray  # f8 (n_branch, 4) workspace: conductance, residual, error
    #                    factor, flow before the step
    batch_work: np.ndarray  # f8 (7, n_slot) workspace of the batched fast path
    batch_cwork: np.ndarray  # f8 (10, n_batched) workspace: 2x2 system, error, flags
    batch_jwork: np.ndarray  # f8 (1, n_jslot) workspace: junction heads at the step's start
    comp_fast_it: np.ndarray  # i8 (n_comp,) fast path iterations this step, -1 fell back
    batch_failed: np.ndarray  # i8 (n_batched,) workspace: batched components to re-solve
    stats: np.ndarray  # i8 (3,) [max Newton iterations last step, failures since start,
    #                    steps where a component needed the bracketed fallback solve]


class TransmitterModel(NamedTuple):
    source_kind: np.ndarray  # i8 (n_tx,) SRC_*
    source_index: np.ndarray  # i8 (n_tx,)
    noise_std: np.ndarray  # f8 (n_tx,) in the measured point's unit
    lag_alpha: np.ndarray  # f8 (n_tx,) 1 - exp(-dt / lag), 1 for no lag
    range_lo: np.ndarray  # f8 (n_tx,)
    range_hi: np.ndarray  # f8 (n_tx,)
    by_kind_start: np.ndarray  # i8 (N_SOURCE_KINDS + 1,) rows measuring kind k are
    #                            by_kind_start[k]:by_kind_start[k+1] (build sorts rows by kind)


class TransmitterState(NamedTuple):
    filtered: np.ndarray  # f8 (n_tx,) lagged true value
    output: np.ndarray  # f8 (n_tx,) what the instrument reports
    rng: np.ndarray  # u8 (n_tx,) noise key, seeded per instrument (noise = hash(key, step))
    sample: np.ndarray  # f8 (n_tx,) true value sampled this step (derived, before the lag)
    frozen: np.ndarray  # u1 (n_tx,) fault: output held
    drift_per_s: np.ndarray  # f8 (n_tx,) fault: offset added per second
    drift: np.ndarray  # f8 (n_tx,) accumulated drift offset


class PidModel(NamedTuple):
    pv_kind: np.ndarray  # i8 (n_pid,) SRC_*
    pv_index: np.ndarray  # i8 (n_pid,)
    out_kind: np.ndarray  # i8 (n_pid,) OUT_*
    out_index: np.ndarray  # i8 (n_pid,)
    kp: np.ndarray  # f8 (n_pid,) output units per pv unit
    ti_s: np.ndarray  # f8 (n_pid,)
    out_lo: np.ndarray  # f8 (n_pid,)
    out_hi: np.ndarray  # f8 (n_pid,)
    direction: np.ndarray  # f8 (n_pid,) -1 reverse acting, +1 direct


class PidState(NamedTuple):
    mode: np.ndarray  # i8 (n_pid,) MODE_MANUAL | MODE_AUTO
    setpoint: np.ndarray  # f8 (n_pid,) in the pv's unit
    output: np.ndarray  # f8 (n_pid,)
    integral: np.ndarray  # f8 (n_pid,) integral part of the output


class DutyModel(NamedTuple):
    """Duty/standby sequencers."""

    pumps: np.ndarray  # i8 (n_seq, 2) [duty, standby]
    suction_tank: np.ndarray  # i8 (n_seq,) tank whose level guards against dry running, -1
    low_level_m: np.ndarray  # f8 (n_seq,) stop below; restart 0.3 m above


class DutyState(NamedTuple):
    mode: np.ndarray  # i8 (n_seq,)
    active: np.ndarray  # i8 (n_seq,) 0 = duty pump leads, 1 = standby leads
    lockout: np.ndarray  # u1 (n_seq,) low suction level: all pumps held off


class Clock(NamedTuple):
    step: np.ndarray  # i8 (1,) steps taken since start
    dt_s: np.ndarray  # f8 (1,) step length in seconds (PLANT_STEP_NS / 1e9)


class PlantModelTables(NamedTuple):
    """Everything static, in kernel argument order."""

    tank: TankModel
    pump: PumpModel
    motor: MotorModel
    valve: ValveModel
    pipe: PipeModel
    junction: JunctionModel
    net: NetworkModel
    tx: TransmitterModel
    pid: PidModel
    duty: DutyModel


class PlantStateTables(NamedTuple):
    """Everything a step mutates: snapshot, restore and the state hash cover exactly this."""

    clock: Clock
    tank: TankState
    pump: PumpState
    motor: MotorState
    valve: ValveState
    pipe: PipeState
    junction: JunctionState
    net: NetworkState
    tx: TransmitterState
    pid: PidState
    duty: DutyState


def zeros(n: int, dtype: type = F8) -> np.ndarray:
    return np.zeros(n, dtype=dtype)
