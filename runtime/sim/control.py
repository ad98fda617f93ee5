"""Control kernels: PID loops and duty/standby pump sequencing, as a PLC would run them."""

from __future__ import annotations

from runtime.sim.jit import inline_kernel
from runtime.sim.kernels_transmitter import source_value


@inline_kernel
def pid_step(cm, cs, tm, ts, jm, js, pm, ps, ms, vs, pipes, xs, dt_s: float) -> None:
    """PI(D without D) in position form with anti-windup by clamping the integral.

    Error is ``direction * (pv - sp)`` (direction -1 for reverse acting: a level above its set
    point lowers the output). In manual the integral tracks the output for a bumpless return.
    """
    for c in range(cm.kp.shape[0]):
        pv = source_value(cm.pv_kind[c], cm.pv_index[c], tm, ts, jm, js, pm, ps, ms, vs, pipes,
                          xs)
        lo = cm.out_lo[c]
        hi = cm.out_hi[c]
        if cs.mode[c] != 1:
            cs.integral[c] = cs.output[c] - cm.direction[c] * cm.kp[c] * (pv - cs.setpoint[c])
            continue
        err = cm.direction[c] * (pv - cs.setpoint[c])
        integral = cs.integral[c] + cm.kp[c] * err * dt_s / cm.ti_s[c]
        if integral < lo:
            integral = lo
        elif integral > hi:
            integral = hi
        cs.integral[c] = integral
        out = cm.kp[c] * err + integral
        if out < lo:
            out = lo
        elif out > hi:
            out = hi
        cs.output[c] = out
        k = cm.out_index[c]
        if cm.out_kind[c] == 0:
            vs.position_sp_pct[k] = out
        else:
            ps.speed_sp_rpm[k] = out


@inline_kernel
def duty_standby_step(dm, ds, ts, ps) -> None:
    """Run the leading pump; hand over to the other when it trips; hold both off on low suction.

    Only in auto: in manual the pumps follow their own run commands (operator control).
    """
    for q in range(dm.low_level_m.shape[0]):
        if ds.mode[q] != 1:
            continue
        t = dm.suction_tank[q]
        if t >= 0:
            level = ts.level_m[t]
            if level < dm.low_level_m[q]:
                ds.lockout[q] = 1
            elif ds.lockout[q] and level > dm.low_level_m[q] + 0.3:
                ds.lockout[q] = 0
        lead = dm.pumps[q, ds.active[q]]
        other = dm.pumps[q, 1 - ds.active[q]]
        if ps.tripped[lead] and not ps.tripped[other]:
            ds.active[q] = 1 - ds.active[q]
            lead, other = other, lead
        ps.run_cmd[lead] = 0 if ds.lockout[q] else 1
        ps.run_cmd[other] = 0
