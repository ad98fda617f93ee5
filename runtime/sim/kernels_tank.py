"""Tank kernels: heads seen by the network, and the mass balance integration."""

from __future__ import annotations

import math

from runtime.sim.jit import inline_kernel

DRY_LEVEL_M = 0.005
"""Below this level a tank cannot feed the network (its outlets are blocked)."""


@inline_kernel
def tank_heads(tm, ts, nm, ns) -> None:
    """Set each tank node's fixed head; block branches that would draw from an empty tank.

    A tank is a fixed-head node for the network solve: head = floor elevation + level. A branch
    leaving a dry tank is blocked forward (+1), one entering it from a dry tank's side reverse
    (-1); so is one whose pipe enters the tank through the roof while the tank's head is below
    that inlet (water falls in there; it cannot flow back out). One pass over branches, so the
    cost does not grow with tanks x branches.
    """
    for t in range(tm.area_m2.shape[0]):
        node = tm.node[t]
        if node < 0:
            continue
        level = max(ts.volume_m3[t] * tm.inv_area_m2[t], 0.0)
        ns.node_head_m[node] = tm.elevation_m[t] + level
    for b in range(nm.branch_from.shape[0]):
        blk = 0
        tt = nm.branch_to_tank[b]
        if tt >= 0:
            level = ts.volume_m3[tt] * tm.inv_area_m2[tt]
            # dry, or below its roof inlet: the tank cannot push water back out through it
            if level < DRY_LEVEL_M or tm.elevation_m[tt] + level < nm.branch_to_inlet_m[b]:
                blk = -1
        tf = nm.branch_from_tank[b]
        if tf >= 0:
            level = ts.volume_m3[tf] * tm.inv_area_m2[tf]
            if level < DRY_LEVEL_M or tm.elevation_m[tf] + level < nm.branch_from_inlet_m[b]:
                blk = 1
        ns.branch_block[b] = blk


@inline_kernel
def tank_network_inflow(nm, ns, ts) -> None:
    """Net flow into each tank from the network's branch flows (``net_pipe_m3_s``)."""
    for t in range(ts.net_pipe_m3_s.shape[0]):
        ts.net_pipe_m3_s[t] = 0.0
    for b in range(nm.branch_from.shape[0]):
        q = ns.branch_flow_m3_s[b]
        tf = nm.branch_from_tank[b]
        tt = nm.branch_to_tank[b]
        if tf >= 0:
            ts.net_pipe_m3_s[tf] -= q
        if tt >= 0:
            ts.net_pipe_m3_s[tt] += q


@inline_kernel
def tank_integrate(tm, ts, dt_s: float) -> None:
    """Advance volumes by one step of in - out (explicit Euler; exact bookkeeping).

    The cumulative in/out integrals use the very flows applied to the volume, so
    ``volume - volume0 == cum_in - cum_out + network inflow`` up to rounding. One pass over
    contiguous columns with no per-tank branches (selects instead), so it vectorises.
    """
    for t in range(tm.area_m2.shape[0]):
        inv_area = tm.inv_area_m2[t]
        vol = ts.volume_m3[t]
        level = vol * inv_area
        over = max(level - tm.overflow_m[t], 0.0)
        spill = tm.weir_coef_m15_s[t] * over * math.sqrt(over)
        draw = ts.demand_m3_s[t] if level > 0.0 else 0.0
        supply = ts.supply_m3_s[t]
        ts.outflow_m3_s[t] = draw
        ts.overflow_m3_s[t] = spill
        vol += dt_s * (supply - draw - spill + ts.net_pipe_m3_s[t])
        ts.volume_m3[t] = vol
        ts.cum_in_m3[t] += dt_s * supply
        ts.cum_out_m3[t] += dt_s * (draw + spill)
        ts.level_m[t] = max(vol * inv_area, 0.0)
