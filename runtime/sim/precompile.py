"""Compile the plant model's kernels into numba's on-disk cache, with progress lines.

``python -m runtime.sim.precompile`` is run by ``make`` right after installing, so the first
``make demo`` starts in seconds instead of compiling for one to two minutes on a busy machine.
``twinstage plant`` and the kiosk call :func:`ensure_compiled` before they start, the viewer
:func:`ensure_viewer_compiled`: a cache load when the kernels are cached, progress lines on
stderr when they are not.

Every numba entry a viewer process needs is compiled (or loaded) on the main thread *before*
Panda3D opens its window: nothing is left for the what-if worker thread to compile on its first
forecast while the frame thread draws through Mesa's llvmpipe (its own LLVM, compiling shaders).
Viewers on a cold or stale cache were seen to abort inside LLVM while compiling (``Casting.h``
assertion, rc -6); see docs/virtual-plant.md.

Each start first checks that the cache was made from these sources, and compiles one process at a
time (:mod:`runtime.sim.cache_guard`): a stale cache is deleted and compiled again, with progress
lines, instead of loading old kernels or compiling new ones against them.

The kernels' argument types are the same for every scene (tuples of 1-D/2-D float64, int64 and
uint8 arrays), so compiling them once for a one-train generated plant covers every scene.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from runtime.sim.cache_guard import fresh_cache
from runtime.sim.compile_progress import WHAT, compile_progress


def plant_kernels() -> tuple:
    """The numba dispatchers a :class:`PlantModel` calls, in the order it first calls them
    (the network's ``bracketed_component`` and ``fast_batched`` are compiled by
    ``plant_init``'s compile, as functions it calls)."""
    from runtime.sim.network import bracketed_component
    from runtime.sim.network_batched import fast_batched
    from runtime.sim.step import plant_init, plant_steps

    return (plant_init, bracketed_component, fast_batched, plant_steps)


def ensure_compiled(*, out: TextIO | None = None) -> float:
    """Compile (or load from the cache) every plant kernel now; seconds it took."""
    from runtime.sim.generate import generated_scene
    from runtime.sim.plant_model import PlantModel

    t0 = time.monotonic()
    kernels = plant_kernels()
    with fresh_cache(kernels, out=out or sys.stderr, what=WHAT), \
            compile_progress(kernels, out=out or sys.stderr):
        PlantModel(generated_scene(1)).warm_up()  # plant_init in the constructor, then a step
    return time.monotonic() - t0


def ensure_fork_compiled(*, out: TextIO | None = None) -> float:
    """Compile (or load) the what-if fork's entries (runtime.sim.fork): the viewer's forecast
    worker would otherwise compile them on its first forecast, holding the interpreter lock."""
    from runtime.sim.fork import _run_sampled, fork_model, plant_steps_nogil, run_ahead
    from runtime.sim.generate import generated_scene
    from runtime.sim.plant_model import PlantModel

    t0 = time.monotonic()
    kernels = (plant_steps_nogil, _run_sampled)
    what = "the what-if forecast"
    with fresh_cache(kernels, out=out or sys.stderr, what=what), \
            compile_progress(kernels, out=out or sys.stderr, what=what):
        model = PlantModel(generated_scene(1))
        run_ahead(fork_model(model), 1.0, points=[p.id for p in model.scene.points][:3],
                  sample_s=0.5)
        plant_steps_nogil(model.model, model.state, 1)
    return time.monotonic() - t0


def ensure_viewer_compiled(*, out: TextIO | None = None) -> float:
    """Compile (or load) every numba entry a viewer process runs (the observer's plant model,
    the what-if worker's fork entries) on the calling thread; seconds it took. Call it on the
    main thread before the window opens."""
    return ensure_compiled(out=out) + ensure_fork_compiled(out=out)


def main() -> int:
    elapsed = ensure_compiled() + ensure_fork_compiled()
    print(f"plant model ready ({elapsed:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
