"""First run (issue 11, item 6): port options agree across commands, ``demo`` passes a role to
its viewer, the plant's compile is visible, and the demo waits while it advances."""

from __future__ import annotations

import pytest
from conftest import run_cli
from plant_fixtures import port_offset_for

BAD_PORTS = [
    ("demo", "--headless", "--bus-port", "70000"),
    ("demo", "--headless", "--bus-port", "65533"),  # the bus needs 5 ports
    ("demo", "--headless", "--bus-port", "-1"),
    ("demo", "--headless", "--port-offset", "70000"),
    ("demo", "--headless", "--port-offset", "-15020"),
    ("plant", "pump_station", "--control-port", "70000"),
    ("plant", "pump_station", "--control-port", "-5"),
    ("plant", "pump_station", "--port-offset", "60000"),
    ("plant", "pump_station", "--control-port", "65535", "--port-offset", "1"),
    ("adapter", "pump_station", "--port-offset", "70000"),
    ("bus", "--bind", "tcp://127.0.0.1:70000"),
    ("fault", "list", "--control-port", "70000"),
    ("fault", "list", "--control-port", "0"),
    ("fault", "list", "--port-offset", "60000"),
    ("tap", "--bus", "tcp://127.0.0.1:99999"),
    ("write", "P-101/run_cmd", "1", "--bus", "tcp://127.0.0.1:99999"),
    ("record", "--bus", "tcp://127.0.0.1:99999", "--out", "out/never-written"),
    ("view", "pump_station", "--headless", "--bus", "tcp://127.0.0.1:99999"),
]


@pytest.mark.parametrize("argv", BAD_PORTS, ids=[" ".join(a) for a in BAD_PORTS])
def test_a_port_out_of_range_is_one_line_and_exit_2(argv: tuple[str, ...]) -> None:
    r = run_cli(*argv)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "OverflowError" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"twinstage {argv[0]}: ")
    assert "port" in lines[0]


def test_fault_takes_the_plants_port_offset() -> None:
    """``fault --port-offset N`` reaches the control port a ``plant --port-offset N`` opened
    (15019 + N); without a plant there it says so by that port."""
    offset = port_offset_for()
    r = run_cli("fault", "list", "--port-offset", str(offset))
    assert r.returncode == 2
    assert "no plant control socket" in r.stderr and str(15019 + offset) in r.stderr
    help_text = run_cli("fault", "--help").stdout
    assert "--port-offset" in help_text


def test_demo_takes_a_role() -> None:
    help_text = run_cli("demo", "--help").stdout
    assert "--role" in help_text
    r = run_cli("demo", "--headless", "--role", "janitor")
    assert r.returncode == 2 and "janitor" in r.stderr and "Traceback" not in r.stderr


# --- the compile is visible ----------------------------------------------------------------------

def _fresh_kernel():
    """A numba function nobody compiled yet (cache off: every test run compiles it)."""
    from numba import njit

    @njit(cache=False)
    def tiny_kernel(a, n):
        s = 0.0
        for i in range(n):
            s += a[i % a.shape[0]]
        return s

    return tiny_kernel


def test_a_compile_prints_progress_lines_up_to_all_passes() -> None:
    import io

    import numpy as np

    from runtime.progress import is_progress
    from runtime.sim.compile_progress import compile_progress

    kernel = _fresh_kernel()
    out = io.StringIO()
    with compile_progress([kernel], out=out, what="a tiny kernel") as reporter:
        kernel(np.ones(3), 5)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("compiling a tiny kernel, first run only: 0/")
    assert lines[-1].startswith("compiled a tiny kernel in ")
    assert all(is_progress(line) for line in lines)
    assert reporter.total is not None and reporter.done == reporter.total  # every pass counted

    again = io.StringIO()
    with compile_progress([kernel], out=again):
        kernel(np.ones(3), 5)  # compiled already: nothing to say
    assert again.getvalue() == ""


def test_after_precompile_a_plant_of_another_scene_compiles_nothing() -> None:
    """``python -m runtime.sim.precompile`` (make runs it at install) fills numba's cache for a
    generated plant; a later process building the pump station loads every kernel from it (the
    kernels' types do not depend on the scene) and prints no progress line."""
    import subprocess
    import sys

    from runtime import REPO_ROOT

    pre = subprocess.run([sys.executable, "-m", "runtime.sim.precompile"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=900)
    assert pre.returncode == 0, pre.stderr
    assert pre.stderr.splitlines()[-1].startswith("plant model ready")
    script = (
        "from numba.core import event\n"
        "from runtime import DEFAULT_SCENE\n"
        "from runtime.scene import load_scene\n"
        "from runtime.sim.plant_model import PlantModel\n"
        "class Seen(event.Listener):\n"
        "    def on_start(self, ev): print('compiled', ev.data['dispatcher'].py_func.__name__)\n"
        "    def on_end(self, ev): pass\n"
        "event.register('numba:compile', Seen())\n"
        "PlantModel(load_scene(str(DEFAULT_SCENE)), seed=3).warm_up()\n"
        "print('done')\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["done"]


# --- the demo waits on progress ------------------------------------------------------------------

def _fake_child(tmp_path, script: str):
    """A child process running ``script`` with its output in a log, as Supervisor starts them."""
    import subprocess
    import sys

    from runtime.supervisor import Child

    log = tmp_path / "child.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-u", "-c", script], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Child("plant", [], proc, log)


@pytest.fixture
def children():
    started = []
    yield started
    for child in started:
        child.process.kill()
        child.process.wait()


def test_wait_returns_when_ready_and_hands_on_every_progress_line(tmp_path, children) -> None:
    from runtime.progress import wait_while_progressing
    from runtime.supervisor import Supervisor

    ready_file = tmp_path / "ready"
    child = _fake_child(tmp_path, (
        "import pathlib, time\n"
        "for i in range(3): print(f'compiling the model: {i}/3 (x, {i} s)')\n"
        "print('compiled the model in 3 s')\n"
        f"pathlib.Path({str(ready_file)!r}).touch()\n"
        "time.sleep(60)\n"))
    children.append(child)
    lines: list[str] = []
    wait_while_progressing(Supervisor(), child, ready_file.exists, quiet_s=60, stall_s=60,
                           deadline_s=120, on_progress=lines.append)
    assert lines == [f"compiling the model: {i}/3 (x, {i} s)" for i in range(3)] + [
        "compiled the model in 3 s"]


def test_wait_gives_up_when_progress_stops(tmp_path, children) -> None:
    from runtime.errors import UsageError
    from runtime.progress import wait_while_progressing
    from runtime.supervisor import Supervisor

    child = _fake_child(tmp_path, "import time\nprint('compiling the model: 1/9')\n"
                                  "print('stuck here')\ntime.sleep(60)\n")
    children.append(child)
    lines: list[str] = []
    with pytest.raises(UsageError, match="no progress for 1 s") as exc:
        wait_while_progressing(Supervisor(), child, lambda: False, quiet_s=60, stall_s=1,
                               deadline_s=120, on_progress=lines.append)
    assert lines == ["compiling the model: 1/9"]
    assert "stuck here" in str(exc.value)  # the end of the child's log


def test_wait_gives_up_on_a_silent_child_and_on_the_overall_deadline(tmp_path,
                                                                      children) -> None:
    from runtime.errors import UsageError
    from runtime.progress import wait_while_progressing
    from runtime.supervisor import Supervisor

    silent = _fake_child(tmp_path, "import time\ntime.sleep(60)\n")
    children.append(silent)
    with pytest.raises(UsageError, match="not ready and no progress after 1 s"):
        wait_while_progressing(Supervisor(), silent, lambda: False, quiet_s=1)

    busy = _fake_child(tmp_path, "import time\nwhile True:\n"
                                 "    print('compiling forever: 1/2', flush=True)\n"
                                 "    time.sleep(0.05)\n")
    children.append(busy)
    with pytest.raises(UsageError, match="not ready after 2 s"):
        wait_while_progressing(Supervisor(), busy, lambda: False, quiet_s=60, stall_s=60,
                               deadline_s=2, on_progress=lambda line: None)


def test_wait_says_when_the_child_exits(tmp_path, children) -> None:
    from runtime.errors import UsageError
    from runtime.progress import wait_while_progressing
    from runtime.supervisor import Supervisor

    child = _fake_child(tmp_path, "print('bad scene')\nraise SystemExit(3)\n")
    children.append(child)
    with pytest.raises(UsageError, match="exited with code 3"):
        wait_while_progressing(Supervisor(), child, lambda: False, quiet_s=60)


# --- a cold cache, end to end (each compiles for one to two minutes: soak) ----------------------

def _run_with_env(env: dict[str, str], *args: str):
    """``twinstage ARGS`` in a subprocess with ``env`` (run_cli sets its own)."""
    import subprocess
    import sys

    from runtime import REPO_ROOT

    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)


@pytest.mark.soak
def test_demo_from_a_cold_cache_shows_the_compile_and_runs(tmp_path) -> None:
    """The first ``make demo`` on a busy machine: no numba cache (NUMBA_CACHE_DIR points at an
    empty folder, so the checkout's own cache is neither used nor touched). The demo shows the
    plant's progress, waits through the whole compile and runs; ``--role`` reaches the viewer."""
    import os

    from runtime.supervisor import free_port_block

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    bus_port = free_port_block(5, start=36000)
    offset = free_port_block(4, start=38000) - 15019
    r = _run_with_env(env, "demo", "--headless", "--seconds", "3", "--bus-port", str(bus_port),
                      "--port-offset", str(offset), "--out", str(tmp_path / "demo"),
                      "--role", "operator")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    progress = [line for line in lines if line.startswith("plant    compiling the plant model")]
    said = r.stdout + r.stderr  # every assertion shows what the demo said
    assert progress and progress[0].startswith(
        "plant    compiling the plant model, first run only: 0/"), said
    assert any(line.startswith("plant    compiled the plant model in ") for line in lines), said
    assert "all ports freed" in r.stdout, said
    assert list((tmp_path / "numba-cache").rglob("*.nbi")), said  # the next run loads these
    viewer_log = (tmp_path / "demo" / "logs" / "viewer.log").read_text()
    assert "role operator" in viewer_log, viewer_log


@pytest.mark.soak
def test_precompile_fills_the_cache_that_the_plant_then_loads(tmp_path) -> None:
    import os
    import subprocess
    import sys

    from plant_fixtures import port_offset_for

    from runtime import REPO_ROOT

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"), PYTHONUNBUFFERED="1")
    pre = subprocess.run([sys.executable, "-m", "runtime.sim.precompile"], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=1200)
    assert pre.returncode == 0, pre.stderr
    assert "compiling the plant model, first run only: 0/" in pre.stderr
    plant = _run_with_env(env, "plant", "pump_station", "--duration", "0.5", "--port-offset",
                          str(port_offset_for()))
    assert plant.returncode == 0, plant.stderr
    assert "plant ready" in plant.stdout
    assert "compiling" not in plant.stderr  # everything came from the cache
