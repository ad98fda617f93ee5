"""Child process for tests/test_cold_viewer.py: the viewer's precompile, then a what-if forecast
on the worker thread; prints JSON with the numba overloads each step left in the process (a
cache load counts: it is work the worker thread would otherwise do while the frame draws)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def overloads() -> dict[str, list[str]]:
    """Every numba dispatcher in the runtime's loaded modules -> its compiled signatures."""
    from numba.core.registry import CPUDispatcher

    out: dict[str, list[str]] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("runtime.") or module is None:
            continue
        for attr, value in vars(module).items():
            if isinstance(value, CPUDispatcher):
                key = f"{value.py_func.__module__}.{value.py_func.__qualname__}"
                out[key] = sorted(str(sig) for sig in value.overloads)
                del attr
    return out


def main() -> None:
    from runtime.sim.precompile import ensure_viewer_compiled

    ensure_viewer_compiled()
    # what the viewer builds after the precompile: the scene's model, forked by the what-if
    from runtime.scene import load_scene
    from runtime.sim.fork import fork_model
    from runtime.sim.plant_model import PlantModel
    from runtime.whatif.alarm_defs import load_alarm_defs
    from runtime.whatif.worker import ForecastJob, ForecastWorker

    model = PlantModel(load_scene("pump_station"))
    model.warm_up()
    defs, _warnings = load_alarm_defs(model.scene)
    before = overloads()
    worker = ForecastWorker()
    worker.submit(ForecastJob("lookahead", fork_model(model), None, [], defs, horizon_s=600.0))
    deadline = time.monotonic() + 120.0
    finished = []
    while not finished and time.monotonic() < deadline:
        finished = worker.poll()
        time.sleep(0.01)
    worker.close()
    after = overloads()
    print(json.dumps({"before": before, "after": after,
                      "forecast_ok": bool(finished) and finished[0].result is not None,
                      "error": finished[0].error if finished else "no result in 120 s"}))


if __name__ == "__main__":
    main()
