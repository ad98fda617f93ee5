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

Fast path (every step after the first): the previous step's flows and heads are close to this
step's solution, so each component takes Newton steps on flows and heads together (the global
gradient method of Todini and Pilati): every branch's F and dF/dQ are evaluated once at the
present flow, the junction head changes come from the small symmetric system
``(A G A^T) dH = r + A G F`` (G = -1/(dF/dQ), r the continuity residual), and each flow moves
along its linearisation, ``dQ = G (F + d(dh))``. After that update continuity holds to rounding
(the system is exactly the continuity of the linearised flows), whatever the remaining error in
the branch equations, so mass balance does not depend on how far Newton got. The iteration stops
when the flow error that Newton's quadratic convergence predicts after the last step,
``|F''| dQ^2 / (2 |F'|)`` per branch, is below ``FAST_TOL_M3_S`` (1e-6 m3/s); that remainder
is where the next step starts from (it is not lost, and never accumulates). A Newton step in
which a pump's or blocked branch's flow changes sign (a check valve's or dry outlet's kink) is
never the last one. A component that does not meet the tolerance in ``MAX_FAST`` iterations,
whose system is singular, or that produces a non-finite number, is put back as it was and
solved by the bracketed method above instead (counted in ``stats[2]``).
"""

from __future__ import annotations

import math

from runtime.sim.branch_eq import CHECK_K_S2_M5, Q0_M3_S, branch_eval  # noqa: F401 (names)
from runtime.sim.jit import inline_kernel, kernel
from runtime.sim.network_batched import fast_batched

MAX_HEAD_STEP_M = 500.0
"""Largest head change one Newton step may make at a junction."""

MAX_NEWTON = 60

FAST_TOL_M3_S = 1.0e-6
"""Fast path: stop once the flow error Newton's quadratic convergence predicts after the last
step, |F''| dQ^2 / (2 |F'|) per branch, is below this (3.6 L/h, 2e-5 of a 170 m3/h flow). The
pump station's noisy level loop moves its valve every step and its flow by ~1e-4 m3/s, which
leaves ~2e-7 m3/s after one step: one Newton step a plant step, and the remainder is where the
next step starts (continuity, so mass, is exact either way)."""

MAX_FAST = 8
"""Fast path: Newton steps tried before the component falls back to the bracketed solve."""


@inline_kernel
def _dh(nm, ns, br, na, nb):
    """Head difference driving branch ``br`` from node ``na`` to ``nb``. A tank end with a
    roof inlet counts at least the inlet's height: water must be lifted there to fall in (the
    flow out of a tank through it is blocked in ``tank_heads`` until the tank reaches it)."""
    return (max(ns.node_head_m[na], nm.branch_from_inlet_m[br])
            - max(ns.node_head_m[nb], nm.branch_to_inlet_m[br]))


@inline_kernel
def branch_residual(q, dh, k, has_pump, s, h0, b, sign, block):
    """F(Q) and dF/dQ of one branch (see module doc)."""
    f, df, _ = branch_eval(q, dh, k, has_pump, s, h0, b, sign, block)
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
        s = ms.speed_rpm[pm.motor[p]] * pm.inv_rated_speed_rpm[p]
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
        q, g = branch_flow(ns.branch_flow_m3_s[br], _dh(nm, ns, br, na, nb),
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
def _solve_small(a, r, n):
    """``a x = r`` in place for the symmetric positive systems of the fast path: closed form up
    to two junctions (the common case), elimination beyond."""
    if n == 1:
        if not a[0, 0] > 0.0:
            return False
        r[0] = r[0] / a[0, 0]
        return True
    if n == 2:
        det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
        if not det > 0.0:
            return False
        x0 = (r[0] * a[1, 1] - a[0, 1] * r[1]) / det
        r[1] = (a[0, 0] * r[1] - a[1, 0] * r[0]) / det
        r[0] = x0
        return True
    return _solve_dense(a, r, n)


@inline_kernel
def _fast_component(nm, ns, pm, ms, j0, nj, b0, b1, tol_m3_s):
    """Newton steps on one component's flows and heads from the previous solution (see module
    doc). Returns the iterations taken, or -1 (state put back as it was) when the bracketed
    solve must take over."""
    for ib in range(b0, b1):
        br = nm.comp_branches[ib]
        ns.branch_work[br, 3] = ns.branch_flow_m3_s[br]
    for i in range(nj):
        ns.work[i, 0] = ns.node_head_m[nm.comp_junctions[j0 + i]]
    for it in range(1, MAX_FAST + 1):
        for i in range(nj):
            ns.rhs[i] = 0.0
            for j in range(nj):
                ns.jac[i, j] = 0.0
        for ib in range(b0, b1):
            br = nm.comp_branches[ib]
            na = nm.branch_from[br]
            nb = nm.branch_to[br]
            has_pump, s, h0, b, sign = _branch_params(br, nm, ns, pm, ms)
            q = ns.branch_flow_m3_s[br]
            f, df, curv = branch_eval(q, _dh(nm, ns, br, na, nb), ns.branch_k_s2_m5[br],
                                      has_pump, s, h0, b, sign, ns.branch_block[br])
            g = -1.0 / df
            ns.branch_work[br, 0] = g
            ns.branch_work[br, 1] = f
            ns.branch_work[br, 2] = 0.5 * g * curv
            la = nm.node_local[na]
            lb = nm.node_local[nb]
            if la >= 0:
                ns.rhs[la] -= q + g * f
                ns.jac[la, la] += g
            if lb >= 0:
                ns.rhs[lb] += q + g * f
                ns.jac[lb, lb] += g
            if la >= 0 and lb >= 0:
                ns.jac[la, lb] -= g
                ns.jac[lb, la] -= g
        if nj > 0 and not _solve_small(ns.jac, ns.rhs, nj):
            break
        for i in range(nj):
            ns.node_head_m[nm.comp_junctions[j0 + i]] += ns.rhs[i]
        worst = 0.0
        crossed = False
        for ib in range(b0, b1):
            br = nm.comp_branches[ib]
            la = nm.node_local[nm.branch_from[br]]
            lb = nm.node_local[nm.branch_to[br]]
            ddh = 0.0
            if la >= 0:
                ddh += ns.rhs[la]
            if lb >= 0:
                ddh -= ns.rhs[lb]
            q = ns.branch_flow_m3_s[br]
            dq = ns.branch_work[br, 0] * (ns.branch_work[br, 1] + ddh)
            qn = q + dq
            if (nm.branch_pump[br] >= 0 or ns.branch_block[br] != 0) and (q > 0.0) != (qn > 0.0):
                crossed = True
            ns.branch_flow_m3_s[br] = qn
            worst = max(worst, dq * dq * ns.branch_work[br, 2])
        if not math.isfinite(worst):
            break
        if worst <= tol_m3_s and not crossed:
            return it
    for ib in range(b0, b1):
        br = nm.comp_branches[ib]
        ns.branch_flow_m3_s[br] = ns.branch_work[br, 3]
    for i in range(nj):
        ns.node_head_m[nm.comp_junctions[j0 + i]] = ns.work[i, 0]
    return -1


@kernel
def bracketed_component(nm, ns, pm, ms, j0: int, nj: int, b0: int, b1: int,
                        tol_m3_s: float) -> int:
    """The bracketed solve of one component (see ``network_solve``); Newton iterations taken.

    A compiled function of its own rather than inlined: it runs only on the first step and
    when the fast path gives up, and one shared copy keeps the plant step's compile shorter.
    """
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
    return it


@inline_kernel
def _bracketed(nm, ns, pm, ms, c, tol_m3_s):
    """``bracketed_component`` for component ``c``."""
    j0 = nm.comp_junction_start[c]
    return bracketed_component(nm, ns, pm, ms, j0, nm.comp_junction_start[c + 1] - j0,
                               nm.comp_branch_start[c], nm.comp_branch_start[c + 1], tol_m3_s)


@inline_kernel
def network_solve(nm, ns, pm, ms, vm, vs, tol_m3_s: float, warm: bool) -> None:
    """Solve every component's junction heads and branch flows (see module doc).

    With ``warm`` each component first tries the fast path from the previous solution. The
    bracketed solve's Newton steps are damped by backtracking on the squared continuity
    residual; the Newton direction always decreases it, so halving the step until it does
    cannot stall on the kinks of check valves or dry outlets the way a bare Newton iteration
    oscillates across them. Valve resistances come from ``vs.k_s2_m5`` (the valve kernel).
    """
    if warm:
        # Only a valve's resistance changes from step to step; the rest is the pipes' sum, as
        # the cold start (and the compiled model's initial state) left it.
        for v in range(vm.branch.shape[0]):
            br = vm.branch[v]
            if br >= 0:
                ns.branch_k_s2_m5[br] = nm.branch_pipe_k_s2_m5[br] + vs.k_s2_m5[v]
    else:
        for br in range(nm.branch_from.shape[0]):
            k = nm.branch_pipe_k_s2_m5[br]
            v = nm.branch_valve[br]
            if v >= 0:
                k += vs.k_s2_m5[v]
            ns.branch_k_s2_m5[br] = k
    worst_iter = 0
    fell_back = False
    if not warm:
        for c in range(nm.comp_branch_start.shape[0] - 1):
            worst_iter = max(worst_iter, _bracketed(nm, ns, pm, ms, c, tol_m3_s))
    else:
        n_failed = 0
        if nm.batch_start.shape[0] > 1:
            worst_iter, n_failed = fast_batched(nm, ns, pm, ms, FAST_TOL_M3_S, MAX_FAST)
        for k in range(n_failed):
            fell_back = True
            worst_iter = max(worst_iter, _bracketed(nm, ns, pm, ms, ns.batch_failed[k], tol_m3_s))
        for k in range(nm.comp_unbatched.shape[0]):
            c = nm.comp_unbatched[k]
            j0 = nm.comp_junction_start[c]
            it = _fast_component(nm, ns, pm, ms, j0, nm.comp_junction_start[c + 1] - j0,
                                 nm.comp_branch_start[c], nm.comp_branch_start[c + 1],
                                 FAST_TOL_M3_S)
            if it < 0:
                fell_back = True
                it = _bracketed(nm, ns, pm, ms, c, tol_m3_s)
            worst_iter = max(worst_iter, it)
    ns.stats[0] = worst_iter
    if fell_back:
        ns.stats[2] += 1
