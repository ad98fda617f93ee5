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
def pump_shaft_power_w(q_m3_s: float, speed_ratio: float, rated_flow_m3_s: float,
                       rated_shaft_w: float) -> float:
    """Shaft power: linear in flow at rated speed (radial pump, 45 % at shut-off), scaled s^3."""
    if speed_ratio <= 0.0:
        return 0.0
    qn = q_m3_s / (speed_ratio * rated_flow_m3_s)
    if qn < 0.0:
        qn = 0.0
    elif qn > 1.6:
        qn = 1.6
    return speed_ratio * speed_ratio * speed_ratio * rated_shaft_w * (0.45 + 0.55 * qn)


@inline_kernel
def motor_step(mm, ms, pm, ps, dt_s: float) -> None:
    """One step of every motor-driven pump: trips, drive torque, speed, power, temperature.

    The drive is a torque-limited speed controller (2x rated torque), so spin-up time follows
    from inertia; a stopped or tripped motor coasts down against the pump's load and friction.
    """
    for m in range(mm.rated_power_w.shape[0]):
        p = mm.pump[m]
        omega_r = mm.rated_speed_rpm[m] * RPM_TO_RAD_S
        t_rated = mm.rated_power_w[m] / omega_r
        omega = ms.speed_rpm[m] * RPM_TO_RAD_S
        energised = False
        load_w = 0.0
        sp_rpm = 0.0
        if p >= 0:
            if ps.reset_cmd[p]:
                ps.reset_cmd[p] = 0
                if ps.tripped[p] and ms.temperature_degc[m] < mm.trip_temperature_degc[m] - 10.0:
                    ps.tripped[p] = 0
                    ps.trip_reason[p] = 0
                    ps.dry_s[p] = 0.0
            if ms.temperature_degc[m] >= mm.trip_temperature_degc[m] and not ps.tripped[p]:
                ps.tripped[p] = 1
                ps.trip_reason[p] = 1
            energised = ps.run_cmd[p] != 0 and ps.tripped[p] == 0
            ps.running[p] = 1 if energised else 0
            s = ms.speed_rpm[m] / pm.rated_speed_rpm[p]
            load_w = pump_shaft_power_w(ps.flow_m3_s[p], s, pm.rated_flow_m3_s[p],
                                        pm.rated_shaft_w[p])
            ps.shaft_w[p] = load_w
            sp_rpm = ps.speed_sp_rpm[p]
        else:
            energised = False
        if sp_rpm > mm.rated_speed_rpm[m]:
            sp_rpm = mm.rated_speed_rpm[m]
        elif sp_rpm < 0.0:
            sp_rpm = 0.0
        t_load = load_w / omega if omega > 1.0 else load_w / 1.0
        t_fric = 0.005 * t_rated * (omega / omega_r + 0.2) if omega > 0.0 else 0.0
        inertia = mm.inertia_kg_m2[m]
        t_drive = 0.0
        if energised:
            # Proportional speed loop with feed-forward of the load; 0.25 s time constant.
            t_drive = t_load + t_fric + inertia / 0.25 * (sp_rpm * RPM_TO_RAD_S - omega)
            if t_drive > 2.0 * t_rated:
                t_drive = 2.0 * t_rated
            elif t_drive < 0.0:
                t_drive = 0.0
        omega += dt_s * (t_drive - t_load - t_fric) / inertia
        if omega < 0.0:
            omega = 0.0
        ms.speed_rpm[m] = omega / RPM_TO_RAD_S
        ms.torque_nm[m] = t_drive
        p_out = t_drive * omega
        if energised:
            ms.power_w[m] = p_out / 0.94 + 0.015 * mm.rated_power_w[m]
        else:
            ms.power_w[m] = 0.0
        load = p_out / mm.rated_power_w[m]
        rise = mm.rated_rise_k[m] * load * load
        if energised:
            rise += 0.1 * mm.rated_rise_k[m]
        target = mm.ambient_degc[m] + rise
        ms.temperature_degc[m] += (target - ms.temperature_degc[m]) * dt_s / mm.thermal_tau_s[m]


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
