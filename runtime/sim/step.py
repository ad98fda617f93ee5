"""The plant's fixed step: every kernel in order, ``n_steps`` times, in one compiled call."""

from __future__ import annotations

from runtime.sim.control import duty_standby_step, pid_step
from runtime.sim.jit import inline_kernel, kernel
from runtime.sim.kernels_pump import motor_step, pump_dry_run
from runtime.sim.kernels_tank import tank_heads, tank_integrate, tank_network_inflow
from runtime.sim.kernels_transmitter import source_value, transmitter_step
from runtime.sim.kernels_valve import valve_resistances, valve_step
from runtime.sim.network import network_solve

NETWORK_TOL_M3_S = 1.0e-11
"""Continuity residual allowed at a junction; small enough that mass balance closes to 1e-9."""


@inline_kernel
def derive_outputs(m, s) -> None:
    """Per-asset flows and pressures from the network solution (for points and instruments)."""
    nm = m.net
    ns = s.net
    for p in range(m.pump.motor.shape[0]):
        br = m.pump.branch[p]
        if br >= 0:
            q = m.pump.branch_sign[p] * ns.branch_flow_m3_s[br]
            s.pump.flow_m3_s[p] = q
    for v in range(m.valve.kv_m3_h.shape[0]):
        br = m.valve.branch[v]
        if br >= 0:
            s.valve.flow_m3_s[v] = m.valve.branch_sign[v] * ns.branch_flow_m3_s[br]
    for i in range(m.pipe.k_s2_m5.shape[0]):
        br = m.pipe.branch[i]
        if br >= 0:
            s.pipe.flow_m3_s[i] = m.pipe.branch_sign[i] * ns.branch_flow_m3_s[br]
    for j in range(m.junction.node.shape[0]):
        h = ns.node_head_m[m.junction.node[j]] - m.junction.elevation_m[j]
        s.junction.pressure_kpa[j] = 9.80665 * h
    _ = nm


@kernel
def plant_steps(m, s, n_steps: int) -> None:
    """Advance the plant ``n_steps`` fixed steps (control, actuators, motors, network, tanks,
    instruments), in the order a scan of a real plant's PLC and its physics would interleave."""
    dt = s.clock.dt_s[0]
    for _ in range(n_steps):
        duty_standby_step(m.duty, s.duty, s.tank, s.pump)
        pid_step(m.pid, s.pid, m.tank, s.tank, m.junction, s.junction, m.pump, s.pump, s.motor,
                 s.valve, s.pipe, s.tx, dt)
        valve_step(m.valve, s.valve, dt)
        motor_step(m.motor, s.motor, m.pump, s.pump, dt)
        tank_heads(m.tank, s.tank, m.net, s.net)
        network_solve(m.net, s.net, m.pump, s.motor, m.valve, s.valve, NETWORK_TOL_M3_S, True)
        derive_outputs(m, s)
        pump_dry_run(m.pump, s.pump, m.net, s.net, s.motor, m.junction, dt)
        tank_network_inflow(m.net, s.net, s.tank)
        tank_integrate(m.tank, s.tank, dt)
        step = s.clock.step[0]
        transmitter_step(m.tx, s.tx, m.tank, s.tank, m.junction, s.junction, m.pump, s.pump,
                         s.motor, s.valve, s.pipe, step, dt)
        s.clock.step[0] = step + 1


@kernel
def plant_init(m, s) -> None:
    """Make the start state consistent: solve the network once, then start instruments at the
    true value and PID integrals where their outputs already are (no bump at start)."""
    dt = s.clock.dt_s[0]
    valve_resistances(m.valve, s.valve)
    tank_heads(m.tank, s.tank, m.net, s.net)
    network_solve(m.net, s.net, m.pump, s.motor, m.valve, s.valve, NETWORK_TOL_M3_S, False)
    derive_outputs(m, s)
    for x in range(m.tx.source_kind.shape[0]):
        v = source_value(m.tx.source_kind[x], m.tx.source_index[x], m.tank, s.tank, m.junction,
                         s.junction, m.pump, s.pump, s.motor, s.valve, s.pipe, s.tx)
        s.tx.filtered[x] = v
        s.tx.output[x] = v
    for c in range(m.pid.kp.shape[0]):
        pv = source_value(m.pid.pv_kind[c], m.pid.pv_index[c], m.tank, s.tank, m.junction,
                          s.junction, m.pump, s.pump, s.motor, s.valve, s.pipe, s.tx)
        s.pid.integral[c] = s.pid.output[c] - m.pid.direction[c] * m.pid.kp[c] * (
            pv - s.pid.setpoint[c])
    _ = dt
