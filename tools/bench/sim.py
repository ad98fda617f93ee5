"""Bench suite ``sim``: plant kernel throughput in entity-steps per second (one core).

A generated plant of parallel trains (runtime.sim.generate) at 1,000 / 10,000 / 100,000
entities is stepped with the full fixed step (control, valves, motors, network solve, tanks,
instruments); entity-steps/s = entities x steps / wall time.
"""

from __future__ import annotations

import time

from tools.bench.row import Row

TARGET = 0.4e9


def _entity_steps_per_s(n_assets: int, budget_s: float) -> tuple[float, int]:
    from runtime.sim.generate import generated_scene
    from runtime.sim.plant_model import PlantModel

    model = PlantModel(generated_scene(n_assets), seed=0)
    n = model.entity_count
    model.step(2)  # compiled already (cache); touch the memory
    steps = 1
    elapsed = 0.0
    while elapsed < budget_s:
        t0 = time.perf_counter()
        model.step(steps)
        elapsed = time.perf_counter() - t0
        if elapsed < budget_s:
            steps *= 4
    return n * steps / elapsed, n


def run(quick: bool) -> list[Row]:
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    budget = 0.05 if quick else 0.5
    rows = []
    for size in sizes:
        rate, n = _entity_steps_per_s(size, budget)
        rows.append(Row("sim", f"plant step, generated plant of {n} entities", rate,
                        "entity-steps/s", TARGET, "higher", "full step incl. network solve"))
    return rows
