"""Control valve kernels: inherent characteristic, actuator travel, hydraulic resistance."""

from __future__ import annotations

import math

from runtime.sim.jit import inline_kernel

KV_HEAD_M_PER_BAR = 10.197
"""1 bar of pressure drop expressed as metres of water (rho = 1000 kg/m3)."""

MIN_OPENING = 1.0e-6
"""Relative Kv of a shut valve: tight shut-off with a whisker of leakage keeps the solve smooth."""


@inline_kernel
def exp_nonpositive(t: float) -> float:
    """e^t for -14 <= t <= 0 (rangeability up to 1e6) in plain arithmetic, so a loop over
    valves vectorises (numba has no vector exp here; a libm call per valve costs more than the
    rest of the valve's step).

    e^t = (e^(t/64))^64: a degree-8 Taylor polynomial at |t/64| <= 0.22 (truncation < 3e-12
    relative), then six squarings (each doubles the relative error): < 3e-10 relative overall
    (2.5e-10 at t = -14), for R = 50 < 2e-14. Plain arithmetic is also bit-for-bit
    reproducible across libm versions.
    The polynomial is evaluated in Estrin's scheme (pairs of terms, then powers u^2, u^4, u^8)
    rather than Horner's: four dependent multiply-adds instead of eight, so the loop over valves
    is not held up by their latency.
    """
    u = t * (1.0 / 64.0)
    u2 = u * u
    u4 = u2 * u2
    lo = (1.0 + u) + u2 * (0.5 + u * (1.0 / 6.0))
    hi = (1.0 / 24.0 + u * (1.0 / 120.0)) + u2 * (1.0 / 720.0 + u * (1.0 / 5040.0))
    p = lo + u4 * (hi + u4 * (1.0 / 40320.0))
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return p * p


@inline_kernel
def opening_from_log_r(position_pct: float, characteristic: int, log_r: float) -> float:
    """Relative Kv (0..1) from travel with ln(rangeability) precomputed; branch-free selects."""
    x = min(max(position_pct * 0.01, 0.0), 1.0)
    eq = exp_nonpositive(log_r * (x - 1.0))
    eq = eq * (x * 20.0) if x < 0.05 else eq
    f = eq if characteristic == 1 else x
    return f if x > 0.0 else 0.0


@inline_kernel
def valve_opening(position_pct: float, characteristic: int, rangeability: float) -> float:
    """Relative flow coefficient Kv/Kvs (0..1) at a travel position.

    Linear: f = x. Equal percentage: f = R^(x-1) (each step of travel multiplies the flow by the
    same factor) from 5 % travel up; below that it ramps linearly to 0 so the valve shuts tight.
    """
    return opening_from_log_r(position_pct, characteristic, math.log(rangeability))


@inline_kernel
def valve_resistance_s2_m5(kv_m3_h: float, opening: float) -> float:
    """Head loss coefficient k (h = k Q|Q|, Q in m3/s) of a valve at a relative opening."""
    if opening < MIN_OPENING:
        opening = MIN_OPENING
    kv_m3_s = kv_m3_h * opening / 3600.0
    return KV_HEAD_M_PER_BAR / (kv_m3_s * kv_m3_s)


def k_open_s2_m5(kv_m3_h: float) -> float:
    """Head loss coefficient of a fully open valve (the compiled model's constant)."""
    kv_m3_s = kv_m3_h / 3600.0
    return KV_HEAD_M_PER_BAR / (kv_m3_s * kv_m3_s)


@inline_kernel
def valve_resistances(vm, vs) -> None:
    """Each valve's head loss coefficient at its present travel (``vs.k_s2_m5``)."""
    for v in range(vm.kv_m3_h.shape[0]):
        f = opening_from_log_r(vs.position_pct[v], vm.characteristic[v], vm.log_rangeability[v])
        f = max(f, MIN_OPENING)
        vs.k_s2_m5[v] = vm.k_open_s2_m5[v] / (f * f)


@inline_kernel
def valve_step(vm, vs, dt_s: float) -> None:
    """Move each actuator toward its set point at its travel rate (stuck ones stay put), then
    its resistance at the new travel: one branch-free pass over the valve columns."""
    for v in range(vm.kv_m3_h.shape[0]):
        sp = min(max(vs.position_sp_pct[v], 0.0), 100.0)
        pos = vs.position_pct[v]
        step = vm.rate_pct_s[v] * dt_s
        moved = min(max(sp, pos - step), pos + step)
        pos = pos if vs.stuck[v] else moved
        vs.position_pct[v] = pos
        f = opening_from_log_r(pos, vm.characteristic[v], vm.log_rangeability[v])
        f = max(f, MIN_OPENING)
        vs.k_s2_m5[v] = vm.k_open_s2_m5[v] / (f * f)

