"""One compiled entry per kernel family, stepping that concern alone ``n_steps`` times.

The plant step (``runtime.sim.step``) interleaves every family each step; these entries run one
family over its own tables so a bench or a test can measure or check it in isolation (the same
inlined kernels, so the same code the plant runs). One compiled call loops the steps inside, as
``plant_steps`` does.
"""

from __future__ import annotations

from runtime.sim.jit import kernel
from runtime.sim.kernels_pump import motor_step
from runtime.sim.kernels_tank import tank_integrate
from runtime.sim.kernels_transmitter import transmitter_step
from runtime.sim.kernels_valve import valve_step
from runtime.sim.network import network_solve
from runtime.sim.step import NETWORK_TOL_M3_S


@kernel
def tank_family_steps(tm, ts, dt_s: float, n_steps: int) -> None:
    """Tank mass balance (``tank_integrate``) with the network inflow held as it is."""
    for _ in range(n_steps):
        tank_integrate(tm, ts, dt_s)


@kernel
def motor_family_steps(mm, ms, pm, ps, dt_s: float, n_steps: int) -> None:
    """Pump and motor dynamics (``motor_step``) with the pump flows held as they are."""
    for _ in range(n_steps):
        motor_step(mm, ms, pm, ps, dt_s)


@kernel
def valve_family_steps(vm, vs, dt_s: float, n_steps: int) -> None:
    """Valve actuator travel and characteristic (``valve_step``)."""
    for _ in range(n_steps):
        valve_step(vm, vs, dt_s)


@kernel
def transmitter_family_steps(xm, xs, tm, ts, jm, js, pm, ps, ms, vs, pipes, step0: int,
                             dt_s: float, n_steps: int) -> None:
    """Transmitter sampling, lag, noise, drift and clamp (``transmitter_step``)."""
    for k in range(n_steps):
        transmitter_step(xm, xs, tm, ts, jm, js, pm, ps, ms, vs, pipes, step0 + k, dt_s)


@kernel
def network_family_steps(m, s, n_steps: int) -> None:
    """The network solve (warm: the fast path, batched where components share a shape) with
    tank heads, valves and pump speeds held as they are."""
    for _ in range(n_steps):
        network_solve(m.net, s.net, m.pump, s.motor, m.valve, s.valve, NETWORK_TOL_M3_S, True)
