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
from pathlib import Path

import numpy as np
import pytest

from runtime.scene.model import Connection, Entity, Scene
from runtime.sim.branch_eq import CHECK_K_S2_M5, Q0_M3_S, branch_eval
from runtime.sim.generate import TRAIN_ENTITIES, _e, generated_scene
from runtime.sim.kernels_pump import pump_shaft_power_w
from runtime.sim.network import MAX_FAST
from runtime.sim.plant_model import PlantModel

TRAINS = 24


def _per_component(model: PlantModel) -> PlantModel:
    """The same model with no batch groups: every component takes network._fast_component."""
    net = model.model.net
    model.model = model.model._replace(net=net._replace(
        comp_batched=np.zeros_like(net.comp_batched), batch_start=np.zeros(1, np.int64),
        comp_unbatched=np.arange(len(net.comp_batched), dtype=np.int64)))
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


def _mixed_scene() -> Scene:
    """Trains of three shapes, 8 of each (one batch group per shape): two junctions (pump and
    valve on branches of their own), one junction (pump and valve in series on one branch),
    and none (tank - pump - valve - tank, one branch). Valves at different openings."""
    entities: list[Entity] = []
    conns: list[Connection] = []
    for t in range(24):
        shape = t % 3
        p = f"{t:03d}"
        y = 10.0 * t
        src, dst, ja, jb = f"TS{p}", f"TP{p}", f"JA{p}", f"JB{p}"
        pump, motor, valve = f"P{p}", f"M{p}", f"FV{p}"
        entities += [
            _e(src, "tank", 0, y, {"diameter_m": 6.0, "height_m": 6.0, "overflow_m": 5.5,
                                  "initial_level_m": 3.0, "inflow_m3_h": 50.0}, []),
            _e(dst, "tank", 20, y, {"diameter_m": 8.0, "height_m": 5.0, "overflow_m": 4.7,
                                   "initial_level_m": 1.0 + 0.1 * t, "outflow_m3_h": 50.0}, []),
            _e(motor, "motor", 8, y + 2, {"rated_power_kw": 30.0, "rated_speed_rpm": 1480,
                                         "inertia_kg_m2": 0.8}, []),
            _e(pump, "pump", 8, y, {"motor": motor, "rated_flow_m3_h": 150.0,
                                   "rated_head_m": 30.0, "shutoff_head_m": 40.0,
                                   "rated_speed_rpm": 1480}, []),
            _e(valve, "valve", 14, y, {"cv_m3_h": 250.0, "characteristic": "equal_percentage",
                                      "rangeability": 50.0, "travel_time_s": 20.0,
                                      "initial_position_pct": 30.0 + 2.0 * t}, []),
        ]
        if shape == 0:
            entities += [_e(ja, "junction", 5, y, {}, []), _e(jb, "junction", 11, y, {}, [])]
            legs = [(src, ja), (ja, pump), (pump, jb), (jb, valve), (valve, dst)]
        elif shape == 1:
            entities += [_e(ja, "junction", 5, y, {}, [])]
            legs = [(src, ja), (ja, pump), (pump, valve), (valve, dst)]
        else:
            legs = [(src, pump), (pump, valve), (valve, dst)]
        for k, (a, b) in enumerate(legs):
            conns.append(Connection(f"L{p}-{k}", "pipe", a, b, 0.25, 6.0, ()))
    pipes = [_e(c.id, "pipe", 0, 0, {"diameter_m": c.diameter_m, "length_m": c.length_m}, [])
             for c in conns]
    return Scene(path=Path("<mixed>"), name="mixed trains", description="",
                 entities=tuple(entities + pipes), connections=tuple(conns), points=())


def test_batched_groups_of_every_junction_count_track_the_per_component_path() -> None:
    """Groups with two, one and no junctions (the closed-form 2x2, the 1x1, and no system at
    all) against the one-component path: flows to 1e-12 m3/s, heads to 1e-9 m, over 20 s that
    start with pumps spinning up from the initial state and include a trip."""
    scene = _mixed_scene()
    batched = PlantModel(scene, seed=1)
    net = batched.model.net
    assert net.comp_batched.all() and sorted(net.batch_nj.tolist()) == [0, 1, 2]
    reference = _per_component(PlantModel(scene, seed=1))
    for model in (batched, reference):
        model.step(300)
        model.trip_pump("P004")
        model.trip_pump("P005")
    for _ in range(6):
        batched.step(300)
        reference.step(300)
        s, r = batched.state, reference.state
        np.testing.assert_allclose(s.net.branch_flow_m3_s, r.net.branch_flow_m3_s, rtol=0,
                                   atol=1e-12)
        np.testing.assert_allclose(s.net.node_head_m, r.net.node_head_m, rtol=0, atol=1e-9)
        assert s.net.stats[1] == r.net.stats[1]  # (main's start-up solve counts 2 here too)
        assert s.net.stats[2] == r.net.stats[2]
    flow_m3_h = batched.state.pump.flow_m3_s * 3600.0
    assert flow_m3_h[batched.row_of("P000")[1]] > 20.0  # a running train moves water
    assert flow_m3_h[batched.row_of("P004")[1]] < 10.0  # a tripped one coasts down


def _knock_off(model: PlantModel, comps: tuple[tuple[int, float, float], ...]) -> None:
    """Scale each listed component's flows and shift its junction heads (component, flow
    factor, head shift in m), through the component tables as any writer of the state would."""
    net, ns = model.model.net, model.state.net
    for c, factor, shift_m in comps:
        ns.branch_flow_m3_s[net.comp_branches[net.comp_branch_start[c]:
                                              net.comp_branch_start[c + 1]]] *= factor
        ns.node_head_m[net.comp_junctions[net.comp_junction_start[c]:
                                          net.comp_junction_start[c + 1]]] += shift_m


FAR_OFF = ((5, -3.0, 60.0), (11, 0.0, -40.0))
"""Train 5 reversed and 60 m off (the fast path gives up: the bracketed solve takes over);
train 11 stopped and 40 m off (the fast path gets there in several steps)."""


def test_batch_slots_are_the_state_rows() -> None:
    """The compiled model numbers batched branches and junctions by slot, so the batched path
    reads the network state as slices; each pump still sits on its own branch and draws from
    its own train's junction."""
    model = PlantModel(generated_scene(TRAIN_ENTITIES * TRAINS), seed=3)
    net, pump = model.model.net, model.model.pump
    np.testing.assert_array_equal(net.batch_branches, np.arange(len(net.batch_branches)))
    np.testing.assert_array_equal(net.batch_junctions, np.arange(len(net.batch_junctions)))
    assert (net.branch_pump[pump.branch] == np.arange(len(pump.branch))).all()
    has = net.branch_pump[:len(net.batch_branches)] >= 0
    assert has.sum() == TRAINS
    np.testing.assert_array_equal(net.batch_pump_motor[has], pump.motor[net.branch_pump[has]])
    # each pump draws from its own train's junction, renumbered with its branch
    np.testing.assert_array_equal(pump.suction_node, net.branch_from[pump.branch])
    assert (net.node_junction[pump.suction_node] >= 0).all()
    assert len(set(pump.suction_node.tolist())) == TRAINS


def test_a_batched_component_that_falls_back_is_put_back_first() -> None:
    """A train knocked so far off that the fast path gives up must reach the bracketed solve
    with its state as it was (the batched path iterates in place, then puts it back): the same
    flows and heads as the one-component path, to 1e-12 m3/s and 1e-9 m, that step and after."""
    scene = generated_scene(TRAIN_ENTITIES * TRAINS)
    batched = PlantModel(scene, seed=3)
    reference = _per_component(PlantModel(scene, seed=3))
    for model in (batched, reference):
        model.step(300)
        _knock_off(model, FAR_OFF)
        model.step(1)
    assert batched.state.net.comp_fast_it[5] == -1  # fell back
    # the bracketed solve started where the one-component path left it: as many iterations
    assert batched.state.net.stats[0] == reference.state.net.stats[0] >= MAX_FAST
    assert batched.state.net.comp_fast_it[11] >= 3  # iterated while the others stayed frozen
    for n in (0, 200):
        batched.step(n)
        reference.step(n)
        s, r = batched.state.net, reference.state.net
        np.testing.assert_allclose(s.branch_flow_m3_s, r.branch_flow_m3_s, rtol=0, atol=1e-12)
        np.testing.assert_allclose(s.node_head_m, r.node_head_m, rtol=0, atol=1e-9)
        assert s.stats[2] == r.stats[2] == 1


def test_restore_then_step_equals_the_uninterrupted_run() -> None:
    """Restoring a snapshot over a model that has since stepped (through a fall back, so the
    batched path's put-back copies hold another step's values) and stepping on gives the state
    hash of a run that was never interrupted."""
    scene = generated_scene(TRAIN_ENTITIES * TRAINS)
    straight = PlantModel(scene, seed=3)
    detour = PlantModel(scene, seed=3)
    for model in (straight, detour):
        model.step(300)
    snap = detour.snapshot()
    _knock_off(detour, FAR_OFF)
    detour.write_point("FV-00005/position_sp_pct", 0.0)
    detour.step(150)
    assert detour.state_hash() != straight.state_hash()
    detour.restore(snap)
    for model in (straight, detour):
        model.step(1)
        _knock_off(model, FAR_OFF)
        model.step(200)
    assert detour.state.net.stats[2] >= 1
    assert detour.state_hash() == straight.state_hash()
