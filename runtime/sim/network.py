"""Hydraulic network solve: heads at junctions, flows in branches, every step.

Nodes are tanks (known head) and junctions (unknown head, no storage). A branch is a series
chain of pipes with at most one pump and one valve, so one flow Q runs through it and

    F(Q) = H_from - H_to + pump_head(Q) - k Q sqrt(Q^2 + q0^2) - check losses = 0

F falls strictly with Q, so each branch has exactly one flow for given end heads; it is found by
Newton's method kept inside a shrinking bracket (bisection when Newton leaves it), which cannot
diverge. Junction heads come from Newton on continuity (sum of flows = 0 at every junction) with
the exact Jacobian, a small dense matrix per connected component (a plant of parallel trains is
many small components). The previous step's heads and flows are the warm start, so a step
usually costs one or two iterations.
"""

from __future__ import annotations

import math

from runtime.sim.jit import inline_kernel
from runtime.sim.kernels_pump import pump_head_m
from runtime.sim.kernels_valve import valve_opening, valve_resistance_s2_m5

Q0_M3_S = 5.0e-3
"""Regularisation flow (18 m3/h): losses turn linear below it, so dF/dQ stays finite at Q = 0 and
the Newton steps do not cycle across a check valve's kink (costs 0.5 % of loss at 0.05 m3/s)."""

CHECK_K_S2_M5 = 1.0e9
"""Resistance of a closed check valve or a blocked (dry) outlet: leaks ~0.3 m3/h at 10 m."""

MAX_HEAD_STEP_M = 500.0
"""Largest head change one Newton step may make at a junction."""

MAX_NEWTON = 60


@inline_kernel
def branch_residual(q, dh, k, has_pump, s, h0, b, sign, block):
    """F(Q) and dF/dQ of one branch (see module doc)."""
    root = math.sqrt(q * q + Q0_M3_S * Q0_M3_S)
    f = dh - k * q * root
    df = -k * (root + q * q / root)
    if has_pump:
        qp = sign * q
        f += sign * pump_head_m(qp, s, h0, b)
        df -= 2.0 * b * abs(qp)
        if qp < 0.0:  # the pump's non-return valve
            f += sign * CHECK_K_S2_M5 * (-qp) * root
            df -= CHECK_K_S2_M5 * (root + q * q / root)
    if (block > 0 and q > 0.0) or (block < 0 and q < 0.0):
        f -= CHECK_K_S2_M5 * q * root
        df -= CHECK_K_S2_M5 * (root + q * q / root)
    return f, df


@inline_kernel
def branch_flow(q, dh, k, has_pump, s, h0, b, sign, block):
    """Flow through one branch for a head difference; returns (Q, dQ/d(dh))."""
    lo = -1.0e30
    hi = 1.0e30
    f, df = branch_residual(q, dh, k, has_pump, s, h0, b, sign, block)
    for _ in range(100):
        if f == 0.0:
            break
        if f > 0.0:
            lo = q
        else:
            hi = q
        qn = q - f / df
        if abs(qn - q) <= 1.0e-17 + 1.0e-14 * abs(q):
            q = qn
            f, df = branch_residual(q, dh, k, has_pump, s, h0, b, sign, block)
            break
        if qn <= lo or qn >= hi:
            if lo > -1.0e29 and hi < 1.0e29:
                qn = 0.5 * (lo + hi)
            elif qn <= lo:
                qn = lo + 2.0 * (q - lo) + 1.0e-3
            else:
                qn = hi - 2.0 * (hi - q) - 1.0e-3
        q = qn
        f, df = branch_residual(q, dh, k, has_pump, s, h0, b, sign, block)
        if hi - lo <= 1.0e-17 + 1.0e-14 * abs(q):
            break
    return q, -1.0 / df


@inline_kernel
def _branch_params(br, nm, ns, pm, ms):
    p = nm.branch_pump[br]
    if p >= 0:
        s = ms.speed_rpm[pm.motor[p]] / pm.rated_speed_rpm[p]
        return True, s, pm.shutoff_head_m[p], pm.curve_b_s2_m5[p], pm.branch_sign[p]
    return False, 0.0, 0.0, 0.0, 1.0


@inline_kernel
def _solve_dense(a, r, n):
    """Solve a x = r in place (x returned in r) by Gaussian elimination with partial pivoting."""
    for c in range(n):
        piv = c
        best = abs(a[c, c])
        for i in range(c + 1, n):
            if abs(a[i, c]) > best:
                best = abs(a[i, c])
                piv = i
        if best == 0.0:
            return False
        if piv != c:
            for j in range(n):
                tmp = a[c, j]
                a[c, j] = a[piv, j]
                a[piv, j] = tmp
            tmp = r[c]
            r[c] = r[piv]
            r[piv] = tmp
        for i in range(c + 1, n):
            fct = a[i, c] / a[c, c]
            if fct != 0.0:
                for j in range(c, n):
                    a[i, j] -= fct * a[c, j]
                r[i] -= fct * r[c]
    for c in range(n - 1, -1, -1):
        acc = r[c]
        for j in range(c + 1, n):
            acc -= a[c, j] * r[j]
        r[c] = acc / a[c, c]
    return True


@inline_kernel
def _evaluate(nm, ns, pm, ms, j0, nj, b0, b1):
    """Branch flows at the present heads; residual (inflow - outflow) per junction in ns.rhs and
    its Jacobian d(residual)/d(head) in ns.jac. Returns (sum of squares, max |residual|)."""
    for i in range(nj):
        ns.rhs[i] = 0.0
        for j in range(nj):
            ns.jac[i, j] = 0.0
    for ib in range(b0, b1):
        br = nm.comp_branches[ib]
        na = nm.branch_from[br]
        nb = nm.branch_to[br]
        has_pump, s, h0, b, sign = _branch_params(br, nm, ns, pm, ms)
        q, g = branch_flow(ns.branch_flow_m3_s[br], ns.node_head_m[na] - ns.node_head_m[nb],
                           ns.branch_k_s2_m5[br], has_pump, s, h0, b, sign, ns.branch_block[br])
        ns.branch_flow_m3_s[br] = q
        la = nm.node_local[na]
        lb = nm.node_local[nb]
        if la >= 0:
            ns.rhs[la] -= q
            ns.jac[la, la] -= g
        if lb >= 0:
            ns.rhs[lb] += q
            ns.jac[lb, lb] -= g
        if la >= 0 and lb >= 0:
            ns.jac[la, lb] += g
            ns.jac[lb, la] += g
    ss = 0.0
    worst = 0.0
    for i in range(nj):
        ss += ns.rhs[i] * ns.rhs[i]
        if abs(ns.rhs[i]) > worst:
            worst = abs(ns.rhs[i])
    return ss, worst


@inline_kernel
def network_solve(nm, ns, pm, ms, vm, vs, tol_m3_s: float) -> None:
    """Solve every component's junction heads and branch flows (see module doc).

    Newton steps are damped by backtracking on the squared continuity residual; the Newton
    direction always decreases it, so halving the step until it does cannot stall on the kinks
    of check valves or dry outlets the way a bare Newton iteration oscillates across them.
    """
    for br in range(nm.branch_from.shape[0]):
        k = nm.branch_pipe_k_s2_m5[br]
        v = nm.branch_valve[br]
        if v >= 0:
            opening = valve_opening(vs.position_pct[v], vm.characteristic[v], vm.rangeability[v])
            k += valve_resistance_s2_m5(vm.kv_m3_h[v], opening)
        ns.branch_k_s2_m5[br] = k
    worst_iter = 0
    for c in range(nm.comp_branch_start.shape[0] - 1):
        j0 = nm.comp_junction_start[c]
        nj = nm.comp_junction_start[c + 1] - j0
        b0 = nm.comp_branch_start[c]
        b1 = nm.comp_branch_start[c + 1]
        ss, worst = _evaluate(nm, ns, pm, ms, j0, nj, b0, b1)
        it = 0
        while worst > tol_m3_s and nj > 0:
            if it == MAX_NEWTON:
                if worst > 1.0e-7:
                    ns.stats[1] += 1
                break
            it += 1
            for i in range(nj):
                ns.rhs[i] = -ns.rhs[i]
            if not _solve_dense(ns.jac, ns.rhs, nj):
                ns.stats[1] += 1
                break
            big = 0.0
            for i in range(nj):
                ns.work[i, 0] = ns.node_head_m[nm.comp_junctions[j0 + i]]
                ns.work[i, 1] = ns.rhs[i]
                if abs(ns.rhs[i]) > big:
                    big = abs(ns.rhs[i])
            alpha = 1.0
            if big > MAX_HEAD_STEP_M:
                alpha = MAX_HEAD_STEP_M / big
            for _ in range(40):
                for i in range(nj):
                    node = nm.comp_junctions[j0 + i]
                    ns.node_head_m[node] = ns.work[i, 0] + alpha * ns.work[i, 1]
                ss_new, worst = _evaluate(nm, ns, pm, ms, j0, nj, b0, b1)
                if ss_new <= ss * (1.0 - 1.0e-4 * alpha):
                    break
                alpha *= 0.5
            if ss_new >= ss:
                # No decrease along the Newton direction: rounding floor reached.
                if worst > 1.0e-7:
                    ns.stats[1] += 1
                break
            ss = ss_new
        if it > worst_iter:
            worst_iter = it
    ns.stats[0] = worst_iter
