"""Pump and motor kernels: curve with affinity laws, drive torque, inertia, heat, trips."""

from __future__ import annotations

import math

from runtime.sim.jit import inline_kernel

RPM_TO_RAD_S = 2.0 * math.pi / 60.0


@inline_kernel
def pump_head_m(q_m3_s: float, speed_ratio: float, shutoff_head_m: float, b_s2_m5: float) -> float:
    """Head added at flow q and speed ratio s: H = s^2 H0 - b q|q|.

    Affinity laws follow: at s, the curve is the rated one with Q scaled by s and H by s^2.
    Negative q (reverse through the pump) needs more head, as a resistance does.
    """
    return speed_ratio * speed_ratio * shutoff_head_m - b_s2_m5 * q_m3_s * abs(q_m3_s)


@inline_kernel
def pump_shaft_power_w(q_m3_s: float, speed_ratio: float, inv_rated_flow_s_m3: float,
                       rated_shaft_w: float) -> float:
    """Shaft power: linear in flow at rated speed (radial pump, 45 % at shut-off), scaled s^3.

    P = s^3 P_r (0.45 + 0.55 qn) with qn = q / (s Q_r) clamped to 0..1.6, written as
    s^2 P_r (0.45 s + 0.55 clamp(q / Q_r, 0, 1.6 s)) (the same for s > 0) to need no division.
    """
    s = max(speed_ratio, 0.0)
    sqn = min(max(q_m3_s * inv_rated_flow_s_m3, 0.0), 1.6 * s)
    return s * s * rated_shaft_w * (0.45 * s + 0.55 * sqn)


@inline_kernel
def _drive(mm, ms, m, energised, load_w, sp_rpm, dt_s):
    """Torque, speed, electrical power and winding temperature of motor ``m`` for one step."""
    omega = ms.speed_rpm[m] * RPM_TO_RAD_S
    t_rated = mm.rated_torque_nm[m]
    temp = ms.temperature_degc[m]
    t_load = load_w / max(omega, 1.0)
    t_fric = 0.005 * t_rated * (omega * mm.inv_rated_omega_rad_s[m] + 0.2) if omega > 0.0 else 0.0
    # Proportional speed loop with feed-forward of the load; 0.25 s time constant.
    t_drive = t_load + t_fric + mm.inertia_kg_m2[m] * 4.0 * (sp_rpm * RPM_TO_RAD_S - omega)
    t_drive = min(max(t_drive, 0.0), 2.0 * t_rated) if energised else 0.0
    omega = max(omega + dt_s * (t_drive - t_load - t_fric) * mm.inv_inertia[m], 0.0)
    ms.speed_rpm[m] = omega * (1.0 / RPM_TO_RAD_S)
    ms.torque_nm[m] = t_drive
    p_out = t_drive * omega
    ms.power_w[m] = p_out * (1.0 / 0.94) + 0.015 * mm.rated_power_w[m] if energised else 0.0
    load = p_out * mm.inv_rated_power_w[m]
    rise = mm.rated_rise_k[m] * (load * load + (0.1 if energised else 0.0))
    target = mm.ambient_degc[m] + rise
    ms.temperature_degc[m] = temp + (target - temp) * (dt_s * mm.inv_thermal_tau_s[m])


@inline_kernel
def motor_step(mm, ms, pm, ps, dt_s: float) -> None:
    """One step of every motor-driven pump: trips, drive torque, speed, power, temperature.

    The drive is a torque-limited speed controller (2x rated torque), so spin-up time follows
    from inertia; a stopped or tripped motor coasts down against the pump's load and friction.

    The compiled model puts pump ``i``'s motor at motor row ``i`` (motors without a pump after
    them), so this is one pass over contiguous pump and motor columns, with trips, resets and
    run state as selects rather than per-pump branches, and the motors' constants precomputed.
    """
    n_pump = pm.motor.shape[0]
    # Pass 1, pump status: trips, resets, run state, shaft load (few columns per pass, so the
    # compiler's aliasing checks stay few enough for it to vectorise).
    for i in range(n_pump):
        temp = ms.temperature_degc[i]
        trip_t = mm.trip_temperature_degc[i]
        tripped = ps.tripped[i] != 0
        clear = (ps.reset_cmd[i] != 0) & tripped & (temp < trip_t - 10.0)
        ps.reset_cmd[i] = 0
        reason = 0 if clear else ps.trip_reason[i]
        ps.dry_s[i] = 0.0 if clear else ps.dry_s[i]
        tripped = tripped & ~clear
        over = (temp >= trip_t) & ~tripped
        ps.trip_reason[i] = 1 if over else reason
        tripped = tripped | over
        ps.tripped[i] = 1 if tripped else 0
        ps.running[i] = 1 if (ps.run_cmd[i] != 0) & ~tripped else 0
    for i in range(n_pump):
        ps.run_s[i] += dt_s if ps.running[i] != 0 else 0.0
    for i in range(n_pump):
        s = ms.speed_rpm[i] * pm.inv_rated_speed_rpm[i]
        ps.shaft_w[i] = pump_shaft_power_w(ps.flow_m3_s[i], s, pm.inv_rated_flow_s_m3[i],
                                           pm.rated_shaft_w[i])
    # Pass 2, the drives.
    for i in range(n_pump):
        sp_rpm = min(max(ps.speed_sp_rpm[i], 0.0), mm.rated_speed_rpm[i])
        _drive(mm, ms, i, ps.running[i] != 0, ps.shaft_w[i], sp_rpm, dt_s)
    for m in range(n_pump, mm.rated_power_w.shape[0]):
        _drive(mm, ms, m, False, 0.0, 0.0, dt_s)


@inline_kernel
def pump_dry_run(pm, ps, nm, ns, ms, jm, dt_s: float) -> None:
    """Trip a running pump whose suction has gone (suction head under -8 m gauge for 2 s).

    Below about -8 m the water column breaks: in this model it only happens when the suction
    tank is empty and its outlet is blocked, which is what running dry means for the pump.
    """
    for p in range(pm.motor.shape[0]):
        node = pm.suction_node[p]
        if node < 0 or not ps.running[p]:
            ps.dry_s[p] = 0.0
            continue
        j = nm.node_junction[node]
        t = nm.node_tank[node]
        dry = False
        if j >= 0:
            dry = ns.node_head_m[node] - jm.elevation_m[j] < -8.0
        elif t >= 0:
            dry = ns.branch_block[pm.branch[p]] != 0
        if dry and ms.speed_rpm[pm.motor[p]] > 0.2 * pm.rated_speed_rpm[p]:
            ps.dry_s[p] += dt_s
        else:
            ps.dry_s[p] = 0.0
        if ps.dry_s[p] >= 2.0 and not ps.tripped[p]:
            ps.tripped[p] = 1
            ps.trip_reason[p] = 2
            ps.running[p] = 0
