"""The batched network fast path (runtime.sim.network_batched) against the one-component-at-a-
time path it replaces, and the rewritten per-entity formulas against their textbook forms.

The batched path evaluates the same branch equation in the same order per component, so on a
generated plant of parallel trains it must track the per-component path to rounding: flows to
1e-12 m3/s (the fast path stops at 1e-6), heads to 1e-9 m, tank volumes to 1e-9 relative,
over 30 simulated seconds that include a pump trip, a valve driven shut, and two trains knocked
far off their solution (they take several Newton steps while the others, frozen, take one).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from runtime.sim.branch_eq import CHECK_K_S2_M5, Q0_M3_S, branch_eval
from runtime.sim.generate import TRAIN_ENTITIES, generated_scene
from runtime.sim.kernels_pump import pump_shaft_power_w
from runtime.sim.plant_model import PlantModel

TRAINS = 24


def _per_component(model: PlantModel) -> PlantModel:
    """The same model with no batch groups: every component takes network._fast_component."""
    net = model.model.net
    model.model = model.model._replace(net=net._replace(
        comp_batched=np.zeros_like(net.comp_batched), batch_start=np.zeros(1, np.int64)))
    return model


def _run(model: PlantModel) -> tuple[list[tuple[np.ndarray, ...]], int]:
    """States every 5 s over 30 s; the most fast-path iterations any step needed."""
    seen = []
    most_iterations = 0
    for k in range(6):
        if k == 2:
            model.trip_pump("P-00003")
            model.write_point("FV-00005/position_sp_pct", 0.0)
            # Knock two trains' solutions far off: they need several Newton steps while
            # the other trains converge in one.
            net, ns = model.model.net, model.state.net
            for c in (4, 9):
                ns.branch_flow_m3_s[net.comp_branches[net.comp_branch_start[c]:
                                                      net.comp_branch_start[c + 1]]] *= 0.3
                ns.node_head_m[net.comp_junctions[net.comp_junction_start[c]:
                                                  net.comp_junction_start[c + 1]]] += 4.0
            for _ in range(300):  # step by step through the transient
                model.step(1)
                most_iterations = max(most_iterations, int(model.state.net.stats[0]))
            model.step(200)
        else:
            model.step(500)
        s = model.state
        seen.append((s.net.branch_flow_m3_s.copy(), s.net.node_head_m.copy(),
                     s.tank.volume_m3.copy(), s.net.stats.copy()))
    return seen, most_iterations


def test_batched_fast_path_tracks_the_per_component_path() -> None:
    scene = generated_scene(TRAIN_ENTITIES * TRAINS)
    batched = PlantModel(scene, seed=3)
    net = batched.model.net
    assert net.comp_batched.all() and len(net.batch_start) == 2  # one group: every train
    reference = _per_component(PlantModel(scene, seed=3))
    got, most = _run(batched)
    want, most_ref = _run(reference)
    for (q, h, v, st), (q_ref, h_ref, v_ref, st_ref) in zip(got, want, strict=True):
        np.testing.assert_allclose(q, q_ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(h, h_ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(v, v_ref, rtol=1e-9, atol=0)
        assert st[1] == st_ref[1] == 0  # no solve failed
        assert st[2] == st_ref[2]  # as many steps needed the bracketed fallback
    # the transient made some component iterate while the others stayed frozen
    assert most == most_ref and most >= 2
    assert (batched.state.net.comp_fast_it >= 1).all()
    # the tripped pump is coasting down; its neighbour's train runs on
    assert batched.read_point("P-00003/flow_m3_h") < 0.2 * batched.read_point("P-00004/flow_m3_h")


def _textbook(q: float, dh: float, k: float, has_pump: bool, s: float, h0: float, b: float,
              sign: float, block: int) -> tuple[float, float, float]:
    """F, dF/dQ, |F''| of a branch written out term by term (the pre-batching form)."""
    root = math.sqrt(q * q + Q0_M3_S**2)
    f = dh - k * q * root
    df = -k * (root + q * q / root)
    kk = k
    if has_pump:
        qp = sign * q
        f += sign * (s * s * h0 - b * qp * abs(qp))
        df -= 2.0 * b * abs(qp)
        if qp < 0.0:
            f += sign * CHECK_K_S2_M5 * (-qp) * root
            df -= CHECK_K_S2_M5 * (root + q * q / root)
            kk += CHECK_K_S2_M5
    if (block > 0 and q > 0.0) or (block < 0 and q < 0.0):
        f -= CHECK_K_S2_M5 * q * root
        df -= CHECK_K_S2_M5 * (root + q * q / root)
        kk += CHECK_K_S2_M5
    r2 = q * q + Q0_M3_S**2
    c = abs(q) * (2.0 * q * q + 3.0 * Q0_M3_S**2) / (r2 * math.sqrt(r2))
    return f, df, kk * c + (2.0 * b if has_pump else 0.0)


@pytest.mark.parametrize("has_pump,sign,block", [(False, 1.0, 0), (True, 1.0, 0),
                                                 (True, -1.0, 0), (False, 1.0, 1),
                                                 (True, 1.0, -1)])
def test_branch_equation_matches_its_textbook_form(has_pump: bool, sign: float,
                                                   block: int) -> None:
    """One square root and one division instead of two and three: the same F, slope and
    curvature to 1e-12 relative (of the largest term) over flows from -0.3 to 0.3 m3/s."""
    for q in np.linspace(-0.3, 0.3, 61):
        args = (float(q), 12.5, 850.0, has_pump, 0.93, 42.0, 2073.6, sign, block)
        got = branch_eval.py_func(*args)
        want = _textbook(*args)
        scale = 1.0 + CHECK_K_S2_M5 * (abs(q) + Q0_M3_S) ** 2
        for g, w in zip(got, want, strict=True):
            assert g == pytest.approx(w, rel=1e-12, abs=1e-12 * scale)


def test_shaft_power_without_division_matches_the_curve() -> None:
    """Shaft power s^3 P (0.45 + 0.55 clamp(q / (s Q), 0, 1.6)), from the division-free form, to
    1e-12 relative, over speeds from stopped to rated and flows from reverse to 2x rated."""
    q_rated, p_rated = 150.0 / 3600.0, 21_800.0
    for s in (0.0, 1e-9, 0.05, 0.5, 0.99, 1.0):
        for q in np.linspace(-q_rated, 2.0 * q_rated, 31):
            want = 0.0
            if s > 0.0:
                want = s**3 * p_rated * (0.45 + 0.55 * min(max(q / (s * q_rated), 0.0), 1.6))
            got = pump_shaft_power_w.py_func(float(q), s, 1.0 / q_rated, p_rated)
            assert got == pytest.approx(want, rel=1e-12, abs=1e-300)
