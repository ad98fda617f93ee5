"""The network solve's fast path for many components of one shape at once.

A plant of parallel trains is many identical small components (the generated plant: two
junctions and three branches per train). Solving them one at a time costs a call's worth of
index chasing per branch and keeps the loops too short to vectorise. Here the compiled model
groups components by shape (``batch_*`` in :class:`runtime.sim.tables.NetworkModel`: junction
count <= 2, the same branch count, and per branch position the same local junction at each end
and pump or no pump), and one Newton loop runs over the component axis of each group with its
data in structure-of-arrays scratch (slot = position * components + component).

Arithmetic and stopping are those of ``network._fast_component`` per component (the same
:func:`runtime.sim.branch_eq.branch_eval`, the same accumulation order into the junction
equations, the same closed-form 2x2 solve, the same stop test), and each component stops at
its own iteration: a component that has converged is frozen (its values are selected, not
updated) while the others go on. Every loop runs over a whole group's components with no
per-component branches, so the compiler vectorises them (a tank end's head is selected by a
0/1 weight, exact for finite heads). Nothing is written to the network state until a
component has converged, so one that must fall back to the bracketed solve (singular system,
non-finite number, ``max_iter`` reached) finds its state as it was; ``ns.comp_fast_it[c]``
tells ``network_solve`` which (iterations, or -1).
"""

from __future__ import annotations

import math

from runtime.sim.branch_eq import branch_eval
from runtime.sim.jit import kernel

# Rows of ns.batch_work (per branch slot).
_Q = 0  # flow now
_HA = 1  # head at the from end when it is a tank (fixed during the solve)
_HB = 2  # head at the to end when it is a tank
_K = 3  # pipes + valve resistance
_S = 4  # pump speed ratio (pump slots only)
_H0 = 5  # pump shut-off head
_B = 6  # pump curve coefficient
_SIGN = 7  # pump direction in the branch
_BLK = 8  # blocked (dry outlet) +1 / -1 / 0
_G = 9  # -1 / (dF/dQ)
_F = 10  # F(Q)
_E = 11  # 0.5 g |F''|: predicted error factor
N_BRANCH_ROWS = 12

# Rows of ns.batch_cwork (per batched component).
_A00 = 0
_A11 = 1
_A01 = 2
_R0 = 3  # rows 3 and 4: right-hand side, then the head step, of local junctions 0 and 1
_WORST = 5
_CROSSED = 6
_LIVE = 7  # 1: still iterating and its system solved this iteration
_ACTIVE = 8  # 1: still iterating
_IT = 9  # iterations it converged in, -1 not (yet)
N_COMP_ROWS = 10

# Rows of ns.batch_jwork (per junction slot; padded by the largest group, see build).
_JH = 0  # head now
N_JUNCTION_ROWS = 1


@kernel
def fast_batched(nm, ns, pm, ms, tol_m3_s: float, max_iter: int) -> tuple[int, int]:
    """Fast-path Newton on every batched component; ``ns.comp_fast_it`` gets each one's
    iterations, or -1 when it needs the bracketed solve (its state then untouched). Returns
    (most iterations any took, how many need the bracketed solve: ``ns.batch_failed[:n]``)."""
    worst_it = 0
    n_failed = 0
    bw = ns.batch_work
    cw = ns.batch_cwork
    jw = ns.batch_jwork
    for grp in range(nm.batch_start.shape[0] - 1):
        c0 = nm.batch_start[grp]
        n_c = nm.batch_start[grp + 1] - c0
        nb = nm.batch_nb[grp]
        nj = nm.batch_nj[grp]
        s0 = nm.batch_branch_start[grp]
        t0 = nm.batch_junction_start[grp]
        # Gather this step's inputs into the group's slots.
        for p in range(nb):
            for c in range(n_c):
                sl = s0 + p * n_c + c
                br = nm.batch_branches[sl]
                bw[_Q, sl] = ns.branch_flow_m3_s[br]
                bw[_K, sl] = ns.branch_k_s2_m5[br]
                bw[_BLK, sl] = float(ns.branch_block[br])
            if nm.batch_local[grp, p, 0] < 0:  # a tank's head (a junction's is solved for)
                for c in range(n_c):
                    sl = s0 + p * n_c + c
                    br = nm.batch_branches[sl]
                    bw[_HA, sl] = max(ns.node_head_m[nm.branch_from[br]],
                                      nm.branch_from_inlet_m[br])
            if nm.batch_local[grp, p, 1] < 0:
                for c in range(n_c):
                    sl = s0 + p * n_c + c
                    br = nm.batch_branches[sl]
                    bw[_HB, sl] = max(ns.node_head_m[nm.branch_to[br]], nm.branch_to_inlet_m[br])
            if nm.batch_local[grp, p, 2] != 0:
                for c in range(n_c):
                    sl = s0 + p * n_c + c
                    pump = nm.branch_pump[nm.batch_branches[sl]]
                    bw[_S, sl] = ms.speed_rpm[pm.motor[pump]] / pm.rated_speed_rpm[pump]
                    bw[_H0, sl] = pm.shutoff_head_m[pump]
                    bw[_B, sl] = pm.curve_b_s2_m5[pump]
                    bw[_SIGN, sl] = pm.branch_sign[pump]
        for i in range(nj):
            for c in range(n_c):
                jw[_JH, t0 + i * n_c + c] = ns.node_head_m[nm.batch_junctions[t0 + i * n_c + c]]
        for c in range(c0, c0 + n_c):
            cw[_ACTIVE, c] = 1.0
            cw[_IT, c] = -1.0
        n_act = n_c
        for it in range(1, max_iter + 1):
            if n_act == 0:
                break
            for row in range(_CROSSED + 1):
                zv = cw[row, c0:c0 + n_c]
                for c in range(n_c):
                    zv[c] = 0.0
            # Each branch position: its equation, and its share of the junction equations
            # (a tank end adds 0 x its value: exact).
            for p in range(nb):
                la = nm.batch_local[grp, p, 0]
                lb = nm.batch_local[grp, p, 1]
                has_pump = nm.batch_local[grp, p, 2] != 0
                wa = 1.0 if la >= 0 else 0.0
                wb = 1.0 if lb >= 0 else 0.0
                wab = wa * wb
                ia = max(la, 0)
                ib = max(lb, 0)
                s1 = s0 + p * n_c
                qv = bw[_Q, s1:s1 + n_c]
                hav = bw[_HA, s1:s1 + n_c]
                hbv = bw[_HB, s1:s1 + n_c]
                kv = bw[_K, s1:s1 + n_c]
                sv = bw[_S, s1:s1 + n_c]
                h0v = bw[_H0, s1:s1 + n_c]
                bv = bw[_B, s1:s1 + n_c]
                signv = bw[_SIGN, s1:s1 + n_c]
                blkv = bw[_BLK, s1:s1 + n_c]
                gv = bw[_G, s1:s1 + n_c]
                fv = bw[_F, s1:s1 + n_c]
                ev = bw[_E, s1:s1 + n_c]
                jav = jw[_JH, t0 + ia * n_c:t0 + (ia + 1) * n_c]
                jbv = jw[_JH, t0 + ib * n_c:t0 + (ib + 1) * n_c]
                for c in range(n_c):
                    q = qv[c]
                    ha = wa * jav[c] + (1.0 - wa) * hav[c]
                    hb = wb * jbv[c] + (1.0 - wb) * hbv[c]
                    f, df, curv = branch_eval(q, ha - hb, kv[c], has_pump, sv[c], h0v[c], bv[c],
                                              signv[c], blkv[c])
                    g = -1.0 / df
                    gv[c] = g
                    fv[c] = f
                    ev[c] = 0.5 * g * curv
                raa = cw[_R0 + ia, c0:c0 + n_c]
                aaa = cw[ia, c0:c0 + n_c]
                rbb = cw[_R0 + ib, c0:c0 + n_c]
                abb = cw[ib, c0:c0 + n_c]
                a01 = cw[_A01, c0:c0 + n_c]
                for c in range(n_c):
                    g = gv[c]
                    v = qv[c] + g * fv[c]
                    raa[c] -= wa * v
                    aaa[c] += wa * g
                    rbb[c] += wb * v
                    abb[c] += wb * g
                    a01[c] -= wab * g
            # The junction head steps (closed form, as network._solve_small).
            a00v = cw[_A00, c0:c0 + n_c]
            a11v = cw[_A11, c0:c0 + n_c]
            a01v = cw[_A01, c0:c0 + n_c]
            r0v = cw[_R0, c0:c0 + n_c]
            r1v = cw[_R0 + 1, c0:c0 + n_c]
            activev = cw[_ACTIVE, c0:c0 + n_c]
            livev = cw[_LIVE, c0:c0 + n_c]
            h0v = jw[_JH, t0:t0 + n_c]
            h1v = jw[_JH, t0 + n_c:t0 + 2 * n_c]
            if nj == 2:
                for c in range(n_c):
                    a00 = a00v[c]
                    a11 = a11v[c]
                    a01 = a01v[c]
                    r0 = r0v[c]
                    r1 = r1v[c]
                    det = a00 * a11 - a01 * a01
                    live = activev[c] != 0.0 and det > 0.0
                    livev[c] = 1.0 if live else 0.0
                    x0 = (r0 * a11 - a01 * r1) / det
                    x1 = (a00 * r1 - a01 * r0) / det
                    r0v[c] = x0
                    r1v[c] = x1
                    h0v[c] = h0v[c] + x0 if live else h0v[c]
                    h1v[c] = h1v[c] + x1 if live else h1v[c]
            elif nj == 1:
                for c in range(n_c):
                    a00 = a00v[c]
                    live = activev[c] != 0.0 and a00 > 0.0
                    livev[c] = 1.0 if live else 0.0
                    x0 = r0v[c] / a00
                    r0v[c] = x0
                    h0v[c] = h0v[c] + x0 if live else h0v[c]
            else:
                for c in range(c0, c0 + n_c):
                    cw[_LIVE, c] = cw[_ACTIVE, c]
            # Each branch's flow along its linearisation; the predicted remaining error.
            for p in range(nb):
                la = nm.batch_local[grp, p, 0]
                lb = nm.batch_local[grp, p, 1]
                kinked = 1.0 if nm.batch_local[grp, p, 2] != 0 else 0.0
                wa = 1.0 if la >= 0 else 0.0
                wb = 1.0 if lb >= 0 else 0.0
                ia = max(la, 0)
                ib = max(lb, 0)
                s1 = s0 + p * n_c
                qv = bw[_Q, s1:s1 + n_c]
                gv = bw[_G, s1:s1 + n_c]
                fv = bw[_F, s1:s1 + n_c]
                ev = bw[_E, s1:s1 + n_c]
                blkv = bw[_BLK, s1:s1 + n_c]
                xa = cw[_R0 + ia, c0:c0 + n_c]
                xb = cw[_R0 + ib, c0:c0 + n_c]
                livev = cw[_LIVE, c0:c0 + n_c]
                crossv = cw[_CROSSED, c0:c0 + n_c]
                worstv = cw[_WORST, c0:c0 + n_c]
                for c in range(n_c):
                    ddh = wa * xa[c] - wb * xb[c]
                    q = qv[c]
                    dq = gv[c] * (fv[c] + ddh)
                    qn = q + dq
                    kink = kinked != 0.0 or blkv[c] != 0.0
                    crossed = kink and (q > 0.0) != (qn > 0.0)
                    crossv[c] = 1.0 if crossed else crossv[c]
                    qv[c] = qn if livev[c] != 0.0 else q
                    worstv[c] = max(worstv[c], dq * dq * ev[c])
            # Converged components freeze with their iteration count; failed ones with -1.
            n_act = 0
            for c in range(c0, c0 + n_c):
                if cw[_ACTIVE, c] == 0.0:
                    continue
                worst = cw[_WORST, c]
                if cw[_LIVE, c] == 0.0 or not math.isfinite(worst):
                    cw[_ACTIVE, c] = 0.0
                elif worst <= tol_m3_s and cw[_CROSSED, c] == 0.0:
                    cw[_ACTIVE, c] = 0.0
                    cw[_IT, c] = it
                else:
                    n_act += 1
        # Write back the components that converged.
        for c in range(c0, c0 + n_c):
            it = int(cw[_IT, c])
            ns.comp_fast_it[nm.batch_comps[c]] = it
            if it < 0:
                ns.batch_failed[n_failed] = nm.batch_comps[c]
                n_failed += 1
            worst_it = max(worst_it, it)
        for p in range(nb):
            for c in range(n_c):
                if cw[_IT, c0 + c] >= 0.0:
                    sl = s0 + p * n_c + c
                    ns.branch_flow_m3_s[nm.batch_branches[sl]] = bw[_Q, sl]
        for i in range(nj):
            for c in range(n_c):
                if cw[_IT, c0 + c] >= 0.0:
                    ns.node_head_m[nm.batch_junctions[t0 + i * n_c + c]] = jw[
                        _JH, t0 + i * n_c + c]
    return worst_it, n_failed
