"""Control valve kernels: inherent characteristic, actuator travel, hydraulic resistance."""

from __future__ import annotations

from runtime.sim.jit import inline_kernel

KV_HEAD_M_PER_BAR = 10.197
"""1 bar of pressure drop expressed as metres of water (rho = 1000 kg/m3)."""

MIN_OPENING = 1.0e-6
"""Relative Kv of a shut valve: tight shut-off with a whisker of leakage keeps the solve smooth."""


@inline_kernel
def valve_opening(position_pct: float, characteristic: int, rangeability: float) -> float:
    """Relative flow coefficient Kv/Kvs (0..1) at a travel position.

    Linear: f = x. Equal percentage: f = R^(x-1) (each step of travel multiplies the flow by the
    same factor) from 5 % travel up; below that it ramps linearly to 0 so the valve shuts tight.
    """
    x = position_pct / 100.0
    if x <= 0.0:
        return 0.0
    if x > 1.0:
        x = 1.0
    if characteristic == 1:
        f = rangeability ** (x - 1.0)
        if x < 0.05:
            f *= x / 0.05
        return f
    return x


@inline_kernel
def valve_resistance_s2_m5(kv_m3_h: float, opening: float) -> float:
    """Head loss coefficient k (h = k Q|Q|, Q in m3/s) of a valve at a relative opening."""
    if opening < MIN_OPENING:
        opening = MIN_OPENING
    kv_m3_s = kv_m3_h * opening / 3600.0
    return KV_HEAD_M_PER_BAR / (kv_m3_s * kv_m3_s)


@inline_kernel
def valve_travel(vm, vs, dt_s: float) -> None:
    """Move each actuator toward its set point at its travel rate (stuck ones stay put)."""
    for v in range(vm.kv_m3_h.shape[0]):
        sp = vs.position_sp_pct[v]
        if sp < 0.0:
            sp = 0.0
        elif sp > 100.0:
            sp = 100.0
        if vs.stuck[v]:
            continue
        pos = vs.position_pct[v]
        step = vm.rate_pct_s[v] * dt_s
        if sp > pos + step:
            pos += step
        elif sp < pos - step:
            pos -= step
        else:
            pos = sp
        vs.position_pct[v] = pos
