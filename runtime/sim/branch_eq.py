"""One branch's equation for the network solve: F(Q), its slope and its curvature.

A branch is a series chain of pipes with at most one pump and one valve, so one flow Q runs
through it and F(Q) = H_from - H_to + pump_head(Q) - k Q sqrt(Q^2 + q0^2) - check losses
(see :mod:`runtime.sim.network`). Shared by the per-component solve and the batched fast path
(:mod:`runtime.sim.network_batched`), so both evaluate the same arithmetic.
"""

from __future__ import annotations

import math

from runtime.sim.jit import inline_kernel
from runtime.sim.kernels_pump import pump_head_m

Q0_M3_S = 5.0e-3
"""Regularisation flow (18 m3/h): losses turn linear below it, so dF/dQ stays finite at Q = 0 and
the Newton steps do not cycle across a check valve's kink (costs 0.5 % of loss at 0.05 m3/s)."""

CHECK_K_S2_M5 = 1.0e9
"""Resistance of a closed check valve or a blocked (dry) outlet: leaks ~0.3 m3/h at 10 m."""


@inline_kernel
def branch_eval(q, dh, k, has_pump, s, h0, b, sign, block):
    """F(Q), dF/dQ and |d2F/dQ2| of one branch at q (see module doc), with one square root
    and one division: the regularised loss k q r (r = sqrt(q^2 + q0^2)) has slope
    k (r + q^2 / r) and curvature k |q| (2 q^2 + 3 q0^2) / r^3. Written as selects rather than
    branches so a loop over many branches can vectorise."""
    r2 = q * q + Q0_M3_S * Q0_M3_S
    root = math.sqrt(r2)
    inv = 1.0 / root
    slope = root + q * q * inv
    qp = sign * q
    check = has_pump and qp < 0.0  # the pump's non-return valve
    blocked = (block > 0 and q > 0.0) or (block < 0 and q < 0.0)
    kk = k + (CHECK_K_S2_M5 if check else 0.0) + (CHECK_K_S2_M5 if blocked else 0.0)
    f = dh - kk * q * root
    df = -kk * slope
    curv = kk * (abs(q) * (2.0 * q * q + 3.0 * Q0_M3_S * Q0_M3_S) * (inv * inv * inv))
    pump_f = sign * pump_head_m(qp, s, h0, b)
    f += pump_f if has_pump else 0.0
    df -= 2.0 * b * abs(qp) if has_pump else 0.0
    curv += 2.0 * b if has_pump else 0.0
    return f, df, curv
