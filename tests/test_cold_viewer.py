"""A first ``twinstage view`` on a cold numba cache: every compile happens on the main thread,
with progress lines, before Panda3D opens its window.

Cold compiles left to the what-if worker thread (its first forecast) ran while the frame thread
drew through Mesa's llvmpipe; a cold or stale cache was seen to abort such a viewer inside LLVM
(rc -6, ``Casting.h`` assertion). The fast test checks that the viewer's precompile leaves the
worker nothing to compile or load; the soak test runs a real viewer on an empty
``NUMBA_CACHE_DIR`` (3-6 minutes of compiling on a busy two-core machine) and records every
compile with its thread (tests/compile_recorder/sitecustomize.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from bus_fixtures import wait_until
from conftest import REPO_ROOT
from live_fixtures import live_bus

FORK_ENTRIES = ("runtime.sim.fork._run_sampled", "runtime.sim.fork.plant_steps_nogil")


def test_viewer_precompile_leaves_nothing_for_the_forecast_worker() -> None:
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "viewer_compile_child.py")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    assert data["forecast_ok"], data["error"]
    for name in FORK_ENTRIES:
        assert data["before"].get(name), f"{name} not compiled or loaded by the precompile"
    grown = {k: v for k, v in data["after"].items() if data["before"].get(k) != v}
    assert not grown, f"the forecast worker compiled or loaded {sorted(grown)} itself"


@pytest.mark.soak
def test_cold_first_view_compiles_before_the_window_opens(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    compiles = tmp_path / "compiles.jsonl"
    stats = tmp_path / "stats.json"
    shots = tmp_path / "shots"
    recorder = REPO_ROOT / "tests" / "compile_recorder"
    env = dict(os.environ, PYTHONUNBUFFERED="1", NUMBA_CACHE_DIR=str(cache),
               TWINSTAGE_TEST_COMPILE_LOG=str(compiles),
               PYTHONPATH=os.pathsep.join([str(recorder), str(REPO_ROOT),
                                           os.environ.get("PYTHONPATH", "")]))
    log = tmp_path / "viewer.log"
    with live_bus() as (address, _plant), log.open("w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "view", "pump_station",
                                 "--bus", address, "--headless", "--seconds", "600",
                                 "--size", "320x180", "--stats-json", str(stats),
                                 "--screenshot-dir", str(shots), "--screenshot-every", "1"],
                                cwd=REPO_ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                                env=env)
        try:
            # Done when the window has drawn and the what-if forecast's entries are in the cache
            # (the precompile writes them before the window opens; without it the worker
            # thread's first forecast would compile them, after).
            wait_until(lambda: proc.poll() is not None or (
                list(shots.glob("live-*.png")) and list(cache.rglob("fork._run_sampled*.nbc"))),
                timeout_s=900, step_s=0.5)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err = log.read_text()
    assert proc.returncode == 0, err[-3000:]
    records = _records(compiles)
    assert records, "nothing compiled: NUMBA_CACHE_DIR was not honoured (the cache was warm)"
    late = [r for r in records if r["windows_open"] or not r["main_thread"]]
    assert not late, f"compiled after the window opened or off the main thread: {late}"
    assert {"_run_sampled", "plant_steps"} <= {r["function"] for r in records}
    assert "compiled the plant model in" in err and "compiled the what-if forecast in" in err
    assert list(cache.rglob("fork._run_sampled*.nbc")), "numba wrote no cache under the dir"
    assert stats.exists()


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
