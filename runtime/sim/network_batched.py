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
from runtime.sim.jit import inline_kernel, kernel

# Rows of ns.batch_work (per branch slot).
_Q0 = 0  # flow at the start of the step (put back if the component falls back)
_HA = 1  # head at the from end when it is a tank (fixed during the solve)
_HB = 2  # head at the to end when it is a tank
_S = 3  # pump speed ratio (pump slots only)
_G = 4  # -1 / (dF/dQ)
_F = 5  # F(Q)
_E = 6  # 0.5 g |F''|: predicted error factor
N_BRANCH_ROWS = 7

# Rows of nm.batch_pump (per branch slot; zeros where the slot has no pump).
PUMP_H0 = 0  # shut-off head
PUMP_B = 1  # curve coefficient
PUMP_SIGN = 2  # direction in the branch
PUMP_INV_RATED_RPM = 3  # 1 / rated speed
N_PUMP_ROWS = 4

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

# Rows of ns.batch_jwork (per junction slot).
_JH0 = 0  # head at the start of the step (put back if the component falls back)
N_JUNCTION_ROWS = 1


@inline_kernel
def _position(nm, grp, p, s0, n_c):
    """Branch position ``p`` of group ``grp``: weights of its from and to ends (1 a junction,
    0 a tank), their local junctions (0 for a tank), 1.0 if it has a pump, its first slot."""
    la = nm.batch_local[grp, p, 0]
    lb = nm.batch_local[grp, p, 1]
    wa = 1.0 if la >= 0 else 0.0
    wb = 1.0 if lb >= 0 else 0.0
    pump = 1.0 if nm.batch_local[grp, p, 2] != 0 else 0.0
    return wa, wb, max(la, 0), max(lb, 0), pump, s0 + p * n_c


@inline_kernel
def _evaluate(qv, hav, hbv, kv, blkv, has_pump, sv, h0v, bv, signv, gv, fv, ev):
    """One branch position's equation over its components: -1 / F' into ``gv``, F into
    ``fv``, the error factor 0.5 |F''| / |F'| into ``ev``."""
    for c in range(qv.shape[0]):
        f, df, curv = branch_eval(qv[c], hav[c] - hbv[c], kv[c], has_pump, sv[c], h0v[c], bv[c],
                                  signv[c], blkv[c])
        g = -1.0 / df
        gv[c] = g
        fv[c] = f
        ev[c] = 0.5 * g * curv


@kernel
def fast_batched(nm, ns, pm, ms, tol_m3_s: float, max_iter: int) -> tuple[int, int]:
    """Fast-path Newton on every batched component; ``ns.comp_fast_it`` gets each one's
    iterations, or -1 when it needs the bracketed solve (its state then as it was). Returns
    (most iterations any took, how many need the bracketed solve: ``ns.batch_failed[:n]``).

    The compiled model numbers batched branches and junctions by slot (``batch_branches`` and
    ``batch_junctions`` are the identity), so flows, heads, resistances and blocks are read and
    updated in place as contiguous slices of the network state; ``batch_work`` and
    ``batch_jwork`` keep the step's starting values to put back for a component that fails."""
    worst_it = 0
    n_failed = 0
    bw = ns.batch_work
    cw = ns.batch_cwork
    jw = ns.batch_jwork
    qall = ns.branch_flow_m3_s
    hall = ns.node_head_m
    for grp in range(nm.batch_start.shape[0] - 1):
        c0 = nm.batch_start[grp]
        n_c = nm.batch_start[grp + 1] - c0
        nb = nm.batch_nb[grp]
        nj = nm.batch_nj[grp]
        s0 = nm.batch_branch_start[grp]
        t0 = nm.batch_junction_start[grp]
        # The step's starting values (to put back on a fall back); tank-end heads; pump speeds.
        q0v = bw[_Q0, s0:s0 + nb * n_c]
        qsv = qall[s0:s0 + nb * n_c]
        for i in range(nb * n_c):
            q0v[i] = qsv[i]
        h0sv = jw[_JH0, t0:t0 + nj * n_c]
        hsv = hall[t0:t0 + nj * n_c]
        for i in range(nj * n_c):
            h0sv[i] = hsv[i]
        for p in range(nb):
            wa, wb, ia, ib, pump, s1 = _position(nm, grp, p, s0, n_c)
            for end in range(2):
                if (wa if end == 0 else wb) != 0.0:
                    continue  # a junction's head is solved for
                nodes = nm.branch_from[s1:s1 + n_c] if end == 0 else nm.branch_to[s1:s1 + n_c]
                inlets = (nm.branch_from_inlet_m[s1:s1 + n_c] if end == 0
                          else nm.branch_to_inlet_m[s1:s1 + n_c])
                tv = bw[_HA + end, s1:s1 + n_c]
                for c in range(n_c):
                    tv[c] = max(hall[nodes[c]], inlets[c])
            if pump != 0.0:
                sv = bw[_S, s1:s1 + n_c]
                motv = nm.batch_pump_motor[s1:s1 + n_c]
                invv = nm.batch_pump[PUMP_INV_RATED_RPM, s1:s1 + n_c]
                for c in range(n_c):
                    sv[c] = ms.speed_rpm[motv[c]] * invv[c]
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
                wa, wb, ia, ib, pump, s1 = _position(nm, grp, p, s0, n_c)
                has_pump = pump != 0.0
                qv = qall[s1:s1 + n_c]
                hav = hall[t0 + ia * n_c:t0 + (ia + 1) * n_c] if wa != 0.0 else bw[
                    _HA, s1:s1 + n_c]
                hbv = hall[t0 + ib * n_c:t0 + (ib + 1) * n_c] if wb != 0.0 else bw[
                    _HB, s1:s1 + n_c]
                kv = ns.branch_k_s2_m5[s1:s1 + n_c]
                blkv = ns.branch_block[s1:s1 + n_c]
                sv = bw[_S, s1:s1 + n_c]
                h0v = nm.batch_pump[PUMP_H0, s1:s1 + n_c]
                bv = nm.batch_pump[PUMP_B, s1:s1 + n_c]
                signv = nm.batch_pump[PUMP_SIGN, s1:s1 + n_c]
                gv = bw[_G, s1:s1 + n_c]
                fv = bw[_F, s1:s1 + n_c]
                ev = bw[_E, s1:s1 + n_c]
                # A constant has_pump in each call, so a pipe position's loop has no pump terms.
                if has_pump:
                    _evaluate(qv, hav, hbv, kv, blkv, True, sv, h0v, bv, signv, gv, fv, ev)
                else:
                    _evaluate(qv, hav, hbv, kv, blkv, False, sv, h0v, bv, signv, gv, fv, ev)
                wab = wa * wb
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
            if nj == 2:
                hj0 = hall[t0:t0 + n_c]
                hj1 = hall[t0 + n_c:t0 + 2 * n_c]
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
                    hj0[c] = hj0[c] + x0 if live else hj0[c]
                    hj1[c] = hj1[c] + x1 if live else hj1[c]
            elif nj == 1:
                hj0 = hall[t0:t0 + n_c]
                for c in range(n_c):
                    a00 = a00v[c]
                    live = activev[c] != 0.0 and a00 > 0.0
                    livev[c] = 1.0 if live else 0.0
                    x0 = r0v[c] / a00
                    r0v[c] = x0
                    hj0[c] = hj0[c] + x0 if live else hj0[c]
            else:
                for c in range(n_c):
                    livev[c] = activev[c]
            # Each branch's flow along its linearisation; the predicted remaining error.
            crossv = cw[_CROSSED, c0:c0 + n_c]
            worstv = cw[_WORST, c0:c0 + n_c]
            for p in range(nb):
                wa, wb, ia, ib, pump, s1 = _position(nm, grp, p, s0, n_c)
                qv = qall[s1:s1 + n_c]
                gv = bw[_G, s1:s1 + n_c]
                fv = bw[_F, s1:s1 + n_c]
                ev = bw[_E, s1:s1 + n_c]
                blkv = ns.branch_block[s1:s1 + n_c]
                xa = cw[_R0 + ia, c0:c0 + n_c]
                xb = cw[_R0 + ib, c0:c0 + n_c]
                for c in range(n_c):
                    ddh = wa * xa[c] - wb * xb[c]
                    q = qv[c]
                    dq = gv[c] * (fv[c] + ddh)
                    qn = q + dq
                    kink = pump != 0.0 or blkv[c] != 0
                    crossed = kink and (q > 0.0) != (qn > 0.0)
                    crossv[c] = 1.0 if crossed else crossv[c]
                    qv[c] = qn if livev[c] != 0.0 else q
                    worstv[c] = max(worstv[c], dq * dq * ev[c])
            # Converged components freeze with their iteration count; failed ones with -1.
            itv = cw[_IT, c0:c0 + n_c]
            n_act = 0
            for c in range(n_c):
                worst = worstv[c]
                active = activev[c] != 0.0
                # not (worst finite): a non-finite number or an unsolvable system fails it
                failed = livev[c] == 0.0 or not abs(worst) < math.inf
                done = not failed and worst <= tol_m3_s and crossv[c] == 0.0
                itv[c] = float(it) if active and done else itv[c]
                going = active and not failed and not done
                activev[c] = 1.0 if going else 0.0
                n_act += 1 if going else 0
        # Put back the components that need the bracketed solve; report each one's iterations.
        for c in range(n_c):
            it = int(cw[_IT, c0 + c])
            ns.comp_fast_it[nm.batch_comps[c0 + c]] = it
            worst_it = max(worst_it, it)
            if it < 0:
                ns.batch_failed[n_failed] = nm.batch_comps[c0 + c]
                n_failed += 1
                for p in range(nb):
                    qall[s0 + p * n_c + c] = bw[_Q0, s0 + p * n_c + c]
                for i in range(nj):
                    hall[t0 + i * n_c + c] = jw[_JH0, t0 + i * n_c + c]
    return worst_it, n_failed
