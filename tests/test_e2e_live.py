"""The whole live twin end to end: plant -> adapter -> bus -> headless viewer, as processes.

A register changed on the plant shows in the viewer's state and its screenshot; a stopped
adapter turns the viewer's points Bad with the 3D cue within the bound and they recover; the
demo command starts everything and stops it with no process left behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
from conftest import run_cli
from e2e_fixtures import Watch, live_stack, wait_for
from panda3d.core import PNMImage
from pymodbus.client import ModbusTcpClient

from runtime.bus.subscriber import Update
from runtime.quality import Quality
from runtime.registers import encode_value
from runtime.scene import load_devices, load_scene
from runtime.supervisor import free_port_block

SCENE_DIR = Path(__file__).resolve().parent.parent / "scenes" / "pump_station"
GOOD, BAD = int(Quality.GOOD), int(Quality.BAD)
DEVICES = load_devices(SCENE_DIR / "devices.yaml", load_scene(SCENE_DIR))


def _png(path: Path) -> np.ndarray:
    image = PNMImage()
    assert image.read(str(path)), path
    w, h = image.get_x_size(), image.get_y_size()
    return np.array([[image.get_xel(x, y) for x in range(w)] for y in range(h)], dtype=np.float32)


def _write_setpoint(port_of: dict[str, int], value: float) -> None:
    device, spec = DEVICES.owner_of("LIC-102/setpoint_m")
    client = ModbusTcpClient("127.0.0.1", port=port_of[device.id], timeout=3)
    assert client.connect()
    try:
        regs = encode_value(spec.type, device.word_order, spec.scale, spec.offset, value)
        assert not client.write_registers(spec.address, regs, device_id=device.unit_id).isError()
    finally:
        client.close()


def _shots(folder: Path) -> int:
    return len(list(folder.glob("live-*.png")))


def test_live_viewer_follows_the_plant_and_shows_bad_data(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    stats_path = tmp_path / "stats.json"
    with live_stack(tmp_path) as stack:
        viewer = stack.sup.start("viewer", [
            "view", str(SCENE_DIR), "--bus", stack.bus_address, "--headless", "--seconds", "40",
            "--size", "640x360", "--screenshot-dir", str(shots), "--screenshot-every", "0.5",
            "--select", "LIC-102", "--stats-json", str(stats_path),
        ])
        # A second bus subscriber judges liveness by the same rule as the viewer's: the waits
        # below follow what it sees, then let the viewer draw a few more screenshots (0.5 s
        # apart) so the viewer, which received the same messages, has drawn that state too.
        watch = Watch(stack.endpoints)

        def seen(point: str, ok: Callable[[Update], bool]) -> bool:
            u = watch.value(point)
            return u is not None and ok(u)

        def more_shots(n: int, what: str) -> None:
            start = _shots(shots)
            wait_for(lambda: watch.pump() or _shots(shots) >= start + n, 60, what)

        try:
            wait_for(lambda: watch.pump() or (shots / "live-000.png").exists(), 90,
                     "the viewer's first screenshot")
            wait_for(lambda: seen("LT-102/level_m", lambda u: u.quality == GOOD), 30,
                     "the adapter's readings")
            more_shots(2, "the viewer's snapshot and first readings applied")
            _write_setpoint(stack.device_ports, 3.9)
            wait_for(lambda: seen("LIC-102/setpoint_m", lambda u: abs(u.value - 3.9) < 1e-3),
                     30, "the new setpoint on the bus")
            more_shots(2, "the new setpoint drawn")
            marker = _shots(shots)
            adapter = stack.child("adapter")
            os.kill(adapter.process.pid, signal.SIGSTOP)
            try:
                wait_for(lambda: seen("LT-102/level_m", lambda u: u.quality == BAD), 30,
                         "the stopped adapter's points to go Bad")
                more_shots(4, "the Bad points drawn with their age")
            finally:
                os.kill(adapter.process.pid, signal.SIGCONT)
            wait_for(lambda: seen("LT-102/level_m", lambda u: u.quality == GOOD), 30,
                     "the resumed adapter's points to be Good again")
            more_shots(3, "the recovered points drawn")
        finally:
            watch.close()
        os.killpg(viewer.process.pid, signal.SIGTERM)  # the viewer writes stats and final.png
        assert viewer.process.wait(timeout=30) == 0
        stack.sup.children.remove(viewer)

    stats = json.loads(stats_path.read_text())
    point = stats["points"]["LIC-102/setpoint_m"]
    assert point["quality"] == "Good" or point["quality_code"] == 0, point
    assert abs(point["value"] - 3.9) < 1e-3, point

    # The adapter's silence made served points Bad (no communication) with words on the label,
    # and they were Good again by the end.
    bad_entries = [e for e in stats["timeline"]
                   if "LT-102" in e["entities"] and e["entities"]["LT-102"]["quality"] == 2]
    assert bad_entries, "LT-102 never showed Bad while the adapter was stopped"
    status = bad_entries[-1]["entities"]["LT-102"]["status"]
    assert re.search(r"BAD", status) and re.search(r"\d+ s", status), status
    final = stats["timeline"][-1]["entities"]
    assert all(v["quality"] == 0 for v in final.values()), final

    # Screenshots: the Bad frame differs from the Good one around the tank's warning sign.
    before = _png(shots / f"live-{marker - 1:03d}.png")
    during = _png(shots / bad_entries[-1]["screenshot"])
    icon = stats["screen"]["entities"].get("T-102", {}).get("icon")
    if icon is not None:
        x, y = int(icon[0]), int(icon[1])
        patch = (slice(max(0, y - 12), y + 12), slice(max(0, x - 12), x + 12))
        assert np.abs(during[patch] - before[patch]).max() > 0.2
    assert np.abs(during - before).mean() > 0.002


def test_demo_starts_and_stops_with_nothing_left_behind(tmp_path: Path) -> None:
    bus_port = free_port_block(5, start=31000)
    result = run_cli(
        "demo", "--headless", "--seconds", "8", "--bus-port", str(bus_port),
        "--port-offset", str(free_port_block(4, start=33000) - 15019), "--out", str(tmp_path),
        timeout_s=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all ports freed" in result.stdout
    assert list(tmp_path.glob("*.png")), "the headless demo wrote no screenshot"
    for line in ("bus ", "plant ", "adapter ", "viewer "):
        assert line in result.stdout
    assert not _processes_mentioning(str(tmp_path)), "processes left behind"


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes (from /proc) that run twinstage and mention ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "runtime.cli" in args and text in args:
            found.append(args)
    return found
