"""``twinstage replay`` republishes a recording onto a real bus; the replay and record
commands refuse bad input with one clear line (file and what is wrong), exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from bus_fixtures import free_base_port
from conftest import REPO_ROOT, run_cli
from replay_fixtures import write_recording

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.server import BusServer
from runtime.bus.subscriber import Subscriber
from runtime.quality import Quality


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rec")
    write_recording(folder, 12.0)
    return folder


def test_replay_republishes_the_recording_onto_a_bus(recording: Path) -> None:
    base = free_base_port(5)
    address = f"tcp://127.0.0.1:{base}"
    server = BusServer(BusEndpoints.from_address(address))
    thread = server.start_thread()
    sub = Subscriber(server.endpoints)
    proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "replay", str(recording),
                             "--bus", address, "--speed", "4", "--insecure"], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            for u in sub.poll():
                if u.quality == Quality.GOOD:
                    seen[u.point] = u.value
            time.sleep(0.01)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()
        server.stop()
        thread.join(timeout=5)
    assert proc.returncode == 0, err
    assert "replay done" in out and "from 1 sources" in out
    assert {"LT-102/level_m", "P-101/speed_rpm", "FV-101/position_pct"} <= set(seen)


@pytest.mark.parametrize("case", ["missing", "empty", "not-mcap", "empty-dir"])
def test_bad_recordings_get_one_clear_line(tmp_path: Path, case: str) -> None:
    target = tmp_path / "bad.mcap"
    if case == "empty":
        target.write_bytes(b"")
    elif case == "not-mcap":
        target.write_text("time,value\n1,2\n")
    elif case == "empty-dir":
        target = tmp_path / "nothing-here"
        target.mkdir()
    for args in (["view", "pump_station", "--replay", str(target), "--headless"],
                 ["replay", str(target)], ["record", "repair", str(target)]):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert str(target.name) in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_replay_options_are_checked_before_anything_starts(recording: Path) -> None:
    checks = {
        ("view", "pump_station", "--replay", str(recording), "--bus", "tcp://127.0.0.1:5555"):
            "choose one clock",
        ("view", "pump_station", "--replay", str(recording), "--at", "+2h"):
            "outside the recording",
        ("view", "pump_station", "--replay", str(recording), "--speed", "100"):
            "between 1/64 and 64",
        ("view", "pump_station", "--replay", str(recording), "--write", "P-101/run_cmd=1"):
            "cannot operate",
        ("view", "pump_station", "--at", "+2s"): "--replay",
        ("replay", str(recording), "--from", "+20s"): "outside the recording",
        ("record", "--bus", "tcp://127.0.0.1:5555"): "--out DIR is required",
    }
    for args, words in checks.items():
        result = run_cli(*args)
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A real 128 KiB tmpfs (root only, as in CI); skipped where mounting is not allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_stops_the_recorder_with_a_clear_line_and_the_bus_carries_on(
        tiny_disk: Path) -> None:
    import numpy as np

    from runtime.bus.publisher import Publisher

    base = free_base_port(5)
    address = f"tcp://127.0.0.1:{base}"
    server = BusServer(BusEndpoints.from_address(address))
    thread = server.start_thread()
    points = [f"X-{i:03d}/value_m" for i in range(500)]
    pub = Publisher(server.endpoints, "flood", points=points)
    layout = pub.layout(points)
    proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "record", "--bus", address,
                             "--out", str(tiny_disk), "--insecure"], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sub = Subscriber(server.endpoints)
    try:
        rng = np.random.default_rng(1)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            n = len(points)
            pub.publish_columns(layout, rng.random(n), np.zeros(n, np.uint8),
                                np.zeros(n, np.uint8), np.full(n, time.time_ns()))
            time.sleep(0.005)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, (out, err)
        assert "disk full" in err and str(tiny_disk) in err and "Traceback" not in err
        got: list = []
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:  # the bus still serves readings
            pub.publish_columns(layout, np.ones(len(points)), np.zeros(len(points), np.uint8),
                                np.zeros(len(points), np.uint8),
                                np.full(len(points), time.time_ns()))
            got = [u for u in sub.poll() if u.value == 1.0]
            time.sleep(0.01)
        assert got
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()
        pub.close()
        server.stop()
        thread.join(timeout=5)
