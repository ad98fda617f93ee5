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


# -- the cache guard: stale cache files go, one process compiles at a time --------------------


def _kernel_in(cache_dir: Path) -> object:
    """What :func:`cache_dirs` reads of a numba dispatcher: its cache's folder."""
    from types import SimpleNamespace

    return SimpleNamespace(_cache=SimpleNamespace(_cache_path=str(cache_dir)))


def test_the_plant_kernels_cache_where_numba_puts_it() -> None:
    from runtime.sim.cache_guard import cache_dirs
    from runtime.sim.precompile import plant_kernels

    expected = (Path(os.environ["NUMBA_CACHE_DIR"]) if os.environ.get("NUMBA_CACHE_DIR")
                else REPO_ROOT / "runtime" / "sim" / "__pycache__")
    dirs = cache_dirs(plant_kernels())
    assert len(dirs) == 1 and dirs[0].is_relative_to(expected), dirs


def test_cache_files_from_other_sources_are_deleted_once(tmp_path: Path) -> None:
    import io

    from runtime.sim.cache_guard import STAMP_NAME, fresh_cache, sources_fingerprint

    cache = tmp_path / "cache"
    cache.mkdir()
    old = [cache / "step.plant_steps-41.py311.nbi", cache / "step.plant_steps-41.py311.1.nbc"]
    for path in old:
        path.write_bytes(b"made from older sources")
    (cache / STAMP_NAME).write_text("0" * 64 + "\n")
    out = io.StringIO()
    with fresh_cache([_kernel_in(cache)], out=out, what="the plant model"):
        assert not any(p.exists() for p in old)
        old[0].write_bytes(b"compiled now")  # what the compile in the block leaves
    assert "deleted 2 cache files" in out.getvalue()
    assert (cache / STAMP_NAME).read_text().strip() == sources_fingerprint()
    out = io.StringIO()
    with fresh_cache([_kernel_in(cache)], out=out, what="the plant model"):
        pass
    assert old[0].read_bytes() == b"compiled now" and out.getvalue() == ""


def test_a_second_compile_waits_for_the_first_and_says_so(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import threading

    from runtime.sim import cache_guard

    monkeypatch.setattr(cache_guard, "WAIT_LINE_S", 0.05)
    kernels = [_kernel_in(tmp_path)]
    order: list[str] = []
    waiter_out = io.StringIO()

    def second() -> None:
        with cache_guard.fresh_cache(kernels, out=waiter_out, what="the plant model"):
            order.append("second")

    with cache_guard.fresh_cache(kernels, out=io.StringIO(), what="the plant model"):
        thread = threading.Thread(target=second)
        thread.start()
        wait_until(lambda: "another process is compiling it" in waiter_out.getvalue(),
                   timeout_s=30)
        order.append("first")
    thread.join(timeout=30)
    assert order == ["first", "second"]
