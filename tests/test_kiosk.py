"""The kiosk: idle -> attract -> input -> home on a clock moved by hand; the staff exit needs the
chord and the PIN; and a real ``twinstage kiosk`` process on a real bus holds a connection to
the bus's readings port and none to its command port (checked from outside, through /proc),
shows live values on its tour cards, and says "live data paused" when the bus goes away."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_cli
from test_walk import run_child


def test_idle_attract_input_home(tmp_path: Path) -> None:
    out = run_child("kiosk", tmp_path)
    assert out["before_idle"] == "home" and out["at_idle"] == "attract"
    assert out["tour_playing"] and out["attract_stop"] == 0
    assert out["attract_view"] != out["home"]  # the tour moved the camera
    assert "narration" in out["kinds_attract"]
    assert out["after_input"] == "home" and not out["tour_after_input"]
    assert out["after_input_view"] == out["home"]
    assert "narration" not in out["kinds_home"] and "status" not in out["kinds_home"]
    assert out["idle_again_short"] == "home" and out["idle_again"] == "attract"
    assert out["prompt_open"] and not out["exit_after_wrong"] and out["exit_after_right"]
    for png in ("kiosk-attract.png", "kiosk-home.png"):
        assert (tmp_path / png).stat().st_size > 1000


def test_exit_chord_needs_a_modifier_and_one_key() -> None:
    from runtime.app.kiosk_plugin import chord_event

    assert chord_event("ctrl+shift+k") == "shift-control-k"
    assert chord_event("Alt-Control-F12") == "control-alt-f12"
    for bad in ("k", "ctrl+shift", "ctrl+a+b"):
        with pytest.raises(ValueError):
            chord_event(bad)


def test_bad_pin_and_chord_are_usage_errors(tmp_path: Path) -> None:
    pin = tmp_path / "pin"
    pin.write_text("12ab\n")
    done = run_cli("kiosk", "pump_station", "--headless", "--pin-file", str(pin))
    assert done.returncode == 2 and "4 to 12 digits" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("kiosk", "pump_station", "--headless", "--exit-chord", "q")
    assert done.returncode == 2 and "--exit-chord" in done.stderr


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def tcp_peers(pid: int) -> set[int]:
    """Remote ports of the TCP connections open in process ``pid`` (its socket fds matched to
    the kernel's TCP table by inode)."""
    mine = _socket_inodes(pid)
    peers = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote, state, inode = fields[2], fields[3], int(fields[9])
            if inode in mine and state in ("01", "02"):  # ESTABLISHED, SYN_SENT
                peers.add(int(remote.rsplit(":", 1)[1], 16))
    return peers


def test_kiosk_process_has_no_command_connection(tmp_path: Path, bus_keys: Path) -> None:
    from live_fixtures import live_bus_server

    lines: list[str] = []
    with live_bus_server() as (address, _plant, server):
        ports = {name: int(url.rsplit(":", 1)[1]) for name, url in server.endpoints.items()}
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "kiosk", "pump_station", "--bus", address,
             "--key", str(bus_keys / "viewer.key_secret"), "--headless", "--seconds", "120",
             "--size", "480x270", "--idle", "1000", "--max-fps", "10"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),
                                  daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 120
            peers: set[int] = set()
            while time.monotonic() < deadline and proc.poll() is None:
                peers = tcp_peers(proc.pid)
                if ports["sub_out"] in peers and ports["snapshot"] in peers and any(
                        ln.startswith("kiosk:") for ln in lines):
                    break
                time.sleep(0.2)
            assert proc.poll() is None, "".join(lines)
            assert ports["sub_out"] in peers, (peers, ports, "".join(lines))
            # Settled a while longer (a lazily opened client would show up by now), then look.
            settle = time.monotonic() + 2.0
            while time.monotonic() < settle:
                peers |= tcp_peers(proc.pid)
                time.sleep(0.2)
            assert ports["commands"] not in peers, (peers, ports)
            assert ports["adapters"] not in peers and ports["pub_in"] not in peers
            # The bus goes away: the kiosk says live data is paused (a card; a log line here).
            server.stop()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any("live data paused" in ln
                                                          for ln in lines):
                time.sleep(0.2)
            assert any("live data paused" in ln for ln in lines), "".join(lines)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            reader.join(timeout=5)
        assert proc.returncode == 0, "".join(lines)


def test_tour_cards_show_live_values(tmp_path: Path, bus_keys: Path) -> None:
    from live_fixtures import live_bus

    with live_bus() as (address, _plant):
        done = run_cli("kiosk", "pump_station", "--bus", address, "--key",
                       str(bus_keys / "viewer.key_secret"), "--headless", "--tour-once",
                       "--size", "640x360", "--screenshot-dir", str(tmp_path),
                       timeout_s=240)
    assert done.returncode == 0, done.stderr
    tour = json.loads((tmp_path / "tour.json").read_text())
    by_title = {s["title"]: s for s in tour["stops"]}
    tank = by_title["Raw water tank"]["values"]
    assert any(v.startswith("LT-101 Raw water level: 3.50 m") for v in tank), tank
    pumps = by_title["The pumps"]["values"]
    assert any(v.startswith("P-101 Duty pump: Running") for v in pumps), pumps
