"""Tank kernels: heads seen by the network, and the mass balance integration."""

from __future__ import annotations

import math

from runtime.sim.jit import inline_kernel

DRY_LEVEL_M = 0.005
"""Below this level a tank cannot feed the network (its outlets are blocked)."""


@inline_kernel
def tank_heads(tm, ts, nm, ns) -> None:
    """Set each tank node's fixed head; block branches that would draw from an empty tank.

    A tank is a fixed-head node for the network solve: head = floor elevation + level.
    """
    for b in range(nm.branch_from.shape[0]):
        ns.branch_block[b] = 0
    for t in range(tm.area_m2.shape[0]):
        node = tm.node[t]
        if node < 0:
            continue
        level = ts.volume_m3[t] / tm.area_m2[t]
        if level < 0.0:
            level = 0.0
        ns.node_head_m[node] = tm.elevation_m[t] + level
        if level < DRY_LEVEL_M:
            for b in range(nm.branch_from.shape[0]):
                if nm.branch_from[b] == node:
                    ns.branch_block[b] = 1
                elif nm.branch_to[b] == node:
                    ns.branch_block[b] = -1


@inline_kernel
def tank_integrate(tm, ts, nm, ns, dt_s: float) -> None:
    """Advance volumes by one step of in - out (explicit Euler; exact bookkeeping).

    The cumulative in/out integrals use the very flows applied to the volume, so
    ``volume - volume0 == cum_in - cum_out + network inflow`` up to rounding.
    """
    n_tank = tm.area_m2.shape[0]
    for t in range(n_tank):
        ts.net_pipe_m3_s[t] = 0.0
    for b in range(nm.branch_from.shape[0]):
        q = ns.branch_flow_m3_s[b]
        tf = nm.node_tank[nm.branch_from[b]]
        tt = nm.node_tank[nm.branch_to[b]]
        if tf >= 0:
            ts.net_pipe_m3_s[tf] -= q
        if tt >= 0:
            ts.net_pipe_m3_s[tt] += q
    for t in range(n_tank):
        area = tm.area_m2[t]
        level = ts.volume_m3[t] / area
        over = level - tm.overflow_m[t]
        spill = 0.0
        if over > 0.0:
            spill = tm.weir_coef_m15_s[t] * over * math.sqrt(over)
        draw = ts.demand_m3_s[t] if level > 0.0 else 0.0
        supply = ts.supply_m3_s[t]
        ts.outflow_m3_s[t] = draw
        ts.overflow_m3_s[t] = spill
        ts.volume_m3[t] += dt_s * (supply - draw - spill + ts.net_pipe_m3_s[t])
        ts.cum_in_m3[t] += dt_s * supply
        ts.cum_out_m3[t] += dt_s * (draw + spill)
        level = ts.volume_m3[t] / area
        if level < 0.0:
            level = 0.0
        ts.level_m[t] = level
